"""Benchmark samples in the state file: what is configured, recorded, and read back for the stats.

Every value the statistics see is a row of ``bench_samples`` (migration 0005): run durations from
the Databricks run history and from shadow re-runs, and MLflow metrics read from the old and new
servers, each labelled with the runtime it ran on. Reading honours ``as_of`` (time travel) through
``recorded_at``: a sample exists from the moment the cockpit learned it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.bench.stats import DIRECTIONS, Comparison, Direction, Rule
from cockpit.errors import ConfigError
from cockpit.store import until

if TYPE_CHECKING:
    import pandas as pd

    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

DURATION = "duration_s"
ORIGINS = ("history", "shadow", "mlflow:old", "mlflow:new")
_METRIC_KEYS = {"name", "direction", "unit", "threshold"}


@dataclass(frozen=True)
class MetricDef:
    """One metric judged for a pipeline; durations are always judged (lower is better)."""

    name: str
    direction: Direction = "lower"
    unit: str = ""
    # A metric's own factor (e.g. 1.02 for AUC, where a 10% drop would be far too coarse).
    threshold: float | None = None


@dataclass(frozen=True)
class Sample:
    pipeline: str
    metric: str
    runtime: str
    value: float
    run_ts: float
    origin: str
    run_ref: str


# ------------------------------------------------------------------------------ configuration
def metric_defs(config: CockpitConfig | None, pipeline: str) -> list[MetricDef]:
    """Duration plus the MLflow metrics configured under ``[benchmarks.pipelines.<name>]``."""
    defs = [MetricDef(DURATION, "lower", "s")]
    if config is None:
        return defs
    section = config.benchmarks.pipelines.get(pipeline)
    for i, raw in enumerate(section.metrics if section else []):
        where = f"benchmarks.pipelines.{pipeline}.metrics[{i}]"
        unknown = set(raw) - _METRIC_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {sorted(unknown)[0]!r} (name, direction, unit)"
            )
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: name is required (the MLflow metric key, e.g. 'auc')")
        direction = raw.get("direction", "lower")
        if direction not in DIRECTIONS:
            raise ConfigError(f"{where}: direction must be 'lower' or 'higher' (got {direction!r})")
        threshold = raw.get("threshold")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not threshold > 1.0
        ):
            raise ConfigError(f"{where}: threshold must be a number above 1.0 (got {threshold!r})")
        defs.append(
            MetricDef(
                name,
                direction,
                str(raw.get("unit", "")),
                float(threshold) if threshold is not None else None,
            )
        )
    return defs


def rule_for(config: CockpitConfig | None, pipeline: str) -> Rule:
    """The pipeline's thresholds: its own overrides on top of ``[benchmarks]``."""
    if config is None:
        return Rule()
    bench = config.benchmarks
    own = bench.pipelines.get(pipeline)
    return Rule(
        threshold=(own.threshold if own and own.threshold else bench.threshold),
        alpha=bench.alpha,
        min_runs=(own.min_runs if own and own.min_runs else bench.min_runs),
    )


def runtimes_compared(store: StateStore, config: CockpitConfig | None) -> tuple[str, str]:
    """(old, new) runtime ids: the config's migration, else the state file's own record."""
    route = store.migration_route(config)
    old, new = route.from_runtime, route.to_runtime
    if config is None and (not old or not new):
        raise ConfigError(
            "the state file does not say which runtimes are compared; pass --config "
            "(its [migration] from/to)"
        )
    return old, new


# ------------------------------------------------------------------------------ writing
def record_samples(
    store: StateStore,
    samples: Iterable[Sample],
    *,
    metrics: Sequence[tuple[str, MetricDef]] = (),
    source: str = "cli",
    conn: sqlite3.Connection | None = None,
    refresh: bool = True,
) -> int:
    """Insert samples (already-known runs are skipped); returns how many were new.

    ``metrics`` are (pipeline, definition) pairs recorded alongside so the file remembers which
    way each metric is good. ``refresh=False``: a caller recording in several calls computes the
    statistics once at the end (:func:`refresh_stats`), not after each call.
    """
    rows = list(samples)
    for s in rows:
        if s.origin not in ORIGINS:
            raise ValueError(f"unknown sample origin {s.origin!r}")
    if conn is None:
        with store.write() as tx:
            added = record_samples(store, rows, metrics=metrics, source=source, conn=tx)
        if refresh and (added or metrics):  # new samples, or a direction that may have changed
            refresh_stats(store)
        return added
    now = store.clock()
    for pipeline, m in metrics:
        conn.execute(
            "INSERT INTO bench_metrics (pipeline, metric, direction, unit) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(pipeline, metric) DO UPDATE SET direction = excluded.direction, "
            "unit = excluded.unit",
            (pipeline, m.name, m.direction, m.unit),
        )
    added = 0
    for s in rows:
        cur = conn.execute(
            "INSERT OR IGNORE INTO bench_samples (pipeline, metric, runtime, value, run_ts, "
            "origin, run_ref, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (s.pipeline, s.metric, s.runtime, float(s.value), s.run_ts, s.origin, s.run_ref, now),
        )
        added += cur.rowcount
    if added:
        per_pipeline: dict[str, int] = {}
        for s in rows:
            per_pipeline[s.pipeline] = per_pipeline.get(s.pipeline, 0) + 1
        store.append_event(
            "bench.samples_recorded",
            {"added": added, "offered": len(rows), "pipelines": per_pipeline},
            source=source,
            ts=now,
            conn=conn,
        )
    return added


def samples_from_mlflow_runs(
    pipeline: str,
    runs: Iterable[Any],
    metrics: Sequence[MetricDef],
    *,
    runtime: str,
    server: str,
) -> list[Sample]:
    """Samples from MLflow runs (``cockpit.mlflow.models.Run``) of one pipeline on one server.

    Each run's latest value of every configured metric becomes one sample on ``runtime`` (the old
    server tracked the old runtime's runs, the new server the new one's). Runs without the metric,
    unfinished runs and deleted runs are skipped.
    """
    if server not in ("old", "new"):
        raise ValueError("server is 'old' or 'new'")
    out = []
    for run in runs:
        if getattr(run, "deleted", False) or run.status != "FINISHED":
            continue
        for m in metrics:
            point = run.metrics.get(m.name)
            if point is None or point.value != point.value:  # missing or NaN
                continue
            out.append(
                Sample(
                    pipeline=pipeline,
                    metric=m.name,
                    runtime=runtime,
                    value=float(point.value),
                    run_ts=(run.start_time or point.timestamp) / 1000.0,
                    origin=f"mlflow:{server}",
                    run_ref=run.run_id,
                )
            )
    return out


# ------------------------------------------------------------------------------ reading
# Successful job runs from the Databricks run history (``databricks.history``) are read where they
# are, not copied: one source of truth, and time travel works through their own ``recorded_at``.
# A run the cockpit itself recorded (a shadow re-run) is counted once.
SAMPLE_COLUMNS = ("pipeline", "metric", "runtime", "value", "run_ts", "origin", "run_ref")


def sample_columns(
    store: StateStore, *, as_of: float | None = None, pipeline: str | None = None
) -> dict[str, list[Any]]:
    """All samples known at ``as_of``, one list per column of :data:`SAMPLE_COLUMNS`, oldest run
    first (ties: recorded samples before history runs, then by run reference).

    Durations of successful runs in the Databricks run history are included, labelled by the
    runtime they ran on; runs tagged ``cockpit_shadow`` count as shadow re-runs. Plain lists, not
    a frame: the Benchmarks tab and the stored statistics read them without importing pandas
    (~55 MB and half a second in the process that shows them)."""
    from cockpit.databricks.history import successful_duration_columns

    sql = (
        "SELECT pipeline, metric, runtime, value, run_ts, origin, run_ref, id FROM bench_samples "
        "WHERE recorded_at <= ?"
    )
    params: list[Any] = [until(as_of)]
    if pipeline is not None:
        sql += " AND pipeline = ?"
        params.append(pipeline)
    # Column lists, not a tuple (or an object) per run: a month of run history is 100,000 runs.
    columns = store.query_columns(sql, params)
    history = successful_duration_columns(store, as_of=as_of, job_name=pipeline)
    if history.run_ref:
        # Whether recorded before or after ``as_of``: a run kept as a sample is never counted twice.
        kept = {
            r["run_ref"]
            for r in store.query(
                "SELECT run_ref FROM bench_samples "
                "WHERE metric = 'duration_s' AND origin IN ('history', 'shadow')"
            )
        }
        rows = [i for i, ref in enumerate(history.run_ref) if ref not in kept]
        shadow, plain = sys.intern("shadow"), sys.intern("history")
        sources: tuple[list[Any], ...] = (
            history.job_name,
            [DURATION] * len(history.run_ref),
            history.runtime,
            history.duration_s,
            history.start_ts,
            [shadow if s else plain for s in history.shadow],
            history.run_ref,
            [0] * len(history.run_ref),
        )
        for column, values in zip(
            columns,
            sources,
            strict=True,
        ):
            column.extend(
                values if len(rows) == len(history.run_ref) else [values[i] for i in rows]
            )
    run_ts, ids, refs = columns[4], columns[7], columns[6]
    # By (run time, sample id, run reference), stable: the same order as the frame sort it
    # replaces, which the seeded bootstrap depends on (it resamples by position).
    order = sorted(range(len(ids)), key=lambda i: (run_ts[i], ids[i], refs[i]))
    return {
        name: [column[i] for i in order]
        for name, column in zip(SAMPLE_COLUMNS, columns, strict=False)
    }


def load_samples(
    store: StateStore, *, as_of: float | None = None, pipeline: str | None = None
) -> pd.DataFrame:
    """:func:`sample_columns` as a long frame (one row per value), for the reports and charts."""
    import pandas as pd

    columns = sample_columns(store, as_of=as_of, pipeline=pipeline)
    if not columns["pipeline"]:
        return pd.DataFrame([], columns=list(SAMPLE_COLUMNS))
    return pd.DataFrame(columns, columns=list(SAMPLE_COLUMNS))


def samples_fingerprint(store: StateStore, *, as_of: float | None = None) -> tuple[Any, ...]:
    """A cheap value that changes whenever the samples visible at ``as_of`` change.

    Viewers re-run the statistics (bootstrap, tests) only when it changes, not on every write
    another feature makes to the state file.
    """
    samples, runs = _sample_parts(store, as_of)
    parts: list[Any] = [as_of, samples, metrics_fingerprint(store)]
    if runs is not None:
        parts.append(runs)
    return tuple(parts)


def metrics_fingerprint(store: StateStore) -> tuple[Any, ...] | None:
    """A cheap value that changes when a metric is recorded or its direction flips in place
    (which changes verdicts without adding a sample)."""
    row = store.query_one(
        "SELECT COUNT(*), SUM(direction = 'higher'), MAX(rowid) FROM bench_metrics"
    )
    return tuple(row) if row is not None else None


def _sample_parts(store: StateStore, as_of: float | None) -> tuple[Any, Any]:
    """(the recorded samples' count and newest id and time, the run history's fingerprint)
    visible at ``as_of``: what the statistics' numbers are computed from."""
    from cockpit.databricks.history import runs_fingerprint

    row = store.query_one(
        "SELECT COUNT(*), MAX(id), MAX(recorded_at) FROM bench_samples WHERE recorded_at <= ?",
        (until(as_of),),
    )
    return (tuple(row) if row is not None else None), runs_fingerprint(store, as_of=as_of)


def load_directions(store: StateStore) -> dict[tuple[str, str], Direction]:
    rows = store.query("SELECT pipeline, metric, direction FROM bench_metrics")
    return {(r["pipeline"], r["metric"]): r["direction"] for r in rows}


def load_units(store: StateStore) -> dict[tuple[str, str], str]:
    rows = store.query("SELECT pipeline, metric, unit FROM bench_metrics")
    return {(r["pipeline"], r["metric"]): r["unit"] for r in rows}


def compare_store(
    store: StateStore,
    config: CockpitConfig | None,
    *,
    as_of: float | None = None,
    samples: pd.DataFrame | None = None,
) -> list[Comparison]:
    """Every pipeline and metric in the state file judged old runtime vs new, worst first.

    Read from the statistics stored in the file when they were computed from the same samples
    (:mod:`cockpit.bench.stored`: no numpy or scipy), else computed, and stored when the file is
    writable and the moment is the latest. ``samples`` (a frame the caller already has) is
    always computed from."""
    from cockpit.bench import stored as kept
    from cockpit.bench.stats import compare_columns

    old, new = runtimes_compared(store, config)
    key = None
    if samples is None:
        key = stats_key(store, old, new, as_of)
        found = kept.read_stats(store, key)
        if found is None:
            found = kept.remembered(store, key)  # computed here while the file could not keep it
            if found is not None and as_of is None and not store.readonly:
                kept.write_stats(
                    store, key, found, current_key=lambda: stats_key(store, old, new, None)
                )
        if found is not None:
            directions, rules = _judging(store, config, set(found.pipelines))
            return kept.judged(
                found,
                old_runtime=old,
                new_runtime=new,
                directions=directions,
                rules=rules,
                default_rule=rule_for(config, ""),
            )
        columns = sample_columns(store, as_of=as_of)
    else:
        columns = {
            name: samples[name].tolist() for name in ("pipeline", "metric", "runtime", "value")
        }
    pipelines = set(columns["pipeline"])
    directions, rules = _judging(store, config, pipelines)
    comparisons = (
        compare_columns(
            columns,
            old_runtime=old,
            new_runtime=new,
            directions=directions,
            rules=rules,
            default_rule=rule_for(config, ""),
        )
        if pipelines
        else []
    )
    if key is not None:
        stats = kept.stats_of(pipelines, comparisons)
        kept.remember(store, key, stats)
        if as_of is None and not store.readonly:
            kept.write_stats(
                store, key, stats, current_key=lambda: stats_key(store, old, new, None)
            )
    return comparisons


def stats_key(store: StateStore, old_runtime: str, new_runtime: str, as_of: float | None) -> str:
    """A name for the samples visible at ``as_of`` and the runtimes compared: the key the
    statistics computed from them are stored under (:mod:`cockpit.bench.stored`)."""
    import hashlib
    import json

    from cockpit.databricks.history import runs_known

    # The moment itself is left out (as for the stored verdicts): the samples visible at a moment
    # only grow, so equal counts and maxima mean equal samples at any two moments. So are the
    # metrics' directions: they decide the verdict, never the numbers (judged() applies today's),
    # and bench_metrics has no history. With them in the key, a moment before a metric was first
    # recorded (the sample's run history before its benchmark samples) named numbers that no one
    # could store any more, and every time-travel step there imported numpy and scipy.
    samples, runs = _sample_parts(store, as_of)
    parts: list[Any] = [
        [samples, *([runs] if runs is not None else [])],
        [old_runtime, new_runtime],
    ]
    if as_of is not None:
        # The one way equal fingerprints can hold different values: a run of the history kept as
        # a sample only after ``as_of`` is left out at ``as_of`` (sample_columns never counts a
        # run twice), while the statistics stored back then counted it. Such a moment gets a key
        # of its own, which nothing stores, and is computed.
        later = store.query_columns(
            "SELECT run_ref FROM bench_samples WHERE metric = 'duration_s' "
            "AND origin IN ('history', 'shadow') AND recorded_at > ?",
            (until(as_of),),
        )[0]
        hidden = runs_known(store, later, as_of=as_of) if later else 0
        if hidden:
            parts.append(["hidden", hidden])
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def _judging(
    store: StateStore, config: CockpitConfig | None, pipelines: set[str]
) -> tuple[dict[tuple[str, str], Direction], dict[Any, Rule]]:
    """The directions and rules the pipelines with samples are judged by."""
    directions = load_directions(store)
    if config is not None:
        # The config wins over what the file remembers (someone fixed a direction).
        for pipeline in pipelines:
            for m in metric_defs(config, pipeline):
                directions[(pipeline, m.name)] = m.direction
    rules: dict[Any, Rule] = {p: rule_for(config, p) for p in pipelines}
    if config is not None:
        for pipeline in pipelines:
            base = rules[pipeline]
            for m in metric_defs(config, pipeline):
                if m.threshold is not None:
                    rules[(pipeline, m.name)] = Rule(m.threshold, base.alpha, base.min_runs)
    return directions, rules


def refresh_stats(store: StateStore) -> None:
    """Compute the statistics for the file's own runtimes and store them (right after samples
    were recorded), so later readers, read-only ones included, need not. Nothing when the file
    does not say yet which runtimes are compared."""
    from cockpit.errors import CockpitError

    with contextlib.suppress(CockpitError):
        compare_store(store, None)


def keep_stats_at(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> str:
    """Store the statistics of the samples visible at ``as_of`` (a recorded moment, None: the
    latest) unless a row already holds them; returns their key. For a writer that records
    moments faster than it computes (``cockpit record``): what was visible at a past moment no
    longer changes (rows are only added, each with the time it was recorded), so its numbers are
    as good as the latest moment's; if it did change while computing (a write that took its time
    stamp before an earlier commit), the key changed with it and nothing is stored."""
    from cockpit.bench import stored as kept

    old, new = runtimes_compared(store, config)
    key = stats_key(store, old, new, as_of)
    if kept.read_stats(store, key) is not None:
        return key
    compare_store(store, config, as_of=as_of)  # computed and remembered (stored when latest)
    found = kept.remembered(store, key)
    if found is not None and kept.read_stats(store, key) is None:
        kept.write_stats(store, key, found, current_key=lambda: stats_key(store, old, new, as_of))
    return key
