"""The live probe from the Runtime diff tab: submitted, followed with progress, stored, diffed."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select
from ws_helpers import ADMIN

from cockpit.config import parse_config
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.runtime_diff import RuntimeDiffTab


def config_for(sim):
    return parse_config(
        f"""
[migration]
name = "probe test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[databricks]
host = "{sim.url}"
poll_interval_s = 600
"""
    )


async def test_probe_from_the_tab(sim, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", ADMIN)
    monkeypatch.setattr("screens.tabs.runtime_diff.PROBE_POLL_S", 0.2)
    store = StateStore.open(tmp_path / "p.db", create=True)
    app = CockpitApp(
        store=store, config=config_for(sim), offline=False, tab_classes=[RuntimeDiffTab], sources=[]
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        tab = app.query_one(RuntimeDiffTab)
        seen = set()
        for _ in range(100):
            await pilot.pause(0.1)
            seen.add(str(app.query_one("#rt-probe").render()))
            if any("stored as" in s for s in seen):
                break
        assert any("RUNNING" in s or "PENDING" in s for s in seen), seen  # progress was shown
        assert any("stored as probe-16.4.x-cpu-ml-scala2.12" in s for s in seen), seen
        await pilot.pause(0.5)
        assert app.query_one("#rt-to", Select).value == "probe-16.4.x-cpu-ml-scala2.12"
        assert tab.diff is not None and tab.diff.to_id == "probe-16.4.x-cpu-ml-scala2.12"
        # The probe reports what the scenario's cluster really has: nothing differs from 16.4 LTS ML.
        assert tab.diff.from_id == "16.4-lts-ml"
        assert tab.diff.counts()["unchanged"] == len(tab.diff.libraries)
    assert store.events(kinds=["databricks.probe_finished"])
    store.close()


async def test_probe_is_off_offline(tmp_path: Path, sim):
    store = StateStore.open(tmp_path / "p.db", create=True)
    store.close()
    viewer = StateStore.open(tmp_path / "p.db", readonly=True)
    app = CockpitApp(
        store=viewer, config=config_for(sim), offline=True, tab_classes=[RuntimeDiffTab]
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause(0.5)
        assert str(app.query_one("#rt-probe").render()) == ""
    viewer.close()
