"""Safeguards: the schema watch on the old backend, and the old server never written to."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import seed

from cockpit.errors import CockpitError
from cockpit.mlflow import schema, servers
from cockpit.mlflow.rehearsal import migration_chain, steps_between
from cockpit.mlflow.schema import SchemaWatch, current_alarm
from cockpit.store import StateStore

pytestmark = pytest.mark.servers

V1_HEAD = "97727af70f4d"
V2_HEAD = "0584bdc529eb"


def test_a_newer_server_migrating_the_old_db_raises_the_alarm(mlflow_server_factory, tmp_path):
    data = tmp_path / "prod"
    old = mlflow_server_factory(servers.MLFLOW_V1, data)
    seed.call(old.url, "experiments/create", {"name": "production"})
    store = StateStore.open(tmp_path / "cockpit.db", create=True)
    alarms = []
    watch = SchemaWatch(store, old.backend_uri, on_alarm=alarms.append)
    assert watch.check().revision == V1_HEAD
    assert watch.baseline() == V1_HEAD and watch.alarm() is None
    watch.start(interval_s=0.2)
    try:
        old.stop()
        # Someone points a 2.x server at the production DB: it migrates it silently, in place.
        newer = mlflow_server_factory(servers.MLFLOW_V2, data, allow_db_upgrade=True)
        alarm = watch.wait_for_alarm(timeout=30)
    finally:
        watch.stop()
    assert alarm is not None
    # Raised at the first step of the migration (often while it is still running), not after.
    steps = [dst for _, dst in steps_between(migration_chain(servers.MLFLOW_V2), V1_HEAD, V2_HEAD)]
    assert (alarm.baseline, alarm.label) == (V1_HEAD, "old") and alarm.revision in steps
    assert schema.read_revision(data / "mlflow.db") == V2_HEAD
    assert alarms == [alarm]  # notified once, not on every poll after
    [event] = store.events(kinds=["mlflow.schema.changed"])
    assert event.payload["from"] == V1_HEAD and event.payload["to"] == alarm.revision
    assert event.payload["alarm"] is True

    # The alarm is in the state file: another process (the TUI, the gates) sees it.
    store.close()
    with StateStore.open(tmp_path / "cockpit.db", readonly=True) as viewer:
        assert current_alarm(viewer) == alarm

    # Why it matters: the 1.x release cannot serve its own database any more.
    newer.stop()
    with pytest.raises(CockpitError, match=r"which mlflow 1\.30\.1 does not know"):
        servers.start_server(servers.MLFLOW_V1, data)


def test_watch_records_baseline_once_survives_unreadable_and_acknowledges(tmp_path):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (V1_HEAD,))
    store = StateStore.create_in_memory()
    watch = SchemaWatch(store, f"sqlite:///{db}")
    assert not watch.check().changed
    marker = store.change_marker()
    total_changes = store.query_one("SELECT total_changes() AS n")["n"]
    for _ in range(3):
        assert not watch.check().changed
    # Polls that see nothing new write nothing.
    assert store.query_one("SELECT total_changes() AS n")["n"] == total_changes
    assert store.change_marker() == marker
    assert [e.kind for e in store.events(kind_prefix="mlflow.schema")] == ["mlflow.schema.baseline"]

    # A file that vanishes for a moment is reported once, and is not an alarm.
    moved = tmp_path / "aside.db"
    shutil.move(db, moved)
    first, second = watch.check(), watch.check()
    assert first.error and second.error and watch.alarm() is None
    assert len(store.events(kinds=["mlflow.schema.unreadable"])) == 1
    shutil.move(moved, db)

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (V2_HEAD,))
    assert watch.check().changed and watch.check().changed
    assert len(store.events(kinds=["mlflow.schema.changed"])) == 1
    watch.acknowledge()
    assert watch.alarm() is None and watch.baseline() == V2_HEAD
    assert not watch.check().changed


def test_reading_the_schema_never_writes(tmp_path):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (V1_HEAD,))
        conn.execute("CREATE TABLE runs (x)")
    before = schema.file_sha256(db)
    db.chmod(0o444)
    try:
        assert schema.read_revision(f"sqlite:///{db}") == V1_HEAD
        assert schema.table_counts(db) == {"alembic_version": 1, "runs": 0}
    finally:
        db.chmod(0o644)
    assert schema.file_sha256(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]  # no journal, no -wal
    # PostgreSQL and MySQL are watched too (tests/mlflow/test_db_backends.py); other engines not.
    with pytest.raises(CockpitError, match="reads sqlite:///, postgresql:// and mysql://"):
        SchemaWatch(StateStore.create_in_memory(), "mssql://u@h/mlflow")


def test_sqlite_uris():
    assert schema.sqlite_path("sqlite:////srv/mlflow/mlflow.db") == Path("/srv/mlflow/mlflow.db")
    assert schema.sqlite_path("sqlite:///mlflow.db") == Path("mlflow.db")
    assert schema.sqlite_path("sqlite:////tmp/a%20b.db?mode=ro") == Path("/tmp/a b.db")
    for bad in ("sqlite:///:memory:", "sqlite://", "postgresql://u@h/db", "/srv/mlflow.db"):
        with pytest.raises(CockpitError):
            schema.sqlite_path(bad)
    assert schema.describe_revision("0584bdc529eb") == "0584bdc529eb (MLflow 2.22 head)"
    assert schema.describe_revision(None) == "no MLflow schema"


def test_cli_relative_db_uri_is_relative_to_the_config(tmp_path, cli):
    folder = tmp_path / "project"
    folder.mkdir()
    with sqlite3.connect(folder / "prod.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (V1_HEAD,))
    (folder / "cockpit.toml").write_text(
        '[migration]\nname = "m"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        '[mlflow.old]\ntracking_uri = "http://127.0.0.1:1"\ndb_uri = "sqlite:///prod.db"\n',
        encoding="utf-8",
    )
    out = cli("--config", str(folder / "cockpit.toml"), "mlflow", "schema-watch", "--once")
    assert out.returncode == 0, out.stderr
    assert V1_HEAD in out.stdout and str(folder / "prod.db") in out.stdout


def test_cli_schema_watch(tmp_path, cli):
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (V1_HEAD,))
    uri = f"sqlite:///{db}"
    state = str(tmp_path / "cockpit.db")
    once = cli("--state", state, "mlflow", "schema-watch", "--db", uri, "--once")
    assert once.returncode == 0 and V1_HEAD in once.stdout and "1.30" in once.stdout

    # Running watch: the alarm fires (exit 1) as soon as the revision moves.
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.setdefault(
            "out", cli("--state", state, "mlflow", "schema-watch", "--db", uri, "--interval", "0.2")
        )
    )
    runner.start()
    time.sleep(3)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (V2_HEAD,))
    runner.join(60)
    out = result["out"]
    assert out.returncode == 1 and "ALARM" in out.stderr and V2_HEAD in out.stderr
    again = cli("--state", state, "mlflow", "schema-watch", "--db", uri, "--once")
    assert again.returncode == 1  # the alarm stays raised until acknowledged
    ack = cli("--state", state, "mlflow", "schema-watch", "--db", uri, "--acknowledge")
    assert ack.returncode == 0 and V2_HEAD in ack.stdout
    assert cli("--state", state, "mlflow", "schema-watch", "--db", uri, "--once").returncode == 0
    never = str(tmp_path / "never.db")
    bad = cli("--state", never, "mlflow", "schema-watch", "--db", "mssql://h/db", "--once")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert not (tmp_path / "never.db").exists()
    # A database server that does not answer: one line, exit 3, still no state file.
    down = "mysql+pymysql://u:pw-not-shown@127.0.0.1:9/db"
    gone = cli("--state", never, "mlflow", "schema-watch", "--db", down, "--once")
    assert gone.returncode == 3 and gone.stderr.count("\n") == 1, gone.stderr
    assert "pw-not-shown" not in gone.stderr and "Traceback" not in gone.stderr
    assert not (tmp_path / "never.db").exists()


def test_no_write_request_from_the_cockpit_reaches_the_old_server(
    mlflow_server_factory, mlflow_v2, tmp_path, cli
):
    """Status, sync and verify against a real 1.30.1 server: its own access log shows reads only."""
    old = mlflow_server_factory(servers.MLFLOW_V1)
    name = f"readonly-proof-{time.time_ns()}"
    exp = seed.call(old.url, "experiments/create", {"name": name})["experiment_id"]
    for i in range(3):
        run = seed.call(old.url, "runs/create", {"experiment_id": exp, "start_time": 1000 + i})[
            "run"
        ]
        rid = run["info"]["run_id"]
        seed.call(
            old.url, "runs/log-metric", {"run_id": rid, "key": "m", "value": i, "timestamp": 1}
        )
        seed.call(old.url, "runs/set-tag", {"run_id": rid, "key": "t", "value": "v"})
    seed.call(old.url, "registered-models/create", {"name": f"{name}-model"})
    seeded = old.access_mark()

    (tmp_path / "cockpit.toml").write_text(
        "[migration]\n"
        'name = "read-only proof"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[mlflow.old]\ntracking_uri = "{old.url}"\ndb_uri = "{old.backend_uri}"\n'
        f'[mlflow.new]\ntracking_uri = "{mlflow_v2.url}"\n',
        encoding="utf-8",
    )
    for args in (
        ["mlflow", "status", "--experiment", name],
        ["mlflow", "sync", "--experiment", name, "--yes"],
        ["mlflow", "verify", "--experiment", name],
        ["mlflow", "rehearse-db-upgrade", "--to", servers.MLFLOW_V2],
        ["mlflow", "schema-watch", "--once"],
    ):
        out = cli(*args, cwd=tmp_path)
        assert out.returncode == 0, (args, out.stdout[-2000:], out.stderr[-2000:])
    old.access_mark()  # gunicorn writes its access log line after the response
    during = old.access_records(since=seeded)
    assert any(r.path.endswith("/runs/search") for r in during)  # the cockpit did read it...
    assert old.write_requests(since=seeded) == []  # ...and wrote nothing
    assert len(old.write_requests()) >= 8  # (while the seeding writes are in the same log)
    assert schema.read_revision(old.backend_db_path) == V1_HEAD
