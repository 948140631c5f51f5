"""Metric histories read straight from the old server's SQLite backend, read-only.

Why: MLflow's REST API has one history call per (run, metric key), and a 1.x server on SQLite
answers it through the metrics table's primary key, whose first column is the metric *key*:

    EXPLAIN QUERY PLAN SELECT * FROM metrics WHERE run_uuid = ? AND key = ?
    -> SEARCH metrics USING COVERING INDEX sqlite_autoindex_metrics_1 (key=?)

so answering for one run reads every point of that key in every run. The old server's CPU per
copied run grew with its database (22 ms at 300 runs, 39 ms at 1,000, measured with
``bench/sync.py``'s shape), and at production sizes the REST copy would crawl. The same rows read
here by ``run_uuid`` (its own index) cost one query per run.

Used only when ``[mlflow.old] db_uri`` names the SQLite file and only for metric histories;
everything else still comes through the server. Each run's rows are checked against what the
server itself answered (every latest value its search returned must be among them), so a wrong,
stale or half-written file costs speed, never correctness: that run is read over REST instead.
Opened like the schema watch opens it (``mode=ro`` and ``query_only``): this cannot write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from cockpit.mlflow import schema
from cockpit.mlflow.models import MetricPoint, Run

HISTORY_SQL = (
    "SELECT key, value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? "
    "ORDER BY key, timestamp, step"
)


class BackendHistory:
    """Per-run metric histories from an MLflow SQLite backend (any generation: the ``metrics``
    table's columns are the same from 1.x to 3.x). Thread-safe: one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self.runs_read = 0
        self.runs_refused = 0
        with schema.open_readonly(path) as conn:  # fails now, with a clear message, if it must
            try:
                columns = {row[1] for row in conn.execute("PRAGMA table_info(metrics)")}
            except sqlite3.Error as exc:
                raise schema.SchemaReadError(f"cannot read {path}: {exc}") from None
        missing = {"key", "value", "timestamp", "step", "is_nan", "run_uuid"} - columns
        if missing:
            raise schema.SchemaReadError(
                f"{path} has no MLflow metrics table (missing {', '.join(sorted(missing))})"
            )

    @classmethod
    def open(cls, db_uri: str) -> BackendHistory:
        return cls(schema.sqlite_path(db_uri))

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                f"file:{quote(str(self.path.resolve()))}?mode=ro",
                uri=True,
                timeout=5.0,
                check_same_thread=False,  # closed by close(), from another thread
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def histories(self, run: Run) -> dict[str, list[MetricPoint]] | None:
        """Every point of every metric the server's search showed for ``run``, by key; None
        when this file cannot vouch for the run (the caller then asks the server)."""
        try:
            rows = self._conn().execute(HISTORY_SQL, (run.run_id,)).fetchall()
        except sqlite3.Error:
            return self._refuse()
        found: dict[str, list[MetricPoint]] = {}
        for key, value, timestamp, step, is_nan in rows:
            if key in run.metrics:
                point = MetricPoint(key, float("nan") if is_nan else float(value), timestamp, step)
                found.setdefault(key, []).append(point)
        if not _vouches_for(found, run.metrics):
            return self._refuse()
        with self._lock:
            self.runs_read += 1
        return found

    def _refuse(self) -> None:
        with self._lock:
            self.runs_refused += 1
        return None

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()


def _vouches_for(found: Mapping[str, list[MetricPoint]], latest: Mapping[str, MetricPoint]) -> bool:
    """The file holds every key the server showed, each with the server's latest point."""
    for key, point in latest.items():
        points = found.get(key)
        if not points or point.identity() not in {p.identity() for p in points}:
            return False
    return True
