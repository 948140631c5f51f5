"""Workspace scenarios: what the local simulator serves (jobs, runs, spark versions, clusters,
accepted tokens, and what submitted one-time runs print).

A scenario is a JSON object::

    {"format": "cockpit-workspace-scenario/1", "name": "...",
     "tokens": {"<token>": "admin" | "reader" | "none"},
     "spark_versions": [{"key": "16.4.x-cpu-ml-scala2.12", "name": "16.4 LTS ML (...)"}],
     "clusters": [<clusters/list objects>],
     "jobs": [<jobs/get objects: job_id, creator_user_name, created_time, settings>],
     "runs": [{"run_id", "job_id", "start_time" (ms), "duration_ms", "result_state",
               "spark_version"}],
     "submit": {"pending_s": 1, "running_s": 2,
                "outputs": {"<spark_version>": {"probe": {...}} | {"logs": "..."}}},
     "workspace": [{"path": "/Repos/...", "object_type": "NOTEBOOK" | "FILE" | "DIRECTORY",
                    "language": "PYTHON" | "SQL" | "SCALA" | "R", "content": "<exported SOURCE>",
                    "forbidden": false}],
     "dbfs": [{"path": "/scripts/x.py", "content": "..."}],
     "hidden_clusters": [<clusters/get objects that clusters/list no longer shows>],
     "cluster_libraries": {"<cluster_id>": [<libraries/cluster-status library_statuses>]}}

A job's ``settings`` are served as written, so a serverless job's ``environments``
(``[{"environment_key", "spec": {"environment_version", "dependencies": [...]}}]``) and its
tasks' ``environment_key`` reach the SDK as the Jobs API 2.2 returns them.

An output may hold ``"files": {"<python_file>": {"logs", "result_state", "error"}}``: what a
one-time run of that workspace file prints on that runtime (the DDP probe beside the runtime
probe); a failed run with ``logs`` still returns them, as a failed python task's stdout.

Tokens: ``admin`` may read and submit, ``reader`` may only read (submitting gets 403), ``none``
is a valid identity without workspace access (403 on jobs and clusters). Runs hold the
``spark_version`` they ran on, so one job can have history on two runtimes.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError

FORMAT = "cockpit-workspace-scenario/1"
ROLES = ("admin", "reader", "none")
RESULT_STATES = ("SUCCESS", "FAILED", "CANCELED", "TIMEDOUT", "SUCCESS_WITH_FAILURES")


@dataclass
class Scenario:
    name: str
    tokens: dict[str, str]
    spark_versions: list[dict[str, Any]]
    clusters: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    pending_s: float = 1.0
    running_s: float = 2.0
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Workspace objects (notebooks, files, folders) and DBFS files the jobs run, by path.
    workspace: list[dict[str, Any]] = field(default_factory=list)
    dbfs: list[dict[str, Any]] = field(default_factory=list)
    hidden_clusters: list[dict[str, Any]] = field(default_factory=list)
    cluster_libraries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def spark_version_keys(self) -> set[str]:
        return {v["key"] for v in self.spark_versions}


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CockpitError(f"scenario file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CockpitError(f"{path}: not a readable scenario JSON: {exc}") from None
    return parse_scenario(data, source=str(path))


def parse_scenario(data: Any, *, source: str = "scenario") -> Scenario:
    def fail(message: str) -> CockpitError:
        return CockpitError(f"{source}: {message}")

    if not isinstance(data, dict):
        raise fail("a scenario is a JSON object")
    if data.get("format") != FORMAT:
        raise fail(f"format must be {FORMAT!r} (got {data.get('format')!r})")
    tokens = data.get("tokens") or {}
    if not isinstance(tokens, dict) or not tokens:
        raise fail("tokens must map at least one token to a role (admin, reader, none)")
    for role in tokens.values():
        if role not in ROLES:
            raise fail(f"token role {role!r} is not one of {', '.join(ROLES)}")
    for key in (
        "spark_versions",
        "clusters",
        "jobs",
        "runs",
        "workspace",
        "dbfs",
        "hidden_clusters",
    ):
        if not isinstance(data.get(key, []), list):
            raise fail(f"{key} must be a list")
    jobs = data.get("jobs", [])
    job_ids = set()
    for i, job in enumerate(jobs):
        if not isinstance(job, dict) or not isinstance(job.get("job_id"), int):
            raise fail(f"jobs[{i}]: job_id (an integer) is required")
        if not isinstance(job.get("settings"), dict) or not job["settings"].get("name"):
            raise fail(f"jobs[{i}]: settings.name is required")
        if job["job_id"] in job_ids:
            raise fail(f"jobs[{i}]: job_id {job['job_id']} appears twice")
        job_ids.add(job["job_id"])
    run_ids = set()
    for i, run in enumerate(data.get("runs", [])):
        # A run the scenario marks active (life_cycle_state RUNNING, ...) has no duration yet.
        needed: tuple[str, ...] = ("run_id", "job_id", "start_time")
        if run.get("life_cycle_state") in (None, "TERMINATED"):
            needed += ("duration_ms",)
        missing = [k for k in needed if k not in run]
        if missing:
            raise fail(f"runs[{i}]: {missing[0]} is required")
        if run["job_id"] not in job_ids:
            raise fail(f"runs[{i}]: job_id {run['job_id']} is not a job of the scenario")
        if run.get("result_state", "SUCCESS") not in RESULT_STATES:
            raise fail(f"runs[{i}]: result_state {run.get('result_state')!r} is not known")
        if run["run_id"] in run_ids:
            raise fail(f"runs[{i}]: run_id {run['run_id']} appears twice")
        run_ids.add(run["run_id"])
    for i, version in enumerate(data.get("spark_versions", [])):
        if not isinstance(version, dict) or not version.get("key"):
            raise fail(f"spark_versions[{i}]: key is required")
    submit = data.get("submit") or {}
    try:
        pending_s = float(submit.get("pending_s", 1.0))
        running_s = float(submit.get("running_s", 2.0))
    except (TypeError, ValueError):
        raise fail("submit.pending_s and submit.running_s must be numbers") from None
    outputs = submit.get("outputs") or {}
    if not isinstance(outputs, dict):
        raise fail("submit.outputs must map a spark_version to an output")
    for key in ("workspace", "dbfs"):
        for i, obj in enumerate(data.get(key, [])):
            if not isinstance(obj, dict) or not str(obj.get("path", "")).startswith("/"):
                raise fail(f"{key}[{i}]: path (absolute) is required")
            if not isinstance(obj.get("content", ""), str):
                raise fail(f"{key}[{i}]: content must be a string")
    libraries = data.get("cluster_libraries") or {}
    if not isinstance(libraries, dict):
        raise fail("cluster_libraries must map a cluster id to its library statuses")
    return Scenario(
        name=str(data.get("name", "")),
        tokens=dict(tokens),
        spark_versions=list(data.get("spark_versions", [])),
        clusters=list(data.get("clusters", [])),
        jobs=list(jobs),
        runs=list(data.get("runs", [])),
        pending_s=pending_s,
        running_s=running_s,
        outputs=dict(outputs),
        workspace=list(data.get("workspace", [])),
        dbfs=list(data.get("dbfs", [])),
        hidden_clusters=list(data.get("hidden_clusters", [])),
        cluster_libraries=dict(libraries),
    )


# ----------------------------------------------------------------------------- synthetic
SYNTHETIC_VERSIONS = (
    ("14.3.x-cpu-ml-scala2.12", "14.3 LTS ML (includes Apache Spark 3.5.0, Scala 2.12)"),
    ("16.4.x-cpu-ml-scala2.12", "16.4 LTS ML (includes Apache Spark 3.5.2, Scala 2.12)"),
)


def synthetic_scenario(
    n_jobs: int, n_runs: int, *, token: str, seed: int = 0, start_ms: int = 1_790_000_000_000
) -> dict[str, Any]:
    """A large workspace for benchmarks: ``n_jobs`` single-task jobs, ``n_runs`` runs spread
    over them, 70% on 14.3 and the rest on 16.4. Deterministic for a given seed."""
    rng = random.Random(seed)
    jobs: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for j in range(n_jobs):
        version = SYNTHETIC_VERSIONS[0 if rng.random() < 0.7 else 1][0]
        jobs.append(
            {
                "job_id": 1_000 + j,
                "creator_user_name": f"user{j % 40}@example.com",
                "created_time": start_ms - 86_400_000,
                "settings": {
                    "name": f"job-{j:05d}",
                    "tags": {"team": f"team-{j % 12}"},
                    "schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC"},
                    "job_clusters": [
                        {
                            "job_cluster_key": "main",
                            "new_cluster": {
                                "spark_version": version,
                                "node_type_id": "i3.xlarge",
                                "num_workers": 2,
                                "spark_env_vars": {
                                    "MLFLOW_TRACKING_URI": "https://mlflow-old.example"
                                },
                            },
                        }
                    ],
                    "tasks": [
                        {
                            "task_key": "main",
                            "job_cluster_key": "main",
                            "notebook_task": {"notebook_path": f"/Repos/etl/job_{j:05d}"},
                        }
                    ],
                },
            }
        )
    for r in range(n_runs):
        job = jobs[r % n_jobs] if n_jobs else None
        if job is None:
            break
        version = job["settings"]["job_clusters"][0]["new_cluster"]["spark_version"]
        duration = int(600_000 * math.exp(rng.gauss(0.0, 0.3)))
        runs.append(
            {
                "run_id": 10_000_000 + r,
                "job_id": job["job_id"],
                "start_time": start_ms + r * 60_000,
                "duration_ms": duration,
                "result_state": "SUCCESS" if rng.random() < 0.95 else "FAILED",
                "spark_version": version,
            }
        )
    return {
        "format": FORMAT,
        "name": f"synthetic {n_jobs} jobs / {n_runs} runs",
        "tokens": {token: "admin"},
        "spark_versions": [{"key": k, "name": n} for k, n in SYNTHETIC_VERSIONS],
        "clusters": [],
        "jobs": jobs,
        "runs": runs,
        "submit": {"pending_s": 0.2, "running_s": 0.5, "outputs": {}},
    }
