"""Every tab at the terminal sizes people have: 80x24 (a laptop split), 100x30 (a laptop), 160x45
(a desktop or a projector). Pilot checks that the key content is on screen (search boxes, table
rows, one line per gate, timeline rows), then an SVG snapshot records each picture.

Deterministic: a copy of the shipped sample state shown at a fixed moment (its last event), and
every snapshot taken only once the tab's workers are done and its rows are drawn.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.color import ColorType
from textual.widget import Widget
from textual.widgets import DataTable, Input, TabbedContent, Tree

from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.base import CockpitTab
from tests.tui_settle import settle

SIZES = [(80, 24), (100, 30), (160, 45)]
TABS = ["runtime-diff", "checklist", "mlflow", "benchmarks", "cutover"]


@pytest.fixture
def sample(tmp_path: Path, sample_state: Path) -> Path:
    copy = tmp_path / "kyros.db"
    shutil.copy(sample_state, copy)
    return copy


def make_app(path: Path, theme: str | None = None) -> CockpitApp:
    store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=store, offline=True, theme=theme)
    # The sample's last moment: the support runway and the gates count days from it.
    app.as_of = store.events(newest_first=True, limit=1)[0].ts
    return app


def ready(tab_id: str):
    """A run_before that shows the tab and waits until it has drawn its content."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()  # the app mounted (it shows and focuses its first tab)
        tab = await app.show_tab_ready(tab_id)
        assert tab is not None
        tabs = app.query_one(TabbedContent)
        for _ in range(200):
            await pilot.pause(0.05)
            await app.workers.wait_for_complete()
            if tabs.active != f"pane-{tab_id}":
                # The first tab's focus, still arriving from start-up, can take the pane back.
                app.show_tab(tab_id)
                continue
            if app.gates is not None and tab.region.height > 0 and _drawn(tab):
                break
        await settle(pilot)
        assert tabs.active == f"pane-{tab_id}"

    return run_before


def _drawn(tab: CockpitTab) -> bool:
    tables = list(tab.query(DataTable))
    trees = list(tab.query(Tree))
    if tab.TAB_ID == "benchmarks" and getattr(tab, "loaded", None) is None:
        return False
    return any(t.row_count for t in tables) or any(t.root.children for t in trees)


def on_screen(app: CockpitApp, widget: Widget) -> bool:
    region = widget.region
    return (
        widget.display
        and region.width > 0
        and region.height > 0
        and app.screen.region.contains_region(region)
    )


def body_rows(table: DataTable) -> int:
    """How many data rows the table shows (its height less the header and borders)."""
    return table.content_region.height - (1 if table.show_header else 0)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab_id", TABS)
async def test_key_content_is_on_screen(sample: Path, tab_id: str, size):
    app = make_app(sample)
    async with app.run_test(size=size) as pilot:
        await ready(tab_id)(pilot)
        tab = app.query_one(f"#tab-{tab_id}", CockpitTab)
        if tab_id == "runtime-diff":
            search = tab.query_one("#rt-search", Input)
            assert on_screen(app, search) and search.region.width >= 20
            libs = tab.query_one("#rt-libs", DataTable)
            assert on_screen(app, libs) and body_rows(libs) >= 5
            assert "kyros-recsys-train" in str(libs.get_row("horovod")[4])
        elif tab_id == "checklist":
            tree = tab.query_one("#cl-tree", Tree)
            assert on_screen(app, tree) and tree.content_region.height >= 6
            assert len(tree.root.children) == 15
            assert "pipelines ready" in str(tab.query_one("#cl-progress").render())
        elif tab_id == "mlflow":
            assert "drift 23" in str(tab.query_one("#mlf-head").render())
            experiments = tab.query_one("#mlf-experiments", DataTable)
            assert on_screen(app, experiments) and experiments.row_count == 5
            assert body_rows(experiments) >= 2
        elif tab_id == "benchmarks":
            table = tab.query_one("#bench-table", DataTable)
            assert on_screen(app, table) and table.row_count >= 5 and body_rows(table) >= 3
            assert "1 regression" in str(tab.query_one("#bench-summary").render())
            assert on_screen(app, tab.query_one("#bench-time"))
        else:
            gates = tab.query_one("#cut-gate-list", DataTable)
            # The whole board, one line per gate.
            assert on_screen(app, gates) and gates.row_count == 8 and body_rows(gates) >= 8
            assert all(gates.rows[key].height == 1 for key in gates.rows)
            timeline = tab.query_one("#timeline", DataTable)
            assert on_screen(app, timeline) and timeline.row_count > 100
            assert body_rows(timeline) >= 4
            assert on_screen(app, tab.query_one("#cut-search", Input))
    app.store.close()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tab_id", TABS)
def test_snapshot(snap_compare, sample: Path, tab_id: str, size):
    assert snap_compare(make_app(sample), terminal_size=size, run_before=ready(tab_id))


def test_snapshot_high_contrast_theme(snap_compare, sample: Path):
    app = make_app(sample, theme="cockpit-high-contrast")
    assert app.theme == "cockpit-high-contrast"
    assert snap_compare(app, terminal_size=(100, 30), run_before=ready("cutover"))


def test_theme_option(cli, sample_state: Path, tmp_path: Path):
    """--theme takes the cockpit's own theme or any Textual theme; anything else is one line."""
    run = cli("open", str(sample_state), "--offline", "--theme", "no-such-theme")
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "cockpit-high-contrast" in run.stderr and "textual-light" in run.stderr
    # The demo checks it before it starts anything.
    run = cli("demo", "--theme", "no-such-theme", "--workdir", str(tmp_path / "demo"))
    assert run.returncode == 2 and "no such theme" in run.stderr
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("tab_id", [t for t in TABS if t != "cutover"])
def test_snapshot_high_contrast_theme_tab(snap_compare, sample: Path, tab_id: str):
    """The other tabs under the high-contrast theme: severities, verdicts, sync status."""
    app = make_app(sample, theme="cockpit-high-contrast")
    assert snap_compare(app, terminal_size=(100, 30), run_before=ready(tab_id))


def _styles(*texts) -> set[str]:
    """Every style string in Rich Texts (their own style and their spans')."""
    from rich.text import Text

    found: set[str] = set()
    for text in texts:
        if isinstance(text, Text):
            found |= {str(text.style), *(str(span.style) for span in text.spans)}
    return found


def _tab_styles(tab: CockpitTab) -> set[str]:
    cells = [cell for table in tab.query(DataTable) for row in table.rows
             for cell in table.get_row(row)]  # fmt: skip
    labels = [node.label for tree in tab.query(Tree) for node in tree.root.children]
    statics = [static.content for static in tab.query("Static")]
    return _styles(*cells, *labels, *statics)


def _chart_colours(tab: CockpitTab) -> dict[str, set]:
    """Every foreground colour in each plotext chart of the tab (as Rich parses its ANSI
    output), by the chart's id."""
    from rich.style import Style
    from textual_plotext import PlotextPlot

    found: dict[str, set] = {}
    for plot in tab.query(PlotextPlot):
        text = plot.render()
        styles = [
            Style.parse(s) if isinstance(s, str) else s for s in (span.style for span in text.spans)
        ]
        found[str(plot.id)] = {style.color for style in styles if style.color is not None}
    return found


HIGH_CONTRAST = {"good": "#00FF00", "bad": "#FF3030", "warn": "#FFD700"}
# What each tab shows on the sample's last moment, in the colours that say so.
EXPECTED = {
    "runtime-diff": {"bold bad", "warn"},  # breaking-risk and notable libraries
    "checklist": {"bold good", "bold warn", "bold bad"},  # ready, not ready, blocking
    "mlflow": {"bold bad", "good"},  # drift 23, experiments in sync
    "benchmarks": {"bold bad", "good", "warn"},  # regression, improvement, insufficient data
    "cutover": {"bold good", "bold bad", "bold warn"},  # gates: pass, fail, no data
}


@pytest.mark.parametrize("tab_id", TABS)
async def test_meaningful_colours_come_from_the_theme(sample: Path, tab_id: str):
    """Verdicts, severities, gates and sync status are drawn in the theme's own colours (not
    fixed Rich colour names), and follow a change of theme while the cockpit is open."""
    app = make_app(sample, theme="cockpit-high-contrast")
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(tab_id)(pilot)
        tab = app.query_one(f"#tab-{tab_id}", CockpitTab)
        styles = _tab_styles(tab)
        for style in EXPECTED[tab_id]:
            *extra, role = style.split()
            assert " ".join([*extra, HIGH_CONTRAST[role]]) in styles, (style, styles)
        named = {"red", "green", "yellow", "cyan", "magenta", "blue"}
        assert not {word for s in styles for word in s.split()} & named, styles
        header = _styles(app.query_one("#status-header").render())
        assert "bold #000000 on #FED700" in header  # OFFLINE, on the theme's warning colour
        if tab_id == "benchmarks":
            # The charts too: the runtimes in cyan and magenta, the intervals in red, and no
            # colour of the terminal's palette (a plotext colour name) left anywhere in them.
            charts = _chart_colours(tab)
            rgb = {c.triplet for colours in charts.values() for c in colours}
            assert {(0, 255, 255), (255, 0, 255), (255, 48, 48)} <= rgb, charts
            assert {(0, 255, 255), (255, 0, 255)} <= {c.triplet for c in charts["bench-time"]}
            assert all(c.type == ColorType.TRUECOLOR for cs in charts.values() for c in cs), charts

        app.theme = "textual-dark"
        await ready(tab_id)(pilot)
        from textual.theme import BUILTIN_THEMES

        from screens.widgets.palette import palette_of

        dark = palette_of(BUILTIN_THEMES["textual-dark"])
        restyled = _tab_styles(tab)
        for style in EXPECTED[tab_id]:
            assert dark(style) in restyled, (style, restyled)
            assert dark(style) != palette_of(app.get_theme("cockpit-high-contrast"))(style)
        if tab_id == "benchmarks":
            rgb = {c.triplet for cs in _chart_colours(tab).values() for c in cs}
            assert {dark.plot(role) for role in ("info", "alert", "bad")} <= rgb, rgb
            assert not {(0, 255, 255), (255, 0, 255), (255, 48, 48)} & rgb, rgb
    app.store.close()


@pytest.mark.parametrize("tab_id", ["benchmarks", "runtime-diff"])
async def test_a_tab_hidden_during_a_theme_change_shows_the_new_theme(sample: Path, tab_id: str):
    """A built tab that was hidden when the theme changed shows the new theme's colours when
    shown again (these two redraw on showing only when their data changed)."""
    from screens.widgets.palette import palette_of

    app = make_app(sample, theme="cockpit-high-contrast")
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(tab_id)(pilot)
        tab = app.query_one(f"#tab-{tab_id}", CockpitTab)
        await ready("cutover")(pilot)
        app.theme = "textual-dark"
        await ready(tab_id)(pilot)
        dark = palette_of(app.get_theme("textual-dark"))
        restyled = _tab_styles(tab)
        for style in EXPECTED[tab_id]:
            assert dark(style) in restyled, (style, restyled)
    app.store.close()


async def test_source_health_is_told_apart_by_colour_in_every_theme(sample: Path):
    """ok, degraded, down and internal-error differ in the header by more than their word in
    every theme --theme accepts: in textual-dark (the default) the warning colour of "degraded"
    is also the accent colour internal-error had, and in ansi-dark the accent is green."""
    from rich.style import Style

    from screens.themes import theme_names

    statuses = ["ok", "degraded", "down", "internal-error"]
    app = make_app(sample)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        header = app.query_one("#status-header")
        header.sources = {f"s{i}": status for i, status in enumerate(statuses)}
        for name in theme_names():
            app.theme = name
            await pilot.pause()
            text = header.render()
            looks = {}
            for span in text.spans:
                word = text.plain[span.start : span.end]
                if word in statuses:
                    style = Style.parse(span.style) if isinstance(span.style, str) else span.style
                    looks[word] = (style.color, style.bgcolor)
            assert sorted(looks) == sorted(statuses), (name, looks)
            assert len(set(looks.values())) == len(statuses), (name, looks)
            # internal-error stands on the error colour, not in a text colour of its own.
            assert looks["internal-error"][1] is not None, (name, looks)
    app.store.close()


def test_a_theme_registered_again_with_other_colours_gets_its_own_palette():
    """The palette is cached by what a theme holds, not by the object: a theme changed and
    registered again (the same object, or a new one where a dropped one lived, which an id()
    key could not tell apart) is never given the old palette."""
    from textual.theme import Theme

    from screens.widgets.palette import palette_of

    theme = Theme(name="site", primary="#004488", error="#aa0000", dark=True)
    before = palette_of(theme)("bad")
    theme.error = "#ff6600"  # Theme is a plain dataclass: the same object, other colours
    assert palette_of(theme)("bad") != before
    assert palette_of(theme)("bad") == palette_of(
        Theme(name="site", primary="#004488", error="#ff6600", dark=True)
    )("bad")
