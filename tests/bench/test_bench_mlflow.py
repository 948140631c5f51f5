"""MLflow metrics from real old (1.x) and new (2.x) servers become benchmark samples."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from cockpit.bench.data import compare_store, load_samples, runtimes_compared, stats_key
from cockpit.store import StateStore

API = "/api/2.0/mlflow"
T0 = 1_790_000_000_000  # ms


def post(url: str, path: str, body: dict) -> dict:
    resp = requests.post(url + API + path, json=body, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json() if resp.content else {}


def seed(url: str, experiment: str, aucs: list[float], *, unfinished: bool = True) -> None:
    """Training runs written over plain REST (independent of the adapter under test)."""
    exp_id = post(url, "/experiments/create", {"name": experiment})["experiment_id"]
    for i, auc in enumerate(aucs):
        run = post(url, "/runs/create", {"experiment_id": exp_id, "start_time": T0 + i * 60_000})
        run_id = run["run"]["info"]["run_id"]
        metrics = [
            {"key": "auc", "value": auc, "timestamp": T0 + i * 60_000, "step": 0},
            {"key": "train_seconds", "value": 600.0 + i, "timestamp": T0 + i * 60_000, "step": 0},
        ]
        post(url, "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
        post(
            url,
            "/runs/update",
            {"run_id": run_id, "run_uuid": run_id, "status": "FINISHED", "end_time": T0 + 1},
        )
    if unfinished:  # a run still going must not count
        post(url, "/runs/create", {"experiment_id": exp_id, "start_time": T0})


def write_config(tmp_path: Path, old_url: str, new_url: str, experiment: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
[migration]
name = "Kyros"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[mlflow.old]
tracking_uri = "{old_url}"

[mlflow.new]
tracking_uri = "{new_url}"

[benchmarks.pipelines.kyros-churn-train]
experiment = "{experiment}"
metrics = [{{ name = "auc", direction = "higher" }}, {{ name = "train_seconds", unit = "s" }}]

[state]
path = "state.db"
""",
        encoding="utf-8",
    )
    return path


def test_collect_reads_both_servers_and_judges_auc_higher_is_better(
    tmp_path: Path, bench_mlflow_old, bench_mlflow_new, cli
):
    experiment = "kyros-churn-train-bench"
    # AUC drops by ~15% on the new runtime: for a higher-is-better metric that is a regression.
    seed(bench_mlflow_old.url, experiment, [0.84, 0.85, 0.845, 0.842, 0.848, 0.851])
    seed(bench_mlflow_new.url, experiment, [0.71, 0.72, 0.715, 0.712, 0.718, 0.721])
    config = write_config(tmp_path, bench_mlflow_old.url, bench_mlflow_new.url, experiment)

    first = cli("--config", str(config), "bench", "collect")
    assert first.returncode == 0, first.stderr
    assert "24 new samples" in first.stdout  # 6 finished runs x 2 metrics x 2 servers
    again = cli("--config", str(config), "bench", "collect")
    assert again.returncode == 0 and "0 new samples" in again.stdout
    as_json = cli("bench", "collect", "--config", str(config), "--format", "json")
    body = json.loads(as_json.stdout)
    assert body["cockpit"]["command"] == "bench collect" and body["added"] == 0
    assert body["runs_seen"] and "0 new samples" in as_json.stderr

    with StateStore.open(tmp_path / "state.db", readonly=True) as store:
        samples = load_samples(store)
        assert set(samples["origin"]) == {"mlflow:old", "mlflow:new"}
        # The statistics were computed once, after both servers, and stored for the samples
        # as they stand (the readers below need no numpy or scipy).
        key = stats_key(store, *runtimes_compared(store, None), None)
        assert store.query_one("SELECT 1 AS x FROM bench_stats WHERE samples_key = ?", (key,))
        verdicts = {c.metric: c for c in compare_store(store, None)}
    assert verdicts["auc"].direction == "higher" and verdicts["auc"].verdict == "regression"
    assert verdicts["train_seconds"].verdict == "no change"
    # The old server was only read: its own access log shows no write from the cockpit.
    writes = [r for r in bench_mlflow_old.access_records() if r.is_write]
    assert len(writes) == 1 + 6 * 3 + 1  # exactly the seed's own requests

    report = cli("--config", str(config), "bench", "report", "--format", "json")
    assert report.returncode == 1  # the AUC regression is a finding
    assert {c["metric"] for c in json.loads(report.stdout)["comparisons"]} == {
        "auc",
        "train_seconds",
    }


def test_collect_needs_a_config_and_reports_missing_experiments(
    tmp_path: Path, bench_mlflow_old, bench_mlflow_new, cli
):
    no_config = cli("--state", str(tmp_path / "x.db"), "bench", "collect", cwd=tmp_path)
    assert no_config.returncode == 2 and "cockpit.toml" in no_config.stderr
    config = write_config(tmp_path, bench_mlflow_old.url, bench_mlflow_new.url, "nowhere-exp")
    result = cli("--config", str(config), "bench", "collect")
    assert result.returncode == 0, result.stderr
    assert "not on the old server" in result.stdout and "0 new samples" in result.stdout
    unknown = cli("--config", str(config), "bench", "collect", "nope")
    assert unknown.returncode == 2 and "not under [benchmarks.pipelines]" in unknown.stderr


def test_unreachable_server_is_one_line_and_exit_3(tmp_path: Path, cli):
    # The discard port: nothing listens there. A free port picked now could be taken by another
    # worker's server during the ~30 s the client retries it.
    dead = "http://127.0.0.1:9"
    config = write_config(tmp_path, dead, dead, "kyros")
    result = cli("--config", str(config), "bench", "collect")
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
