"""Kyros benchmark history: one real regression, one improvement, one noisy-but-unchanged
pipeline and one with too few runs on the target.

Durations are drawn from lognormal noise around fixed medians with a seeded generator, so the
file is the same on every build:

* kyros-churn-train: ~25% slower on 16.4 (CV 6%) -> regression; its AUC (higher is better) holds;
* kyros-demand-forecast: ~20% faster (CV 6%) -> improvement;
* kyros-feature-pipeline: +4% with 18% run-to-run noise -> no change;
* kyros-fraud-score: only 2 shadow runs on 16.4 so far -> insufficient data.

Runs on 14.3 are production history (the three weeks before the story starts); runs on 16.4 are
shadow re-runs, recorded as the cockpit would after `cockpit bench rerun`. When the workspace step
(s30) has already polled a job's run history on both runtimes, that history is used instead and
this step adds nothing for the job.
"""

from __future__ import annotations

import math

import numpy as np

from cockpit.bench.data import DURATION, MetricDef, Sample, record_samples
from cockpit.bench.verdicts import benchmark_verdicts

OLD, NEW = "14.3-lts-ml", "16.4-lts-ml"
DAY = 86400.0

# pipeline: (old median s, new/old ratio, CV, runs on old, runs on new)
PIPELINES = {
    "kyros-churn-train": (1800.0, 1.25, 0.06, 12, 10),
    "kyros-demand-forecast": (2400.0, 0.80, 0.06, 12, 10),
    "kyros-feature-pipeline": (900.0, 1.04, 0.18, 12, 10),
    "kyros-fraud-score": (600.0, 1.02, 0.06, 12, 2),
}
AUC = MetricDef("auc", "higher", "")


def _lognormal(rng: np.random.Generator, median: float, cv: float, n: int) -> list[float]:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return [round(float(v), 1) for v in median * np.exp(rng.normal(0.0, sigma, n))]


def _pipelines_with_run_history(store) -> set[str]:
    """Kyros jobs whose run history already has successful runs on both runtimes."""
    rows = store.query(
        "SELECT job_name FROM workspace_runs WHERE result_state = 'SUCCESS' AND runtime IN (?, ?) "
        "GROUP BY job_name HAVING COUNT(DISTINCT runtime) = 2",
        (OLD, NEW),
    )
    return {r["job_name"] for r in rows} & set(PIPELINES)


def build(ctx) -> None:
    store = ctx.store
    rng = np.random.default_rng(20261102)
    start = ctx.clock.now
    history: list[Sample] = []
    shadow: list[Sample] = []
    polled = _pipelines_with_run_history(store)
    for i, (pipeline, (median, ratio, cv, n_old, n_new)) in enumerate(PIPELINES.items()):
        if pipeline in polled:
            # The workspace step (s30) already recorded this job's runs on both runtimes; the
            # benchmarks read them from the run history, so nothing is invented here.
            continue
        for k, value in enumerate(_lognormal(rng, median, cv, n_old)):
            history.append(
                Sample(
                    pipeline=pipeline,
                    metric=DURATION,
                    runtime=OLD,
                    value=value,
                    run_ts=start - 21 * DAY + k * 1.5 * DAY + i * 3600,
                    origin="history",
                    run_ref=str(7_100_000 + 100 * i + k),
                )
            )
        for k, value in enumerate(_lognormal(rng, median * ratio, cv, n_new)):
            shadow.append(
                Sample(
                    pipeline=pipeline,
                    metric=DURATION,
                    runtime=NEW,
                    value=value,
                    run_ts=start + 2 * DAY + k * 0.5 * DAY + i * 3600,
                    origin="shadow",
                    run_ref=str(8_200_000 + 100 * i + k),
                )
            )
    # Churn model quality on both MLflow servers: AUC per training run, unchanged by the runtime.
    auc: list[Sample] = []
    for server, runtime, n, base, step in (
        ("old", OLD, 12, -21 * DAY, 1.5 * DAY),
        ("new", NEW, 10, 2 * DAY, 0.5 * DAY),
    ):
        for k in range(n):
            auc.append(
                Sample(
                    pipeline="kyros-churn-train",
                    metric=AUC.name,
                    runtime=runtime,
                    value=round(float(0.842 + rng.normal(0.0, 0.004)), 4),
                    run_ts=start + base + k * step,
                    origin=f"mlflow:{server}",
                    run_ref=f"{server}{k:02d}c0ffee{k:04d}",
                )
            )
    durations = [(p, MetricDef(DURATION, "lower", "s")) for p in PIPELINES]
    old_auc = [s for s in auc if s.runtime == OLD]
    new_auc = [s for s in auc if s.runtime == NEW]
    record_samples(store, history, metrics=durations, source="sample")
    record_samples(store, old_auc, metrics=[("kyros-churn-train", AUC)], source="sample")
    # The shadow re-runs finish over the following week; they are recorded once they have.
    ctx.clock.advance(8 * DAY)
    record_samples(store, shadow + new_auc, source="sample")
    # The verdicts as the TUI or `cockpit gates --record` would keep them (cockpit.bench.verdicts).
    benchmark_verdicts(store, None)
