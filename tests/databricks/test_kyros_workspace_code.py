"""The Kyros workspace (what `cockpit demo` serves) runs notebooks with Kyros-era code:
`cockpit check --workspace --record` puts their findings into the checklist per job, with the
inventory's owners, the %run helper's findings in the jobs that run it, and SQL notebooks as
notes. Real databricks-sdk against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ws_helpers import ADMIN, REPO

from cockpit.compat.checklist import findings_for, load_checklist
from cockpit.store import StateStore


def _run(*args: str):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=ADMIN)
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_kyros_notebooks_fill_the_checklist(sim, tmp_path):
    state = str(tmp_path / "k.db")
    inventory = _run("--state", state, "inventory", "--host", sim.url, "--no-history")
    assert inventory.returncode == 0, inventory.stderr
    check = _run(
        "--state", state, "check", "--workspace", "--host", sim.url, "--record", "--format", "json"
    )
    assert check.returncode == 1, check.stderr
    data = json.loads(check.stdout)
    found = {(f["code"], f["path"]) for f in data["findings"]}
    assert ("MLF101", "/Repos/kyros/ml/churn_train/main") in found
    assert ("MLF105", "/Repos/kyros/ml/churn_train/main") in found
    assert ("MLF103", "/Repos/kyros/ml/common/mlflow_helpers") in found
    assert ("PY304", "/Repos/kyros/ml/demand_forecast/main") in found
    assert ("PY301", "/Repos/kyros/ml/feature_pipeline/main") in found
    assert ("DBR101", "/Repos/kyros/ml/recsys_train/main") in found
    assert ("PY307", "/Repos/kyros/ml/batch_score/score.py") in found
    for modern in ("fraud_score", "ltv_model", "ab_analysis", "price_elasticity", "etl_orders"):
        assert not [p for _c, p in found if f"/{modern}/" in p], modern
    assert {n["path"] for n in data["notes"] if n["kind"] == "not-python"} == {
        "/Repos/kyros/ml/data_quality/main",
        "/Repos/kyros/ml/nightly_report/main",
    }
    with StateStore.open(tmp_path / "k.db", readonly=True) as store:
        views = {v.pipeline_id: v for v in load_checklist(store)}
        assert views["job:kyros-churn-train"].owner == "maria.okafor@kyros.example"
        churn = {(f.code, f.path) for f in findings_for(store, "job:kyros-churn-train")}
        # the notebook's own findings and its %run helper's
        assert ("MLF101", "/Repos/kyros/ml/churn_train/main") in churn
        assert ("MLF103", "/Repos/kyros/ml/common/mlflow_helpers") in churn
        # model-monitor %runs the same helper: its findings are that pipeline's too
        monitor = {(f.code, f.path) for f in findings_for(store, "job:kyros-model-monitor")}
        assert ("MLF103", "/Repos/kyros/ml/common/mlflow_helpers") in monitor
