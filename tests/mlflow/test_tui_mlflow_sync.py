"""The MLflow sync tab: offline review of recorded polls, and a live sync driven by a key."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import seed
from textual.widgets import DataTable, Sparkline
from tui_settle import until

from cockpit.config import parse_config
from cockpit.mlflow.records import (
    Difference,
    ExperimentStatus,
    ModelStatus,
    PollSummary,
    record_mapping,
    record_poll,
    record_verification,
)
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.mlflow_sync import MlflowSyncTab

SLOW_WORK_S = 300.0  # a guard against a hang; the work itself is not timed


def _poll(ts: float, missing: int) -> PollSummary:
    return PollSummary(
        ts=ts,
        duration_s=0.4,
        old_url="http://old",
        new_url="http://new",
        old_version="1.x",
        new_version="2.22.5",
        old_schema="97727af70f4d",
        new_schema=None,
        experiments=[
            ExperimentStatus("churn", "1", "7", False, 10, 1, 10 - missing, 1, missing, 0, 1),
            ExperimentStatus("retired", "2", "8", True, 0, 2, 0, 2, 0, 0, 0),
        ],
        models=[
            ModelStatus(
                "churn-model",
                3,
                3 - missing // 3,
                missing // 3,
                True,
                {"1": "Production"},
                {"1": "Production"},
                {"production": "1"},
            )
        ],
    )


async def test_offline_review_shows_recorded_polls_and_refuses_actions(tmp_path: Path):
    path = tmp_path / "s.db"
    with StateStore.open(path, create=True) as store:
        record_poll(store, _poll(1_800_000_000.0, 3))
        record_mapping(store, "run", "r1", "d1", experiment="churn")
        record_poll(store, _poll(1_800_000_600.0, 0))
        record_verification(
            store,
            duration_s=1.0,
            experiments=2,
            runs=13,
            artifacts=4,
            models=1,
            differences=[Difference("run", "churn / r1", "status", "FAILED", "FINISHED")],
        )
    store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[MlflowSyncTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        tab = app.query_one(MlflowSyncTab)
        table = app.query_one("#mlf-experiments", DataTable)
        assert table.row_count == 2
        first = [str(c) for c in table.get_row_at(0)]
        assert first[0] == "churn" and first[3] == "0" and first[6] != "never"
        assert "(deleted)" in str(table.get_row_at(1)[0])
        assert app.query_one("#mlf-registry", DataTable).row_count == 1
        assert list(app.query_one("#mlf-drift", Sparkline).data) == [4, 0]
        head = str(app.query_one("#mlf-head").render())
        assert "drift 0" in head and "1 differences" in head and "97727af70f4d" in head
        assert tab.check_action("sync_all", ()) is False
        await pilot.press("a")
        await pilot.pause()
        assert tab.busy is None
        assert store.query_one("SELECT COUNT(*) AS n FROM mlflow_polls")["n"] == 2
    store.close()


@pytest.mark.servers
async def test_live_sync_all_from_the_tab(mlflow_v1, mlflow_v2, tmp_path: Path):
    name = f"tui-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 3, steps=3)
    config = parse_config(
        f"""
[migration]
name = "tui"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{mlflow_v1.url}"
db_uri = "{mlflow_v1.backend_uri}"
[mlflow.new]
tracking_uri = "{mlflow_v2.url}"
""",
        base_dir=tmp_path,
    )
    store = StateStore.open(tmp_path / "live.db", create=True)
    app = CockpitApp(
        store=store, config=config, offline=False, tab_classes=[MlflowSyncTab], sources=[]
    )
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        tab = app.query_one(MlflowSyncTab)
        assert tab.check_action("sync_all", ()) is True
        await pilot.press("a")
        # "Sync all" copies every experiment on the session's servers, other tests' too, so
        # its length depends on what ran before on this worker and on the load: the bound is a
        # guard against a hang, not a speed check (30 s was exceeded at load 9).
        await until(pilot, lambda: tab.busy is None, "the sync of every experiment", SLOW_WORK_S)
        await asyncio.sleep(0)
        assert tab.busy is None
        tab.refresh_view(tab.view)
        await pilot.pause()
        names = [
            str(r[0])
            for r in (
                app.query_one("#mlf-experiments", DataTable).get_row_at(i)
                for i in range(app.query_one("#mlf-experiments", DataTable).row_count)
            )
        ]
        assert name in names
        row = next(
            r
            for r in store.query(
                "SELECT * FROM mlflow_poll_experiments WHERE name = ? ORDER BY poll_id DESC",
                (name,),
            )
        )
        assert (row["old_active"], row["new_active"], row["missing"]) == (3, 3, 0)
        (finished,) = store.events(kind_prefix="mlflow.sync.finished")
        # db_uri is set: histories were read from the file (the session's servers may hold
        # other tests' experiments too, and "sync all" copies them as well).
        assert finished.payload["histories_from_db"] >= 3
        assert finished.payload["histories_over_rest"] == 0

        # Verify and poll from the tab: each writes its record and reports one line.
        polls = len(store.query("SELECT id FROM mlflow_polls"))
        for key in ("v", "p"):
            await pilot.press(key)
            await until(pilot, lambda: tab.busy is None, f"the work of {key!r}", SLOW_WORK_S)
            assert tab.busy is None
        (verification,) = store.query("SELECT * FROM mlflow_verifications")
        assert verification["runs"] >= 3
        # The session's servers hold other tests' data too: judge this experiment's objects.
        ours = store.query(
            "SELECT * FROM mlflow_verify_differences WHERE object = ? OR object LIKE ?",
            (name, f"{name} / %"),
        )
        assert [dict(r) for r in ours] == []
        assert len(store.query("SELECT id FROM mlflow_polls")) == polls + 1
    store.close()
