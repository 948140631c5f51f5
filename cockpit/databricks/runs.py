"""Following one submitted run to its end: the loop the runtime probe and the DDP probe share.

Each probe records its own state (its own table, its own messages); this module only polls the
run, says when it starts running, and stops it on cancel or at the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.databricks.models import RunStatus


class RunStopped(Exception):
    """The run was cancelled in the workspace by us: on the user's cancel, or at the deadline."""

    def __init__(self, run_id: int, *, timed_out: bool) -> None:
        super().__init__(f"run {run_id} {'timed out' if timed_out else 'cancelled'}")
        self.run_id = run_id
        self.timed_out = timed_out


def follow_run(
    adapter: WorkspaceAdapter,
    run_id: int,
    *,
    timeout_s: float,
    poll_interval_s: float,
    on_progress: Callable[[RunStatus], None] | None = None,
    on_running: Callable[[], None] | None = None,
    cancel: threading.Event | None = None,
) -> RunStatus:
    """Poll ``run_id`` until it is done and return its last status. ``on_running`` is called once,
    when the run is first seen RUNNING. On ``cancel`` or past ``timeout_s`` the run is cancelled in
    the workspace and :class:`RunStopped` is raised."""
    deadline = time.monotonic() + timeout_s
    cancel = cancel or threading.Event()
    seen_running = False
    while True:
        status = adapter.get_run(run_id)
        if on_progress is not None:
            on_progress(status)
        if status.done:
            return status
        if status.life_cycle_state == "RUNNING" and not seen_running:
            seen_running = True
            if on_running is not None:
                on_running()
        if cancel.is_set() or time.monotonic() >= deadline:
            adapter.cancel_run(run_id)
            raise RunStopped(run_id, timed_out=not cancel.is_set())
        # Wake early on cancel so the UI's cancel feels immediate.
        cancel.wait(min(poll_interval_s, max(0.0, deadline - time.monotonic())))
