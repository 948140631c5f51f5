"""The workspace inventory: jobs as pipelines (tasks, clusters, runtime per task, libraries,
``MLFLOW_TRACKING_URI``, owner, schedule), spark versions and clusters, with the summaries the
cockpit shows (jobs per runtime, jobs per tracking server).

:func:`record_inventory` writes one inventory in one transaction and appends a
``databricks.inventory`` event whose payload carries the summaries (the cutover gate "jobs on
target" reads ``jobs_per_runtime`` from it), plus ``databricks.job_runtime_changed`` for every
job that moved runtime since the last inventory.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.databricks.models import ClusterInfo, JobDefinition, SparkVersion
from cockpit.errors import StateError

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.store import StateStore

NO_TRACKING = "(none)"


@dataclass(frozen=True)
class Inventory:
    host: str
    jobs: tuple[JobDefinition, ...]
    spark_versions: tuple[SparkVersion, ...] = ()
    clusters: tuple[ClusterInfo, ...] = ()

    def jobs_per_runtime(self) -> dict[str, int]:
        return summarize(self.jobs)["jobs_per_runtime"]

    def jobs_per_tracking_server(self) -> dict[str, int]:
        return summarize(self.jobs)["jobs_per_tracking_server"]


def summarize(jobs: tuple[JobDefinition, ...] | list[JobDefinition]) -> dict[str, Any]:
    per_runtime = Counter(j.runtime or "(no cluster)" for j in jobs)
    per_tracking = Counter(j.tracking_uri or NO_TRACKING for j in jobs)
    return {
        "jobs": len(jobs),
        "jobs_per_runtime": dict(sorted(per_runtime.items())),
        "jobs_per_tracking_server": dict(sorted(per_tracking.items())),
    }


def fetch_inventory(adapter: WorkspaceAdapter) -> Inventory:
    from cockpit.databricks.clusters import attach_clusters

    # Jobs on all-purpose clusters get the cluster's runtime, env and libraries.
    jobs, _facts = attach_clusters(adapter, adapter.list_jobs())
    return Inventory(
        host=adapter.host,
        jobs=tuple(jobs),
        spark_versions=tuple(adapter.spark_versions()),
        clusters=tuple(adapter.list_clusters()),
    )


def record_inventory(
    store: StateStore, inventory: Inventory, *, source: str = "cli"
) -> dict[str, Any]:
    """Upsert the jobs, replace versions and clusters, record the event; one transaction."""
    require_workspace_tables(store)
    now = store.clock()
    summary = summarize(inventory.jobs)
    seen = {j.job_id for j in inventory.jobs}
    with store.write() as tx:
        previous = {
            r["job_id"]: (r["runtime"], r["removed_at"], r["definition"])
            for r in tx.execute(
                "SELECT job_id, runtime, removed_at, definition FROM workspace_jobs"
            )
        }
        definitions = {j.job_id: json.dumps(j.to_json(), sort_keys=True) for j in inventory.jobs}
        moved = []
        for job in inventory.jobs:
            before = previous.get(job.job_id)
            if before is not None and before[1] is None and before[0] != job.runtime:
                moved.append((job, before[0]))
        tx.executemany(
            "INSERT INTO workspace_jobs (job_id, name, owner, schedule, spark_versions, runtime, "
            "tracking_uri, definition, first_seen, recorded_at, removed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT(job_id) DO UPDATE SET "
            "name = excluded.name, owner = excluded.owner, schedule = excluded.schedule, "
            "spark_versions = excluded.spark_versions, runtime = excluded.runtime, "
            "tracking_uri = excluded.tracking_uri, definition = excluded.definition, "
            "recorded_at = excluded.recorded_at, removed_at = NULL",
            [
                (
                    j.job_id,
                    j.name,
                    j.owner,
                    j.schedule,
                    json.dumps(list(j.spark_versions)),
                    j.runtime,
                    j.tracking_uri,
                    definitions[j.job_id],
                    now,
                    now,
                )
                for j in inventory.jobs
            ],
        )
        removed = [
            job_id
            for job_id, (_, gone, _) in previous.items()
            if job_id not in seen and gone is None
        ]
        tx.executemany(
            "UPDATE workspace_jobs SET removed_at = ? WHERE job_id = ?",
            [(now, job_id) for job_id in removed],
        )
        # A version row only when something changed: new, edited, back again, or gone.
        changed: list[tuple[int, float, str | None]] = [
            (job_id, now, definition)
            for job_id, definition in definitions.items()
            if job_id not in previous
            or previous[job_id][1] is not None
            or previous[job_id][2] != definition
        ]
        changed += [(job_id, now, None) for job_id in removed]
        tx.executemany(
            "INSERT OR REPLACE INTO workspace_job_versions (job_id, seen_at, definition) "
            "VALUES (?, ?, ?)",
            changed,
        )
        tx.execute("DELETE FROM workspace_spark_versions")
        tx.executemany(
            "INSERT INTO workspace_spark_versions (key, name, runtime, recorded_at) "
            "VALUES (?, ?, ?, ?)",
            [(v.key, v.name, v.runtime, now) for v in inventory.spark_versions],
        )
        tx.execute("DELETE FROM workspace_clusters")
        tx.executemany(
            "INSERT INTO workspace_clusters (cluster_id, name, spark_version, runtime, state, "
            "source, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (c.cluster_id, c.name, c.spark_version, c.runtime, c.state, c.source, now)
                for c in inventory.clusters
            ],
        )
        for job, before in moved:
            store.append_event(
                "databricks.job_runtime_changed",
                {"job": job.name, "job_id": job.job_id, "from": before, "to": job.runtime},
                source=source,
                conn=tx,
            )
        payload = {
            "host": inventory.host,
            **summary,
            "added": len(seen - set(previous)),
            "removed": len(removed),
            "spark_versions": len(inventory.spark_versions),
            "clusters": len(inventory.clusters),
        }
        store.append_event("databricks.inventory", payload, source=source, conn=tx)
    return payload


def has_workspace_tables(store: StateStore) -> bool:
    return store.has_table("workspace_jobs")


def require_workspace_tables(store: StateStore) -> None:
    """A state file made by a development build before migration 0003 existed can be at a
    later schema version without the workspace tables; say so instead of failing in SQL."""
    if not has_workspace_tables(store):
        raise StateError(
            f"{store.path} has no workspace tables (made before migration 0003_workspace); "
            "start a new state file for the workspace data"
        )


def job_id_by_name(store: StateStore, name: str) -> int | None:
    """The id of the job named ``name`` still in the workspace (the newest recorded), or None."""
    if not has_workspace_tables(store):
        return None
    row = store.query_one(
        "SELECT job_id FROM workspace_jobs WHERE name = ? AND removed_at IS NULL "
        "ORDER BY recorded_at DESC LIMIT 1",
        (name,),
    )
    return int(row["job_id"]) if row is not None else None


def read_jobs(store: StateStore, *, as_of: float | None = None) -> list[JobDefinition]:
    """Jobs in the workspace at ``as_of`` (default now), by name, each as defined then."""
    if not has_workspace_tables(store):
        return []
    if as_of is None:
        rows = store.query(
            "SELECT definition FROM workspace_jobs WHERE removed_at IS NULL ORDER BY name"
        )
    else:
        # Each job's definition as it was at as_of: its last version seen by then, unless that
        # version says it was gone.
        rows = store.query(
            "SELECT v.definition FROM workspace_job_versions v "
            "JOIN (SELECT job_id, MAX(seen_at) AS seen_at FROM workspace_job_versions "
            "      WHERE seen_at <= ? GROUP BY job_id) last "
            "ON v.job_id = last.job_id AND v.seen_at = last.seen_at "
            "WHERE v.definition IS NOT NULL",
            (as_of,),
        )
    jobs = [JobDefinition.from_json(json.loads(r["definition"])) for r in rows]
    return sorted(jobs, key=lambda j: (j.name, j.job_id))


def requirements(job: JobDefinition) -> list[str]:
    """The job's PyPI libraries as requirement lines, for the compatibility scanners."""
    return [lib.removeprefix("pypi:") for lib in job.libraries if lib.startswith("pypi:")]
