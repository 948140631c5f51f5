"""Metric histories read straight from the old server's backend database, read-only.

Why: MLflow's REST API has one history call per (run, metric key), and a 1.x server on SQLite
answers it through the metrics table's primary key, whose first column is the metric *key*:

    EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_uuid = ? AND key = ?
    -> SEARCH metrics USING COVERING INDEX sqlite_autoindex_metrics_1 (key=?)

so answering for one run reads every point of that key in every run. The old server's CPU per
copied run grew with its database (22 ms at 300 runs, 39 ms at 1,000, measured with
``bench/sync.py``'s shape), and at production sizes the REST copy would crawl. The same rows read
here by ``run_uuid`` (its own index) cost one query per run. On PostgreSQL and MySQL the REST
path also costs one HTTP round trip and one query per (run, key); here it is one query per run.

Used only when ``[mlflow.old] db_uri`` names the backend (SQLite, PostgreSQL or MySQL/MariaDB)
and only for metric histories; everything else still comes through the server. Each run's rows
are checked against what the server itself answered (every latest value its search returned
must be among them), so a wrong, stale or half-written database costs speed, never
correctness: that run is read over REST instead. Opened read-only (:class:`dbtools.ReadOnlyDB`:
``mode=ro`` + ``query_only`` for SQLite, read-only sessions the server enforces for the others):
this cannot write.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.mlflow import dbtools, schema
from cockpit.mlflow.models import MetricPoint, Run

# `key` is a reserved word in MySQL: the column names are quoted for each engine.
HISTORY_SQL = (
    "SELECT {key}, value, {timestamp}, step, is_nan FROM metrics WHERE run_uuid = :run_id "
    "ORDER BY {key}, {timestamp}, step"
)
_COLUMNS = {"key", "value", "timestamp", "step", "is_nan", "run_uuid"}


class BackendHistory:
    """Per-run metric histories from an MLflow backend database (any generation: the
    ``metrics`` table's columns are the same from 1.x to 3.x). Thread-safe."""

    def __init__(self, db: dbtools.ReadOnlyDB) -> None:
        self.db = db
        # Shown in notes ("metric histories from ..."): the file, or the URI without password.
        self.path: Path | str = (
            Path(db.uri.database) if db.kind == dbtools.SQLITE else db.uri.display
        )
        self._sql = HISTORY_SQL.format(key=db.quote("key"), timestamp=db.quote("timestamp"))
        self._lock = threading.Lock()
        self.runs_read = 0
        self.runs_refused = 0
        try:
            columns = _metric_columns(db)
        except CockpitError as exc:
            db.close()
            raise schema.SchemaReadError(exc.message) from None
        missing = _COLUMNS - columns
        if missing:
            db.close()
            raise schema.SchemaReadError(
                f"{self.path} has no MLflow metrics table (missing {', '.join(sorted(missing))})"
            )

    @classmethod
    def open(cls, db_uri: str) -> BackendHistory:
        try:
            db = dbtools.ReadOnlyDB(db_uri)
        except dbtools.DatabaseError as exc:
            raise schema.SchemaReadError(exc.message) from None
        return cls(db)

    def histories(self, run: Run) -> dict[str, list[MetricPoint]] | None:
        """Every point of every metric the server's search showed for ``run``, by key; None
        when this database cannot vouch for the run (the caller then asks the server)."""
        try:
            rows = self.db.rows(self._sql, {"run_id": run.run_id})
        except CockpitError:
            self._refuse()
            return None
        found: dict[str, list[MetricPoint]] = {}
        for key, value, timestamp, step, is_nan in rows:
            if key in run.metrics:
                point = MetricPoint(
                    key, float("nan") if is_nan else float(value), int(timestamp), int(step)
                )
                found.setdefault(key, []).append(point)
        if not _vouches_for(found, run.metrics):
            self._refuse()
            return None
        with self._lock:
            self.runs_read += 1
        return found

    def _refuse(self) -> None:
        with self._lock:
            self.runs_refused += 1

    def close(self) -> None:
        self.db.close()


def _metric_columns(db: dbtools.ReadOnlyDB) -> set[str]:
    if db.kind == dbtools.SQLITE:
        return {row[1] for row in db.rows("PRAGMA table_info(metrics)")}
    if db.kind == dbtools.POSTGRESQL:
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'metrics'"
        )
    else:
        sql = (
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'metrics'"
        )
    return {str(row[0]).lower() for row in db.rows(sql)}


def _vouches_for(found: Mapping[str, list[MetricPoint]], latest: Mapping[str, MetricPoint]) -> bool:
    """The file holds every key the server showed, each with the server's latest point."""
    for key, point in latest.items():
        points = found.get(key)
        if not points or point.identity() not in {p.identity() for p in points}:
            return False
    return True
