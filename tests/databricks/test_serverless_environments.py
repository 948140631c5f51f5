"""Serverless jobs (Jobs API 2.2: a task's `environment_key` names one of the job's
`environments`, whose `spec.dependencies` are pip requirement lines): the MLflow client they
install decides how their code is judged, a `-r` requirements file in the workspace is fetched
and checked like a local one, and the dependencies are checked like libraries. The workspace
is the simulator, read through the real databricks-sdk."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ws_helpers import REPO

from cockpit.databricks.scenario import parse_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.store import StateStore

TOKEN = "dapi-serverless-canary-3c9d0e5a71"
OLD, NEW = "14.3.x-cpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12"
ENV_FILE = "/Workspace/Shared/envs/score/requirements.txt"
REQUIREMENTS = "# the scoring service still talks to the 1.x server\n-r base.txt\nmlflow==1.30.1\n"
BASE = "numpy<2\nhorovod==0.28.1\n"
SCRIPT = "import mlflow\n\nfor exp in mlflow.list_experiments():\n    print(exp.name)\n"


def _job(job_id: int, name: str, python_file: str, dependencies: list[str]) -> dict:
    return {
        "job_id": job_id,
        "creator_user_name": "li.wen@kyros.example",
        "created_time": 1759050000000,
        "settings": {
            "name": name,
            "environments": [
                {
                    "environment_key": "default",
                    "spec": {"environment_version": "2", "dependencies": dependencies},
                }
            ],
            "tasks": [
                {
                    "task_key": "main",
                    "environment_key": "default",
                    "spark_python_task": {"python_file": python_file},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def serverless_ws():
    scenario = {
        "format": "cockpit-workspace-scenario/1",
        "name": "serverless jobs",
        "tokens": {TOKEN: "admin"},
        "spark_versions": [
            {"key": OLD, "name": "14.3 LTS ML"},
            {"key": NEW, "name": "16.4 LTS ML"},
        ],
        "jobs": [
            _job(1, "score", "/Workspace/Repos/kyros/serve/score.py", [f"-r {ENV_FILE}"]),
            _job(2, "batch", "/Repos/kyros/serve/batch.py", ["pandas<3", "mlflow==1.29.0"]),
            _job(
                3,
                "orphan",
                "/Repos/kyros/serve/modern.py",
                ["-r /Workspace/Shared/envs/gone/requirements.txt", "-r /Volumes/ml/envs/r.txt"],
            ),
        ],
        "runs": [],
        "workspace": [
            {"path": "/Repos/kyros/serve/score.py", "object_type": "FILE", "content": SCRIPT},
            {"path": "/Repos/kyros/serve/batch.py", "object_type": "FILE", "content": SCRIPT},
            {
                "path": "/Repos/kyros/serve/modern.py",
                "object_type": "FILE",
                "content": "import mlflow\n\nprint(mlflow.search_experiments())\n",
            },
            {
                "path": "/Shared/envs/score/requirements.txt",
                "object_type": "FILE",
                "content": REQUIREMENTS,
            },
            {"path": "/Shared/envs/score/base.txt", "object_type": "FILE", "content": BASE},
        ],
    }
    sim = WorkspaceSimulator(parse_scenario(scenario))
    sim.start()
    yield sim
    sim.stop()


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=TOKEN, COCKPIT_DEBUG="")
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def checked(serverless_ws, tmp_path_factory):
    state = tmp_path_factory.mktemp("serverless") / "c.db"
    inventory = _run(
        "--state", str(state), "inventory", "--host", serverless_ws.url, "--no-history"
    )
    assert inventory.returncode == 0, inventory.stderr
    result = _run(
        "--state",
        str(state),
        "check",
        "--workspace",
        "--host",
        serverless_ws.url,
        "--format",
        "json",
        "--record",
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    return state, json.loads(result.stdout), result


def test_inventory_keeps_each_tasks_environment(checked):
    state, _data, _result = checked
    from cockpit.databricks.inventory import read_jobs

    with StateStore.open(state, readonly=True) as store:
        jobs = {j.name: j for j in read_jobs(store)}
    task = jobs["batch"].tasks[0]
    assert task.environment == "default"
    assert task.dependencies == ("pandas<3", "mlflow==1.29.0")
    assert jobs["score"].tasks[0].dependencies == (f"-r {ENV_FILE}",)


def test_the_environments_mlflow_decides_and_says_so(checked):
    _state, data, _result = checked
    mlf = {f["path"]: f["message"] for f in data["findings"] if f["code"] == "MLF101"}
    # A -r file in the workspace, found through the file the environment names.
    assert mlf["/Workspace/Repos/kyros/serve/score.py"].endswith(
        f"(MLflow 1.30.1 from {ENV_FILE}:3 (serverless environment default))"
    )
    # A dependency of the environment itself.
    assert mlf["/Repos/kyros/serve/batch.py"].endswith(
        "(MLflow 1.29.0 from serverless environment default dependency mlflow==1.29.0)"
    )


def test_requirements_files_and_dependencies_are_checked(checked):
    _state, data, _result = checked
    at = {(f["code"], f["path"], f["line"]) for f in data["findings"]}
    # The workspace requirements file and the file it includes, at their own lines.
    assert ("REQ102", ENV_FILE, 3) in at
    assert ("DBR101", "/Workspace/Shared/envs/score/base.txt", 2) in at
    # The environment's own dependency, checked as a job library is.
    assert ("REQ102", "workspace:batch", 1) in at
    # A missing -r file fails the environment's install; a volume is said, not read.
    gone = [f for f in data["findings"] if f["code"] == "WSP001"]
    assert [(f["path"], f["line"]) for f in gone] == [
        ("/Workspace/Shared/envs/gone/requirements.txt", 1)
    ]
    notes = {(n["kind"], n["path"]) for n in data["notes"]}
    assert ("not-workspace", "/Volumes/ml/envs/r.txt") in notes
    # Serverless compute has no spark_version: not an old runtime.
    assert not [f for f in data["findings"] if f["code"] == "JOB101"]
    # Modern code on a serverless environment without an MLflow pin: nothing about it.
    assert not [f for f in data["findings"] if f["path"] == "/Repos/kyros/serve/modern.py"]


def test_the_environments_files_join_the_jobs_pipeline(checked):
    state, _data, result = checked
    from cockpit.compat.checklist import findings_for

    assert TOKEN not in result.stdout + result.stderr
    with StateStore.open(state, readonly=True) as store:
        paths = {f.path for f in findings_for(store, "job:score")}
    assert {ENV_FILE, "/Workspace/Shared/envs/score/base.txt"} <= paths
    assert TOKEN.encode() not in state.read_bytes()
