"""Kyros' production pipelines, as far as MLflow sees them: they log to the OLD tracking server.

Run by ``cockpit demo`` with the *old* server's own virtualenv (MLflow 1.x), so the data is
written by MLflow's own client of that generation, exactly as the pipelines do in production.
This is the only writer of the old server in the demo; the cockpit itself never writes to it.

    python kyros_pipelines.py seed URI            # the history: experiments, runs, models
    python kyros_pipelines.py keep-writing URI N  # a new churn-train run every N seconds

Standalone on purpose: it imports nothing from the cockpit (another interpreter runs it).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time

import mlflow
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

DAY = 86_400_000  # ms
START_MS = 1_790_000_000_000  # history starts ~ 2026-09-21


def _log_run(
    client,
    exp_id,
    rng,
    *,
    name,
    start_ms,
    params,
    metric_specs,
    tags,
    status="FINISHED",
    parent=None,
):
    run_tags = dict(tags)
    if parent:
        run_tags["mlflow.parentRunId"] = parent
    run = client.create_run(exp_id, start_time=start_ms, tags=run_tags, run_name=name)
    run_id = run.info.run_id
    metrics = []
    for key, (start, drift, noise, steps) in metric_specs.items():
        value = start
        for step in range(steps):
            value = value + drift + rng.gauss(0, noise)
            metrics.append(Metric(key, round(value, 6), start_ms + step * 1000, step))
    params_ = [Param(k, str(v)) for k, v in params.items()]
    for i in range(0, len(metrics), 900):
        client.log_batch(
            run_id, metrics=metrics[i : i + 900], params=params_ if i == 0 else [], tags=[]
        )
    if not metrics:
        client.log_batch(run_id, params=params_)
    if status != "RUNNING":
        client.set_terminated(
            run_id, status=status, end_time=start_ms + rng.randint(600, 5400) * 1000
        )
    return run_id


def _artifacts(client, run_id, rng):
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "model", "data"))
        with open(os.path.join(tmp, "model", "MLmodel"), "w") as fh:
            fh.write("flavors:\n  python_function:\n    loader_module: kyros.score\n")
        with open(os.path.join(tmp, "model", "data", "weights.bin"), "wb") as fh:
            fh.write(bytes(rng.randrange(256) for _ in range(4096)))
        open(os.path.join(tmp, "model", "data", "EMPTY"), "w").close()
        with open(os.path.join(tmp, "roc.csv"), "w") as fh:
            fh.write("fpr,tpr\n" + "".join(f"{i / 10},{min(1, i / 7):.3f}\n" for i in range(11)))
        client.log_artifacts(run_id, os.path.join(tmp, "model"), "model")
        client.log_artifact(run_id, os.path.join(tmp, "roc.csv"), "plots")


def seed(uri: str) -> None:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    rng = random.Random(20261102)
    experiments = {}
    for name, team in (
        ("kyros/churn-train", "retention"),
        ("kyros/demand-forecast", "supply"),
        ("kyros/fraud-score", "risk"),
        ("kyros/feature-pipeline", "platform"),
    ):
        experiments[name] = client.create_experiment(
            name, tags={"team": team, "kyros.tier": "prod"}
        )

    churn_runs = []
    for i in range(12):
        churn_runs.append(
            _log_run(
                client,
                experiments["kyros/churn-train"],
                rng,
                name=f"churn-train-{i:02d}",
                start_ms=START_MS + i * DAY,
                params={
                    "max_depth": rng.choice([4, 6, 8]),
                    "learning_rate": 0.05,
                    "n_estimators": 400,
                },
                metric_specs={
                    "auc": (0.80, 0.002, 0.002, 30),
                    "training_seconds": (1800 + rng.randint(0, 300), 0, 0, 1),
                },
                tags={"pipeline": "kyros-churn-train", "dbr": "14.3-lts-ml"},
                status="FAILED" if i == 7 else "FINISHED",
            )
        )
    sweep = _log_run(
        client,
        experiments["kyros/churn-train"],
        rng,
        name="hp-sweep",
        start_ms=START_MS + 13 * DAY,
        params={"trials": 4},
        metric_specs={},
        tags={"pipeline": "kyros-churn-train"},
    )
    for t in range(4):
        _log_run(
            client,
            experiments["kyros/churn-train"],
            rng,
            name=f"trial-{t}",
            start_ms=START_MS + 13 * DAY + t * 60_000,
            params={"max_depth": 4 + t},
            metric_specs={"auc": (0.82, 0.001, 0.003, 10)},
            tags={"pipeline": "kyros-churn-train"},
            parent=sweep,
        )
    for i in range(10):
        run_id = _log_run(
            client,
            experiments["kyros/demand-forecast"],
            rng,
            name=f"forecast-{i:02d}",
            start_ms=START_MS + i * DAY,
            params={"horizon_days": 28, "model": "prophet"},
            metric_specs={"mape": (0.12, -0.001, 0.004, 12), "rmse": (340.0, -1.0, 4.0, 12)},
            tags={"pipeline": "kyros-demand-forecast"},
        )
        if i == 3:
            client.delete_run(run_id)  # an operator deleted a bad run: it must stay deleted
    fraud_runs = []
    for i in range(8):
        run_id = _log_run(
            client,
            experiments["kyros/fraud-score"],
            rng,
            name=f"fraud-score-{i:02d}",
            start_ms=START_MS + i * DAY,
            params={"threshold": 0.7, "features": "v3"},
            metric_specs={"precision_at_1pct": (0.61, 0.003, 0.004, 8)},
            tags={"pipeline": "kyros-fraud-score"},
        )
        _artifacts(client, run_id, rng)
        fraud_runs.append(run_id)
    for i in range(6):
        _log_run(
            client,
            experiments["kyros/feature-pipeline"],
            rng,
            name=f"features-{i:02d}",
            start_ms=START_MS + i * DAY,
            params={"tables": 14},
            metric_specs={"rows_written": (1.2e7, 1e5, 5e4, 1)},
            tags={"pipeline": "kyros-feature-pipeline"},
            status="RUNNING" if i == 5 else "FINISHED",
        )

    for model, runs, stages in (
        ("kyros-churn", churn_runs[-3:], ["Archived", "Production", "Staging"]),
        ("kyros-fraud", fraud_runs[-2:], ["Production", "None"]),
    ):
        client.create_registered_model(
            model, tags={"owner": "ml-platform"}, description=f"{model} scorer"
        )
        for run_id, stage in zip(runs, stages, strict=True):
            version = client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
            if stage != "None":
                client.transition_model_version_stage(model, version.version, stage)
    print("seeded", flush=True)


def keep_writing(uri: str, every_s: float) -> None:
    """What production keeps doing during the migration: new runs on the old server."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("kyros/churn-train")
    rng = random.Random()
    i = 0
    while True:
        time.sleep(every_s)
        i += 1
        _log_run(
            client,
            exp.experiment_id,
            rng,
            name=f"churn-train-live-{i:03d}",
            start_ms=int(time.time() * 1000),
            params={"max_depth": 6, "learning_rate": 0.05, "n_estimators": 400},
            metric_specs={"auc": (0.82, 0.001, 0.002, 10)},
            tags={"pipeline": "kyros-churn-train"},
        )


if __name__ == "__main__":
    command, target = sys.argv[1], sys.argv[2]
    if command == "seed":
        seed(target)
    elif command == "keep-writing":
        keep_writing(target, float(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command!r}")
