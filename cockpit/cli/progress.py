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
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True, highlight=False)
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (console.is_terminal and sys.stderr.isatty()),
    )


class Activity:
    """One line of progress for one operation: ``with Activity("verify") as step: step(3, 10)``.

    ``step(done, total, label)``: any of them may be None (an unknown total shows a spinner and
    the count). Safe to call from worker threads (rich's Progress is thread-safe)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = progress_bar()
        self._task: Any = None

    def __enter__(self) -> Activity:
        self._bar.__enter__()
        self._task = self._bar.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(*exc)

    def __call__(
        self, done: int | None = None, total: int | None = None, label: str | None = None
    ) -> None:
        changes: dict[str, Any] = {}
        if done is not None:
            changes["completed"] = done
        if total is not None:
            changes["total"] = total
        if label is not None:
            changes["description"] = label[:60]
        self._bar.update(self._task, **changes)


class RunWatch:
    """Follow a submitted workspace run from the command line: each new state of the run one line
    on stderr (the workspace's ``state_message`` is outside text: made terminal-safe), and Ctrl-C
    sets ``cancel`` (the run is cancelled in the workspace) instead of killing the process.

    ``with RunWatch() as watch: probe(..., on_progress=watch.progress, cancel=watch.cancel)``"""

    def __init__(self) -> None:
        import threading

        self.cancel = threading.Event()
        self._last = ""
        self._previous: Any = None

    def progress(self, status: Any) -> None:
        import time

        from cockpit.textsafe import terminal

        if status.life_cycle_state == self._last:
            return
        self._last = status.life_cycle_state
        elapsed = time.monotonic() - self._started
        line = f"run {status.run_id}: {status.life_cycle_state} ({elapsed:.0f}s) "
        print(terminal(line + (status.state_message or "")).rstrip(), file=sys.stderr, flush=True)

    def __enter__(self) -> RunWatch:
        import signal
        import time

        self._started = time.monotonic()
        self._previous = signal.signal(signal.SIGINT, lambda *_: self.cancel.set())
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        signal.signal(signal.SIGINT, self._previous)
