"""What crosses the Databricks adapter boundary, and the state-file tables that hold it.

Tables (migration ``0003_workspace.sql``); all timestamps are seconds since the epoch, UTC, and
``recorded_at`` is when the cockpit learned the row (time travel reads ``recorded_at <= as_of``):

``workspace_runs`` — completed job runs, read by the benchmarks feature (:class:`JobRun`):
    run_id INTEGER PK, job_id INTEGER, job_name TEXT, start_ts REAL, end_ts REAL,
    duration_s REAL (the run's ``run_duration``, else end - start), result_state TEXT
    (SUCCESS, FAILED, CANCELED, TIMEDOUT, ...), spark_version TEXT (e.g.
    "14.3.x-cpu-ml-scala2.12"), runtime TEXT (runtime id, e.g. "14.3-lts-ml"; the spark_version
    itself when no bundled runtime claims it), tags TEXT (JSON object: the job's tags plus
    ``run_type`` and ``run_name``), recorded_at REAL. Index on (job_name, runtime, start_ts).
    Read them with :func:`cockpit.databricks.history.read_runs`.

``workspace_jobs`` — the latest definition of each job (:class:`JobDefinition`):
    job_id INTEGER PK, name, owner, schedule (quartz cron or ''), spark_versions (JSON list),
    runtime (runtime id, "mixed" when tasks differ), tracking_uri (MLFLOW_TRACKING_URI or ''),
    definition (JSON of :meth:`JobDefinition.to_json`), first_seen, recorded_at, removed_at.

``workspace_job_versions`` — every definition a job has had: (job_id, seen_at) PK, definition
    (JSON as above; NULL when the job disappeared at seen_at). One row per change, written by
    the inventory; :func:`cockpit.databricks.inventory.read_jobs` with ``as_of`` reads it.

``workspace_spark_versions`` — key PK, name, runtime, recorded_at.
``workspace_clusters`` — cluster_id PK, name, spark_version, runtime, state, source, recorded_at.
``workspace_probes`` — id PK, spark_version, runtime_id, run_id, state (submitted, running,
    succeeded, failed, cancelled), message, submitted_at, finished_at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIXED = "mixed"


@dataclass(frozen=True)
class SparkVersion:
    key: str  # "16.4.x-cpu-ml-scala2.12"
    name: str  # "16.4 LTS ML (includes Apache Spark 3.5.2, Scala 2.12)"
    runtime: str = ""  # bundled runtime id when known, e.g. "16.4-lts-ml"


@dataclass(frozen=True)
class TaskDefinition:
    task_key: str
    kind: str  # "notebook", "python", "wheel", "sql", ... (the *_task field that is set)
    entry: str  # notebook path, python file, package/entry point
    spark_version: str
    runtime: str
    cluster: str  # job cluster key, existing cluster id, or "new"
    libraries: tuple[str, ...] = ()  # "pypi:horovod==0.28.1", "whl:dbfs:/...", "jar:..."
    init_scripts: tuple[str, ...] = ()  # "dbfs:/...", "workspace:/...", "volumes:/..."
    env: dict[str, str] = field(default_factory=dict)  # spark_env_vars of its cluster
    # Where the task's code lives: "GIT" (a Git provider, via the job's git_source) or
    # "WORKSPACE"; "" when the job does not say (the API's default is WORKSPACE then).
    source: str = ""
    # An all-purpose cluster (existing_cluster_id): `cluster` is its id, and the inventory
    # fills spark_version, runtime and env from the cluster itself.
    existing_cluster: bool = False
    cluster_libraries: tuple[str, ...] = ()  # installed on that cluster (libraries API)
    cluster_state: str = ""  # RUNNING, TERMINATED, ...; GONE when the workspace no longer has it
    # A serverless task's environment (Jobs API 2.2: the task's `environment_key` names one of
    # the job's `environments`): its key and its `spec.dependencies`, pip requirement lines
    # ("mlflow==2.22.0", "-r /Workspace/Shared/requirements.txt").
    environment: str = ""
    dependencies: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "task_key": self.task_key,
            "kind": self.kind,
            "entry": self.entry,
            "spark_version": self.spark_version,
            "runtime": self.runtime,
            "cluster": self.cluster,
            "libraries": list(self.libraries),
            "init_scripts": list(self.init_scripts),
            "env": dict(self.env),
        }
        # Only when set, so definitions stored before these fields existed stay unchanged.
        if self.source:
            out["source"] = self.source
        if self.existing_cluster:
            out["existing_cluster"] = True
            out["cluster_libraries"] = list(self.cluster_libraries)
            out["cluster_state"] = self.cluster_state
        if self.environment:
            out["environment"] = self.environment
            out["dependencies"] = list(self.dependencies)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskDefinition:
        return cls(
            task_key=data["task_key"],
            kind=data.get("kind", ""),
            entry=data.get("entry", ""),
            spark_version=data.get("spark_version", ""),
            runtime=data.get("runtime", ""),
            cluster=data.get("cluster", ""),
            libraries=tuple(data.get("libraries", ())),
            init_scripts=tuple(data.get("init_scripts", ())),
            env=dict(data.get("env", {})),
            source=data.get("source", ""),
            existing_cluster=bool(data.get("existing_cluster", False)),
            cluster_libraries=tuple(data.get("cluster_libraries", ())),
            cluster_state=data.get("cluster_state", ""),
            environment=data.get("environment", ""),
            dependencies=tuple(data.get("dependencies", ())),
        )


@dataclass(frozen=True)
class JobDefinition:
    """One job as a pipeline for the checklist and the compatibility scanners."""

    job_id: int
    name: str
    owner: str
    schedule: str  # quartz cron, "" when unscheduled
    tasks: tuple[TaskDefinition, ...]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def spark_versions(self) -> tuple[str, ...]:
        return tuple(sorted({t.spark_version for t in self.tasks if t.spark_version}))

    @property
    def runtime(self) -> str:
        """The runtime id every task runs on; ``"mixed"`` when they differ, "" when none."""
        runtimes = {t.runtime for t in self.tasks if t.runtime}
        if len(runtimes) > 1:
            return MIXED
        return runtimes.pop() if runtimes else ""

    @property
    def tracking_uri(self) -> str:
        uris = sorted(
            {t.env["MLFLOW_TRACKING_URI"] for t in self.tasks if t.env.get("MLFLOW_TRACKING_URI")}
        )
        return ", ".join(uris)

    @property
    def libraries(self) -> tuple[str, ...]:
        return tuple(sorted({lib for t in self.tasks for lib in t.libraries}))

    @property
    def init_scripts(self) -> tuple[str, ...]:
        return tuple(sorted({s for t in self.tasks for s in t.init_scripts}))

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "name": self.name,
            "owner": self.owner,
            "schedule": self.schedule,
            "tags": dict(self.tags),
            "tasks": [t.to_json() for t in self.tasks],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobDefinition:
        return cls(
            job_id=int(data["job_id"]),
            name=data["name"],
            owner=data.get("owner", ""),
            schedule=data.get("schedule", ""),
            tasks=tuple(TaskDefinition.from_json(t) for t in data.get("tasks", ())),
            tags=dict(data.get("tags", {})),
        )


@dataclass(frozen=True)
class JobRun:
    """One completed run of a job, with the runtime it ran on (a row of ``workspace_runs``)."""

    job_id: int
    run_id: int
    job_name: str
    start: float  # seconds since the epoch
    end: float
    duration_s: float
    result_state: str  # "SUCCESS", "FAILED", "CANCELED", "TIMEDOUT", ...
    spark_version: str
    runtime: str  # runtime id ("16.4-lts-ml"), or the spark_version when unknown
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    name: str
    spark_version: str
    runtime: str
    state: str  # RUNNING, TERMINATED, ...
    source: str  # UI, JOB, API


@dataclass(frozen=True)
class RunStatus:
    """Where a submitted run is (probe, shadow re-run)."""

    run_id: int
    life_cycle_state: str  # PENDING, QUEUED, RUNNING, TERMINATING, TERMINATED, SKIPPED, ...
    result_state: str  # "" until terminated; then SUCCESS, FAILED, CANCELED, ...
    state_message: str
    start: float | None
    end: float | None
    duration_s: float | None
    task_run_ids: tuple[int, ...] = ()

    @property
    def done(self) -> bool:
        return self.life_cycle_state in ("TERMINATED", "SKIPPED", "INTERNAL_ERROR")

    @property
    def succeeded(self) -> bool:
        return self.done and self.result_state == "SUCCESS"


@dataclass(frozen=True)
class RunOutput:
    run_id: int
    logs: str  # stdout of a python task (what the probe prints)
    notebook_result: str  # dbutils.notebook.exit value of a notebook task
    error: str
    logs_truncated: bool = False


@dataclass(frozen=True)
class ProbeRecord:
    """A probe the cockpit submitted (a row of ``workspace_probes``)."""

    id: int
    spark_version: str
    runtime_id: str
    run_id: int | None
    state: str  # submitted, running, succeeded, failed, cancelled
    message: str
    submitted_at: float
    finished_at: float | None
