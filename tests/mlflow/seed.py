"""Seed data for the MLflow tests and the bench, written to a real server through its REST API.

Plain REST (not the cockpit's adapter) so the seed is independent of the code under test, and
deterministic (a seeded RNG) so a failure reproduces. ``rich`` covers every case the copy must
keep: nested runs, a metric with thousands of steps, NaN and ±inf, unicode names, FAILED,
RUNNING and deleted runs, a deleted experiment, nested artifact folders with binary and empty
files, and registered models with versions in every stage (and aliases where the server has them).
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

API = "/api/2.0/mlflow"
T0 = 1_700_000_000_000  # ms; every timestamp derives from it


@dataclass
class Seeded:
    experiments: list[str] = field(default_factory=list)
    runs: dict[str, str] = field(default_factory=dict)  # label -> run id
    models: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)  # run ids left RUNNING


class Writer:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=8)
        self.session.mount("http://", adapter)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = self.session.post(self.url + path, json=body, timeout=60)
        if resp.status_code != 200:
            raise RuntimeError(f"seed {path}: HTTP {resp.status_code} {resp.text[:300]}")
        return resp.json() if resp.content else {}

    def get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        resp = self.session.get(self.url + path, params=params, timeout=60)
        resp.raise_for_status()
        return resp.json()

    def generation(self) -> int:
        resp = self.session.get(self.url + "/version", timeout=10)
        return int(resp.text.split(".")[0]) if resp.status_code == 200 else 1

    # ------------------------------------------------------------------ objects
    def experiment(self, name: str, tags: dict[str, str] | None = None) -> str:
        body = {"name": name, "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]}
        return str(self.post(f"{API}/experiments/create", body)["experiment_id"])

    def run(
        self,
        experiment_id: str,
        name: str,
        *,
        start: int,
        tags: dict[str, str] | None = None,
        user: str = "kyros-ci",
    ) -> dict[str, Any]:
        all_tags = {"mlflow.runName": name, **(tags or {})}
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": start,
            "user_id": user,
            "tags": [{"key": k, "value": v} for k, v in all_tags.items()],
        }
        return self.post(f"{API}/runs/create", body)["run"]["info"]

    def log(
        self,
        run_id: str,
        *,
        metrics: list[tuple[str, Any, int, int]] = (),  # type: ignore[assignment]
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        params_l = [{"key": k, "value": v} for k, v in (params or {}).items()]
        tags_l = [{"key": k, "value": v} for k, v in (tags or {}).items()]
        ms = [{"key": k, "value": v, "timestamp": ts, "step": s} for k, v, ts, s in metrics]
        first = True
        while first or ms:
            chunk, ms = (
                ms[: 1000 - len(params_l) - len(tags_l)],
                ms[1000 - len(params_l) - len(tags_l) :],
            )
            self.post(
                f"{API}/runs/log-batch",
                {"run_id": run_id, "metrics": chunk, "params": params_l, "tags": tags_l},
            )
            params_l, tags_l, first = [], [], False

    def finish(self, run_id: str, status: str, end: int) -> None:
        self.post(
            f"{API}/runs/update",
            {"run_id": run_id, "run_uuid": run_id, "status": status, "end_time": end},
        )

    def artifact(self, info: dict[str, Any], path: str, data: bytes) -> None:
        if info["artifact_uri"].startswith("s3://"):
            # A server that does not proxy: its clients write to the store themselves, with the
            # standard AWS configuration and MLflow's endpoint variable (as MLflow's client does).
            bucket, _, prefix = info["artifact_uri"][len("s3://") :].partition("/")
            s3_client().put_object(Bucket=bucket, Key=f"{prefix.rstrip('/')}/{path}", Body=data)
            return
        root = info["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
        resp = self.session.put(
            f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{root}/{path}", data=data, timeout=60
        )
        if resp.status_code != 200:
            raise RuntimeError(f"seed artifact {path}: HTTP {resp.status_code}")


def s3_client() -> Any:
    """A plain boto3 S3 client on ``MLFLOW_S3_ENDPOINT_URL`` (the tests' moto server)."""
    import os

    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("MLFLOW_S3_ENDPOINT_URL"))


def call(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """One tracking API POST (``path`` after /api/2.0/mlflow/), for tests that need a single write."""
    return Writer(url).post(f"{API}/{path}", body)


def rich(url: str, prefix: str, *, history_steps: int = 5000, seed: int = 7) -> Seeded:
    """The full matrix of cases, in two experiments (one of them deleted) and two models."""
    rng = random.Random(seed)
    w = Writer(url)
    out = Seeded()
    gen = w.generation()

    name = f"{prefix} Kyros churn — ünïcode 実験 🚀"
    exp = w.experiment(name, {"team": "kyros-ds", "mlflow.note.content": "Churn model, ünïcode"})
    out.experiments.append(name)

    parent = w.run(exp, "parent sweep", start=T0)
    out.runs["parent"] = parent["run_id"]
    w.log(parent["run_id"], params={"sweep": "lr", "模型": "xgboost"}, tags={"stage": "sweep"})
    children = []
    for i in range(2):
        child = w.run(
            exp,
            f"child {i} λ",
            start=T0 + 1000 * (i + 1),
            tags={"mlflow.parentRunId": parent["run_id"]},
        )
        children.append(child)
        out.runs[f"child{i}"] = child["run_id"]
        w.log(
            child["run_id"],
            params={"lr": str(0.1 * (i + 1)), "depth": str(3 + i)},
            metrics=[("auc", 0.7 + 0.01 * s + 0.001 * i, T0 + 2000 + s, s) for s in range(20)],
        )
        w.finish(child["run_id"], "FINISHED", T0 + 60_000 + i)
    grandchild = w.run(
        exp, "grandchild", start=T0 + 5000, tags={"mlflow.parentRunId": children[0]["run_id"]}
    )
    out.runs["grandchild"] = grandchild["run_id"]
    w.finish(grandchild["run_id"], "FINISHED", T0 + 70_000)
    w.finish(parent["run_id"], "FINISHED", T0 + 90_000)

    long = w.run(exp, "long training", start=T0 + 100_000, tags={"note": "ünïcode ✓"})
    out.runs["long"] = long["run_id"]
    loss = [
        ("loss", 1.0 / (s + 1) + rng.random() * 1e-3, T0 + 100_000 + s * 10, s)
        for s in range(history_steps)
    ]
    # The same step logged twice with different timestamps is a real history, not a duplicate.
    loss.append(("loss", 0.5, T0 + 100_000 + 7, 3))
    special = [
        ("weird", "NaN", T0 + 100_001, 0),
        ("weird", "Infinity", T0 + 100_002, 1),
        ("weird", "-Infinity", T0 + 100_003, 2),
        ("weird", 0.0, T0 + 100_004, 3),
        ("weird", -1.5e-300, T0 + 100_005, 4),
    ]
    # 130 params: more than one log-batch may carry (100), so the copy must split them.
    w.log(long["run_id"], metrics=loss + special, params={f"p{i}": f"v{i}" for i in range(100)})
    w.log(long["run_id"], params={f"p{i}": f"v{i}" for i in range(100, 130)})
    w.artifact(long, "model/MLmodel", b"artifact_path: model\nflavors: {}\n")
    w.artifact(long, "model/data/weights.bin", rng.randbytes(300_000))
    w.artifact(long, "plots/deep/nested/empty.txt", b"")
    w.artifact(long, "plots/résumé ü.txt", "ünïcode body ✓".encode())
    w.finish(long["run_id"], "FINISHED", T0 + 200_000)

    failed = w.run(exp, "failed run", start=T0 + 300_000)
    out.runs["failed"] = failed["run_id"]
    w.log(failed["run_id"], metrics=[("loss", 3.0, T0 + 300_001, 0)], tags={"error": "OOM"})
    w.finish(failed["run_id"], "FAILED", T0 + 301_000)

    running = w.run(exp, "still running", start=T0 + 400_000)
    out.runs["running"] = running["run_id"]
    out.running.append(running["run_id"])
    w.log(running["run_id"], metrics=[("loss", 2.0, T0 + 400_001, 0)])

    deleted = w.run(exp, "deleted run", start=T0 + 500_000)
    out.runs["deleted"] = deleted["run_id"]
    w.log(deleted["run_id"], params={"x": "1"}, metrics=[("m", 1.0, T0 + 500_001, 0)])
    w.artifact(deleted, "note.txt", b"deleted but kept")
    w.finish(deleted["run_id"], "KILLED", T0 + 500_100)
    w.post(f"{API}/runs/delete", {"run_id": deleted["run_id"]})

    gone_name = f"{prefix} retired experiment"
    gone = w.experiment(gone_name, {"retired": "yes"})
    out.experiments.append(gone_name)
    for i in range(2):
        r = w.run(gone, f"old run {i}", start=T0 + 600_000 + i)
        w.log(r["run_id"], metrics=[("acc", 0.5 + i / 10, T0 + 600_010, 0)], params={"i": str(i)})
        w.finish(r["run_id"], "FINISHED", T0 + 600_500 + i)
        out.runs[f"gone{i}"] = r["run_id"]
        if i == 1:
            w.post(f"{API}/runs/delete", {"run_id": r["run_id"]})
    w.post(f"{API}/experiments/delete", {"experiment_id": gone})

    model = f"{prefix.replace('/', '-').replace(':', '-')}-churn"
    out.models.append(model)
    w.post(
        f"{API}/registered-models/create",
        {
            "name": model,
            "description": "Churn classifier ✓",
            "tags": [{"key": "owner", "value": "ds"}],
        },
    )
    sources = [long, children[0], children[1], failed, long]
    stages = ["None", "Staging", "Production", "Archived", "Production"]
    for i, (info, stage) in enumerate(zip(sources, stages, strict=True), start=1):
        w.post(
            f"{API}/model-versions/create",
            {
                "name": model,
                "source": info["artifact_uri"] + "/model",
                "run_id": info["run_id"],
                "description": f"version {i} ü",
                "tags": [{"key": "candidate", "value": str(i)}],
            },
        )
        if stage != "None":
            w.post(
                f"{API}/model-versions/transition-stage",
                {
                    "name": model,
                    "version": str(i),
                    "stage": stage,
                    "archive_existing_versions": False,
                },
            )
    if gen >= 2:
        w.post(
            f"{API}/registered-models/alias", {"name": model, "alias": "champion", "version": "3"}
        )
    return out


def bulk(
    url: str,
    experiment: str,
    runs: int,
    *,
    params: int = 5,
    metrics: int = 3,
    steps: int = 100,
    tags: int = 2,
    artifact: bool = True,
    workers: int = 4,
) -> list[str]:
    """Many similar runs (the bench's shape and the kill test's); returns the run ids."""
    w = Writer(url)
    exp = w.experiment(experiment)

    def one(i: int) -> str:
        info = w.run(exp, f"run-{i:05d}", start=T0 + i * 1000)
        w.log(
            info["run_id"],
            params={f"param_{p}": f"{i}-{p}" for p in range(params)},
            tags={f"tag_{t}": f"value {i}" for t in range(tags)},
            metrics=[
                (f"metric_{m}", (i + m + s) / 100.0, T0 + i * 1000 + s, s)
                for m in range(metrics)
                for s in range(steps)
            ],
        )
        if artifact:
            w.artifact(info, "summary.json", f'{{"run": {i}}}'.encode())
        w.finish(info["run_id"], "FINISHED", T0 + i * 1000 + 999)
        return info["run_id"]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(runs)))
