"""The DB-upgrade rehearsal on real PostgreSQL and MariaDB stores: dump into a scratch database,
per-step timings, an index/constraint audit against a fresh schema, and a foreign revision found
before anything runs. The original's dump is byte-identical before and after."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import seed

from cockpit.mlflow import dbtools
from cockpit.mlflow.servers import MLFLOW_V1, MLFLOW_V2

pytestmark = pytest.mark.servers

V1_HEAD = "97727af70f4d"
V2_HEAD = "0584bdc529eb"


def _rehearse(state: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--state", str(state), "mlflow", "rehearse-db-upgrade",
         "--to", MLFLOW_V2, "--format", "json", *args],
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _v1_store(server, make_database, mlflow_server_factory, label: str) -> str:
    """A database a real 1.30.1 server set up and filled (runs, metrics, a model)."""
    uri = make_database(server, label)
    handle = mlflow_server_factory(MLFLOW_V1, backend_uri=uri)
    seed.bulk(handle.url, f"rehearse-{uuid.uuid4().hex[:6]}", 6, steps=20, artifact=False)
    seed.call(handle.url, "registered-models/create", {"name": f"m-{uuid.uuid4().hex[:6]}"})
    handle.stop()
    return uri


def _db(uri: str) -> str:
    return uri.rsplit("/", 1)[1]


def test_rehearsal_on_a_database_server_upgrades_only_a_scratch_copy(
    db_server, make_database, mlflow_server_factory, tmp_path
):
    uri = _v1_store(db_server, make_database, mlflow_server_factory, "reh")
    before = db_server.dump(_db(uri))
    databases = db_server.databases()
    out = _rehearse(tmp_path / "s.db", "--db", uri)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    assert result["clean"] and result["backend"] == db_server.kind
    assert (result["revision_before"], result["revision_after"]) == (V1_HEAD, V2_HEAD)
    assert len(result["pending"]) == len(result["migrations"]) == 9
    assert result["pending"] == result["migrations"]
    assert len(result["step_seconds"]) == 9 and all(t >= 0 for t in result["step_seconds"])
    assert result["audited"] and result["audit"] == []
    assert result["copy_s"] > 0 and result["audit_s"] > 0
    assert result["foreign_revisions"] == []
    for table in ("experiments", "runs", "params", "metrics", "registered_models"):
        assert result["row_counts_after"][table] == result["row_counts_before"][table] > 0
    assert result["row_counts_before"]["metrics"] == 6 * 3 * 20
    # The scratch copy was dropped; the original is byte-identical (schema and every row).
    assert not result["scratch_kept"] and _db(uri) in result["source_uri"]
    assert db_server.databases() == databases
    assert db_server.dump(_db(uri)) == before
    assert result["source_unchanged"]


def test_a_foreign_alembic_revision_is_a_finding_before_anything_runs(
    postgres_server, make_database, tmp_path
):
    """Another tool keeps its alembic revision in the same database (mlflow#6166, #2923)."""
    uri = make_database(postgres_server, "foreign")
    name = _db(uri)
    postgres_server.sql(
        "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);"
        "INSERT INTO alembic_version VALUES ('1f2e3d4c5b6a');"
        "CREATE TABLE experiments (experiment_id INT PRIMARY KEY, name TEXT)",
        name,
    )
    before = postgres_server.dump(name)
    databases = postgres_server.databases()
    out = _rehearse(tmp_path / "s.db", "--db", uri)
    assert out.returncode == 1, out.stderr
    result = json.loads(out.stdout)
    assert result["foreign_revisions"] == ["1f2e3d4c5b6a"] and not result["clean"]
    assert "foreign alembic revision" in result["error"]
    assert "nothing was copied or upgraded" in result["error"]
    assert result["migrations"] == [] and result["row_counts_before"] == {}
    assert postgres_server.databases() == databases  # no scratch database was even made
    assert postgres_server.dump(name) == before
    table = subprocess.run(
        [sys.executable, "-m", "cockpit", "--state", str(tmp_path / "s.db"), "mlflow",
         "rehearse-db-upgrade", "--to", MLFLOW_V2, "--db", uri],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert table.returncode == 1 and "foreign alembic revision" in table.stdout
    assert "Traceback" not in table.stderr
    # The gate reads it: not rehearsed cleanly.
    gates = subprocess.run(
        [sys.executable, "-m", "cockpit", "--state", str(tmp_path / "s.db"), "gates",
         "--format", "json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    gate = next(g for g in json.loads(gates.stdout)["gates"] if g["id"] == "db-rehearsal")
    assert gate["status"] == "fail" and "foreign alembic revision" in gate["evidence"]


def test_the_audit_reports_an_index_the_upgraded_schema_lacks(
    postgres_server, make_database, mlflow_server_factory, tmp_path
):
    """A store that lost an index (mlflow#14465: metric queries at 20 s) upgrades "fine"; the
    audit against a fresh 2.22.5 schema says what is missing. --keep keeps the scratch copy."""
    uri = _v1_store(postgres_server, make_database, mlflow_server_factory, "audit")
    name = _db(uri)
    indexes = postgres_server.sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
        "AND indexname LIKE 'index_%' ORDER BY indexname",
        name,
    ).split()
    assert indexes, "MLflow 1.30.1 creates named indexes"
    victim = indexes[0]
    postgres_server.sql(f'DROP INDEX "{victim}"', name)
    scratch = f"{name}_scr"
    out = _rehearse(
        tmp_path / "s.db", "--db", uri, "--scratch", uri.rsplit("/", 1)[0] + "/" + scratch, "--keep"
    )
    try:
        assert out.returncode == 1, out.stderr[-3000:]
        result = json.loads(out.stdout)
        assert result["ok"] and not result["clean"] and result["audited"]
        assert result["revision_after"] == V2_HEAD
        assert any(line.startswith(f"missing index {victim} on ") for line in result["audit"]), (
            result["audit"]
        )
        assert result["scratch_kept"] and scratch in postgres_server.databases()
        with dbtools.ReadOnlyDB(uri.rsplit("/", 1)[0] + "/" + scratch) as db:
            assert dbtools.read_revision(db) == V2_HEAD
    finally:
        postgres_server.drop_database(scratch)
