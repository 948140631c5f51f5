"""Tables sized for where they go.

At a terminal rich fits a table to its width. Anywhere else (a pipe, a file, a CI log) there is no
width to fit, and rich's fallback of 80 columns cut job names to "kyros-…": there the console is
as wide as the content needs. ``COLUMNS`` set by hand still wins, and so does a terminal in CI
(``CI`` set: GitHub Actions, GitLab, Buildkite...), whose log viewer has no width either.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Wide enough for any row; rich pads a table to its content, not to the console width.
UNBOUNDED = 10_000


def unbounded() -> bool:
    if os.environ.get("COLUMNS", "").strip().isdigit():
        return False
    return not sys.stdout.isatty() or bool(os.environ.get("CI"))


def stdout_console() -> Any:
    from cockpit.textsafe import terminal_console  # every string made terminal-safe

    if unbounded():
        return terminal_console(highlight=False, width=UNBOUNDED)
    return terminal_console(highlight=False)
