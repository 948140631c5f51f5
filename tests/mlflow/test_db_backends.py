"""MLflow on real PostgreSQL and MariaDB backends: the cockpit reads the old store directly,
strictly read-only, and a dump of it before and after is byte-identical."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import seed
from cockpit_cli import run_cockpit

from cockpit.mlflow import dbtools, schema, servers, venvs
from cockpit.mlflow.servers import MLFLOW_V1, MLFLOW_V2

pytestmark = pytest.mark.servers


V1_HEAD = "97727af70f4d"


def _config(path: Path, old, new, old_db: str) -> Path:
    path.write_text(
        f"""
[migration]
name = "db backends"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old.url}"
db_uri = "{old_db}"
[mlflow.new]
tracking_uri = "{new.url}"
""",
        encoding="utf-8",
    )
    return path


def test_sync_twice_verify_status_on_a_database_server_leave_the_old_store_identical(
    db_server, make_database, mlflow_server_factory, tmp_path
):
    old_db = make_database(db_server, "old")
    new_db = make_database(db_server, "new")
    old = mlflow_server_factory(MLFLOW_V1, backend_uri=old_db)
    new = mlflow_server_factory(MLFLOW_V2, backend_uri=new_db)
    assert old.backend_uri == old_db
    seeded = seed.rich(old.url, f"db-{db_server.kind}-{uuid.uuid4().hex[:6]}", history_steps=300)
    config = _config(tmp_path / "cockpit.toml", old, new, old_db)
    dump_before = db_server.dump(old_db.rsplit("/", 1)[1])
    assert b"CREATE TABLE" in dump_before and V1_HEAD.encode() in dump_before

    shown = dbtools.parse(old_db).display
    planned = run_cockpit(config, "mlflow", "sync", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert f"metric histories from {shown} (read-only)" in planned.stdout
    first = run_cockpit(config, "mlflow", "sync", "--yes")
    assert first.returncode == 0, first.stderr[-2000:]
    runs = len(seeded.runs)
    assert (
        f"metric histories: {runs} runs from the old backend database, 0 over REST" in first.stdout
    )
    second = run_cockpit(config, "mlflow", "sync", "--yes")
    assert second.returncode == 0, second.stderr[-2000:]
    assert "nothing to copy: the new server already has everything" in second.stdout, second.stdout

    checked = run_cockpit(config, "mlflow", "verify", "--format", "json")
    assert checked.returncode == 0, checked.stdout[-3000:]
    report = json.loads(checked.stdout)
    assert report["differences"] == [] and report["runs"] >= runs
    assert f"old metric histories from {shown} (read-only)" in report["histories"]

    status = run_cockpit(config, "mlflow", "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["old_schema"] == V1_HEAD
    watch = run_cockpit(config, "mlflow", "schema-watch", "--once")
    assert watch.returncode == 0 and f"{shown}: {V1_HEAD}" in watch.stdout, watch.stderr

    # Schema and every row of the old store: byte for byte what it was.
    assert db_server.dump(old_db.rsplit("/", 1)[1]) == dump_before


def test_the_database_itself_refuses_a_write_through_the_cockpits_connection(
    db_server, make_database, mlflow_server_factory
):
    uri = make_database(db_server, "ro")
    mlflow_server_factory(MLFLOW_V1, backend_uri=uri).stop()  # an MLflow 1.x schema
    before = db_server.dump(uri.rsplit("/", 1)[1])
    with dbtools.ReadOnlyDB(uri) as db:
        assert dbtools.read_revision(db) == V1_HEAD
        assert dbtools.table_counts(db)["experiments"] == 1  # the Default experiment
        for sql in (
            "UPDATE alembic_version SET version_num = 'x'",
            "DELETE FROM experiments",
            "CREATE TABLE intruder (x INT)",
        ):
            with pytest.raises(dbtools.DatabaseError, match=r"(?i)read.only"):
                db.execute_write_for_test(sql)
    assert schema.read_revision(uri) == V1_HEAD
    assert db_server.dump(uri.rsplit("/", 1)[1]) == before


def test_a_database_uri_never_leaks_its_password():
    uri = "postgresql://mlflow:s3cr3t-pw@db.internal:5432/mlflow"
    parsed = dbtools.parse(uri)
    assert parsed.display == "postgresql://mlflow@db.internal:5432/mlflow"
    assert "s3cr3t-pw" not in schema.display_uri(uri)
    with pytest.raises(dbtools.DatabaseError) as caught:
        dbtools.ReadOnlyDB("postgresql://mlflow:s3cr3t-pw@127.0.0.1:9/mlflow")
    assert "s3cr3t-pw" not in caught.value.message and "\n" not in caught.value.message
    for bad, why in (
        ("mssql://u@h/db", "reads sqlite:///"),
        ("postgresql://u@h", "names no database"),
        ("", "empty"),
    ):
        with pytest.raises(dbtools.CockpitError, match=why):
            dbtools.parse(bad)


def test_cli_servers_start_on_postgresql_and_the_in_place_migration_guard(
    postgres_server, make_database, cli, tmp_path
):
    uri = make_database(postgres_server, "cli")
    data = tmp_path / "v1"
    started = cli(
        "servers", "start", MLFLOW_V1, "--data", str(data), "--backend-store-uri", uri, "--detach"
    )
    assert started.returncode == 0, started.stderr
    assert f"backend   {uri}" in started.stdout
    handle = servers.attach(data)
    assert handle is not None and handle.backend_uri == uri
    try:
        exp = seed.call(handle.url, "experiments/create", {"name": "on-postgres"})["experiment_id"]
        with dbtools.ReadOnlyDB(uri) as db:
            rows = db.rows("SELECT name FROM experiments WHERE experiment_id = :e", {"e": int(exp)})
        assert rows == [("on-postgres",)]
        # A 2.x server on the same 1.x database would migrate it in place: refused, untouched.
        before = postgres_server.dump(uri.rsplit("/", 1)[1])
        refused = cli(
            "servers", "start", MLFLOW_V2, "--data", str(tmp_path / "v2"),
            "--backend-store-uri", uri,
        )  # fmt: skip
        assert refused.returncode == 2 and "would migrate it in place" in refused.stderr
        assert refused.stderr.count("\n") == 1
        assert postgres_server.dump(uri.rsplit("/", 1)[1]) == before
    finally:
        assert cli("servers", "stop", "--data", str(data)).returncode == 0


def test_a_server_venv_without_the_drivers_gets_them_added_in_place():
    """The venv's package set is part of its marker: an install made before the database
    drivers were added is completed in place (never rebuilt under running servers)."""
    venv = servers.venv_dir(MLFLOW_V1)
    servers.install(MLFLOW_V1)
    marker_path = venv / servers.MARKER
    marker = json.loads(marker_path.read_text())
    assert set(marker["drivers"]) == set(venvs.DRIVERS)
    python_before = (venv / "pyvenv.cfg").stat().st_ino
    with servers.install_lock(MLFLOW_V1):
        stale = {k: v for k, v in marker.items() if k != "drivers"}
        marker_path.write_text(json.dumps(stale))
    assert servers.installed(MLFLOW_V1) is None  # the drivers are not recorded: not complete
    said: list[str] = []
    done = servers.install(MLFLOW_V1, progress=said.append)
    assert done is not None and done.path == venv
    assert any("adding psycopg2-binary" in line for line in said), said
    assert not any("installing mlflow==" in line for line in said)  # not rebuilt
    assert (venv / "pyvenv.cfg").stat().st_ino == python_before
    assert set(json.loads(marker_path.read_text())["drivers"]) == set(venvs.DRIVERS)
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import psycopg2, pymysql"], capture_output=True
    )
    assert check.returncode == 0, check.stderr
