"""The Runtime diff tab driven as a person would: keys, search, filters, switching runtimes."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette
from textual.widgets import Checkbox, DataTable, Input, Select

from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.runtime_diff import RuntimeDiffTab
from tests.tui_settle import until

# A fixed moment so the support runway (days left) and the header render the same every run.
AS_OF = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC).timestamp()


@pytest.fixture
def sample_copy(tmp_path: Path, sample_state: Path) -> Path:
    copy = tmp_path / "kyros.db"
    shutil.copy(sample_state, copy)
    StateStore.open(copy).close()  # bring the copy to this build's schema, as a writer would
    return copy


def make_app(path: Path, *, only_this_tab: bool = False) -> CockpitApp:
    store = StateStore.open(path, readonly=True)
    # The snapshot shows this tab alone so tabs added by other features don't change it.
    tabs = [RuntimeDiffTab] if only_this_tab else None
    app = CockpitApp(store=store, offline=True, tab_classes=tabs)
    app.as_of = AS_OF
    return app


def shown(app: CockpitApp) -> list[str]:
    return [lib.name for lib in app.query_one(RuntimeDiffTab)._shown]


async def test_header_and_default_pair(sample_copy: Path):
    app = make_app(sample_copy)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        header = app.query_one("#status-header")
        text = str(header.render())
        assert "Kyros DBR 16.4 + MLflow 2 cutover" in text
        assert "14.3-lts-ml → 16.4-lts-ml" in text and "OFFLINE" in text
        tab = app.query_one(RuntimeDiffTab)
        assert tab.diff is not None and (tab.diff.from_id, tab.diff.to_id) == (
            "14.3-lts-ml",
            "16.4-lts-ml",
        )
        # The sample's scan says what the pipelines use: "used by my pipelines" is on.
        assert app.query_one("#rt-used", Checkbox).value is True
        assert tab.usage is not None
        used = [x.name for x in tab.diff.libraries if x.name in tab.usage and x.kind != "unchanged"]
        assert shown(app) == used and {"horovod", "torch", "scikit-learn"} <= set(used)
        table = app.query_one("#rt-libs", DataTable)
        assert table.row_count == len(used)
        horovod = table.get_row("horovod")
        assert "kyros-recsys-train" in str(horovod[4])
        detail = str(app.query_one("#rt-detail").render())
        assert "used by kyros-recsys-train at pipelines/src/recsys/train_recsys.py:12" in detail
        table.focus()
        await pilot.press("u")  # every library again
        await pilot.pause()
        assert table.row_count == len(tab.diff.libraries)


async def test_search_filter_and_detail(sample_copy: Path):
    app = make_app(sample_copy)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"horovod")
        await pilot.pause()
        assert shown(app) == ["horovod"]
        detail = str(app.query_one("#rt-detail").render())
        assert "removed" in detail and "breaking" in detail
        await pilot.press("escape")  # leaves the search box's text; clear via the action
        app.query_one(RuntimeDiffTab).action_clear_filters()
        await pilot.pause()
        app.query_one("#rt-libs", DataTable).focus()
        await pilot.press("b")  # breaking only
        await pilot.pause()
        tab = app.query_one(RuntimeDiffTab)
        assert shown(app) and all(lib.severity == "breaking" for lib in tab._shown)
        assert "torch" in shown(app)
        await pilot.press("c")  # hide unchanged (kind filter) on top of breaking
        await pilot.pause()
        assert all(lib.kind != "unchanged" for lib in tab._shown)


async def test_switching_runtimes_and_swap(sample_copy: Path):
    app = make_app(sample_copy)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tab = app.query_one(RuntimeDiffTab)
        app.query_one("#rt-to", Select).value = "17.3-lts-ml"
        await pilot.pause()
        assert tab.diff is not None and tab.diff.to_id == "17.3-lts-ml"
        # The imported custom image from the state file is selectable too.
        app.query_one("#rt-from", Select).value = "kyros-train-16.4"
        await pilot.pause()
        assert tab.diff.from_id == "kyros-train-16.4"
        app.query_one("#rt-libs", DataTable).focus()
        await pilot.press("x")
        await pilot.pause()
        assert (tab.diff.from_id, tab.diff.to_id) == ("17.3-lts-ml", "kyros-train-16.4")


async def test_command_palette_lists_tab_actions(sample_copy: Path):
    app = make_app(sample_copy)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"breaking-risk")
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await until(
            pilot, lambda: palette.query_one(CommandList).option_count, "the palette's hits"
        )
        await pilot.press("enter")
        tab = app.query_one(RuntimeDiffTab)
        await until(
            pilot,
            lambda: tab._shown and all(lib.severity == "breaking" for lib in tab._shown),
            "only the breaking libraries shown",
        )


async def test_viewer_follows_a_file_another_process_writes(sample_copy: Path):
    """Read-only viewer: a runtime imported by a writer shows up in the selects by itself."""
    from cockpit.runtimes.importer import parse_runtime_text, store_manifest

    app = make_app(sample_copy)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        writer = StateStore.open(sample_copy)
        store_manifest(
            writer,
            "late-image",
            parse_runtime_text("numpy==2.0.0\n", name="late-image"),
            origin="import",
        )
        writer.close()
        # The store-change tick (every second) brings it; waited for, not timed.
        await until(
            pilot,
            lambda: (
                "late-image" in [value for _, value in app.query_one("#rt-to", Select)._options]
            ),
            "the imported runtime in the select",
        )


SIZES = [(80, 24), (100, 30), (160, 45)]


def snapshot_state(tmp_path: Path) -> Path:
    """Its own small state (fixed clock) with a scan of the sample pipelines, so growth of the
    shipped sample never changes the picture."""
    import os

    from cockpit.compat.checklist import record_scan
    from cockpit.compat.rules import build_crossing
    from cockpit.compat.scan import Scanner

    ticks = iter(range(1_793_000_000, 1_793_000_100))
    path = tmp_path / "snap.db"
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    cwd = os.getcwd()
    os.chdir(Path(__file__).resolve().parent.parent / "sample_state")
    try:
        result = Scanner(crossing).scan_paths(["pipelines"])
    finally:
        os.chdir(cwd)
    with StateStore.open(path, create=True, clock=lambda: float(next(ticks))) as store:
        store.set_meta("migration.name", "Kyros DBR 16.4 + MLflow 2 cutover")
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        store.append_event("migration.started", {"from": "14.3-lts-ml", "to": "16.4-lts-ml"})
        record_scan(store, result, None, roots=["pipelines"], source="sample")
    return path


async def _shown_rows(pilot) -> None:
    """Wait until the table has its rows (the first refresh may land after mount)."""
    for _ in range(50):
        await pilot.pause()
        if pilot.app.query_one("#rt-libs", DataTable).row_count:
            break
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
async def test_layout_keeps_the_key_content(tmp_path: Path, size):
    app = make_app(snapshot_state(tmp_path), only_this_tab=True)
    async with app.run_test(size=size) as pilot:
        await _shown_rows(pilot)
        search = app.query_one("#rt-search", Input)
        assert search.region.width >= 20 and search.region.height == 3  # typed into, visible
        table = app.query_one("#rt-libs", DataTable)
        assert table.region.height >= 8 and table.row_count == 6
        # Key columns stay on screen: library, severity, from, to, used by.
        assert table.region.width >= sum(table.columns[k].get_render_width(table) for k in
                                         list(table.columns)[:4])  # fmt: skip
        left = app.query_one("#rt-left")
        assert left.display == (size[0] >= 100)  # the side pane gives way under 100 columns
        assert app.query_one("#rt-filters").display == (size[1] >= 30)
        summary = str(app.query_one("#rt-summary").render())
        assert "used by my pipelines" in summary


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_runtime_diff(snap_compare, tmp_path: Path, size):
    app = make_app(snapshot_state(tmp_path), only_this_tab=True)
    assert snap_compare(app, terminal_size=size, run_before=_shown_rows)
