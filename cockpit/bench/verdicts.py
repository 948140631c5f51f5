"""Benchmark verdicts kept in the state file, for readers that need only the verdicts.

`cockpit gates` asks one question of the benchmarks: is any pipeline metric a regression? The
statistics behind a verdict (bootstrap intervals, Mann-Whitney U) need pandas, numpy and scipy,
about 1.5 s of imports. Whoever computes the verdicts with a writable state file keeps them in
``cockpit_meta`` under a key made of everything they depend on (the samples' fingerprint, the
runtimes compared, the [benchmarks] rules), so a later reader with the same inputs reads them
back without importing any of it, and a reader whose inputs differ (new samples, changed rules,
``as_of``) computes them afresh: a stale verdict is never served.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

META_KEY = "bench.verdicts"


@dataclass(frozen=True)
class StoredVerdict:
    pipeline: str
    metric: str
    verdict: str
    ratio: float | None


def _inputs_key(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> str:
    from cockpit.bench.data import runtimes_compared, samples_fingerprint

    rules = config.benchmarks.model_dump(mode="json") if config is not None else None
    parts = [samples_fingerprint(store, as_of=as_of), runtimes_compared(store, config), rules]
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
    cached = _cached(store, key)
    if cached is not None:
        return cached
    from cockpit.bench.data import compare_store

    found = [
        StoredVerdict(c.pipeline, c.metric, c.verdict, c.ratio)
        for c in compare_store(store, config, as_of=as_of)
    ]
    if not store.readonly and as_of is None:
        body = {"key": key, "verdicts": [asdict(v) for v in found]}
        store.set_meta(META_KEY, json.dumps(body, sort_keys=True))
    return found
