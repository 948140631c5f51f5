"""Scan cost, as a ratio against plain ``ast.parse`` of the same files in the same run.

Generates a corpus of realistic pipeline code (at least 200k lines by default: training jobs,
feature code, helpers, Databricks notebooks, requirements), then times

* baseline: read every .py file and ``ast.parse`` it (what any Python scanner must pay);
* cockpit: ``Scanner.scan_paths`` over the corpus (file walk, notebook splitting, alias and
  instance resolution, requirements, suppression), for the 14.3 -> 16.4 (MLflow 1.30) crossing.

Each side is timed ``--runs`` times, alternating, and the medians compared. Target <= 2x.

    .venv/bin/python bench/scan.py [--lines 200000] [--runs 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cockpit.compat.rules import build_crossing  # noqa: E402
from cockpit.compat.scan import Scanner  # noqa: E402

TRAIN = '''"""Training job {n}: gradient-boosted model on the {domain} features."""
import logging
import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import train_test_split

LOG = logging.getLogger(__name__)
PARAMS = {{"n_estimators": {trees}, "max_depth": {depth}, "learning_rate": 0.05}}


class Trainer{n}:
    """Owns the client and the experiment for one model."""

    def __init__(self, experiment_name: str = "/Kyros/{domain}-{n}"):
        self.client = MlflowClient()
        self.experiment_name = experiment_name

    def experiment_id(self) -> str:
        for experiment in self.client.list_experiments():
            if experiment.name == self.experiment_name:
                return experiment.experiment_id
        return self.client.create_experiment(self.experiment_name)

    def load(self, path: str) -> pd.DataFrame:
        frame = pd.read_parquet(path)
        frame = frame.dropna(subset=["label"])
        for column, values in frame.iteritems():
            LOG.debug("column %s has %d values", column, len(values))
        return frame

    def fit(self, frame: pd.DataFrame):
        features = frame.drop(columns=["label"])
        x_train, x_test, y_train, y_test = train_test_split(
            features, frame["label"], test_size=0.2, random_state={seed}
        )
        with mlflow.start_run(experiment_id=self.experiment_id()):
            mlflow.log_params(PARAMS)
            model = GradientBoostingClassifier(**PARAMS).fit(x_train, y_train)
            score = model.score(x_test, y_test)
            mlflow.log_metric("accuracy", score)
            mlflow.sklearn.log_model(model, "model")
        return model, score

'''

HELPER = '''

def helper_{n}_{k}(values, threshold={k}):
    """Summarise values above a threshold, keeping the order they came in."""
    kept = []
    total = 0.0
    for index, value in enumerate(values):
        if value is None:
            continue
        if value > threshold:
            kept.append((index, value))
            total += value
        elif value < -threshold:
            kept.append((index, -value))
    mean = total / len(kept) if kept else 0.0
    return {{"kept": kept, "mean": mean, "count": len(kept), "name": "helper_{n}_{k}"}}
'''

FEATURES = '''"""Feature code {n}: pure pandas and numpy, no tracking calls."""
import numpy as np


def rolling_{n}(series, window={window}):
    values = np.asarray(series, dtype=float)
    out = np.empty_like(values)
    for i in range(len(values)):
        lo = max(0, i - window + 1)
        out[i] = values[lo : i + 1].mean()
    return out


class Encoder{n}:
    def __init__(self, categories):
        self.index = {{c: i for i, c in enumerate(sorted(categories))}}

    def encode(self, values):
        return [self.index.get(v, -1) for v in values]

    def decode(self, codes):
        reverse = {{i: c for c, i in self.index.items()}}
        return [reverse.get(c) for c in codes]
'''

NOTEBOOK = """# Databricks notebook source
# MAGIC %md
# MAGIC # Scoring notebook {n}

# COMMAND ----------

# MAGIC %pip install mlflow==1.30.1 numpy==1.23.5

# COMMAND ----------

import mlflow
import pandas as pd

client = mlflow.tracking.MlflowClient()
models = client.list_registered_models()

# COMMAND ----------

batch = spark.table("kyros.scoring.batch_{n}").toPandas()
model = mlflow.pyfunc.load_model("models:/scoring-{n}/Production")
batch["score"] = model.predict(batch)
"""


def generate(root: Path, target_lines: int, seed: int = 7) -> tuple[int, int]:
    """Write the corpus; returns (files, lines) of Python written."""
    rng = random.Random(seed)
    files = lines = n = 0
    domains = ("churn", "fraud", "forecast", "recsys", "ltv", "pricing")
    while lines < target_lines:
        n += 1
        team = root / f"team_{n % 12:02d}" / f"pipeline_{n:04d}"
        team.mkdir(parents=True, exist_ok=True)
        kind = n % 4
        if kind in (0, 1):
            text = TRAIN.format(
                n=n,
                domain=rng.choice(domains),
                trees=rng.randint(100, 500),
                depth=rng.randint(3, 8),
                seed=rng.randint(1, 99),
            )
            text += "".join(HELPER.format(n=n, k=k) for k in range(rng.randint(4, 10)))
            name = "train.py"
        elif kind == 2:
            text = FEATURES.format(n=n, window=rng.randint(3, 30))
            text += "".join(HELPER.format(n=n, k=k) for k in range(rng.randint(8, 16)))
            name = "features.py"
        else:
            text = NOTEBOOK.format(n=n)
            name = "score_notebook.py"
            (team / "requirements.txt").write_text("mlflow==1.30.1\npandas==1.5.3\nnumpy==1.23.5\n")
        (team / name).write_text(text)
        files += 1
        lines += text.count("\n")
    return files, lines


def baseline(root: Path) -> float:
    start = time.perf_counter()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    ast.parse(fh.read(), filename=path)
    return time.perf_counter() - start


def cockpit(root: Path) -> tuple[float, int]:
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    start = time.perf_counter()
    result = Scanner(crossing).scan_paths([root])
    return time.perf_counter() - start, len(result.findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate the corpus here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cockpit-scan-bench-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        files, lines = generate(root, args.lines)
        cockpit(root)  # warm-up: catalog, manifests and matchers load once per process
        base_times, scan_times, findings = [], [], 0
        for _ in range(args.runs):
            base_times.append(baseline(root))
            elapsed, findings = cockpit(root)
            scan_times.append(elapsed)
        base, scan = statistics.median(base_times), statistics.median(scan_times)
        print(f"corpus: {files} Python files, {lines} lines ({findings} findings)")
        print(f"ast.parse baseline: {base * 1000:.0f} ms (median of {args.runs})")
        print(f"cockpit scan:       {scan * 1000:.0f} ms (median of {args.runs})")
        print(f"ratio: {scan / base:.2f}x  (target <= 2x)  {'OK' if scan / base <= 2 else 'OVER'}")


if __name__ == "__main__":
    main()
