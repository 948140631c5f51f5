"""The Benchmarks tab driven by keys, and snapshots of it with its charts."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable

from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.benchmarks import BenchmarksTab
from tests.tui_settle import settle

SIZE = (160, 48)


def make_app(path: Path) -> CockpitApp:
    store = StateStore.open(path, readonly=True)
    # This tab alone, so tabs added by other features never change the snapshot.
    return CockpitApp(store=store, offline=True, tab_classes=[BenchmarksTab])


async def wait_loaded(app: CockpitApp, pilot) -> BenchmarksTab:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app.query_one(BenchmarksTab)


async def test_table_is_sorted_worst_first_with_verdicts(kyros_bench: Path):
    app = make_app(kyros_bench)
    async with app.run_test(size=SIZE) as pilot:
        tab = await wait_loaded(app, pilot)
        table = app.query_one("#bench-table", DataTable)
        assert table.row_count == 5
        first = table.get_row_at(0)
        assert first[0] == "kyros-churn-train" and str(first[2]) == "regression"
        assert str(table.get_row_at(4)[2]) == "improvement"
        assert tab.selected == ("kyros-churn-train", "duration_s")
        summary = str(app.query_one("#bench-summary").render())
        assert "1 regression" in summary and "1 improvement" in summary


async def test_keys_pick_pipeline_and_metric(kyros_bench: Path):
    app = make_app(kyros_bench)
    async with app.run_test(size=SIZE) as pilot:
        tab = await wait_loaded(app, pilot)
        await pilot.press("m")  # churn-train: duration -> auc
        await pilot.pause()
        assert tab.selected == ("kyros-churn-train", "auc")
        detail = str(app.query_one("#bench-detail").render())
        assert "higher is better" in detail
        await pilot.press("m")
        assert tab.selected == ("kyros-churn-train", "duration_s")
        await pilot.press("n")  # next pipeline in table order, same metric
        await pilot.pause()
        assert tab.selected == ("kyros-fraud-score", "duration_s")
        assert "2 on 16.4-lts-ml" in str(app.query_one("#bench-detail").render())
        await pilot.press("down")  # the table cursor moves the selection too
        await pilot.pause()
        assert tab.selected == ("kyros-feature-pipeline", "duration_s")


async def test_a_key_pressed_right_after_a_refill_is_not_taken_back(kyros_bench: Path):
    """A refill (new samples, a theme change) in the same turn as a cursor move keeps the row
    the cursor moved to; it used to put the cursor back on the last handled highlight."""
    app = make_app(kyros_bench)
    async with app.run_test(size=SIZE) as pilot:
        tab = await wait_loaded(app, pilot)
        table = app.query_one("#bench-table", DataTable)
        assert tab.selected == ("kyros-churn-train", "duration_s")
        table.action_cursor_down()  # the user's key; its highlight is not handled yet
        tab.restyle(tab.view)  # a refill before it is
        await pilot.pause()
        assert table.cursor_row == 1
        second = (tab._rows[1].pipeline, tab._rows[1].metric)
        assert tab.selected == second
        assert second[0] in str(app.query_one("#bench-detail").render())


async def test_time_travel_shows_the_history_before_shadow_runs(kyros_bench: Path):
    with StateStore.open(kyros_bench, readonly=True) as store:
        first = store.query_one("SELECT MIN(recorded_at) AS t FROM bench_samples")["t"]
    app = make_app(kyros_bench)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(app, pilot)
        app.set_as_of(first)
        tab = await wait_loaded(app, pilot)
        assert {c.verdict for c in tab.loaded.comparisons} == {"insufficient data"}


async def test_empty_state_says_how_to_get_data(tmp_path: Path):
    path = tmp_path / "empty.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
    app = make_app(path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_loaded(app, pilot)
        assert "No benchmark samples yet" in str(app.query_one("#bench-summary").render())


async def _loaded(pilot) -> None:
    # The first load runs in a worker started from on_mount; wait until its rows are shown, not
    # only until no worker runs (under load the worker may not have been started yet).
    tab = pilot.app.query_one(BenchmarksTab)
    for _ in range(200):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        if tab.loaded is not None and tab.query_one("#bench-table", DataTable).row_count:
            # ...and until the table has measured them: a snapshot taken before that pass
            # shows the header with the empty table's column widths (seen in CI).
            await settle(pilot)
            return
        await pilot.pause(0.05)
    raise AssertionError("the Benchmarks tab never showed its rows")


def _row_key(table: DataTable, row: int) -> tuple[str, str]:
    pipeline, metric = table.coordinate_to_cell_key((row, 0)).row_key.value.split("\x1f", 1)
    return pipeline, metric


def test_snapshot_regression_selected(snap_compare, kyros_bench: Path):
    assert snap_compare(make_app(kyros_bench), terminal_size=SIZE, run_before=_loaded)


def test_snapshot_improvement_selected(snap_compare, kyros_bench: Path):
    async def pick_improvement(pilot) -> None:
        await _loaded(pilot)
        table = pilot.app.query_one("#bench-table", DataTable)
        # Keys go to the focused widget: focus the table explicitly rather than relying on
        # auto-focus having happened before the first key press.
        table.focus()
        await pilot.pause()
        await pilot.press("down", "down", "down", "down")
        tab = pilot.app.query_one(BenchmarksTab)
        for _ in range(100):
            await pilot.pause()
            if table.cursor_row == 4 and tab.selected == _row_key(table, 4):
                break
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(make_app(kyros_bench), terminal_size=SIZE, run_before=pick_improvement)
