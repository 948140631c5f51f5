"""The UI keeps answering keys while the real SDK waits on a workspace slowed to seconds."""

from __future__ import annotations

from pathlib import Path

from ws_helpers import ADMIN

from cockpit.databricks.adapter import ConnectOptions
from cockpit.databricks.sources import WorkspaceSource
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.cutover import CutoverTab
from screens.tabs.runtime_diff import RuntimeDiffTab


async def test_keys_are_answered_while_the_workspace_takes_seconds_per_request(sim, tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    source = WorkspaceSource(
        ConnectOptions(host=sim.url, token=ADMIN, retry_timeout_s=30, http_timeout_s=20),
        interval_s=60,
        history=False,
    )
    source.adapter()  # SDK imported and auth resolved up front: only the requests are slow
    sim.faults.set(delay_s=5.0)
    app = CockpitApp(
        store=store, offline=False, tab_classes=[RuntimeDiffTab, CutoverTab], sources=[source]
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.5)
        header = app.query_one("#status-header")
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("slash", *"numpy")
        await pilot.pause()
        assert [lib.name for lib in app.query_one(RuntimeDiffTab)._shown] == ["numpy"]
        # Every key above was answered while the poll (several 5 s requests) was still waiting:
        # proven by the poll's own state, not by wall time on a loaded machine.
        assert header.sources["databricks"] == "unknown"
        sim.faults.set(delay_s=0)
        for _ in range(1200):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.1)
            if header.sources["databricks"] == "ok":
                break
        assert header.sources["databricks"] == "ok"
    assert store.events(kinds=["databricks.inventory"])
    store.close()
