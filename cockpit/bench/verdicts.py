"""Benchmark verdicts kept in the state file, for readers that need only the verdicts.

`cockpit gates` asks one question of the benchmarks: is any pipeline metric a regression? The
statistics behind a verdict (bootstrap intervals, Mann-Whitney U) need numpy and scipy, about
1 s of imports, unless the state file stores them (cockpit.bench.stored). Whoever computes the
verdicts with a writable state file keeps them in ``cockpit_meta`` under a key made of
everything they depend on (the samples' fingerprint, the runtimes compared, the [benchmarks]
rules), so a later reader with the same inputs reads them back without importing any of it, and
a reader whose inputs differ (new samples, changed rules, ``as_of``) computes them afresh: a
stale verdict is never served.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

META_KEY = "bench.verdicts"
# Verdicts computed in this process, by (file, inputs key): time travel asks again at every step,
# and most steps do not change the samples. Bounded: a few moments' worth.
_MEMO: OrderedDict[tuple[str, str], list[StoredVerdict]] = OrderedDict()
_MEMO_SIZE = 16


@dataclass(frozen=True)
class StoredVerdict:
    pipeline: str
    metric: str
    verdict: str
    ratio: float | None


def _inputs_key(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> str:
    from cockpit.bench.data import metrics_fingerprint, runtimes_compared, stats_key

    rules = config.benchmarks.model_dump(mode="json") if config is not None else None
    # The samples and runtimes part is the stored statistics' own key (moment left out, a run of
    # the history kept as a sample only later accounted for): one definition of "same samples".
    # The metrics' directions are not in that key (they never change the numbers) but decide
    # the verdicts.
    parts = [
        stats_key(store, *runtimes_compared(store, config), as_of),
        metrics_fingerprint(store),
        rules,
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _cached(store: StateStore, key: str) -> list[StoredVerdict] | None:
    raw = store.get_meta(META_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data.get("key") != key:
            return None
        return [StoredVerdict(**v) for v in data["verdicts"]]
    except (ValueError, TypeError, KeyError):
        return None  # unreadable: compute afresh (and overwrite when writable)


def benchmark_verdicts(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> list[StoredVerdict]:
    """Every pipeline metric's verdict, worst first: stored ones when their inputs still match."""
    key = _inputs_key(store, config, as_of)
    memo_key = (str(store.path), key)
    if memo_key in _MEMO:
        _MEMO.move_to_end(memo_key)
        return list(_MEMO[memo_key])
    cached = _cached(store, key)
    if cached is not None:
        return cached
    from cockpit.bench.data import compare_store

    # With intervals (on a month of runs 0.1 s more than without): then the numbers are the
    # ones the Benchmarks tab shows, kept in the file (cockpit.bench.stored) when it is writable
    # and in this process otherwise, and the tab does not read the samples a second time.
    found = [
        StoredVerdict(c.pipeline, c.metric, c.verdict, c.ratio)
        for c in compare_store(store, config, as_of=as_of)
    ]
    _MEMO[memo_key] = list(found)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    if not store.readonly and as_of is None:
        body = {"key": key, "verdicts": [asdict(v) for v in found]}
        store.set_meta(META_KEY, json.dumps(body, sort_keys=True))
    return found
