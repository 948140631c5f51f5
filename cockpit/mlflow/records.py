"""The MLflow feature's rows in the state file: id map, status polls, verifications.

Every writer here uses one ``store.write()`` transaction per logical record, so a kill between
two calls leaves the file consistent (the copy's truth lives on the destination anyway).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.store import StateStore


@dataclass(frozen=True)
class ExperimentStatus:
    name: str
    source_id: str
    dest_id: str | None
    old_deleted_experiment: bool
    old_active: int
    old_deleted: int
    new_active: int
    new_deleted: int
    missing: int
    differing: int
    running: int
    missing_ids: list[str] = field(default_factory=list)
    differing_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelStatus:
    name: str
    old_versions: int
    new_versions: int
    missing: int
    exists_on_new: bool = True
    old_stages: dict[str, str] = field(default_factory=dict)
    new_stages: dict[str, str] = field(default_factory=dict)
    new_aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PollSummary:
    ts: float
    duration_s: float
    old_url: str
    new_url: str
    old_version: str
    new_version: str
    old_schema: str | None
    new_schema: str | None
    experiments: list[ExperimentStatus]
    models: list[ModelStatus]

    @property
    def old_runs(self) -> int:
        return sum(e.old_active + e.old_deleted for e in self.experiments)

    @property
    def new_runs(self) -> int:
        return sum(e.new_active + e.new_deleted for e in self.experiments)

    @property
    def missing(self) -> int:
        return sum(e.missing for e in self.experiments)

    @property
    def differing(self) -> int:
        return sum(e.differing for e in self.experiments)

    @property
    def versions_missing(self) -> int:
        return sum(m.missing for m in self.models)

    @property
    def drift(self) -> int:
        """Everything not yet on the new server; zero means the two agree."""
        return self.missing + self.differing + self.versions_missing


@dataclass(frozen=True)
class Difference:
    kind: str  # experiment, run, metric, artifact, model, model_version
    object: str
    field: str
    old: str
    new: str

    def line(self) -> str:
        return f"{self.kind} {self.object}: {self.field}: old={self.old!r} new={self.new!r}"


# ------------------------------------------------------------------------------- id map
def record_mapping(
    store: StateStore,
    kind: str,
    source_id: str,
    dest_id: str,
    *,
    experiment: str = "",
    fingerprint: str = "",
) -> None:
    with store.write() as tx:
        tx.execute(
            "INSERT INTO mlflow_id_map (kind, source_id, dest_id, experiment, fingerprint, "
            "synced_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(kind, source_id) DO UPDATE SET "
            "dest_id = excluded.dest_id, experiment = excluded.experiment, "
            "fingerprint = excluded.fingerprint, synced_at = excluded.synced_at",
            (kind, source_id, dest_id, experiment, fingerprint, store.clock()),
        )


def load_mapping(store: StateStore, kind: str) -> dict[str, str]:
    rows = store.query("SELECT source_id, dest_id FROM mlflow_id_map WHERE kind = ?", (kind,))
    return {r["source_id"]: r["dest_id"] for r in rows}


def last_synced(store: StateStore, *, as_of: float | None = None) -> dict[str, float]:
    """Source experiment name -> when a run of it was last copied."""
    sql = "SELECT experiment, MAX(synced_at) AS t FROM mlflow_id_map WHERE kind = 'run'"
    params: list[float] = []
    if as_of is not None:
        sql += " AND synced_at <= ?"
        params.append(as_of)
    rows = store.query(sql + " GROUP BY experiment", params)
    return {r["experiment"]: r["t"] for r in rows}


# ------------------------------------------------------------------------------- polls
def record_poll(store: StateStore, poll: PollSummary, *, source: str = "cli") -> int:
    with store.write() as tx:
        poll_id = int(
            tx.execute(
                "INSERT INTO mlflow_polls (ts, duration_s, old_url, new_url, old_version, "
                "new_version, old_schema, new_schema, experiments, old_runs, new_runs, missing, "
                "differing, models_old, models_new, versions_old, versions_new, versions_missing) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    poll.ts,
                    poll.duration_s,
                    poll.old_url,
                    poll.new_url,
                    poll.old_version,
                    poll.new_version,
                    poll.old_schema,
                    poll.new_schema,
                    len(poll.experiments),
                    poll.old_runs,
                    poll.new_runs,
                    poll.missing,
                    poll.differing,
                    len(poll.models),
                    sum(1 for m in poll.models if m.exists_on_new),
                    sum(m.old_versions for m in poll.models),
                    sum(m.new_versions for m in poll.models),
                    poll.versions_missing,
                ),
            ).lastrowid
            or 0
        )
        tx.executemany(
            "INSERT INTO mlflow_poll_experiments (poll_id, name, source_id, dest_id, "
            "old_deleted_experiment, old_active, old_deleted, new_active, new_deleted, missing, "
            "differing, running, missing_ids, differing_ids) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    poll_id,
                    e.name,
                    e.source_id,
                    e.dest_id,
                    int(e.old_deleted_experiment),
                    e.old_active,
                    e.old_deleted,
                    e.new_active,
                    e.new_deleted,
                    e.missing,
                    e.differing,
                    e.running,
                    json.dumps(e.missing_ids[:50]),
                    json.dumps(e.differing_ids[:50]),
                )
                for e in poll.experiments
            ],
        )
        tx.executemany(
            "INSERT INTO mlflow_poll_models (poll_id, name, old_versions, new_versions, missing, "
            "old_stages, new_stages, new_aliases) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    poll_id,
                    m.name,
                    m.old_versions,
                    m.new_versions,
                    m.missing,
                    json.dumps(m.old_stages, sort_keys=True),
                    json.dumps(m.new_stages, sort_keys=True),
                    json.dumps(m.new_aliases, sort_keys=True),
                )
                for m in poll.models
            ],
        )
        store.append_event(
            "mlflow.poll",
            {
                "poll_id": poll_id,
                "old": poll.old_version,
                "new": poll.new_version,
                "experiments": len(poll.experiments),
                "old_runs": poll.old_runs,
                "new_runs": poll.new_runs,
                "missing": poll.missing,
                "differing": poll.differing,
                "versions_missing": poll.versions_missing,
                "duration_s": round(poll.duration_s, 3),
            },
            source=source,
            ts=poll.ts,
            conn=tx,
        )
    return poll_id


def latest_poll(store: StateStore, *, as_of: float | None = None):
    """The newest poll row (as of a moment), or None."""
    if as_of is None:
        return store.query_one("SELECT * FROM mlflow_polls ORDER BY id DESC LIMIT 1")
    return store.query_one(
        "SELECT * FROM mlflow_polls WHERE ts <= ? ORDER BY id DESC LIMIT 1", (as_of,)
    )


def poll_experiments(store: StateStore, poll_id: int):
    return store.query(
        "SELECT * FROM mlflow_poll_experiments WHERE poll_id = ? ORDER BY name", (poll_id,)
    )


def poll_models(store: StateStore, poll_id: int):
    return store.query(
        "SELECT * FROM mlflow_poll_models WHERE poll_id = ? ORDER BY name", (poll_id,)
    )


def drift_series(store: StateStore, *, as_of: float | None = None, limit: int = 60) -> list[int]:
    """missing + differing + versions missing per poll, oldest first (the tab's sparkline)."""
    sql = "SELECT missing + differing + versions_missing AS d FROM mlflow_polls"
    params: list[float] = []
    if as_of is not None:
        sql += " WHERE ts <= ?"
        params.append(as_of)
    rows = store.query(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)
    return [int(r["d"]) for r in reversed(rows)]


# ------------------------------------------------------------------------------- verify
def record_verification(
    store: StateStore,
    *,
    duration_s: float,
    experiments: int,
    runs: int,
    artifacts: int,
    models: int,
    differences: list[Difference],
    source: str = "cli",
) -> int:
    with store.write() as tx:
        vid = int(
            tx.execute(
                "INSERT INTO mlflow_verifications (ts, duration_s, experiments, runs, artifacts, "
                "models, differences) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (store.clock(), duration_s, experiments, runs, artifacts, models, len(differences)),
            ).lastrowid
            or 0
        )
        tx.executemany(
            "INSERT INTO mlflow_verify_differences (verification_id, kind, object, field, old, "
            "new) VALUES (?, ?, ?, ?, ?, ?)",
            [(vid, d.kind, d.object, d.field, d.old, d.new) for d in differences],
        )
        store.append_event(
            "mlflow.verify.finished",
            {
                "verification_id": vid,
                "experiments": experiments,
                "runs": runs,
                "artifacts": artifacts,
                "models": models,
                "differences": len(differences),
                "first": [d.line() for d in differences[:20]],
            },
            source=source,
            conn=tx,
        )
    return vid
