"""DB-upgrade rehearsal on real 1.30.1 / 2.22.5 backends, upgraded by the target's own venv."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time

import pytest
import seed

from cockpit.errors import CockpitError
from cockpit.mlflow import schema, servers
from cockpit.mlflow.rehearsal import load_rehearsals, rehearse_db_upgrade
from cockpit.store import StateStore

pytestmark = pytest.mark.servers

V1_HEAD = "97727af70f4d"
V2_HEAD = "0584bdc529eb"
V3_HEAD = "dc11669786a5"


def populate(url: str, tag: str) -> dict[str, int]:
    """Experiments, runs (params, metrics, tags, one deleted), a model with a version."""
    now = int(time.time() * 1000)
    exp = seed.call(url, "experiments/create", {"name": f"rehearsal-{tag} ünïcode"})[
        "experiment_id"
    ]
    run_ids = []
    for i in range(3):
        run = seed.call(url, "runs/create", {"experiment_id": exp, "start_time": now + i})["run"]
        rid = run["info"]["run_id"]
        run_ids.append(rid)
        seed.call(
            url,
            "runs/log-batch",
            {
                "run_id": rid,
                "params": [{"key": f"p{k}", "value": str(k)} for k in range(5)],
                "metrics": [
                    {"key": "loss", "value": 1.0 / (s + 1), "timestamp": now + s, "step": s}
                    for s in range(20)
                ],
                "tags": [{"key": "team", "value": "kyros"}],
            },
        )
        seed.call(url, "runs/update", {"run_id": rid, "status": "FINISHED", "end_time": now + 99})
    seed.call(url, "runs/delete", {"run_id": run_ids[-1]})
    model = f"rehearsal-model-{tag}"
    seed.call(url, "registered-models/create", {"name": model})
    seed.call(
        url,
        "model-versions/create",
        {"name": model, "source": f"runs:/{run_ids[0]}/model", "run_id": run_ids[0]},
    )
    return {"runs": 3, "params": 15, "metrics": 60}


@pytest.fixture(scope="module")
def v1_backend(tmp_path_factory):
    """A real 1.30.1 backend with data, its server still running (as in production)."""
    servers.install(servers.MLFLOW_V1)
    handle = servers.start_server(servers.MLFLOW_V1, tmp_path_factory.mktemp("v1-backend"))
    try:
        populate(handle.url, "v1")
        yield handle
    finally:
        handle.stop()


def test_rehearsal_1_to_2_upgrades_only_a_copy(v1_backend, tmp_path):
    original = v1_backend.backend_db_path
    before = schema.file_sha256(original)
    store = StateStore.create_in_memory()
    kept = tmp_path / "upgraded.db"
    result = rehearse_db_upgrade(store, v1_backend.backend_uri, servers.MLFLOW_V2, keep_copy=kept)

    assert result.ok and result.clean, result.error
    assert (result.revision_before, result.revision_after) == (V1_HEAD, V2_HEAD)
    assert len(result.migrations) == 9
    assert result.migrations[0][0] == V1_HEAD and result.migrations[-1][1] == V2_HEAD
    assert 0 < result.duration_s < 120
    for table in ("experiments", "runs", "params", "metrics", "tags", "model_versions"):
        assert result.row_counts_after[table] == result.row_counts_before[table] > 0
    assert result.row_counts_before["runs"] == 3 and result.row_counts_before["params"] == 15
    assert "latest_metrics" in result.row_counts_after
    assert result.rows_lost() == []

    # The original: byte for byte unchanged, still 1.x, and its 1.x server still serves it.
    assert schema.file_sha256(original) == before == result.source_sha256
    assert result.source_unchanged
    assert schema.read_revision(original) == V1_HEAD
    assert seed.call(v1_backend.url, "experiments/search", {"max_results": 10})["experiments"]

    # The kept copy is the upgraded one.
    assert result.copy_path == str(kept.resolve())
    assert schema.read_revision(kept) == V2_HEAD

    # Recorded: a row and an event the cutover gate reads.
    [loaded] = load_rehearsals(store)
    assert loaded == result
    [event] = store.events(kind_prefix="mlflow.rehearsal")
    assert event.kind == "mlflow.rehearsal.finished"
    assert event.payload["ok"] is True and event.payload["to_version"] == "2.22.5"
    assert event.payload["revision_after"] == V2_HEAD and event.payload["migrations"] == 9


def test_rehearsal_2_to_3_and_a_failed_upgrade_is_recorded(tmp_path):
    store = StateStore.create_in_memory()
    # A backend made by a real 2.22.5 server (as the new server's would be), with an experiment.
    handle = servers.start_server(servers.MLFLOW_V2, tmp_path / "v2data")
    try:
        seed.call(handle.url, "experiments/create", {"name": "made-by-2.22.5"})
    finally:
        handle.stop()
    v2_db = handle.backend_db_path
    assert schema.read_revision(v2_db) == V2_HEAD
    result = rehearse_db_upgrade(store, f"sqlite:///{v2_db}", servers.MLFLOW_V3)
    assert result.clean, result.error
    assert (result.revision_before, result.revision_after) == (V2_HEAD, V3_HEAD)
    # 3.x logs no steps; they come from the release's own migration files.
    assert len(result.migrations) > 30 and result.migrations[-1][1] == V3_HEAD
    assert result.migrations[0][0] == V2_HEAD and result.copy_path is None
    assert schema.read_revision(v2_db) == V2_HEAD

    # A revision no release knows: the upgrade fails, and that is a recorded finding.
    broken = tmp_path / "broken.db"
    shutil.copy(v2_db, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'deadbeef0000'")
    failed = rehearse_db_upgrade(store, f"sqlite:///{broken}", servers.MLFLOW_V3)
    assert not failed.ok and not failed.clean
    assert failed.error and "\n" not in failed.error
    assert failed.row_counts_after == {} and failed.source_unchanged
    kinds = [e.kind for e in store.events(kind_prefix="mlflow.rehearsal")]
    assert kinds == ["mlflow.rehearsal.finished", "mlflow.rehearsal.failed"]


def test_bad_inputs_are_one_line_errors(tmp_path):
    store = StateStore.create_in_memory()
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello")
    not_mlflow = tmp_path / "other.db"
    with sqlite3.connect(not_mlflow) as conn:
        conn.execute("CREATE TABLE t (x)")
    cases = [
        # PostgreSQL/MySQL are rehearsed too (test_rehearsal_db.py); other engines are refused.
        ("mssql://u@h/db", "2.22.5", "reads sqlite:///, postgresql:// and mysql://"),
        ("postgresql://u:pw-never-shown@127.0.0.1:9/db", "2.22.5", "cannot read"),
        (f"sqlite:///{tmp_path / 'missing.db'}", "2.22.5", "no backend database"),
        (f"sqlite:///{not_sqlite}", "2.22.5", "not a SQLite database"),
        (f"sqlite:///{not_mlflow}", "2.22.5", "not an MLflow backend"),
        (f"sqlite:///{not_mlflow}", "latest", "not an exact MLflow release"),
    ]
    for uri, version, words in cases:
        with pytest.raises(CockpitError) as err:
            rehearse_db_upgrade(store, uri, version)
        assert words in err.value.message and "\n" not in err.value.message
        assert "pw-never-shown" not in err.value.message
    assert load_rehearsals(store) == []


def test_cli_rehearse_json_and_exit_codes(v1_backend, tmp_path, cli):
    state = tmp_path / "cockpit.db"
    copy_src = tmp_path / "snapshot.db"
    shutil.copy(v1_backend.backend_db_path, copy_src)
    out = cli(
        "--state", str(state), "mlflow", "rehearse-db-upgrade",
        "--db", f"sqlite:///{copy_src}", "--to", "2.22.5", "--format", "json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["clean"] and data["revision_after"] == V2_HEAD and data["rows_lost"] == []
    table = cli(
        "--state", str(state), "mlflow", "rehearse-db-upgrade",
        "--db", f"sqlite:///{copy_src}", "--to", "2.22.5",
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "clean" in table.stdout and "97727af70f4d" in table.stdout and "runs" in table.stdout
    with StateStore.open(state, readonly=True) as store:
        assert len(load_rehearsals(store)) == 2

    bad = cli(
        "--state", str(tmp_path / "never.db"), "mlflow", "rehearse-db-upgrade",
        "--db", "mssql://x/y", "--to", "2.22.5",
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    assert not (tmp_path / "never.db").exists()
    # A MySQL store that does not answer: exit 3 (unreachable), one line, still no state file.
    down = cli(
        "--state", str(tmp_path / "never.db"), "mlflow", "rehearse-db-upgrade",
        "--db", "mysql+pymysql://u@127.0.0.1:9/y", "--to", "2.22.5",
    )  # fmt: skip
    assert down.returncode == 3, down.stderr
    assert down.stderr.count("\n") == 1 and "Traceback" not in down.stderr
    assert not (tmp_path / "never.db").exists()
    missing = cli(
        "--state", str(tmp_path / "never.db"), "mlflow", "rehearse-db-upgrade", "--to", "2.22.5"
    )
    assert missing.returncode == 2 and "db_uri" in missing.stderr


def test_rehearsal_of_a_backend_its_server_keeps_writing_to(v1_backend):
    """Production keeps logging during the rehearsal: the copy is a consistent snapshot and the
    rehearsal is clean even though the original's bytes change under it."""
    exp = seed.call(v1_backend.url, "experiments/create", {"name": f"live-{time.time_ns()}"})
    run = seed.call(
        v1_backend.url, "runs/create", {"experiment_id": exp["experiment_id"], "start_time": 1}
    )["run"]["info"]["run_id"]
    stop = threading.Event()
    written = []

    def writer() -> None:
        step = 0
        while not stop.is_set():
            body = {"run_id": run, "key": "live", "value": step, "timestamp": 1, "step": step}
            seed.call(v1_backend.url, "runs/log-metric", body)
            written.append(step)
            step += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 5:
            time.sleep(0.05)
        store = StateStore.create_in_memory()
        result = rehearse_db_upgrade(store, v1_backend.backend_uri, servers.MLFLOW_V2)
    finally:
        stop.set()
        thread.join(30)
    assert result.clean, result.error
    assert result.revision_after == V2_HEAD and result.rows_lost() == []
    # Every row of the snapshot survived the upgrade; the original meanwhile kept growing.
    snap_metrics = result.row_counts_before["metrics"]
    assert result.row_counts_after["metrics"] == snap_metrics
    assert schema.table_counts(v1_backend.backend_db_path)["metrics"] >= snap_metrics
    assert schema.read_revision(v1_backend.backend_db_path) == V1_HEAD
    [event] = store.events(kind_prefix="mlflow.rehearsal")
    assert event.kind == "mlflow.rehearsal.finished" and event.payload["ok"] is True
