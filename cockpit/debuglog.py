"""The debug log: where tracebacks of internal errors go (a poll that failed with a bug or a broken
install, see :mod:`cockpit.polling`), since neither a terminal UI nor a one-line CLI error has room
for them.

``cockpit record`` and ``cockpit open`` (live) call :func:`configure` with their state file: the
log is ``<state file>.debug.log`` next to it (``COCKPIT_DEBUG_LOG`` names another file). The file is
created only when something is logged. Every line is scrubbed of registered secrets
(:func:`cockpit.secrets.scrub_text`) before it is written: tokens never reach a log.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from cockpit.secrets import scrub_text

ENV = "COCKPIT_DEBUG_LOG"
LOGGER = "cockpit"

_lock = threading.Lock()
_handler: logging.FileHandler | None = None
# Until configure() names a file, records are dropped: never Python's last-resort handler, which
# would print unscrubbed tracebacks on stderr (over a terminal UI, too).
logging.getLogger(LOGGER).addHandler(logging.NullHandler())


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub_text(super().format(record))


def configure(state_path: Path | str | None) -> Path | None:
    """Send the cockpit's log records (tracebacks of internal errors) to the debug log file.

    Returns its path, or None when there is nowhere to write (no state file, no ``COCKPIT_DEBUG_LOG``).
    Calling it again with another state file moves the log there.
    """
    global _handler
    target = os.environ.get(ENV) or (f"{state_path}.debug.log" if state_path else None)
    logger = logging.getLogger(LOGGER)
    with _lock:
        if _handler is not None:
            if Path(_handler.baseFilename) == Path(target or "").resolve():
                return Path(_handler.baseFilename)
            logger.removeHandler(_handler)
            _handler.close()
            _handler = None
        if target is None:
            return None
        # delay=True: the file appears only when there is something to say.
        handler = logging.FileHandler(target, encoding="utf-8", delay=True)
        handler.setFormatter(
            _ScrubbingFormatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        handler.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        _handler = handler
        return Path(handler.baseFilename)


def one_line(exc: BaseException) -> str:
    """An unexpected exception as one line for a person, "TypeName: message", secrets scrubbed
    (the traceback is what the debug log is for)."""
    return scrub_text(" ".join(f"{type(exc).__name__}: {exc}".split()))


def path() -> Path | None:
    """The debug log file in use, if any."""
    handler = _handler
    return Path(handler.baseFilename) if handler is not None else None
