"""`cockpit record` stores the benchmark statistics of every run history it records, so time
travel over a recorded file (no live cockpit ever looked at it) reads them back instead of
importing numpy and scipy at each step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from ws_helpers import ADMIN, KYROS_SCENARIO, REPO, scenario_json

from cockpit.bench.data import compare_store, load_samples, stats_key
from cockpit.databricks.scenario import load_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.store import StateStore

OLD, NEW = "14.3-lts-ml", "16.4-lts-ml"

# A fresh process, as a viewer that opens the recorded file: every event's moment and the latest,
# the Benchmarks tab's statistics and the gates' verdicts, and which heavy modules got imported.
TRAVEL = """
import sys, json
from dataclasses import asdict
from cockpit.bench.data import compare_store
from cockpit.bench.verdicts import benchmark_verdicts
from cockpit.store import StateStore
store = StateStore.open(sys.argv[1], readonly=True)
times = store.query_columns('SELECT DISTINCT ts FROM events ORDER BY ts')[0]
rows = [[asdict(c) for c in compare_store(store, None, as_of=t)] for t in [*times, None]]
verdicts = [len(benchmark_verdicts(store, None, as_of=t)) for t in times]
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas', 'scipy'))
print(json.dumps([times, rows, verdicts, heavy]))
"""


def _runs(store_path: Path) -> int:
    with StateStore.open(store_path, readonly=True) as store:
        if not store.has_table("workspace_runs"):
            return 0
        return store.query_one("SELECT COUNT(*) AS n FROM workspace_runs")["n"]


def _wait_for_runs(store_path: Path, n: int, recorder: subprocess.Popen) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        assert recorder.poll() is None, recorder.communicate()[1]
        if store_path.exists() and _runs(store_path) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"the recorder did not record {n} runs in 60 s")


def test_a_recorded_file_serves_every_moment_from_stored_statistics(tmp_path: Path):
    runs = scenario_json()["runs"]
    churn = next(r for r in runs if r["job_id"] == 100)
    latest = max(r["start_time"] for r in runs)

    def new_runs(first_id: int, count: int, at: int) -> list[dict]:
        # Churn-train on the target runtime, a little slower each time: new numbers to store.
        return [
            {
                **churn,
                "run_id": first_id + i,
                "start_time": at + i * 3_600_000,
                "duration_ms": churn["duration_ms"] + 60_000 * (i + 1),
                "spark_version": "16.4.x-cpu-ml-scala2.12",
            }
            for i in range(count)
        ]

    (tmp_path / "cockpit.toml").write_text(
        f'[migration]\nname = "t"\nfrom = "{OLD}"\nto = "{NEW}"\n'
        '[databricks]\nhost = "{url}"\npoll_interval_s = 0.5\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=ADMIN, PYTHONPATH=str(REPO))
    state = tmp_path / "cockpit.db"
    with WorkspaceSimulator(load_scenario(KYROS_SCENARIO)) as sim:
        config = (tmp_path / "cockpit.toml").read_text(encoding="utf-8")
        (tmp_path / "cockpit.toml").write_text(config.replace("{url}", sim.url), encoding="utf-8")
        recorder = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "record"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_for_runs(state, 140, recorder)
            sim.add_runs(new_runs(9_000_001, 3, latest + 3_600_000))
            _wait_for_runs(state, 143, recorder)
            sim.add_runs(new_runs(9_000_101, 2, latest + 10 * 3_600_000))
            _wait_for_runs(state, 145, recorder)
            time.sleep(1.0)  # more polls that change nothing
        finally:
            recorder.send_signal(signal.SIGTERM)
            _, err = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, err
    assert "databricks: ok" in err and "not stored" not in err

    out = subprocess.run(
        [sys.executable, "-c", TRAVEL, str(state)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    times, rows, verdicts, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    # Every moment read back from stored rows: nothing computed, so nothing heavy imported.
    assert heavy == []
    assert verdicts == [len(r) for r in rows[:-1]]
    # Nothing before the first poll's runs; then 12 jobs' durations; the latest moment sees all.
    assert len(rows[0]) == 0 and len(rows[-1]) == 12

    # What was served is what pandas and scipy compute from the samples at that moment, and the
    # recording went through at least four run histories (none, 140, 143, 145 runs).
    with StateStore.open(state, readonly=True) as store:
        computed: dict[str, list[dict]] = {}
        for t, served in zip([*times, None], rows, strict=True):
            key = stats_key(store, OLD, NEW, t)
            if key not in computed:
                frame = load_samples(store, as_of=t)
                computed[key] = [
                    asdict(c) for c in compare_store(store, None, as_of=t, samples=frame)
                ]
            assert served == json.loads(json.dumps(computed[key])), t
        assert len(computed) >= 4
        churn_ratio = {c["ratio"] for r in rows for c in r if c["pipeline"] == "kyros-churn-train"}
        assert len(churn_ratio) >= 3  # each batch of new runs changed the numbers
