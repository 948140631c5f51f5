"""The DB-upgrade rehearsal Kyros ran on a copy of the production MLflow backend.

Recorded through the engine's own `record_rehearsal` with the figures of a real rehearsal
measured on this project's machines (a 1.30.1 SQLite backend with 1,000 runs and 300,000 metric
rows upgraded by 2.22.5's `mlflow db upgrade` in 2.85 s); the alembic steps are those shipped
with mlflow 2.22.5 between the two revisions. No server is needed to build the sample.
"""

from __future__ import annotations

from cockpit.mlflow.rehearsal import RehearsalResult, record_rehearsal

STEPS = [
    ("97727af70f4d", "3500859a5d39"),
    ("3500859a5d39", "7f2a7d5fae7d"),
    ("7f2a7d5fae7d", "2d6e25af4d3e"),
    ("2d6e25af4d3e", "acf3f17fdcc7"),
    ("acf3f17fdcc7", "867495a8f9d4"),
    ("867495a8f9d4", "5b0e9adcef9c"),
    ("5b0e9adcef9c", "4465047574b1"),
    ("4465047574b1", "f5a4f2784254"),
    ("f5a4f2784254", "0584bdc529eb"),
]
BEFORE = {
    "alembic_version": 1,
    "experiments": 6,
    "experiment_tags": 12,
    "runs": 1000,
    "params": 5000,
    "metrics": 300000,
    "latest_metrics": 3000,
    "tags": 4000,
    "registered_models": 2,
    "model_versions": 5,
}


def build(ctx) -> None:
    ctx.clock.advance(3600)
    after = {**BEFORE, "input_tags": 0, "inputs": 0, "datasets": 0, "trace_info": 0}
    record_rehearsal(
        ctx.store,
        RehearsalResult(
            id=0,
            started_at=ctx.store.clock(),
            source_uri="sqlite:////srv/mlflow/kyros-prod.db",
            source_sha256="6d1f0c2a9b8e7d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c",
            source_unchanged=True,
            target_version="2.22.5",
            ok=True,
            error=None,
            duration_s=2.85,
            revision_before="97727af70f4d",
            revision_after="0584bdc529eb",
            migrations=STEPS,
            row_counts_before=BEFORE,
            row_counts_after=after,
        ),
        source="sample",
    )
