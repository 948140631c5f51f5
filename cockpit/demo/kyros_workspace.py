"""The Kyros Insights workspace the simulator serves for the sample state, the demo and the tests.

    python -m cockpit.demo.kyros_workspace     # rewrite sample_state/scenarios/kyros_workspace.json

`cockpit demo` builds the same scenario in its workdir with :func:`scenario` (no repo needed).

Deterministic (seeded), so rebuilding gives the same file. 14 jobs: most on 14.3 LTS ML, a few
already on 16.4 LTS ML, one with the Horovod library, one with a dbfs:/ init script, each
writing to the old or the new MLflow server. Run history on both runtimes for the benchmark
story (same medians, ratios and noise as sample_state/steps/s50_benchmarks.py):

* kyros-churn-train: ~25% slower on 16.4 (CV 6%) -> regression
* kyros-demand-forecast: ~20% faster on 16.4 -> improvement
* kyros-feature-pipeline: +4% with 18% run-to-run noise -> no change
* kyros-fraud-score: only 2 runs on 16.4 -> insufficient data

The jobs' notebooks (and one workspace file) are served too, written as Kyros' data scientists
write them: MLflow 1.30.1 pinned with ``%pip`` and its removed APIs, a shared ``%run`` helper,
``SafeConfigParser``, ``distutils``, Horovod, ``inspect.getargspec``, SQL notebooks and modern
code, so ``cockpit check --workspace`` (and the live demo's Checklist tab) has real findings.

Probe outputs (what the probe task prints on a 14.3 / 16.4 ML cluster) are the bundled
manifests' libraries and system facts, so a probed manifest diffs clean against its LTS manifest.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

from cockpit.runtimes.manifest import load_bundled

OUT = Path(__file__).resolve().parents[2] / "sample_state" / "scenarios" / "kyros_workspace.json"
EPOCH_MS = int(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp() * 1000)
DAY_MS = 86_400_000
OLD_ML, NEW_ML = "14.3.x-cpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12"
OLD_STD, NEW_STD = "14.3.x-scala2.12", "16.4.x-scala2.12"
OLD_MLFLOW, NEW_MLFLOW = "https://mlflow-old.kyros.example", "https://mlflow-new.kyros.example"
ADMIN_TOKEN = "dapi-kyros-sim-admin-000000000001"
READER_TOKEN = "dapi-kyros-sim-reader-00000000002"
NODE = "i3.xlarge"

# name: (spark_version, tracking server, owner, cron, extra)
JOBS = {
    "kyros-churn-train": (OLD_ML, OLD_MLFLOW, "maria.okafor@kyros.example", "0 0 2 * * ?", {}),
    "kyros-demand-forecast": (OLD_ML, OLD_MLFLOW, "li.wen@kyros.example", "0 30 3 * * ?", {}),
    "kyros-feature-pipeline": (OLD_ML, OLD_MLFLOW, "data-eng@kyros.example", "0 0 1 * * ?", {}),
    "kyros-fraud-score": (OLD_ML, OLD_MLFLOW, "sam.reyes@kyros.example", "0 0 * * * ?", {}),
    "kyros-recsys-train": (
        OLD_ML,
        OLD_MLFLOW,
        "li.wen@kyros.example",
        "0 0 4 ? * SUN",
        {"libraries": [{"pypi": {"package": "horovod==0.28.1"}}], "workers": 4},
    ),
    "kyros-image-embed": (
        OLD_ML,
        OLD_MLFLOW,
        "maria.okafor@kyros.example",
        "0 0 5 * * ?",
        {"init_scripts": [{"dbfs": {"destination": "dbfs:/databricks/init/kyros/opencv.sh"}}]},
    ),
    "kyros-model-monitor": (OLD_ML, OLD_MLFLOW, "ml-platform@kyros.example", "0 15 * * * ?", {}),
    "kyros-batch-score": (
        OLD_ML,
        OLD_MLFLOW,
        "sam.reyes@kyros.example",
        "0 0 6 * * ?",
        {"two_tasks": True},
    ),
    "kyros-data-quality": (OLD_ML, "", "data-eng@kyros.example", "", {}),
    "kyros-etl-orders": (OLD_STD, "", "data-eng@kyros.example", "0 0 0 * * ?", {}),
    "kyros-ltv-model": (NEW_ML, NEW_MLFLOW, "li.wen@kyros.example", "0 0 7 * * ?", {}),
    "kyros-ab-analysis": (NEW_ML, NEW_MLFLOW, "ana.silva@kyros.example", "0 0 8 ? * MON", {}),
    "kyros-price-elasticity": (NEW_ML, NEW_MLFLOW, "ana.silva@kyros.example", "0 0 9 * * ?", {}),
    "kyros-nightly-report": (NEW_STD, "", "bi@kyros.example", "0 0 23 * * ?", {}),
}
# Benchmark story: (median s on 14.3, 16.4/14.3 ratio, CV, runs on 14.3, runs on 16.4)
BENCH = {
    "kyros-churn-train": (1800.0, 1.25, 0.06, 12, 10),
    "kyros-demand-forecast": (2400.0, 0.80, 0.06, 12, 10),
    "kyros-feature-pipeline": (900.0, 1.04, 0.18, 12, 10),
    "kyros-fraud-score": (600.0, 1.02, 0.06, 12, 2),
}


def _cluster(version: str, tracking: str, extra: dict) -> dict:
    cluster = {
        "spark_version": version,
        "node_type_id": NODE,
        "num_workers": extra.get("workers", 2),
        "spark_env_vars": {"PYSPARK_PYTHON": "/databricks/python3/bin/python3"},
    }
    if tracking:
        cluster["spark_env_vars"]["MLFLOW_TRACKING_URI"] = tracking
    if extra.get("init_scripts"):
        cluster["init_scripts"] = extra["init_scripts"]
    return cluster


def _job(job_id: int, name: str, spec: tuple) -> dict:
    version, tracking, owner, cron, extra = spec
    slug = name.removeprefix("kyros-").replace("-", "_")
    tasks = [
        {
            "task_key": "main" if not extra.get("two_tasks") else "prepare",
            "job_cluster_key": "main",
            "notebook_task": {"notebook_path": f"/Repos/kyros/ml/{slug}/main"},
            **({"libraries": extra["libraries"]} if extra.get("libraries") else {}),
        }
    ]
    if extra.get("two_tasks"):
        tasks.append(
            {
                "task_key": "score",
                "depends_on": [{"task_key": "prepare"}],
                "job_cluster_key": "main",
                "spark_python_task": {"python_file": f"/Repos/kyros/ml/{slug}/score.py"},
            }
        )
    settings = {
        "name": name,
        "tags": {"team": owner.split("@")[0], "project": "kyros"},
        "job_clusters": [
            {"job_cluster_key": "main", "new_cluster": _cluster(version, tracking, extra)}
        ],
        "tasks": tasks,
        "max_concurrent_runs": 1,
        "format": "MULTI_TASK",
    }
    if cron:
        settings["schedule"] = {
            "quartz_cron_expression": cron,
            "timezone_id": "UTC",
            "pause_status": "UNPAUSED",
        }
    return {
        "job_id": job_id,
        "creator_user_name": owner,
        "created_time": EPOCH_MS - 400 * DAY_MS + job_id,
        "settings": settings,
    }


HEADER = "# Databricks notebook source"
CELL = "\n\n# COMMAND ----------\n\n"
PIN_V1 = "# MAGIC %pip install mlflow==1.30.1"
HELPERS = "/Repos/kyros/ml/common/mlflow_helpers"


def _nb(*cells: str) -> str:
    return HEADER + "\n" + CELL.join(cell.strip("\n") for cell in cells) + "\n"


# Notebook (or file) per job slug: what each pipeline really runs.
NOTEBOOKS = {
    "churn_train": _nb(
        PIN_V1,
        "# MAGIC %run ../common/mlflow_helpers",
        """
import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression

experiment = next(e for e in mlflow.list_experiments() if e.name == "kyros/churn")
with mlflow.start_run(experiment_id=experiment.experiment_id):
    model = LogisticRegression(max_iter=200).fit(X_train, y_train)
    mlflow.sklearn.eval_and_log_metrics(model, X_test, y_test, prefix="test_")
    mlflow.sklearn.log_model(model, "model")
""",
    ),
    "common/mlflow_helpers": _nb(
        """
from mlflow.tracking import MlflowClient


def production_version(name):
    # Kyros promotes by stage; the registry moved to aliases in MLflow 2.9.
    return MlflowClient().get_latest_versions(name, stages=["Production"])[0]


def run_ids(experiment_id):
    return [info.run_id for info in MlflowClient().list_run_infos(experiment_id)]
"""
    ),
    "demand_forecast": _nb(
        PIN_V1,
        """
import configparser

import mlflow

settings = configparser.SafeConfigParser()
settings.read("/dbfs/kyros/config/forecast.ini")
mlflow.log_param("horizon_weeks", settings.getint("forecast", "horizon_weeks"))
""",
    ),
    "feature_pipeline": _nb(
        """
import os
from distutils.util import strtobool

FULL_REFRESH = strtobool(os.environ.get("FULL_REFRESH", "no"))
spark.table("kyros.raw_events").write.mode("overwrite").saveAsTable("kyros.features")
"""
    ),
    "fraud_score": _nb(
        """
import mlflow

model = mlflow.pyfunc.load_model("models:/kyros-fraud@champion")
scores = model.predict(spark.table("kyros.transactions").toPandas())
"""
    ),
    "recsys_train": _nb(
        """
import horovod.torch as hvd
from sparkdl import HorovodRunner


def train():
    hvd.init()
    return hvd.rank()


HorovodRunner(np=4).run(train)
"""
    ),
    "image_embed": _nb(
        """
import imp

embeddings = imp.load_source("embeddings", "/dbfs/kyros/lib/embeddings.py")
embeddings.run(spark)
"""
    ),
    "model_monitor": _nb(
        "# MAGIC %run ../common/mlflow_helpers",
        """
import mlflow

version = production_version("kyros-churn")
mlflow.log_param("monitored_version", version.version)
""",
    ),
    "batch_score": _nb(
        PIN_V1,
        """
import mlflow

mlflow.pyfunc.spark_udf(spark, "models:/kyros-churn/Production")
""",
    ),
    "data_quality": "-- Databricks notebook source\nSELECT count(*) FROM kyros.orders WHERE amount < 0\n",
    "etl_orders": _nb(
        """
orders = spark.read.json("/Volumes/kyros/raw/orders")
orders.write.mode("append").saveAsTable("kyros.orders")
"""
    ),
    "ltv_model": _nb(
        """
import mlflow

with mlflow.start_run():
    mlflow.log_metric("ltv_mae", 12.4)
"""
    ),
    "ab_analysis": _nb(
        """
import mlflow

for experiment in mlflow.search_experiments(filter_string="name LIKE 'kyros/ab-%'"):
    print(experiment.name)
"""
    ),
    "price_elasticity": _nb(
        """
import mlflow

mlflow.autolog()
"""
    ),
    "nightly_report": "-- Databricks notebook source\nSELECT * FROM kyros.daily_summary\n",
}
SCORE_PY = """\
import inspect

import mlflow


def score(batch, threshold=0.5):
    return batch


print(inspect.getargspec(score))
mlflow.log_metric("scored", 1)
"""


def _workspace_objects() -> list[dict]:
    objects = []
    for slug, text in NOTEBOOKS.items():
        path = HELPERS if slug.startswith("common/") else f"/Repos/kyros/ml/{slug}/main"
        language = "SQL" if text.startswith("--") else "PYTHON"
        objects.append(
            {"path": path, "object_type": "NOTEBOOK", "language": language, "content": text}
        )
    objects.append(
        {
            "path": "/Repos/kyros/ml/batch_score/score.py",
            "object_type": "FILE",
            "content": SCORE_PY,
        }
    )
    return objects


def _lognormal(rng: random.Random, median: float, cv: float) -> float:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return median * math.exp(rng.gauss(0.0, sigma))


def _runs(jobs: list[dict]) -> list[dict]:
    rng = random.Random(20261102)
    runs = []
    run_id = 7_300_000
    for i, job in enumerate(jobs):
        name = job["settings"]["name"]
        version = job["settings"]["job_clusters"][0]["new_cluster"]["spark_version"]
        if name in BENCH:
            median, ratio, cv, n_old, n_new = BENCH[name]
            plan = [(OLD_ML, median, n_old, -30 * DAY_MS, 1.5 * DAY_MS)]
            # The 16.4 trial runs ran in the nine days before the story starts.
            plan.append((NEW_ML, median * ratio, n_new, -9 * DAY_MS, 0.8 * DAY_MS))
        else:
            median = 300.0 + 150.0 * (i % 5)
            plan = [(version, median, 6, -12 * DAY_MS, 2 * DAY_MS)]
            cv = 0.08
        for spark_version, med, count, offset, step in plan:
            for k in range(count):
                run_id += 1
                start = EPOCH_MS + offset + int(k * step) + i * 3_600_000
                runs.append(
                    {
                        "run_id": run_id,
                        "job_id": job["job_id"],
                        "start_time": start,
                        "duration_ms": int(round(_lognormal(rng, med, cv), 1) * 1000),
                        "result_state": "SUCCESS",
                        "spark_version": spark_version,
                    }
                )
        if name == "kyros-model-monitor":
            # One failed run: history keeps failures, the benchmarks feature decides what counts.
            runs[-1]["result_state"] = "FAILED"
    return runs


def _probe_output(runtime_id: str, spark_version: str) -> dict:
    manifest = load_bundled(runtime_id)
    system = {k: v for k, v in manifest.system.items() if v is not None}
    return {
        "probe": {
            "spark_version": spark_version,
            "system": system,
            "python_libraries": dict(sorted(manifest.python_libraries.items())),
            "python_executable": "/databricks/python3/bin/python3",
        }
    }


def scenario() -> dict:
    jobs = [_job(100 + i, name, spec) for i, (name, spec) in enumerate(JOBS.items())]
    versions = []
    for runtime_id in (
        "13.3-lts-ml",
        "14.3-lts",
        "14.3-lts-ml",
        "15.4-lts-ml",
        "16.4-lts",
        "16.4-lts-ml",
        "17.3-lts-ml",
    ):
        manifest = load_bundled(runtime_id)
        for key in manifest.spark_version_keys:
            if "gpu" in key:
                continue
            scala = key.rsplit("scala", 1)[-1]
            spark = manifest.system.get("spark") or "?"
            versions.append(
                {
                    "key": key,
                    "name": f"{manifest.name} (includes Apache Spark {spark}, Scala {scala})",
                }
            )
    clusters = [
        {
            "cluster_id": "1102-090000-kyrosds1",
            "cluster_name": "kyros-ds-shared",
            "spark_version": OLD_ML,
            "state": "RUNNING",
            "cluster_source": "UI",
            "node_type_id": NODE,
            "num_workers": 4,
        },
        {
            "cluster_id": "1102-090000-kyrosmig",
            "cluster_name": "kyros-migration-sandbox",
            "spark_version": NEW_ML,
            "state": "TERMINATED",
            "cluster_source": "UI",
            "node_type_id": NODE,
            "num_workers": 0,
        },
    ]
    return {
        "format": "cockpit-workspace-scenario/1",
        "name": "Kyros Insights production workspace",
        "tokens": {ADMIN_TOKEN: "admin", READER_TOKEN: "reader"},
        "spark_versions": versions,
        "clusters": clusters,
        "jobs": jobs,
        "runs": _runs(jobs),
        "workspace": _workspace_objects(),
        "submit": {
            "pending_s": 2.0,
            "running_s": 4.0,
            "outputs": {
                OLD_ML: _probe_output("14.3-lts-ml", OLD_ML),
                NEW_ML: _probe_output("16.4-lts-ml", NEW_ML),
            },
        },
    }


def write(path: Path) -> Path:
    path.write_text(json.dumps(scenario(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def main() -> None:
    print(write(OUT))


if __name__ == "__main__":
    main()
