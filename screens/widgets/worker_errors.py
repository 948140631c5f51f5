"""What a tab says when its long action (sync, verify, probe, re-run, re-scan) fails with a bug
rather than a :class:`~cockpit.errors.CockpitError`.

The action's worker runs in a thread with ``exit_on_error=False`` (one failed action must not
close the cockpit), so an unexpected exception used to end the worker silently: the tab's
"running" mark stayed set and the action answered "still going" for the rest of the session.
Each worker catches it, tells the user in one line, and sends the traceback to the debug log
(scrubbed of secrets, never the terminal), as the pollers do.
"""

from __future__ import annotations

import logging

from cockpit import debuglog
from cockpit.textsafe import terminal

log = logging.getLogger("cockpit.tui")


def internal_error(what: str, exc: BaseException) -> str:
    """One line for a notification or a status line: the exception (bounded, no controls),
    and where its traceback is."""
    log.error("%s failed with an internal error", what, exc_info=exc)
    text = terminal(debuglog.one_line(exc)[:300])
    where = debuglog.path()
    return f"internal error ({text})" + (f"; traceback in {where}" if where else "")
