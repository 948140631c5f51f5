"""Pollers started together never break each other's imports (issue 20).

50 fresh interpreters each run the real `cockpit record` against the workspace simulator and two
real MLflow servers (1.x and 2.x, with the old one's backend watched): its pollers start at the
same moment. In every run every source must reach `ok`, and no poller thread may import a module
itself (the recorder imports them all on the main thread first), which is what let one thread
see a half-initialised `requests` and broke the Databricks source for a whole session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cockpit.databricks.scenario import load_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.demo.kyros_workspace import write as write_scenario

RUNS = 50
AT_ONCE = 3  # interpreters at a time: CI has two cores
DEADLINE_S = 60.0  # per run, to reach ok everywhere (a run normally takes a few seconds)
DRIVER = Path(__file__).with_name("poller_race.py")
REPO = Path(__file__).resolve().parents[2]
SOURCES = ["databricks", "mlflow", "mlflow.old-schema"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    scenario_path = write_scenario(tmp_path_factory.mktemp("ws") / "kyros_workspace.json")
    token = next(
        t for t, role in json.loads(scenario_path.read_text())["tokens"].items() if role == "admin"
    )
    sim = WorkspaceSimulator(load_scenario(scenario_path), pending_s=0.3, running_s=0.4)
    sim.start()
    yield sim, token
    sim.stop()


def run_once(folder: Path, config_text: str, env: dict[str, str]) -> dict:
    folder.mkdir()
    config = folder / "cockpit.toml"
    config.write_text(config_text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(DRIVER), str(config), str(DEADLINE_S), ",".join(SOURCES)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S + 60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["stderr"] = done.stderr[-2000:]
    return result


# 50 interpreter start-ups: about a minute on two idle cores, several under a loaded machine.
@pytest.mark.timeout(1500)
def test_recorder_pollers_started_together_reach_ok_in_50_fresh_interpreters(
    tmp_path: Path, workspace, mlflow_v1, mlflow_v2
):
    sim, token = workspace
    config_text = f"""
[migration]
name = "poller race"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[databricks]
host = "{sim.url}"
poll_interval_s = 1

[mlflow.old]
tracking_uri = "{mlflow_v1.url}"
db_uri = "{mlflow_v1.backend_uri}"
poll_interval_s = 1

[mlflow.new]
tracking_uri = "{mlflow_v2.url}"
poll_interval_s = 1

[state]
path = "state.db"
"""
    env = {
        **os.environ,
        "DATABRICKS_TOKEN": token,
        "PYTHONPATH": str(REPO),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("COCKPIT_DEBUG", None)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(
            pool.map(lambda i: run_once(tmp_path / f"run{i:02d}", config_text, env), range(RUNS))
        )
    not_ok = [
        (i, r["statuses"], r["stderr"])
        for i, r in enumerate(results)
        if any(r["statuses"].get(s) != "ok" for s in SOURCES)
    ]
    assert not_ok == [], f"{len(not_ok)} of {RUNS} runs had a source not ok: {not_ok[:3]}"
    lazy = sorted({(name, thread) for r in results for name, thread in r["off_main"]})
    assert lazy == [], f"modules imported by poller threads: {lazy}"
    assert all(r["exit"] == 0 for r in results)
    times = sorted(r["all_ok_after_s"] for r in results)
    print(
        f"\n{RUNS}/{RUNS} runs all ok; interpreter start to every source ok: "
        f"median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s"
    )
