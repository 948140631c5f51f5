"""Kyros MLflow: the 1.30 production server copied to the new 2.22 server over two days, partly.

Recorded through the engine's own record functions (the ones `cockpit mlflow status|sync|verify`
and the mirror use), with deterministic ids, so no server is needed at build time:

* a first status poll before anything was copied (everything missing);
* a sync of churn and demand, then a mirror that catches up experiment by experiment, one poll
  per cycle (the drift sparkline falls from 418 to 23);
* where the story stops: fraud still has runs missing and two model versions not copied, ltv has
  copies that differ (its RUNNING runs finished after they were copied), and the last verify
  lists those differences.
"""

from __future__ import annotations

import hashlib

from cockpit.mlflow.records import (
    Difference,
    ExperimentStatus,
    ModelStatus,
    PollSummary,
    record_mapping,
    record_poll,
    record_verification,
)

OLD_URL = "https://mlflow.kyros.internal"
NEW_URL = "https://mlflow2.kyros.internal"
OLD_SCHEMA = "97727af70f4d"  # MLflow 1.30's last alembic revision
NEW_SCHEMA = "0584bdc529eb"  # 2.22's
HOUR = 3600.0

# name: (source id, active runs, deleted runs, deleted experiment)
EXPERIMENTS = {
    "kyros/churn-xgb": ("3", 142, 6, False),
    "kyros/demand-forecast": ("5", 96, 2, False),
    "kyros/fraud-gbm": ("8", 120, 4, False),
    "kyros/ltv-nn": ("11", 24, 0, False),
    "kyros/legacy-recsys": ("2", 0, 14, True),
}
# name: (version -> stage)
MODELS = {
    "churn-classifier": {"1": "Archived", "2": "Archived", "3": "Staging", "4": "Production"},
    "demand-forecaster": {"1": "Archived", "2": "Production"},
    "fraud-scorer": {"1": "Archived", "2": "Production", "3": "Staging", "4": "None"},
}


def _id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]


def _poll(
    ctx, synced: dict[str, tuple[int, int]], versions: dict[str, int], running: dict[str, int]
) -> PollSummary:
    """``synced``: experiment -> (copied runs, differing copies); ``versions``: model -> copied."""
    rows = []
    for name, (source_id, active, deleted, gone) in EXPERIMENTS.items():
        copied, differing = synced.get(name, (0, 0))
        total = active + deleted
        new_deleted = min(deleted, copied)
        rows.append(
            ExperimentStatus(
                name=name,
                source_id=source_id,
                dest_id=str(int(source_id) + 100) if copied or name in synced else None,
                old_deleted_experiment=gone,
                old_active=active,
                old_deleted=deleted,
                new_active=copied - new_deleted,
                new_deleted=new_deleted,
                missing=total - copied,
                differing=differing,
                running=running.get(name, 0),
                missing_ids=[_id(name, str(i)) for i in range(copied, total)][:50],
                differing_ids=[_id(name, str(i)) for i in range(differing)],
            )
        )
    models = []
    for name, stages in MODELS.items():
        have = versions.get(name, 0)
        copied = {v: s for v, s in stages.items() if int(v) <= have}
        aliases = {}
        for stage, alias in (("Production", "production"), ("Staging", "staging")):
            in_stage = [v for v, s in copied.items() if s == stage]
            if in_stage:
                aliases[alias] = max(in_stage, key=int)
        models.append(
            ModelStatus(
                name=name,
                old_versions=len(stages),
                new_versions=have,
                missing=len(stages) - have,
                exists_on_new=have > 0,
                old_stages=dict(stages),
                new_stages=copied,
                new_aliases=aliases,
            )
        )
    return PollSummary(
        ts=ctx.clock(),
        duration_s=1.8,
        old_url=OLD_URL,
        new_url=NEW_URL,
        old_version="1.x",
        new_version="2.22.5",
        old_schema=OLD_SCHEMA,
        new_schema=NEW_SCHEMA,
        experiments=rows,
        models=models,
    )


def _copy(ctx, name: str, start: int, stop: int) -> None:
    """Record runs start..stop of an experiment as copied (the sync's id map rows)."""
    store = ctx.store
    record_mapping(
        store,
        "experiment",
        EXPERIMENTS[name][0],
        str(int(EXPERIMENTS[name][0]) + 100),
        experiment=name,
    )
    for i in range(start, stop):
        record_mapping(
            store,
            "run",
            _id(name, str(i)),
            _id("new", name, str(i)),
            experiment=name,
            fingerprint=_id("fp", name, str(i))[:16],
        )


def _sync_events(ctx, copied: dict[str, tuple[int, int]], seconds: float, source: str) -> None:
    store = ctx.store
    store.append_event(
        "mlflow.sync.started",
        {
            "old": OLD_URL,
            "new": NEW_URL,
            "experiments": len(copied),
            "runs_to_write": sum(b - a for a, b in copied.values()),
            "versions_to_create": 0,
            "workers": 8,
        },
        source=source,
    )
    for name, (a, b) in copied.items():
        ctx.clock.advance(seconds / max(1, len(copied)))
        _copy(ctx, name, a, b)
        store.append_event(
            "mlflow.sync.experiment",
            {"name": name, "source_id": EXPERIMENTS[name][0], "created": b - a, "updated": 0},
            source=source,
        )
    store.append_event(
        "mlflow.sync.finished",
        {
            "runs_created": sum(b - a for a, b in copied.values()),
            "runs_updated": 0,
            "errors": 0,
            "duration_s": seconds,
        },
        source=source,
    )


def build(ctx) -> None:
    store = ctx.store
    ctx.clock.advance(2 * HOUR)
    # Day 1: the first look at both servers, nothing copied yet.
    record_poll(store, _poll(ctx, {}, {}, {"kyros/ltv-nn": 3}), source="poller:mlflow")
    ctx.clock.advance(HOUR)
    # The team copies its two most important experiments first.
    _sync_events(ctx, {"kyros/churn-xgb": (0, 148), "kyros/demand-forecast": (0, 98)}, 85.0, "cli")
    record_poll(
        store,
        _poll(
            ctx,
            {"kyros/churn-xgb": (148, 0), "kyros/demand-forecast": (98, 0)},
            {"churn-classifier": 4, "demand-forecaster": 2},
            {"kyros/ltv-nn": 3},
        ),
        source="cli",
    )
    # Then mirroring starts and catches up over the following cycles.
    store.append_event(
        "mlflow.mirror.started",
        {"old": OLD_URL, "new": NEW_URL, "interval_s": 1800},
        source="tui",
    )
    progress = [
        ({"kyros/fraud-gbm": (0, 40)}, {"churn-classifier": 4, "demand-forecaster": 2}),
        (
            {"kyros/fraud-gbm": (40, 80), "kyros/legacy-recsys": (0, 14)},
            {"churn-classifier": 4, "demand-forecaster": 2, "fraud-scorer": 1},
        ),
        (
            {"kyros/fraud-gbm": (80, 106), "kyros/ltv-nn": (0, 24)},
            {"churn-classifier": 4, "demand-forecaster": 2, "fraud-scorer": 2},
        ),
    ]
    synced = {"kyros/churn-xgb": (148, 0), "kyros/demand-forecast": (98, 0)}
    for cycle, (copied, versions) in enumerate(progress, start=1):
        ctx.clock.advance(HOUR / 2)
        _sync_events(ctx, copied, 40.0, "tui")
        for name, (_, stop) in copied.items():
            synced[name] = (stop, 0)
        # ltv's three RUNNING runs finished on the old server after they were copied.
        if "kyros/ltv-nn" in synced:
            synced["kyros/ltv-nn"] = (synced["kyros/ltv-nn"][0], 3)
        poll = _poll(ctx, synced, versions, {} if "kyros/ltv-nn" in synced else {"kyros/ltv-nn": 3})
        record_poll(store, poll, source="tui")
        store.append_event(
            "mlflow.mirror.cycle",
            {
                "cycle": cycle,
                "runs_created": sum(b - a for a, b in copied.values()),
                "runs_updated": 0,
                "versions_created": 1 if cycle > 1 else 0,
                "errors": 0,
                "drift": poll.drift,
            },
            source="tui",
        )
    store.append_event("mlflow.mirror.paused", {"cycles": len(progress)}, source="tui")
    ctx.clock.advance(HOUR / 4)
    differences = [
        Difference(
            "run", f"kyros/ltv-nn / {_id('kyros/ltv-nn', str(i))}", "status", "FINISHED", "RUNNING"
        )
        for i in range(3)
    ]
    differences += [
        Difference(
            "run",
            f"kyros/fraud-gbm / {_id('kyros/fraud-gbm', str(i))}",
            "copy",
            "present",
            "missing",
        )
        for i in range(106, 124)
    ]
    differences += [
        Difference("model_version", f"fraud-scorer v{v}", "copy", "present", "missing")
        for v in ("3", "4")
    ]
    record_verification(
        store,
        duration_s=212.4,
        experiments=len(EXPERIMENTS),
        runs=sum(a + d for _, a, d, _ in EXPERIMENTS.values()),
        artifacts=1184,
        models=len(MODELS),
        differences=differences,
        source="cli",
    )
