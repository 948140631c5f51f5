"""The Cutover tab's timeline and offline time travel, driven with keys."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable

from cockpit.errors import StateError
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.cutover import CutoverTab
from screens.tabs.runtime_diff import RuntimeDiffTab
from tests.tui_settle import until


@pytest.fixture
def state(tmp_path: Path, sample_state: Path) -> Path:
    """The sample plus a few events of known kinds and times (after the sample's own)."""
    path = tmp_path / "t.db"
    shutil.copy(sample_state, path)
    with StateStore.open(path) as store:
        last = store.events(newest_first=True, limit=1)[0].ts
        store.append_event(
            "mlflow.poll",
            {"drift": 3, "marker": "zebra-41"},
            source="poller:mlflow",
            ts=last + 7200,
        )
        store.append_event(
            "mlflow.poll",
            {"drift": 0, "marker": "zebra-41"},
            source="poller:mlflow",
            ts=last + 7260,
        )
        store.append_event("databricks.error", {"message": "429 <b>rate</b>"}, ts=last + 7320)
    return path


def rows(app: CockpitApp) -> list[str]:
    tab = app.query_one(CutoverTab)
    return [e.kind for e in tab._events]


async def test_timeline_search_filter_and_time_travel(state: Path):
    store = StateStore.open(state, readonly=True)
    total = len(store.events())
    app = CockpitApp(store=store, offline=True, tab_classes=[RuntimeDiffTab, CutoverTab])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert app.query_one("#timeline", DataTable).row_count == total
        assert rows(app)[0] == "databricks.error"  # newest first

        await pilot.press("slash", *"zebra-41")
        await pilot.pause()
        assert rows(app) == ["mlflow.poll", "mlflow.poll"]
        app.query_one(CutoverTab).action_clear_filters()
        await pilot.pause()

        app.query_one("#timeline").focus()
        await pilot.press("left_square_bracket")  # one step back: before the last event
        await pilot.pause()
        assert app.as_of is not None
        assert rows(app)[0] == "mlflow.poll" and len(rows(app)) == total - 1
        assert "as of" in str(app.query_one("#status-header").render())
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert len(rows(app)) == total - 2
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert app.as_of is None and len(rows(app)) == total
        await pilot.press("left_curly_bracket")  # an hour back: before all three new events
        await pilot.pause()
        assert len(rows(app)) == total - 3
        await pilot.press("L")
        await pilot.pause()
        assert app.as_of is None


async def test_time_travel_is_off_when_live(tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    store.append_event("a.b")
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert app.as_of is None
        assert not app.query("#time-travel")
        # Live: a new event shows up in the timeline by itself.
        store.append_event("mlflow.sync.batch", {"runs": 10})
        await until(pilot, lambda: "mlflow.sync.batch" in rows(app), "the new event")
    store.close()


async def test_gates_board_and_change_notification(tmp_path: Path):
    store = StateStore.open(tmp_path / "g.db", create=True)
    store.set_meta("migration.from", "14.3-lts-ml")
    store.set_meta("migration.to", "16.4-lts-ml")
    store.append_event(
        "mlflow.rehearsal.failed", {"ok": False, "to_version": "2.22.5", "error": "boom"}
    )
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=[])
    async with app.run_test(size=(160, 48)) as pilot:
        tab = app.query_one(CutoverTab)
        for _ in range(1200):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.1)
            if tab.gates:
                break
        # One row per gate: mark, title, status, evidence (in full in the detail pane).
        gates = app.query_one("#cut-gate-list", DataTable)
        rows = {str(gates.get_row_at(i)[1]): gates.get_row_at(i) for i in range(gates.row_count)}
        assert gates.row_count == len(tab.gates)
        assert "last rehearsal not clean (boom)" in str(rows["DB upgrade rehearsed"][3])
        gates.focus()
        gates.move_cursor(row=[g.id for g in tab.gates].index("db-rehearsal"))
        await pilot.pause()
        detail = str(app.query_one("#cut-detail").render())
        assert "DB upgrade rehearsed" in detail and "last rehearsal not clean (boom)" in detail
        assert "NO-GO" in str(app.query_one("#cut-verdict").render())
        # The TUI records the first statuses as gate events.
        assert {e.payload["gate"] for e in store.events(kinds=["cutover.gate"])} >= {"db-rehearsal"}
        # A clean rehearsal is recorded: the gate flips and a notification is raised.
        store.append_event("mlflow.rehearsal.finished", {"ok": True, "to_version": "2.22.5"})
        for _ in range(1200):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.1)
            if any(n.title == "Gate changed" for n in app._notifications):
                break
        notes = [n for n in app._notifications if n.title == "Gate changed"]
        assert notes and "DB upgrade rehearsed: fail → pass" in notes[0].message
        changes = [
            e.payload
            for e in store.events(kinds=["cutover.gate"])
            if e.payload["gate"] == "db-rehearsal"
        ]
        assert [(c["from"], c["to"]) for c in changes] == [(None, "fail"), ("fail", "pass")]
    store.close()


async def test_a_big_file_that_fails_its_deferred_check_closes_the_cockpit(
    tmp_path: Path, monkeypatch
):
    """Offline, a big file's integrity check runs after the first frame; a corrupted file then
    closes the cockpit with the one-line error and its exit code, as at opening."""
    from cockpit.store import state as state_module

    path = tmp_path / "big.db"
    with StateStore.open(path, create=True) as store:
        with store.write() as tx:
            for i in range(2000):
                store.append_event("fill", {"i": i, "pad": "x" * 200}, conn=tx)
        store.checkpoint()
    data = bytearray(path.read_bytes())
    # Pages of the events table only (the second half of the file): what opening reads
    # (the schema, the metadata, the migrations record) stays sound.
    for offset in range(len(data) // 2 // 4096 * 4096, len(data) - 4096, 4096 * 7):
        data[offset : offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 1024)
    store = StateStore.open(path, readonly=True, defer_check=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[CutoverTab])
    # Not run_test: its start waits for a screen that this app may close while mounting it.
    await asyncio.wait_for(app.run_async(headless=True, size=(120, 40)), timeout=30)
    assert app.return_code == StateError.exit_code  # as when the check runs at opening
    store.close()


async def test_a_hidden_tab_follows_time_travel_when_shown_again(state: Path):
    """Only the tab on screen re-renders at each step; a hidden one catches up when shown."""
    store = StateStore.open(state, readonly=True)
    total = len(store.events())
    app = CockpitApp(store=store, offline=True, tab_classes=[RuntimeDiffTab, CutoverTab])
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert len(rows(app)) == total
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("left_square_bracket", "left_square_bracket")
        await pilot.pause()
        tab = app.query_one(CutoverTab)
        assert tab.view.as_of is None  # hidden: not re-rendered at each step
        await pilot.press("2")
        await pilot.pause()
        assert tab.view.as_of == app.as_of is not None
        assert len(rows(app)) == total - 2
    store.close()


async def test_a_store_change_keeps_the_timeline_cursor_and_the_gate_detail(state: Path):
    """Live, every poll reloads the timeline: the event under a moved cursor stays under it
    (it jumped back to the newest), and a gate's evidence stays in the detail pane."""
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=[])
    async with app.run_test(size=(160, 48)) as pilot:
        tab = app.query_one(CutoverTab)
        timeline = app.query_one("#timeline", DataTable)
        await until(pilot, lambda: tab.gates and timeline.row_count, "gates and timeline")
        timeline.focus()
        timeline.move_cursor(row=2)
        await pilot.pause()
        chosen = tab._events[2]
        assert f"#{chosen.id} " in str(app.query_one("#cut-detail").render())
        store.append_event("mlflow.sync.batch", {"runs": 10})
        tab._load()  # what the store-change tick does
        await pilot.pause()
        assert tab._events[0].kind == "mlflow.sync.batch"
        assert tab._events[timeline.cursor_row].id == chosen.id
        assert f"#{chosen.id} " in str(app.query_one("#cut-detail").render())

        gates = app.query_one("#cut-gate-list", DataTable)
        gates.focus()
        gates.move_cursor(row=1)
        await pilot.pause()
        shown = tab.gates[1].title
        assert shown in str(app.query_one("#cut-detail").render())
        store.append_event("mlflow.sync.batch", {"runs": 11})
        tab._load()
        await pilot.pause()
        assert shown in str(app.query_one("#cut-detail").render())
    store.close()
