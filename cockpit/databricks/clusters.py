"""Jobs on all-purpose clusters (``existing_cluster_id``): their runtime, tracking URI and
libraries live on the cluster, not in the job, so the inventory reads each cluster once
(``clusters/get``, which also answers for a terminated cluster ``clusters/list`` no longer
shows) and its installed libraries (``libraries/cluster-status``), and writes them into the
job's tasks. A cluster the workspace no longer knows is marked ``GONE`` on the task (a WSP003
finding in ``cockpit check``), never a silent gap.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.databricks.models import JobDefinition, TaskDefinition
from cockpit.databricks.runtimes import runtime_for

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter

GONE = "GONE"  # clusters/get: "Cluster ... does not exist"
FORBIDDEN = "FORBIDDEN"  # the cockpit's identity may not read it
WORKERS = 4
INSTALLED = ("INSTALLED", "PENDING", "INSTALLING", "RESOLVING")  # what a run will have


@dataclass(frozen=True)
class ClusterFacts:
    cluster_id: str
    state: str  # RUNNING, TERMINATED, ... or GONE / FORBIDDEN
    spark_version: str = ""
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    libraries: tuple[str, ...] = ()


def read_cluster(adapter: WorkspaceAdapter, cluster_id: str) -> ClusterFacts:
    from databricks.sdk import errors

    from cockpit.databricks.adapter import _library

    client = adapter.client
    try:
        details = client.clusters.get(cluster_id)
    except errors.PermissionDenied:
        return ClusterFacts(cluster_id, FORBIDDEN)
    except (errors.NotFound, errors.BadRequest) as exc:
        # The real API answers 400 INVALID_PARAMETER_VALUE "Cluster <id> does not exist".
        if isinstance(exc, errors.NotFound) or "does not exist" in str(exc):
            return ClusterFacts(cluster_id, GONE)
        raise
    libraries: list[str] = []
    try:
        for status in client.libraries.cluster_status(cluster_id):
            state = str(getattr(status.status, "value", status.status) or "")
            if status.library is not None and state in INSTALLED:
                libraries.append(_library(status.library.as_dict()))
    except errors.PermissionDenied:
        pass  # the runtime and env are known; the libraries stay unknown
    state = details.state
    return ClusterFacts(
        cluster_id=cluster_id,
        state=str(getattr(state, "value", state) or ""),
        spark_version=details.spark_version or "",
        env={str(k): str(v) for k, v in (details.spark_env_vars or {}).items()},
        libraries=tuple(libraries),
    )


def attach_clusters(
    adapter: WorkspaceAdapter, jobs: list[JobDefinition]
) -> tuple[list[JobDefinition], dict[str, ClusterFacts]]:
    """``jobs`` with every existing-cluster task carrying its cluster's facts."""
    ids = sorted({t.cluster for j in jobs for t in j.tasks if _on_existing(t)})
    if not ids:
        return jobs, {}
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ws-cluster") as pool:
        facts = adapter.guard(
            "read all-purpose clusters",
            lambda: {f.cluster_id: f for f in pool.map(lambda i: read_cluster(adapter, i), ids)},
        )
    out = []
    for job in jobs:
        tasks = tuple(_with_cluster(t, facts.get(t.cluster)) for t in job.tasks)
        out.append(dataclasses.replace(job, tasks=tasks))
    return out, facts


def _on_existing(task: TaskDefinition) -> bool:
    return bool(task.cluster) and task.cluster != "new" and task.existing_cluster


def _with_cluster(task: TaskDefinition, facts: ClusterFacts | None) -> TaskDefinition:
    if facts is None or not task.existing_cluster:
        return task
    return dataclasses.replace(
        task,
        spark_version=facts.spark_version,
        runtime=runtime_for(facts.spark_version) if facts.spark_version else "",
        env=dict(facts.env),
        cluster_libraries=facts.libraries,
        cluster_state=facts.state,
    )


def cluster_libraries(jobs: list[JobDefinition]) -> dict[str, tuple[str, ...]]:
    """Installed libraries by cluster id, from the inventory's tasks."""
    out: dict[str, tuple[str, ...]] = {}
    for job in jobs:
        for task in job.tasks:
            if task.existing_cluster and task.cluster_libraries:
                out[task.cluster] = task.cluster_libraries
    return out


def as_json(facts: ClusterFacts) -> dict[str, Any]:
    return dataclasses.asdict(facts)
