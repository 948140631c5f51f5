"""State errors in the running cockpit: only an unreadable state file closes it (one line, its
exit code); a state error that concerns one action (here: a write refused on a read-only file)
is a notification, from wherever it is raised (a key-bound action, a tab's own handler, a
worker), and the cockpit keeps answering keys and clicks. A real app, driven by Pilot, on real
state files."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button
from tui_settle import until

from cockpit.errors import ReadOnlyError, StateError, StateUnreadableError
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.base import CockpitTab
from screens.widgets.state_errors import NOTIFY_TITLE


class ActionsTab(CockpitTab):
    """A tab whose keys and button act on the state file the way the real tabs do."""

    TAB_ID = "actions"
    TITLE = "Actions"
    ORDER = 1
    BINDINGS = [
        Binding("w", "write", "write"),
        Binding("k", "write_in_worker", "write in a worker"),
        Binding("r", "read_all", "read every event"),
        Binding("c", "count", "count"),
    ]

    def __init__(self, view) -> None:
        super().__init__(view)
        self.counted = 0
        self.clicks = 0

    def compose(self) -> ComposeResult:
        yield Button("write", id="write")

    def _write(self) -> None:
        self.view.store.append_event("test.write", {"by": "tab"})

    def action_write(self) -> None:
        self._write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.clicks += 1
        self._write()

    @work(thread=True)
    def action_write_in_worker(self) -> None:
        self._write()

    def action_read_all(self) -> None:
        self.view.store.events()

    def action_count(self) -> None:
        self.counted += 1


def _state_notes(app) -> list[str]:
    return [n.message for n in app._notifications if n.title == NOTIFY_TITLE]


async def test_a_refused_write_is_a_notification_and_the_cockpit_keeps_running(
    tmp_path: Path, sample_state: Path
):
    path = tmp_path / "ro.db"
    shutil.copy(sample_state, path)
    store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[ActionsTab])
    async with app.run_test(size=(100, 30)) as pilot:
        tab = app.query_one(ActionsTab)
        expected = f"{path} is open read-only; nothing was written"

        await pilot.press("w")  # a key-bound action, run in the app's message loop
        await until(pilot, lambda: len(_state_notes(app)) == 1, "the action's notification")
        await pilot.click("#write")  # the tab's own handler, in the tab's message loop
        await until(pilot, lambda: len(_state_notes(app)) == 2, "the handler's notification")
        await pilot.press("k")  # a thread worker: Textual hands its failure to the app
        await until(pilot, lambda: len(_state_notes(app)) == 3, "the worker's notification")
        assert _state_notes(app) == [expected] * 3
        assert not any(n.severity != "error" for n in app._notifications if n.title == NOTIFY_TITLE)

        # Still running, and both message loops still answer: the app's (keys) and the tab's.
        await pilot.press("c")
        await until(pilot, lambda: tab.counted == 1, "a key after the errors")
        # A Button ignores clicks during its press effect (0.2 s, class -active): wait it out.
        button = app.query_one("#write", Button)
        await until(pilot, lambda: not button.has_class("-active"), "the press effect to end")
        await pilot.click("#write")
        await until(pilot, lambda: len(_state_notes(app)) == 4, "a click after the errors")
        assert tab.clicks == 2 and app.is_running and app.return_code is None
    # Nothing was written, and the refusal stayed what it is (not mistaken for a damaged file).
    assert issubclass(ReadOnlyError, StateError) and not issubclass(
        ReadOnlyError, StateUnreadableError
    )
    assert not store.events(kinds=["test.write"])
    store.close()


@pytest.mark.parametrize("widget_id", ["status-header", "time-travel"])
async def test_a_refused_write_in_the_header_or_time_bar_keeps_it_running(
    tmp_path: Path, sample_state: Path, widget_id: str
):
    """The widgets outside the tabs have message loops of their own: a state error raised by one
    of their handlers (here a ``call_later`` callback, run by the widget's own loop) is a
    notification, and the widget goes on handling messages (without the mixin its loop ends and
    the widget stays as it was drawn)."""
    path = tmp_path / "ro.db"
    shutil.copy(sample_state, path)
    store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[ActionsTab])
    async with app.run_test(size=(100, 30)) as pilot:
        widget = app.query_one(f"#{widget_id}")

        def write() -> None:
            store.append_event("test.write", {"by": widget_id})

        widget.call_later(write)
        await until(pilot, lambda: len(_state_notes(app)) == 1, "the widget's notification")
        assert _state_notes(app) == [f"{path} is open read-only; nothing was written"]

        handled: list[int] = []
        widget.call_later(handled.append, 1)
        await until(pilot, lambda: handled == [1], "the widget's loop to handle a message")
        assert app.is_running and app.return_code is None
    assert not store.events(kinds=["test.write"])
    store.close()


async def test_a_damaged_page_met_by_an_action_closes_the_cockpit_with_one_line(tmp_path: Path):
    """A read that meets a damaged page (a disk fault after opening, or a big file opened before
    its deferred integrity check) is the one state error that ends the cockpit: nothing more
    can be shown from the file."""
    path = tmp_path / "big.db"
    with StateStore.open(path, create=True) as store:
        with store.write() as tx:
            for i in range(2000):
                store.append_event("fill", {"i": i, "pad": "x" * 200}, conn=tx)
        store.checkpoint()
    store = StateStore.open(path, readonly=True)  # sound when opened (its check passes)
    app = CockpitApp(store=store, offline=True, tab_classes=[ActionsTab])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()  # the first frame is drawn
        # Then pages of the events table (the second half of the file) go bad on disk.
        size = path.stat().st_size
        with path.open("r+b") as fh:
            for offset in range(size // 2 // 4096 * 4096, size - 4096, 4096 * 7):
                fh.seek(offset)
                fh.write(b"\xff" * 64)
        # The connection's page cache still holds what the first frame read: dropped, so the
        # next read goes to the disk as it would once the cache had turned over.
        store.query("PRAGMA shrink_memory")
        # Not pilot.press/until: both wait for the screen, which a closing app no longer draws.
        app.simulate_key("r")
        for _ in range(200):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
        assert not app.is_running, "the cockpit did not close within 10 s"
    assert app.return_code == StateError.exit_code
    assert not _state_notes(app)
    store.close()
