"""Progress of long operations, on stderr and only at a terminal.

stdout stays the command's answer (a table, JSON) whatever happens; a bar drawn into a pipe or a
CI log would only be noise, so it is disabled there (rich draws nothing when disabled).
"""

from __future__ import annotations

import sys
from typing import Any


def progress_bar() -> Any:
    """A transient rich progress bar on stderr; a no-op when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True, highlight=False)
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (console.is_terminal and sys.stderr.isatty()),
    )
