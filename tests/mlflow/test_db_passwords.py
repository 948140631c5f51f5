"""A backend password never appears on a command line: every user of the machine can read one
(``ps``, ``/proc/<pid>/cmdline``). The MLflow server gets its backend URI through
``MLFLOW_BACKEND_STORE_URI``; ``mlflow db upgrade`` and the fresh-schema script get a URI without
the password, which travels as ``PGPASSWORD`` (PostgreSQL) or in an option file only the user can
read (MySQL/MariaDB, PyMySQL's ``read_default_file``)."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest
import seed

from cockpit.mlflow import dbtools, rehearsal, schema, servers
from cockpit.mlflow.servers import MLFLOW_V1, MLFLOW_V2

pytestmark = pytest.mark.servers


def _group_cmdlines(pgid: int) -> list[bytes]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            # The process group is the 5th field, after the ")" that ends the command name.
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                found.append((proc / "cmdline").read_bytes())
        except (OSError, ValueError, IndexError):
            continue
    return found


def _user_with_password(db_server, uri: str) -> tuple[str, str]:
    """A login of its own for the database of ``uri``, with a password; its URI and password."""
    name = uri.rsplit("/", 1)[1]
    user, password = f"pw{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    if db_server.kind == "postgresql":
        db_server.sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        db_server.sql(f'ALTER DATABASE "{name}" OWNER TO {user}')
        return f"postgresql://{user}:{password}@127.0.0.1:{db_server.port}/{name}", password
    db_server.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
    db_server.sql(f"GRANT ALL ON `{name}`.* TO '{user}'@'%'")
    return f"mysql+pymysql://{user}:{password}@127.0.0.1:{db_server.port}/{name}", password


def test_no_password_on_the_command_line_of_the_server_or_of_db_upgrade(
    db_server, make_database, mlflow_server_factory, tmp_path
):
    uri, password = _user_with_password(db_server, make_database(db_server, "pw"))
    server = mlflow_server_factory(MLFLOW_V1, backend_uri=uri)
    seed.Writer(server.url).experiment(f"pw {uuid.uuid4().hex[:6]}")  # the store works
    cmdlines = _group_cmdlines(server.pid)
    # The supervisor, `mlflow server`, gunicorn's arbiter and its workers.
    assert len(cmdlines) >= 4, cmdlines
    assert any(b"mlflow" in c and b"server" in c for c in cmdlines)
    for cmdline in cmdlines:
        assert password.encode() not in cmdline, cmdline
    server.stop()
    assert schema.read_revision(uri) == "97727af70f4d"

    # `mlflow db upgrade` (what the rehearsal runs on its scratch copy), watched while it runs.
    seen: list[bytes] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if b"\0db\0upgrade\0" in cmdline and cmdline not in seen:
                    seen.append(cmdline)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = rehearsal.timed_upgrade(MLFLOW_V2, uri, timeout_s=600, cwd=tmp_path)
    finally:
        done.set()
        watcher.join()
    # MariaDB checks the password of this login (PostgreSQL's test server trusts 127.0.0.1), so
    # there the upgrade succeeding proves the option file carried it.
    assert result.ok, result.error
    assert schema.read_revision(uri) != "97727af70f4d"
    assert seen, "the db upgrade process was never seen"
    for cmdline in seen:
        assert password.encode() not in cmdline, cmdline
    with dbtools.parse(uri).for_command_line() as (cli_uri, env):
        assert password not in cli_uri
        if db_server.kind == "postgresql":
            assert env == {"PGPASSWORD": password}
        else:
            option_file = Path(unquote(cli_uri.split("read_default_file=", 1)[1]))
            assert option_file.stat().st_mode & 0o077 == 0
            assert password in option_file.read_text()
    assert db_server.kind == "postgresql" or not option_file.exists()


def test_a_wrong_mariadb_password_is_refused_so_the_option_file_matters(
    mariadb_server, make_database
):
    uri, password = _user_with_password(mariadb_server, make_database(mariadb_server, "pwx"))
    with pytest.raises(dbtools.DatabaseError) as caught:
        dbtools.ReadOnlyDB(uri.replace(password, "wrong-password"))
    assert "wrong-password" not in caught.value.message
    with dbtools.ReadOnlyDB(uri) as db:
        assert db.rows("SELECT 1")


def test_cli_servers_start_takes_the_uri_from_the_environment_and_an_s3_artifact_root(
    mariadb_server, make_database, s3_store, cli, tmp_path
):
    uri, password = _user_with_password(mariadb_server, make_database(mariadb_server, "pwcli"))
    bucket = s3_store.bucket("cli")
    data = tmp_path / "v1"
    started = cli(
        "servers", "start", MLFLOW_V1, "--data", str(data), "--detach",
        "--default-artifact-root", f"s3://{bucket}/cli-root",
        env={"MLFLOW_BACKEND_STORE_URI": uri},
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert password not in started.stdout + started.stderr
    assert f"artifacts s3://{bucket}/cli-root" in started.stdout
    handle = servers.attach(data)
    assert handle is not None
    try:
        writer = seed.Writer(handle.url)
        info = writer.run(writer.experiment("from env"), "r", start=seed.T0)
        assert info["artifact_uri"].startswith(f"s3://{bucket}/cli-root/")
        with dbtools.ReadOnlyDB(uri) as db:  # the store is in MariaDB, reached with the password
            assert ("from env",) in db.rows("SELECT name FROM experiments")
        cmdlines = _group_cmdlines(handle.pid)
        assert len(cmdlines) >= 4
        assert all(password.encode() not in c for c in cmdlines)
        # Given on the command line instead, the password is named as visible there.
        again = cli("servers", "start", MLFLOW_V1, "--data", str(data), "--backend-store-uri", uri)
        assert again.returncode == 2 and "already serves" in again.stderr
        assert "every user can read (ps); pass the URI in MLFLOW_BACKEND_STORE_URI" in again.stderr
        assert password not in again.stderr
    finally:
        assert cli("servers", "stop", "--data", str(data)).returncode == 0
