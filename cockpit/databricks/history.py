"""Run history in the state file: completed job runs with start, end, duration, result state and
the runtime each ran on, fetched incrementally and read back by the benchmarks feature.

Incremental: a watermark (``cockpit_meta`` key ``databricks.runs_watermark``, seconds since the
epoch) remembers where the next poll starts. It is the start of the newest stored run, or of the
oldest run still active at the last poll, whichever is earlier, so a long run that finishes
later is not skipped. Runs are written once (``INSERT OR IGNORE`` on the run id): refetching the
boundary is harmless.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cockpit.databricks.models import JobRun
from cockpit.store import until

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.store import StateStore

WATERMARK_KEY = "databricks.runs_watermark"
BATCH = 1000  # runs per write transaction: bounded memory on a 100,000-run first sync


@dataclass(frozen=True)
class HistorySync:
    new_runs: int
    fetched: int
    active: int
    watermark: float | None


def sync_history(
    adapter: WorkspaceAdapter,
    store: StateStore,
    *,
    job_names: dict[int, str] | None = None,
    source: str = "cli",
    on_batch: Callable[[int], None] | None = None,
) -> HistorySync:
    """Fetch runs newer than the watermark, store the completed ones, move the watermark."""
    from cockpit.databricks.inventory import require_workspace_tables

    require_workspace_tables(store)
    raw = store.get_meta(WATERMARK_KEY)
    watermark = float(raw) if raw else None
    names = job_names if job_names is not None else _stored_names(store)
    # Active runs first: one still running now must hold the watermark back until it finishes.
    active = adapter.list_runs(active_only=True, completed_only=False, job_names=names)
    fetched = new = 0
    newest: float | None = None
    for batch in _pages_in_background(adapter, watermark, names):
        fetched += len(batch)
        top = max(r.start for r in batch)
        newest = top if newest is None else max(newest, top)
        new += _insert(store, batch)
        if on_batch is not None:
            on_batch(fetched)  # runs read so far (progress at a terminal)
    candidates = [t for t in (newest, watermark) if t is not None]
    next_mark = max(candidates) if candidates else None
    if active:
        oldest_active = min(r.start for r in active)
        next_mark = oldest_active if next_mark is None else min(next_mark, oldest_active)
    with store.write() as tx:
        if next_mark is not None:
            store.set_meta(WATERMARK_KEY, repr(next_mark), conn=tx)
        store.append_event(
            "databricks.runs",
            {"new": new, "fetched": fetched, "active": len(active), "watermark": next_mark},
            source=source,
            conn=tx,
        )
    return HistorySync(new_runs=new, fetched=fetched, active=len(active), watermark=next_mark)


_DONE = object()


def _pages_in_background(
    adapter: WorkspaceAdapter, watermark: float | None, names: dict[int, str]
) -> Iterator[list[JobRun]]:
    """Batches of runs, paged by a helper thread while the caller writes the previous batch,
    so the workspace's response time and the SQLite writes overlap instead of adding up.

    The helper stops at the next batch if the caller stops early (an error while writing)."""
    batches: queue.Queue[Any] = queue.Queue(maxsize=4)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:

            def page() -> None:
                batch: list[JobRun] = []
                for run in adapter.iter_runs(start_time_from=watermark, job_names=names):
                    batch.append(run)
                    if len(batch) >= BATCH:
                        if not put(batch):
                            return
                        batch = []
                if batch:
                    put(batch)

            adapter.guard("list job runs", page)
            put(_DONE)
        except BaseException as exc:  # handed to the caller's thread, raised there
            put(exc)

    helper = threading.Thread(target=produce, name="runs-pager", daemon=True)
    helper.start()
    try:
        while True:
            item = batches.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join(5)


def _insert(store: StateStore, runs: list[JobRun]) -> int:
    now = store.clock()
    with store.write() as tx:
        before = tx.total_changes
        tx.executemany(
            "INSERT OR IGNORE INTO workspace_runs (run_id, job_id, job_name, start_ts, end_ts, "
            "duration_s, result_state, spark_version, runtime, tags, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.run_id,
                    r.job_id,
                    r.job_name,
                    r.start,
                    r.end,
                    r.duration_s,
                    r.result_state,
                    r.spark_version,
                    r.runtime,
                    _tags_json(tuple(r.tags.items())),
                    now,
                )
                for r in runs
            ],
        )
        return tx.total_changes - before


@lru_cache(maxsize=8192)
def _tags_json(items: tuple[tuple[str, str], ...]) -> str:
    # Most runs of a job share their tags: encode each distinct set once (bench: 100,000 runs).
    return json.dumps(dict(items), sort_keys=True)


def _stored_names(store: StateStore) -> dict[int, str]:
    return {r["job_id"]: r["name"] for r in store.query("SELECT job_id, name FROM workspace_jobs")}


def store_runs(store: StateStore, runs: list[JobRun]) -> int:
    """Write runs (e.g. from a shadow re-run) the same way a poll does; returns how many new."""
    return _insert(store, list(runs))


def read_runs(
    store: StateStore,
    *,
    job_name: str | None = None,
    runtime: str | None = None,
    result_state: str | None = None,
    as_of: float | None = None,
) -> list[JobRun]:
    """Completed runs oldest first, as known at ``as_of`` (``recorded_at <= as_of``)."""
    if not store.has_table("workspace_runs"):
        return []
    where: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("job_name", job_name),
        ("runtime", runtime),
        ("result_state", result_state),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if as_of is not None:
        where.append("recorded_at <= ?")
        params.append(as_of)
    sql = "SELECT * FROM workspace_runs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_ts, run_id"
    return [
        JobRun(
            job_id=r["job_id"],
            run_id=r["run_id"],
            job_name=r["job_name"],
            start=r["start_ts"],
            end=r["end_ts"],
            duration_s=r["duration_s"],
            result_state=r["result_state"],
            spark_version=r["spark_version"],
            runtime=r["runtime"],
            tags=json.loads(r["tags"]),
        )
        for r in store.query(sql, params)
    ]


@dataclass(frozen=True)
class RunDuration:
    """A successful run's duration on a known runtime (a benchmark sample where it lies)."""

    job_name: str
    runtime: str
    duration_s: float
    start_ts: float
    shadow: bool  # tagged cockpit_shadow: a shadow re-run the cockpit submitted
    run_ref: str  # the run id, as text
    recorded_at: float


def _durations_query(as_of: float | None, job_name: str | None) -> tuple[str, list[Any]]:
    sql = (
        "SELECT job_name, runtime, duration_s, start_ts, "
        "json_extract(tags, '$.cockpit_shadow') IN ('true', 1) AS shadow, "
        "CAST(run_id AS TEXT) AS run_ref, recorded_at FROM workspace_runs "
        "WHERE result_state = 'SUCCESS' AND duration_s > 0 AND runtime != '' AND recorded_at <= ?"
    )
    params: list[Any] = [until(as_of)]
    if job_name is not None:
        sql += " AND job_name = ?"
        params.append(job_name)
    return sql, params


def successful_durations(
    store: StateStore, *, as_of: float | None = None, job_name: str | None = None
) -> list[RunDuration]:
    """Successful runs with a duration and a known runtime, as known at ``as_of``."""
    if not store.has_table("workspace_runs"):
        return []
    sql, params = _durations_query(as_of, job_name)
    return [
        RunDuration(
            r["job_name"],
            r["runtime"],
            r["duration_s"],
            r["start_ts"],
            bool(r["shadow"]),
            r["run_ref"],
            r["recorded_at"],
        )
        for r in store.query(sql, params)
    ]


@dataclass(frozen=True)
class RunDurationColumns:
    """:func:`successful_durations` as one list per field: a month of run history is 100,000
    runs, and a frame is built from columns without an object per run."""

    job_name: list[str]
    runtime: list[str]
    duration_s: list[float]
    start_ts: list[float]
    shadow: list[int]  # 1: tagged cockpit_shadow
    run_ref: list[str]
    recorded_at: list[float]


def successful_duration_columns(
    store: StateStore, *, as_of: float | None = None, job_name: str | None = None
) -> RunDurationColumns:
    """The same runs as :func:`successful_durations`, in the same order, by column."""
    if not store.has_table("workspace_runs"):
        return RunDurationColumns([], [], [], [], [], [], [])
    sql, params = _durations_query(as_of, job_name)
    columns = store.query_columns(sql, params)
    return RunDurationColumns(*columns)


def runs_fingerprint(store: StateStore, *, as_of: float | None = None) -> tuple[Any, ...] | None:
    """A cheap value that changes whenever the runs known at ``as_of`` change (None: no table)."""
    if not store.has_table("workspace_runs"):
        return None
    row = store.query_one(
        "SELECT COUNT(*), MAX(run_id), MAX(recorded_at) FROM workspace_runs WHERE recorded_at <= ?",
        (until(as_of),),
    )
    return tuple(row) if row is not None else None


def runs_known(store: StateStore, run_refs: list[str], *, as_of: float | None = None) -> int:
    """How many of the runs named by ``run_refs`` (run ids as text, as the benchmark samples
    name them) were recorded by ``as_of``."""
    if not store.has_table("workspace_runs"):
        return 0
    ids = sorted({int(r) for r in run_refs if r.isascii() and r.isdigit() and str(int(r)) == r})
    found = 0
    for start in range(0, len(ids), 500):  # SQLite's bound on variables per statement
        part = ids[start : start + 500]
        row = store.query_one(
            "SELECT COUNT(*) FROM workspace_runs WHERE recorded_at <= ? "
            f"AND run_id IN ({', '.join('?' * len(part))})",
            (until(as_of), *part),
        )
        found += row[0] if row is not None else 0
    return found


def runs_per_job_and_runtime(store: StateStore) -> dict[str, dict[str, int]]:
    """{job name: {runtime: completed runs}}, for summaries."""
    out: dict[str, dict[str, int]] = {}
    for run in read_runs(store):
        per = out.setdefault(run.job_name, {})
        per[run.runtime] = per.get(run.runtime, 0) + 1
    return out
