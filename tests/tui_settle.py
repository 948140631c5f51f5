"""Waiting in Textual tests: for a screen to be fully drawn before a snapshot or an assertion on
layout (``settle``), or for a condition the app reaches in its own time (``until``).

A DataTable measures new rows and column widths when its message queue is idle (its
``_on_idle``); a screenshot taken between adding rows and that pass shows the header with the
old widths (the Benchmarks snapshot race). ``settle`` waits until no DataTable has a pending
measurement and no worker runs, then repaints every table once more.
"""

from __future__ import annotations

from textual.widgets import DataTable


def _pending(app) -> list[DataTable]:
    # Private flags of DataTable (textual 8): the only signal that its measuring pass is due.
    return [t for t in app.query(DataTable) if t._require_update_dimensions or t._updated_cells]


async def settle(pilot, rounds: int = 200) -> None:
    app = pilot.app
    for _ in range(rounds):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not _pending(app) and not app.workers:
            break
    else:
        raise AssertionError(f"tables never settled: {[t.id for t in _pending(app)]}")
    # A table refilled while it was being drawn can keep a line or two painted with the widths
    # it had before its measuring pass (its header, the cursor row): repaint every table once
    # more, so the picture is the settled one.
    for table in app.query(DataTable):
        table.refresh()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, predicate, what: str, timeout: float = 10.0) -> None:
    """Pause until ``predicate()`` holds; after ``timeout`` seconds fail, naming ``what``."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what} (focus: {pilot.app.focused!r})")
