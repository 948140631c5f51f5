"""Shadow re-runs end to end: real databricks-sdk against the local workspace simulator."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from cockpit.bench.data import compare_store, load_samples
from cockpit.bench.report import build_report, to_html, to_json
from cockpit.bench.rerun import (
    RUN_NAME_PREFIX,
    SHADOW_TAG,
    AdapterRunClient,
    reruns,
    shadow_rerun,
    shadow_tasks,
    target_spark_version,
)
from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter
from cockpit.databricks.history import store_runs
from cockpit.databricks.scenario import parse_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.errors import CockpitError
from cockpit.store import StateStore

TOKEN = "dapi-bench-test-token-0001"
READER = "dapi-bench-reader-token-02"
OLD_KEY, NEW_KEY = "14.3.x-cpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12"
JOB_ID = 501
T0 = 1_790_000_000_000
# Shadow runs on the simulator take pending + running seconds; history runs ~1.0 s, so the new
# runtime is ~25% slower: a regression once enough shadow runs exist.
PENDING_S, RUNNING_S = 0.05, 1.2


def scenario() -> dict:
    rng = random.Random(7)
    settings = {
        "name": "kyros-fraud-score",
        "job_clusters": [
            {
                "job_cluster_key": "main",
                "new_cluster": {
                    "spark_version": OLD_KEY,
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                    "custom_tags": {"team": "fraud"},
                },
            }
        ],
        "tasks": [
            {
                "task_key": "score",
                "job_cluster_key": "main",
                "notebook_task": {"notebook_path": "/Repos/kyros/fraud/score"},
            }
        ],
    }
    runs = [
        {
            "run_id": 7_000 + i,
            "job_id": JOB_ID,
            "start_time": T0 + i * 3_600_000,
            "duration_ms": int(1000 * math.exp(rng.gauss(0.0, 0.05))),
            "result_state": "SUCCESS",
            "spark_version": OLD_KEY,
        }
        for i in range(8)
    ]
    return {
        "format": "cockpit-workspace-scenario/1",
        "name": "bench rerun",
        "tokens": {TOKEN: "admin", READER: "reader"},
        "spark_versions": [
            {"key": OLD_KEY, "name": "14.3 LTS ML"},
            {"key": NEW_KEY, "name": "16.4 LTS ML"},
        ],
        "clusters": [],
        "jobs": [
            {
                "job_id": JOB_ID,
                "creator_user_name": "a@kyros.example",
                "created_time": T0,
                "settings": settings,
            }
        ],
        "runs": runs,
        "submit": {
            "pending_s": PENDING_S,
            "running_s": RUNNING_S,
            "outputs": {NEW_KEY: {"logs": "scored"}},
        },
    }


@pytest.fixture(scope="module")
def simulator():
    # Stepped: a run ends after its runs/get answers, not after 1.25 s, so a cancel sent late
    # on a loaded machine still meets an active run (the durations stay the scenario's).
    sim = WorkspaceSimulator(parse_scenario(scenario()), stepped=True).start()
    yield sim
    sim.stop()


def history_store(path: Path, sim: WorkspaceSimulator) -> StateStore:
    """A state file holding the job's run history as the workspace poller records it."""
    store = StateStore.open(path, create=True)
    store.set_meta("migration.from", "14.3-lts-ml")
    store.set_meta("migration.to", "16.4-lts-ml")
    adapter = WorkspaceAdapter.connect(ConnectOptions(host=sim.url, token=TOKEN))
    runs = adapter.list_runs(job_id=JOB_ID, job_names={JOB_ID: "kyros-fraud-score"})
    store_runs(store, runs)  # exactly as the workspace poller writes them
    return store


def test_rerun_end_to_end_adds_shadow_runs_to_the_verdict(tmp_path: Path, simulator):
    store = history_store(tmp_path / "state.db", simulator)
    (before,) = compare_store(store, None)
    assert before.verdict == "insufficient data" and (before.n_old, before.n_new) == (8, 0)

    client = AdapterRunClient(
        WorkspaceAdapter.connect(ConnectOptions(host=simulator.url, token=TOKEN))
    )
    said: list[str] = []
    result = shadow_rerun(
        store,
        client,
        "kyros-fraud-score",
        runtime="16.4-lts-ml",
        count=5,
        poll_interval_s=0.1,
        progress=said.append,
    )
    assert result.succeeded == 5 and result.samples_added == 5
    assert result.spark_version == NEW_KEY
    assert any("submitted" in m for m in said) and any("succeeded" in m for m in said)

    (after,) = compare_store(store, None)
    assert (after.n_old, after.n_new) == (8, 5)
    assert after.verdict == "regression" and 1.15 < after.ratio < 1.35

    samples = load_samples(store)
    shadow = samples[samples["origin"] == "shadow"]
    assert len(shadow) == 5 and set(shadow["runtime"]) == {"16.4-lts-ml"}
    rows = reruns(store, pipeline="kyros-fraud-score")
    assert len(rows) == 5 and {r.state for r in rows} == {"succeeded"}
    assert all(r.run_name.startswith(RUN_NAME_PREFIX) for r in rows)
    kinds = [e.kind for e in store.events(kind_prefix="bench.rerun")]
    assert kinds.count("bench.rerun_submitted") == 5 and kinds.count("bench.rerun_finished") == 5

    # What the workspace received: a one-time run with the runtime overridden and the tag set,
    # and it never appears among the job's own (production) runs.
    run = client.adapter.client.jobs.get_run(result.runs[0].run_id)
    assert run.run_name.startswith(RUN_NAME_PREFIX) and run.job_id is None
    cluster = run.tasks[0].new_cluster
    assert cluster.spark_version == NEW_KEY and cluster.custom_tags[SHADOW_TAG] == "true"
    assert cluster.custom_tags["team"] == "fraud" and cluster.node_type_id == "i3.xlarge"
    job_runs = client.adapter.list_runs(job_id=JOB_ID)
    assert {r.run_id for r in job_runs}.isdisjoint({r.run_id for r in result.runs})

    # The exported report lists the shadow runs next to the verdict.
    report = build_report(store, None)
    assert len(to_json(report)["shadow_reruns"]) == 5
    page = to_html(report)
    reruns_table = page[page.index('<table id="reruns">') :]
    assert all(str(r.run_id) in reruns_table for r in result.runs)
    store.close()


def test_cli_rerun_with_a_reader_token_fails_cleanly(tmp_path: Path, simulator, cli):
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f'[migration]\nname = "k"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[databricks]\nhost = "{simulator.url}"\n[state]\npath = "s.db"\n',
        encoding="utf-8",
    )
    denied = cli(
        "--config",
        str(config),
        "bench",
        "rerun",
        "kyros-fraud-score",
        "-n",
        "1",
        env={"DATABRICKS_TOKEN": READER},
    )
    assert denied.returncode in (2, 3) and denied.stderr.count("\n") == 1, denied.stderr
    assert READER not in denied.stderr and "Traceback" not in denied.stderr
    ok = cli(
        "--config",
        str(config),
        "bench",
        "rerun",
        "kyros-fraud-score",
        "-n",
        "2",
        "--poll-interval",
        "0.1",
        env={"DATABRICKS_TOKEN": TOKEN},
    )
    assert ok.returncode == 0, ok.stderr
    assert "2/2 shadow runs of kyros-fraud-score succeeded" in ok.stdout
    with StateStore.open(tmp_path / "s.db", readonly=True) as store:
        dump = "\n".join(str(tuple(r)) for r in store.query("SELECT * FROM events"))
        assert TOKEN not in dump
        assert len(load_samples(store)) == 2
    bad = cli(
        "--config", str(config), "bench", "rerun", "nope-job", env={"DATABRICKS_TOKEN": TOKEN}
    )
    assert bad.returncode == 2 and "no job named 'nope-job'" in bad.stderr


def test_task_override_rules():
    settings = scenario()["jobs"][0]["settings"]
    tasks, key = shadow_tasks(settings, "16.4-lts-ml")
    assert key == NEW_KEY and "job_cluster_key" not in tasks[0]
    assert settings["job_clusters"][0]["new_cluster"]["spark_version"] == OLD_KEY  # not mutated
    assert (
        target_spark_version("16.4-lts-ml", "14.3.x-gpu-ml-scala2.12") == "16.4.x-gpu-ml-scala2.12"
    )
    assert target_spark_version("16.4.x-photon-scala2.12", OLD_KEY) == "16.4.x-photon-scala2.12"
    with pytest.raises(CockpitError, match="neither a bundled runtime"):
        target_spark_version("sixteen", OLD_KEY)
    shared = {"tasks": [{"task_key": "t", "existing_cluster_id": "0101-abc"}]}
    with pytest.raises(CockpitError, match="existing cluster"):
        shadow_tasks(shared, "16.4-lts-ml")
    with pytest.raises(CockpitError, match="no tasks"):
        shadow_tasks({}, "16.4-lts-ml")


async def test_tab_starts_a_shadow_rerun_and_shows_the_new_runs(
    tmp_path: Path, simulator, monkeypatch
):
    from cockpit.config import parse_config
    from screens.app import CockpitApp
    from screens.tabs.benchmarks import BenchmarksTab

    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    store = history_store(tmp_path / "state.db", simulator)
    config = parse_config(
        f'[migration]\nname = "k"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[databricks]\nhost = "{simulator.url}"\n'
    )
    app = CockpitApp(
        store=store, config=config, offline=False, tab_classes=[BenchmarksTab], sources=[]
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        tab = app.query_one(BenchmarksTab)
        tab.RERUN_POLL_S = 0.1  # the simulator's runs end in ~1.3 s
        assert tab.current().n_new == 0
        await pilot.press("r")
        await pilot.pause()
        assert tab.rerunning == "kyros-fraud-score"
        for _ in range(1200):  # the shadow runs take ~1.3 s on the simulator
            await pilot.pause(0.1)
            if tab.rerunning is None:
                break
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert tab.rerunning is None
        assert tab.current().n_new == 3  # DEFAULT_RERUNS shadow runs, now in the verdict
    store.close()


def test_interrupt_cancels_submitted_runs_in_the_workspace(tmp_path: Path, simulator):
    store = history_store(tmp_path / "state.db", simulator)
    client = AdapterRunClient(
        WorkspaceAdapter.connect(ConnectOptions(host=simulator.url, token=TOKEN))
    )

    def ctrl_c(message: str) -> None:
        if message.startswith("submitted"):
            raise KeyboardInterrupt  # what Ctrl-C does while the first run is pending

    with pytest.raises(KeyboardInterrupt):
        shadow_rerun(
            store,
            client,
            "kyros-fraud-score",
            runtime="16.4-lts-ml",
            count=3,
            poll_interval_s=0.1,
            progress=ctrl_c,
        )
    (row,) = reruns(store)
    assert row.state == "cancelled" and row.message == "interrupted by the user"
    status = client.get_run(row.run_id)
    assert status.done and status.result_state == "CANCELED"
    assert len(load_samples(store)) == 8  # nothing added from a cancelled run
    store.close()


def test_read_only_state_submits_nothing(tmp_path: Path, simulator):
    history_store(tmp_path / "state.db", simulator).close()
    before = simulator.requests.copy()
    with StateStore.open(tmp_path / "state.db", readonly=True) as store:
        client = AdapterRunClient(
            WorkspaceAdapter.connect(ConnectOptions(host=simulator.url, token=TOKEN))
        )
        with pytest.raises(CockpitError, match="read-only"):
            shadow_rerun(store, client, "kyros-fraud-score", runtime="16.4-lts-ml")
    submit, get_job = "/api/2.2/jobs/runs/submit", "/api/2.2/jobs/get"
    assert simulator.requests[submit] == before[submit]
    assert simulator.requests[get_job] == before[get_job]  # refused before touching the job
