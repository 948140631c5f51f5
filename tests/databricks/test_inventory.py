"""Inventory and run history in the state file, through the real SDK and the simulator."""

from __future__ import annotations

import pytest
from ws_helpers import ADMIN, connect, scenario_json

from cockpit.databricks.history import WATERMARK_KEY, read_runs, sync_history
from cockpit.databricks.inventory import (
    fetch_inventory,
    read_jobs,
    record_inventory,
    requirements,
)
from cockpit.databricks.scenario import parse_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.databricks.sources import sync_workspace
from cockpit.store import StateStore


def test_inventory_summaries_and_event(adapter):
    store = StateStore.create_in_memory()
    summary = record_inventory(store, fetch_inventory(adapter))
    assert summary["jobs_per_runtime"] == {
        "14.3-lts": 1,
        "14.3-lts-ml": 9,
        "16.4-lts": 1,
        "16.4-lts-ml": 3,
    }
    assert summary["jobs_per_tracking_server"] == {
        "(none)": 3,
        "https://mlflow-new.kyros.example": 3,
        "https://mlflow-old.kyros.example": 8,
    }
    event = store.events(kinds=["databricks.inventory"])[-1]
    assert event.payload["jobs_per_runtime"] == summary["jobs_per_runtime"]
    jobs = {j.name: j for j in read_jobs(store)}
    assert len(jobs) == 14
    assert requirements(jobs["kyros-recsys-train"]) == ["horovod==0.28.1"]
    assert jobs["kyros-image-embed"].init_scripts


def test_a_job_moving_runtime_and_a_removed_job_are_recorded(sim, adapter):
    store = StateStore.create_in_memory()
    now = [1000.0]
    store.clock = lambda: now[0]
    inventory = fetch_inventory(adapter)
    record_inventory(store, inventory)
    churn = next(j for j in inventory.jobs if j.name == "kyros-churn-train")
    from dataclasses import replace

    moved_task = replace(
        churn.tasks[0], spark_version="16.4.x-cpu-ml-scala2.12", runtime="16.4-lts-ml"
    )
    moved = replace(churn, tasks=(moved_task,))
    others = tuple(
        j for j in inventory.jobs if j.name not in ("kyros-churn-train", "kyros-etl-orders")
    )
    now[0] = 2000.0
    summary = record_inventory(store, replace(inventory, jobs=(*others, moved)))
    assert summary["removed"] == 1
    change = store.events(kinds=["databricks.job_runtime_changed"])
    assert [e.payload for e in change] == [
        {
            "job": "kyros-churn-train",
            "job_id": churn.job_id,
            "from": "14.3-lts-ml",
            "to": "16.4-lts-ml",
        }
    ]
    assert "kyros-etl-orders" not in {j.name for j in read_jobs(store)}

    # Each job as it was defined at the time asked, not its latest definition (time travel).
    now[0] = 3000.0
    record_inventory(store, inventory)  # churn moved back, etl-orders is back

    def seen(as_of: float) -> dict[str, str]:
        jobs = read_jobs(store, as_of=as_of)
        return {
            j.name: j.runtime for j in jobs if j.name in ("kyros-churn-train", "kyros-etl-orders")
        }

    assert seen(999.0) == {}
    assert seen(1500.0) == {"kyros-churn-train": "14.3-lts-ml", "kyros-etl-orders": "14.3-lts"}
    assert seen(2500.0) == {"kyros-churn-train": "16.4-lts-ml"}  # etl-orders gone
    assert seen(3000.0) == seen(1500.0) == seen(9e9)
    # An unchanged job gets no new version row: one per change, not one per inventory.
    rows = store.query(
        "SELECT COUNT(*) AS n FROM workspace_job_versions WHERE job_id = ?",
        (next(j for j in inventory.jobs if j.name == "kyros-image-embed").job_id,),
    )
    assert rows[0]["n"] == 1


def test_history_is_incremental_and_complete(adapter):
    store = StateStore.create_in_memory()
    first = sync_workspace(adapter, store)
    assert first["new_runs"] == 140
    churn = read_runs(store, job_name="kyros-churn-train")
    assert {r.runtime for r in churn} == {"14.3-lts-ml", "16.4-lts-ml"}
    assert len(read_runs(store, job_name="kyros-fraud-score", runtime="16.4-lts-ml")) == 2
    assert all(r.duration_s > 0 and r.end > r.start for r in churn)
    again = sync_workspace(adapter, store)
    assert again["new_runs"] == 0
    assert len(read_runs(store)) == 140


def _small_scenario(runs):
    data = scenario_json()
    data["runs"] = runs
    return parse_scenario(data)


def test_later_polls_fetch_only_newer_runs_and_wait_for_active_ones():
    base = 1_790_000_000_000
    job = 100  # kyros-churn-train in the Kyros scenario
    runs = [
        {"run_id": i, "job_id": job, "start_time": base + i * 60_000, "duration_ms": 30_000}
        for i in range(1, 61)
    ]
    # Run 61 started early and is still running: the watermark must not pass it.
    runs.append(
        {
            "run_id": 61,
            "job_id": job,
            "start_time": base + 30 * 60_000 + 1,
            "life_cycle_state": "RUNNING",
        }
    )
    with WorkspaceSimulator(_small_scenario(runs)) as sim:
        adapter = connect(sim)
        store = StateStore.create_in_memory()
        first = sync_history(adapter, store)
        assert (first.new_runs, first.active) == (60, 1)
        assert float(store.get_meta(WATERMARK_KEY)) == (base + 30 * 60_000 + 1) / 1000

        sim.finish_run(61, duration_ms=45_000)
        sim.add_runs(
            [{"run_id": 62, "job_id": job, "start_time": base + 90 * 60_000, "duration_ms": 1_000}]
        )
        pages = sim.api_requests("/api/2.2/jobs/runs/list")
        second = sync_history(adapter, store)
        assert second.new_runs == 2  # the run that finished and the new one
        assert second.fetched < 40  # from the watermark on, not the whole history
        assert sim.api_requests("/api/2.2/jobs/runs/list") - pages <= 3
        assert float(store.get_meta(WATERMARK_KEY)) == (base + 90 * 60_000) / 1000
        assert {r.run_id for r in read_runs(store)} == set(range(1, 63))


def test_history_read_honours_as_of():
    store = StateStore.create_in_memory()
    assert read_runs(store) == []
    clock = iter([100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    store.clock = lambda: next(clock)
    from cockpit.databricks.history import store_runs
    from cockpit.databricks.models import JobRun

    run = JobRun(1, 10, "a", 1.0, 2.0, 1.0, "SUCCESS", "16.4.x-cpu-ml-scala2.12", "16.4-lts-ml")
    store_runs(store, [run])
    store_runs(store, [JobRun(1, 11, "a", 3.0, 5.0, 2.0, "FAILED", "", "")])
    assert [r.run_id for r in read_runs(store, as_of=150.0)] == [10]
    assert [r.run_id for r in read_runs(store, result_state="FAILED")] == [11]


def test_token_never_reaches_the_state_file(tmp_path, sim):
    path = tmp_path / "s.db"
    store = StateStore.open(path, create=True)
    sync_workspace(connect(sim), store)
    store.checkpoint()
    store.close()
    assert ADMIN.encode() not in path.read_bytes()


def test_a_state_file_without_workspace_tables_is_a_one_line_error(adapter):
    from cockpit.errors import StateError

    store = StateStore.create_in_memory()
    with store.write() as tx:
        for table in ("workspace_runs", "workspace_jobs"):
            tx.execute(f"DROP TABLE {table}")
    with pytest.raises(StateError) as err:
        record_inventory(store, fetch_inventory(adapter))
    assert "has no workspace tables" in err.value.message
    assert read_jobs(store) == [] and read_runs(store) == []


def test_a_failure_in_the_middle_of_paging_keeps_the_watermark_and_leaks_no_thread(big_sim):
    import threading

    from ws_helpers import BIG_TOKEN

    from cockpit.databricks.errors import WorkspaceError

    adapter = connect(big_sim, token=BIG_TOKEN)
    store = StateStore.create_in_memory()
    # Request 1 lists active runs, 2-3 are pages of completed runs, 4 fails with a 500.
    big_sim.faults.set(error_after=3, error_burst=1, error_status=500)
    try:
        with pytest.raises(WorkspaceError) as err:
            sync_history(adapter, store)
    finally:
        big_sim.faults.set(error_after=0, error_burst=0, error_status=503)
    assert "failed to list job runs" in err.value.message
    assert store.get_meta(WATERMARK_KEY) is None
    assert not [t for t in threading.enumerate() if t.name == "runs-pager"]
    assert sync_history(adapter, store).new_runs == 130
