"""Benchmark statistics kept in the state file, so whoever shows them reads them back.

The numbers behind a comparison (medians, bootstrap intervals, the Mann–Whitney p-value) come
from numpy and scipy: ~1 s of imports and ~100 MB in the process that shows them (the
Benchmarks tab, the gates, time travel). They depend only on the samples and on the two runtimes
compared; the rules (threshold, alpha, min_runs) and a metric's direction only decide the verdict
and the order, which :func:`cockpit.bench.stats.decide` does from the numbers. So whoever computes
them with a writable state file at the latest moment (``record_samples`` right after recording,
the live tab, ``cockpit bench``) stores scipy's own results in ``bench_stats`` (migration 0014)
under a key naming the samples; a reader whose samples have that key (read-only, or time travel
to a moment with the same samples) rebuilds each comparison from them with today's rules and
imports none of it. A reader whose key is not stored (an older file, a moment no one computed)
computes afresh: a stale number is never shown.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.bench.stats import Comparison, Direction, Rule, decide

if TYPE_CHECKING:
    from cockpit.store import StateStore

# Rows kept: a few hundred recordings' worth of time travel; older moments are computed again.
KEEP = 500
# Statistics computed in this process, by (file, key): a read-only file cannot keep them, and the
# gates, the Benchmarks tab and time-travel steps over the same samples ask for the same numbers
# (on a month of run history, reading the samples alone takes a second). Bounded: a few sets.
_MEMO: OrderedDict[tuple[str, str], StoredStats] = OrderedDict()
_MEMO_SIZE = 4
_NUMBERS = ("n_old", "n_new", "median_old", "median_new", "ratio", "p_value")
_INTERVALS = ("old_ci", "new_ci", "ratio_ci")


@dataclass(frozen=True)
class StoredStats:
    """What one computation of the statistics leaves: every compared pair's numbers (as
    :class:`Comparison` without its verdict and rule) and every pipeline that had samples."""

    pipelines: list[str]
    pairs: list[dict[str, Any]]


def read_stats(store: StateStore, key: str) -> StoredStats | None:
    """The stored statistics when they were computed from the samples ``key`` names."""
    if not store.has_table("bench_stats"):
        return None  # an older file opened read-only: computed, as before
    row = store.query_one("SELECT body FROM bench_stats WHERE samples_key = ?", (key,))
    if row is None:
        return None
    try:
        data = json.loads(row["body"])
        if not isinstance(data, dict):
            return None
        pairs = data["pairs"]
        for pair in pairs:  # shape check: a damaged value is recomputed, never half-shown
            if not isinstance(pair["pipeline"], str) or not isinstance(pair["metric"], str):
                return None
            if any(name not in pair for name in _NUMBERS):
                return None
            for name in _INTERVALS:
                if pair[name] is not None and len(pair[name]) != 2:
                    return None
        return StoredStats(pipelines=[str(p) for p in data["pipelines"]], pairs=pairs)
    except (ValueError, TypeError, KeyError):
        return None


def stats_of(pipelines: set[str], comparisons: list[Comparison]) -> StoredStats:
    """What is kept of comparisons computed with intervals: the numbers, not the judgement."""
    pairs = []
    for c in comparisons:
        pair: dict[str, Any] = {"pipeline": c.pipeline, "metric": c.metric}
        for name in _NUMBERS:
            pair[name] = getattr(c, name)
        for name in _INTERVALS:
            value = getattr(c, name)
            pair[name] = list(value) if value is not None else None
        pairs.append(pair)
    return StoredStats(pipelines=sorted(pipelines), pairs=pairs)


def remember(store: StateStore, key: str, stats: StoredStats) -> None:
    memo_key = (str(store.path), key)
    _MEMO[memo_key] = stats
    _MEMO.move_to_end(memo_key)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


def remembered(store: StateStore, key: str) -> StoredStats | None:
    return _MEMO.get((str(store.path), key))


def write_stats(
    store: StateStore, key: str, stats: StoredStats, *, current_key: Callable[[], str]
) -> bool:
    """Keep ``stats`` (computed at the latest moment from the samples ``key`` names) unless the
    samples changed meanwhile (``current_key()``, asked inside the write, differs); True when
    stored."""
    if store.readonly or not store.has_table("bench_stats"):
        return False
    # repr-exact floats: json writes the shortest string that reads back as the same double.
    body = json.dumps({"pipelines": stats.pipelines, "pairs": stats.pairs})
    from cockpit.secrets import scrub_text

    if scrub_text(body) != body:
        return False  # a name that looks like a secret is never written (nor shown changed)
    with store.write() as tx:
        # Inside the write lock: samples recorded since ``key`` was taken change the fingerprint,
        # and numbers computed from a mix of before and after are not kept under either key.
        if current_key() != key:
            return False
        # REPLACE gives the row a new rowid: the newest rows are the highest. (No clock read: the
        # sample file's fixed clock would shift every later timestamp.)
        tx.execute(
            "INSERT OR REPLACE INTO bench_stats (samples_key, body) VALUES (?, ?)", (key, body)
        )
        tx.execute(
            "DELETE FROM bench_stats WHERE rowid NOT IN "
            "(SELECT rowid FROM bench_stats ORDER BY rowid DESC LIMIT ?)",
            (KEEP,),
        )
    return True


def judged(
    stats: StoredStats,
    *,
    old_runtime: str,
    new_runtime: str,
    directions: dict[tuple[str, str], Direction],
    rules: dict[Any, Rule],
    default_rule: Rule,
) -> list[Comparison]:
    """The stored numbers judged by today's directions and rules, worst first: the same
    comparisons :func:`cockpit.bench.stats.compare_columns` makes from the samples."""
    out = []
    for pair in stats.pairs:
        pipeline, metric = pair["pipeline"], pair["metric"]
        direction = directions.get((pipeline, metric), "lower")
        rule = rules.get((pipeline, metric)) or rules.get(pipeline, default_rule)
        ratio, p_value = pair["ratio"], pair["p_value"]
        n_old, n_new = int(pair["n_old"]), int(pair["n_new"])
        out.append(
            Comparison(
                pipeline=pipeline,
                metric=metric,
                direction=direction,
                old_runtime=old_runtime,
                new_runtime=new_runtime,
                n_old=n_old,
                n_new=n_new,
                median_old=pair["median_old"],
                median_new=pair["median_new"],
                old_ci=_pair(pair["old_ci"]),
                new_ci=_pair(pair["new_ci"]),
                ratio=ratio,
                ratio_ci=_pair(pair["ratio_ci"]),
                p_value=p_value,
                verdict=decide(
                    ratio, p_value, n_old=n_old, n_new=n_new, direction=direction, rule=rule
                ),
                threshold=rule.threshold,
                alpha=rule.alpha,
                min_runs=rule.min_runs,
            )
        )
    return sorted(out, key=Comparison.sort_key)


def _pair(value: list[float] | None) -> tuple[float, float] | None:
    return (float(value[0]), float(value[1])) if value is not None else None
