"""The MLflow feature's rows in the state file: id map, status polls, verifications.

Every writer here uses one ``store.write()`` transaction per logical record, so a kill between
two calls leaves the file consistent (the copy's truth lives on the destination anyway).

This module is also the feature's read API, and the only code that touches its tables: the
gates, the report, the MLflow tab, the playbook and the replay contract read typed views
(:class:`PollView`, :class:`VerificationView`, ...) from here, never rows. Two facts are defined
once here so that every consumer shows the same thing for the same moment:

* **drift** (:func:`drift_of`): runs missing + copies differing + model versions missing;
* **the latest poll / the last verification as of T**: the newest by its own time among those
  with ``ts <= T`` (``store.until``), ties broken by insertion order (``ORDER BY ts DESC, id
  DESC``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cockpit.store import until

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterable

    from cockpit.store import StateStore


def mapping_json(mapping: dict[str, str]) -> str:
    """How a model's stages and aliases are stored (and shown in the report): JSON, keys sorted."""
    return json.dumps(mapping, sort_keys=True)


def drift_of(missing: int, differing: int, versions_missing: int) -> int:
    """Everything not yet on the new server; zero means the two agree. The one drift formula."""
    return missing + differing + versions_missing


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

    def stored(self) -> tuple[str, int, int, int, str, str, str]:
        """As kept per poll (and listed in the report): counts, then stages and aliases as JSON."""
        return (
            self.name,
            self.old_versions,
            self.new_versions,
            self.missing,
            mapping_json(self.old_stages),
            mapping_json(self.new_stages),
            mapping_json(self.new_aliases),
        )


@dataclass(frozen=True)
class PollServers:
    """When a poll ran and what each server said it was (a poll as measured and as recorded)."""

    ts: float
    duration_s: float
    old_url: str
    new_url: str
    old_version: str
    new_version: str
    old_schema: str | None
    new_schema: str | None


@dataclass(frozen=True)
class PollSummary(PollServers):
    experiments: list[ExperimentStatus]
    models: list[ModelStatus]
    # Read only what changed since the previous poll (cockpit.mlflow.poll_state), or everything.
    incremental: bool = False

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
        return drift_of(self.missing, self.differing, self.versions_missing)


@dataclass(frozen=True, kw_only=True)
class PollView(PollServers):
    """One recorded status poll (its totals; the per-experiment and per-model rows are read with
    :func:`poll_experiments` / :func:`poll_models`)."""

    id: int
    experiments: int
    old_runs: int
    new_runs: int
    missing: int
    differing: int
    models_old: int
    models_new: int
    versions_old: int
    versions_new: int
    versions_missing: int
    drift: int


@dataclass(frozen=True)
class VerificationView:
    """One recorded deep verify."""

    id: int
    ts: float
    duration_s: float
    experiments: int
    runs: int
    artifacts: int
    models: int
    differences: int

    @property
    def clean(self) -> bool:
        return self.differences == 0


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


def record_mappings(
    store: StateStore, rows: Iterable[tuple[str, str, str, str, str]], *, ts: float | None = None
) -> int:
    """Many ``(kind, source_id, dest_id, experiment, fingerprint)`` rows in one transaction, the
    same upsert as :func:`record_mapping` (a mirror cycle's copies, a bench's month of them)."""
    now = store.clock() if ts is None else ts
    batch = [(*row, now) for row in rows]
    with store.write() as tx:
        tx.executemany(
            "INSERT INTO mlflow_id_map (kind, source_id, dest_id, experiment, fingerprint, "
            "synced_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(kind, source_id) DO UPDATE SET "
            "dest_id = excluded.dest_id, experiment = excluded.experiment, "
            "fingerprint = excluded.fingerprint, synced_at = excluded.synced_at",
            batch,
        )
    return len(batch)


def load_mapping(store: StateStore, kind: str) -> dict[str, str]:
    rows = store.query("SELECT source_id, dest_id FROM mlflow_id_map WHERE kind = ?", (kind,))
    return {r["source_id"]: r["dest_id"] for r in rows}


def last_synced(store: StateStore, *, as_of: float | None = None) -> dict[str, float]:
    """Source experiment name -> when a run of it was last copied."""
    rows = store.query(
        "SELECT experiment, MAX(synced_at) AS t FROM mlflow_id_map WHERE kind = 'run' "
        "AND synced_at <= ? GROUP BY experiment",
        (until(as_of),),
    )
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
            [(poll_id, *m.stored()) for m in poll.models],
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
                "incremental": poll.incremental,
            },
            source=source,
            ts=poll.ts,
            conn=tx,
        )
    return poll_id


def _poll_view(row: sqlite3.Row) -> PollView:
    return PollView(
        id=row["id"],
        ts=row["ts"],
        duration_s=row["duration_s"],
        old_url=row["old_url"],
        new_url=row["new_url"],
        old_version=row["old_version"],
        new_version=row["new_version"],
        old_schema=row["old_schema"],
        new_schema=row["new_schema"],
        experiments=row["experiments"],
        old_runs=row["old_runs"],
        new_runs=row["new_runs"],
        missing=row["missing"],
        differing=row["differing"],
        models_old=row["models_old"],
        models_new=row["models_new"],
        versions_old=row["versions_old"],
        versions_new=row["versions_new"],
        versions_missing=row["versions_missing"],
        drift=drift_of(row["missing"], row["differing"], row["versions_missing"]),
    )


def recent_polls(store: StateStore, *, as_of: float | None = None, limit: int) -> list[PollView]:
    """The newest ``limit`` polls as of a moment, newest first (none on a file without them)."""
    if not store.has_table("mlflow_polls"):
        return []
    rows = store.query(
        "SELECT * FROM mlflow_polls WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT ?",
        (until(as_of), int(limit)),
    )
    return [_poll_view(r) for r in rows]


def latest_poll(store: StateStore, *, as_of: float | None = None) -> PollView | None:
    """The newest poll as of a moment, or None."""
    polls = recent_polls(store, as_of=as_of, limit=1)
    return polls[0] if polls else None


def poll_experiments(store: StateStore, poll_id: int) -> list[ExperimentStatus]:
    """A poll's experiments by name (the run ids it lists are the first 50 of each)."""
    rows = store.query(
        "SELECT * FROM mlflow_poll_experiments WHERE poll_id = ? ORDER BY name", (poll_id,)
    )
    return [
        ExperimentStatus(
            name=r["name"],
            source_id=r["source_id"],
            dest_id=r["dest_id"],
            old_deleted_experiment=bool(r["old_deleted_experiment"]),
            old_active=r["old_active"],
            old_deleted=r["old_deleted"],
            new_active=r["new_active"],
            new_deleted=r["new_deleted"],
            missing=r["missing"],
            differing=r["differing"],
            running=r["running"],
            missing_ids=json.loads(r["missing_ids"]),
            differing_ids=json.loads(r["differing_ids"]),
        )
        for r in rows
    ]


def poll_models(store: StateStore, poll_id: int) -> list[ModelStatus]:
    """A poll's registered models by name (``exists_on_new`` is only kept as the poll's count)."""
    rows = store.query(
        "SELECT * FROM mlflow_poll_models WHERE poll_id = ? ORDER BY name", (poll_id,)
    )
    return [
        ModelStatus(
            name=r["name"],
            old_versions=r["old_versions"],
            new_versions=r["new_versions"],
            missing=r["missing"],
            old_stages=json.loads(r["old_stages"]),
            new_stages=json.loads(r["new_stages"]),
            new_aliases=json.loads(r["new_aliases"]),
        )
        for r in rows
    ]


def drift_series(store: StateStore, *, as_of: float | None = None, limit: int = 60) -> list[int]:
    """Drift per poll, oldest first (the tab's sparkline, the report's chart)."""
    return [p.drift for p in reversed(recent_polls(store, as_of=as_of, limit=limit))]


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


def last_verification(store: StateStore, *, as_of: float | None = None) -> VerificationView | None:
    """The last deep verify as of a moment, or None."""
    if not store.has_table("mlflow_verifications"):
        return None
    row = store.query_one(
        "SELECT * FROM mlflow_verifications WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1",
        (until(as_of),),
    )
    if row is None:
        return None
    return VerificationView(
        id=row["id"],
        ts=row["ts"],
        duration_s=row["duration_s"],
        experiments=row["experiments"],
        runs=row["runs"],
        artifacts=row["artifacts"],
        models=row["models"],
        differences=row["differences"],
    )


def verification_differences(
    store: StateStore, verification_id: int, *, limit: int = 50
) -> list[Difference]:
    """The first ``limit`` differences a verification recorded, in the order it found them."""
    rows = store.query(
        "SELECT kind, object, field, old, new FROM mlflow_verify_differences "
        "WHERE verification_id = ? ORDER BY rowid LIMIT ?",
        (verification_id, int(limit)),
    )
    return [Difference(r["kind"], r["object"], r["field"], r["old"], r["new"]) for r in rows]
