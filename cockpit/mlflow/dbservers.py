"""Real PostgreSQL and MariaDB servers for MLflow backends: tests, the bench and the demo.

Each server is the distribution's own binaries (Debian's ``postgresql`` and ``mariadb-server``)
on a fresh data folder in a temp dir, listening on a free 127.0.0.1 port and a unix socket in
that folder; nothing touches a system instance. PostgreSQL refuses to run as root and MariaDB
warns against it, so under root the server runs as the ``postgres`` / ``mysql`` system user
(the folder is handed to that user). The server process is led by the same supervisor as the
MLflow servers (:mod:`cockpit.mlflow.servers`): if the process that started it dies, the group
is stopped, so a crashed test run leaves no database server behind.

Settings favour start-up time and throughput over durability (``fsync=off`` and friends): these
are throw-away databases, never a production store.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow.dbtools import pg_bin as _pg_bin

START_TIMEOUT_S = 60.0


def _maria_bin(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or (
            f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
        )
        if path:
            return path
    raise CockpitError(
        f"MariaDB's {names[0]} was not found (Debian package `mariadb-server`; `./dev test` "
        "installs it)"
    )


def _run_as() -> tuple[str | None, dict[str, str]]:
    """(system user to run as, or None for the current user) and a clean environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL", "PYTHON"))}
    env["LC_ALL"] = "C.UTF-8"
    return None, env


def _service_user(name: str) -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise CockpitError(
            f"running as root and there is no {name!r} system user to run the database as"
        ) from None
    return name


def _chown_tree(path: Path, user: str | None) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


def _check(
    cmd: list[str],
    *,
    user: str | None,
    env: dict[str, str],
    what: str,
    cwd: Path,
    timeout: float = 120.0,
) -> str:
    try:
        result = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, user=user, cwd=cwd
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CockpitError(f"could not {what}: {exc}") from None
    if result.returncode != 0:
        lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise CockpitError(f"could not {what}: {lines[-1] if lines else result.returncode}")
    return result.stdout


@dataclass
class DatabaseServer:
    """A running PostgreSQL or MariaDB server started by :func:`start_postgres` /
    :func:`start_mariadb`. ``uri(db)`` is an MLflow backend URI for database ``db``."""

    kind: str  # "postgresql" or "mysql"
    port: int
    folder: Path
    user: str  # the database superuser the URIs log in as
    pid: int
    run_as: str | None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket_dir(self) -> Path:
        return self.folder / "run"

    def uri(self, database: str) -> str:
        if self.kind == "postgresql":
            return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"
        return f"mysql+pymysql://{self.user}@127.0.0.1:{self.port}/{database}"

    # -------------------------------------------------------------- admin, through the CLI tools
    def sql(self, statement: str, database: str | None = None, *, timeout: float = 120.0) -> str:
        """Run one admin statement with the server's own client; returns its text output."""
        if self.kind == "postgresql":
            cmd = [
                _pg_bin("psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database or "postgres",
                "-c",
                statement,
            ]
        else:
            cmd = [
                _maria_bin("mariadb", "mysql"),
                "--no-defaults",
                "-h",
                "127.0.0.1",
                "-P",
                str(self.port),
                "-u",
                self.user,
                "-N",
                "-B",
                "-e",
                statement,
            ]
            if database:
                cmd.insert(-2, database)
        _, env = _run_as()
        return _check(
            cmd,
            user=None,
            env=env,
            what=f"run {statement[:40]!r}",
            cwd=self.folder,
            timeout=timeout,
        )

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URI."""
        _check_name(name)
        if self.kind == "postgresql":
            self.sql(f'CREATE DATABASE "{name}"')
        else:
            self.sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return self.uri(name)

    def drop_database(self, name: str) -> None:
        _check_name(name)
        if self.kind == "postgresql":
            self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        else:
            self.sql(f"DROP DATABASE IF EXISTS `{name}`")

    def databases(self) -> list[str]:
        if self.kind == "postgresql":
            out = self.sql("SELECT datname FROM pg_database WHERE NOT datistemplate")
        else:
            out = self.sql("SHOW DATABASES")
        return sorted(line.strip() for line in out.splitlines() if line.strip())

    def dump(self, database: str) -> bytes:
        """The whole database (schema and every row) as the engine's own dump tool writes it,
        in a stable order, so two dumps of an unchanged database are byte-identical."""
        from cockpit.mlflow import dbtools

        return dbtools.dump(self.uri(database))

    # -------------------------------------------------------------- lifecycle
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        proc = self._process
        if proc is not None and proc.poll() is None:
            # PostgreSQL: SIGINT is a fast shutdown; MariaDB shuts down cleanly on SIGTERM.
            sig = signal.SIGINT if self.kind == "postgresql" else signal.SIGTERM
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self._process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> DatabaseServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c == "_" for c in name) or len(name) > 60:
        raise CockpitError(f"database name {name!r}: use letters, digits and _ only")


def _folder(prefix: str, user: str | None) -> Path:
    # Not under pytest's tmp dirs: those are private to root, and the server runs as its own user.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / "run").mkdir()
    (folder / "data").mkdir()
    _chown_tree(folder, user)
    return folder


def _spawn(cmd: list[str], *, user: str | None, env: dict[str, str], folder: Path):
    from cockpit.mlflow.servers import _SUPERVISOR

    if user is not None:
        # The supervisor stays in the cockpit's Python (which the service user may not be able
        # to read); setpriv execs the server itself as that user, in the same process group.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise CockpitError("running as root needs util-linux's setpriv to drop to " + user)
        cmd = [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", *cmd]
    log = (folder / "server.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-c", _SUPERVISOR, str(os.getpid()), *cmd],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=folder,
            start_new_session=True,
        )
    finally:
        log.close()


def _wait(server: DatabaseServer, probe: list[str], env: dict[str, str]) -> DatabaseServer:
    deadline = time.monotonic() + START_TIMEOUT_S
    proc = server._process
    assert proc is not None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = (server.folder / "server.log").read_text(errors="replace").strip().splitlines()
            server.stop()
            raise SourceUnavailableError(
                f"{server.kind} server exited before it was ready: {text[-1] if text else '?'}"
            )
        ready = subprocess.run(probe, capture_output=True, env=env, timeout=30, check=False)
        if ready.returncode == 0:
            return server
        time.sleep(0.2)
    server.stop()
    raise SourceUnavailableError(f"{server.kind} server not ready within {START_TIMEOUT_S:.0f} s")


def start_postgres(port: int | None = None) -> DatabaseServer:
    """initdb + postgres on a free 127.0.0.1 port; superuser ``postgres``, trust auth on
    127.0.0.1 only (the server accepts no other address)."""
    from cockpit.mlflow.servers import free_port

    user = _service_user("postgres")
    _, env = _run_as()
    folder = _folder("cockpit-pg-", user)
    data = folder / "data"
    _check(
        [
            _pg_bin("initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        user=user,
        env=env,
        what="initdb a PostgreSQL data folder",
        cwd=folder,
    )
    port = port or free_port()
    cmd = [
        _pg_bin("postgres"),
        "-D",
        str(data),
        "-p",
        str(port),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"unix_socket_directories={folder / 'run'}",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=64MB",
    ]
    server = DatabaseServer(
        "postgresql",
        port,
        folder,
        "postgres",
        0,
        user,
        _spawn(cmd, user=user, env=env, folder=folder),
    )
    assert server._process is not None
    server.pid = server._process.pid
    probe = [_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    return _wait(server, probe, env)


def start_mariadb(port: int | None = None) -> DatabaseServer:
    """mariadb-install-db + mariadbd on a free 127.0.0.1 port; ``root`` without a password,
    reachable from 127.0.0.1 only (``bind-address``)."""
    from cockpit.mlflow.servers import free_port

    user = _service_user("mysql")
    _, env = _run_as()
    folder = _folder("cockpit-maria-", user)
    data = folder / "data"
    _check(
        [
            _maria_bin("mariadb-install-db", "mysql_install_db"),
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ],
        user=user,
        env=env,
        what="create a MariaDB data folder",
        cwd=folder,
    )
    port = port or free_port()
    cmd = [
        _maria_bin("mariadbd", "mysqld"),
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--socket={folder / 'run' / 'mysqld.sock'}",
        f"--pid-file={folder / 'run' / 'mysqld.pid'}",
        "--skip-name-resolve",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        "--innodb-buffer-pool-size=128M",
        "--max-connections=300",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_bin",
    ]
    server = DatabaseServer(
        "mysql", port, folder, "root", 0, user, _spawn(cmd, user=user, env=env, folder=folder)
    )
    assert server._process is not None
    server.pid = server._process.pid
    probe = [
        _maria_bin("mariadb-admin", "mysqladmin"),
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        str(port),
        "-u",
        "root",
        "ping",
    ]
    return _wait(server, probe, env)
