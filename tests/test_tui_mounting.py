"""A tab is built the first time it is shown, and its mount is awaited while the app's timers and
workers' messages keep running. What they do in that window (redraw the shown tab, restyle every
tab, hand out a gate evaluation, step in time) must neither draw a tab whose widgets do not exist
yet (CI saw the demo close with ``NoMatches: '#mlf-drift'``) nor leave it drawn from a stale view.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static, TabbedContent

from cockpit.cutover.gates import evaluate as evaluate_gates
from cockpit.store import StateStore
from screens.app import CockpitApp, discover_tabs
from screens.tabs.base import DeferredTab


@pytest.mark.parametrize("tab_id", ["mlflow", "cutover", "benchmarks", "checklist"])
async def test_what_runs_while_a_tab_mounts_waits_for_its_widgets(tab_id: str, sample_state: Path):
    store = StateStore.open(sample_state, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=discover_tabs())
    times = store.query_columns("SELECT DISTINCT ts FROM events ORDER BY ts")[0]
    async with app.run_test(size=(160, 48)) as pilot:
        tabs = app.query_one(TabbedContent)
        pane = tabs.get_pane(f"pane-{tab_id}")
        tabs.active = pane.id  # shown: refresh_tabs draws the tab of the active pane
        deferred = pane.query_one(DeferredTab)
        # What _materialize does, with the mount it awaits held open.
        await deferred.remove()
        tab = deferred.tab_cls(app.view_context())
        mounting = pane.mount(tab)
        assert not tab.is_mounted
        app.refresh_tabs()  # the store-change timer's tick
        app._theme_changed(None)  # a theme picked in the palette
        gates = evaluate_gates(store, app.config)
        app._gates_done(gates, app.as_of)  # a gate evaluation's answer
        app.set_as_of(times[len(times) // 2])  # a step back in time
        await mounting
        await pilot.pause()
        # The tab drew itself on mount, from the moment asked for while it was mounting.
        assert tab.is_mounted and app.is_running and app.return_code is None
        assert tab.view.as_of == times[len(times) // 2]
        assert tab.query(Static)
    store.close()


async def test_a_gate_answer_while_the_placeholder_goes_reaches_the_new_tab(
    sample_state: Path, monkeypatch
):
    """The placeholder's removal is awaited too. A gate answer (or a store tick) landing then
    must reach the tab: it used to be built before that await, in no DOM, so it was passed by
    and showed an empty gate board for good."""
    from textual.widgets import DataTable

    from screens.tabs.cutover import CutoverTab

    store = StateStore.open(sample_state, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=discover_tabs())
    monkeypatch.setattr(app, "_evaluate_gates", lambda: None)  # answered by hand, below
    remove = DeferredTab.remove

    def remove_while_gates_arrive(self):
        if self.tab_cls is CutoverTab:
            app._gates_done(evaluate_gates(store, app.config, as_of=app.as_of), app.as_of)
        return remove(self)

    monkeypatch.setattr(DeferredTab, "remove", remove_while_gates_arrive)
    async with app.run_test(size=(160, 48)) as pilot:
        tab = await app.show_tab_ready("cutover")
        await pilot.pause()
        assert app.gates and len(tab.gates) == len(app.gates)
        assert tab.query_one("#cut-gate-list", DataTable).row_count == len(app.gates)
    store.close()
