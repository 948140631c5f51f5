"""MLflow backend databases of every kind the cockpit reads: SQLite, PostgreSQL, MySQL/MariaDB.

* :func:`parse` names the kind behind an MLflow ``--backend-store-uri``;
* :class:`ReadOnlyDB` runs SELECTs on it and can do nothing else: SQLite is opened with
  ``mode=ro`` + ``query_only``; PostgreSQL sessions start with ``default_transaction_read_only``
  (every transaction is READ ONLY, enforced by the server); MySQL/MariaDB sessions run
  ``SET SESSION TRANSACTION READ ONLY`` before anything else. A write through any of them is
  refused by the database itself, not by a promise in this code;
* :func:`dump` is the engine's own dump tool (``pg_dump``, ``mariadb-dump``) in a stable form,
  so two dumps of an unchanged database are byte-identical: the proof that a read changed nothing.

PostgreSQL and MySQL go through SQLAlchemy with psycopg2 / PyMySQL (the drivers MLflow's own
docs use); whatever driver the URI names for the *server* (``mysql://`` means mysqlclient to
MLflow), the cockpit reads with those two.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

from cockpit import secrets
from cockpit.errors import CockpitError

SQLITE, POSTGRESQL, MYSQL = "sqlite", "postgresql", "mysql"
# A read on the old store must never hang a sync or a poll: the server cancels it after this.
STATEMENT_TIMEOUT_S = 300
CONNECT_TIMEOUT_S = 10


class DatabaseError(CockpitError):
    """The backend database could not be reached or read."""


@dataclass(frozen=True)
class BackendURI:
    """An MLflow backend URI, taken apart (the password is registered as a secret)."""

    uri: str
    kind: str  # SQLITE, POSTGRESQL or MYSQL
    database: str  # the file path for SQLite
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None

    @property
    def display(self) -> str:
        """The URI without its password (for notes, events and reports)."""
        if self.kind == SQLITE:
            return self.uri
        auth = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.kind}://{auth}{self.host}{port}/{self.database}"

    def with_database(self, name: str) -> BackendURI:
        """The same server, another database (scratch copies); keeps the URI's driver."""
        if self.kind == SQLITE:
            raise CockpitError("a SQLite URI names a file, not a server")
        from sqlalchemy.engine import make_url

        url = make_url(self.uri).set(database=name)
        return parse(url.render_as_string(hide_password=False))

    def sqlalchemy_url(self, database: str | None = None):
        from sqlalchemy.engine import make_url

        url = make_url(self.uri)
        driver = "postgresql+psycopg2" if self.kind == POSTGRESQL else "mysql+pymysql"
        url = url.set(drivername=driver)
        return url.set(database=database) if database is not None else url

    def tool_env(self) -> dict[str, str]:
        """Environment for pg_dump/psql/mariadb-dump: the password never goes on a command line."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL"))}
        if self.password:
            env["PGPASSWORD" if self.kind == POSTGRESQL else "MYSQL_PWD"] = self.password
        return env

    @contextlib.contextmanager
    def for_command_line(self) -> Iterator[tuple[str, dict[str, str]]]:
        """(URI, environment) for an MLflow command (``mlflow db upgrade URI``, a script run
        from a server venv): the URI carries no password, the environment does. Every user of the
        machine can read a command line (``ps``, ``/proc/<pid>/cmdline``), not an environment.

        PostgreSQL: ``PGPASSWORD``, which libpq (psycopg2) reads. MySQL: PyMySQL reads no
        variable, so the password goes in an option file only this user can read, named by the
        URI's ``read_default_file`` (PyMySQL's own option; SQLAlchemy passes it through), and
        removed when the block ends."""
        if self.kind == SQLITE or not self.password:
            yield self.uri, {}
            return
        from sqlalchemy.engine import make_url

        # URL.set(password=None) keeps the password (None means "unchanged" there).
        url = make_url(self.uri)._replace(password=None)
        if self.kind == POSTGRESQL:
            yield url.render_as_string(hide_password=False), {"PGPASSWORD": self.password}
            return
        if "\n" in self.password or "\r" in self.password:
            raise CockpitError("a MySQL password with a line break cannot go in an option file")
        folder = Path(tempfile.mkdtemp(prefix="cockpit-mysql-"))  # mode 0700
        try:
            option_file = folder / "client.cnf"
            fd = os.open(option_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                # PyMySQL strips one pair of surrounding quotes, so spaces and quotes survive.
                fh.write(f'[client]\npassword="{self.password}"\n')
            url = url.update_query_dict({"read_default_file": str(option_file)})
            yield url.render_as_string(hide_password=False), {}
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def tool_args(self) -> list[str]:
        """Host, port and user arguments for the engine's command-line tools."""
        if self.kind == POSTGRESQL:
            args = ["-h", self.host or "127.0.0.1", "-p", str(self.port or 5432)]
            return [*args, "-U", self.user] if self.user else args
        args = ["--no-defaults", "-h", self.host or "127.0.0.1", "-P", str(self.port or 3306)]
        return [*args, "-u", self.user] if self.user else args


class SchemaReadError(CockpitError):
    """The backend database could not be read (missing, not SQLite, locked, not MLflow's)."""


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def sqlite_path(db_uri: str) -> Path:
    """The file behind a ``sqlite:///`` URI (``sqlite:////abs`` or ``sqlite:///relative``)."""
    parsed = urlparse(db_uri)
    if parsed.scheme != "sqlite":
        raise CockpitError(
            f"backend URI {secrets.scrub_text(db_uri)!r} is not sqlite:///...: only SQLite "
            "backends can be read directly (for another database, rehearse on a SQLite export)"
        )
    # urlparse keeps the third slash: "sqlite:///rel.db" -> "/rel.db", "sqlite:////abs" -> "//abs"
    raw = unquote(db_uri[len("sqlite:///") :]) if db_uri.startswith("sqlite:///") else ""
    if not raw or raw.startswith(":memory:"):
        raise CockpitError(f"backend URI {db_uri!r} names no database file")
    return Path(raw.split("?", 1)[0])


def parse(db_uri: str) -> BackendURI:
    """Take an MLflow backend URI apart; one-line error for anything the cockpit cannot read."""
    if not isinstance(db_uri, str) or not db_uri.strip():
        raise CockpitError("empty backend URI")
    scheme = db_uri.split(":", 1)[0].lower()
    base = scheme.split("+", 1)[0]
    if base == SQLITE:
        return BackendURI(db_uri, SQLITE, str(sqlite_path(db_uri)))
    if base not in (POSTGRESQL, MYSQL):
        raise CockpitError(
            f"backend URI {secrets.scrub_text(db_uri)!r}: the cockpit reads sqlite:///, "
            f"postgresql:// and mysql:// backends, not {base or 'this'}"
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(db_uri)
    except (ArgumentError, ValueError) as exc:
        raise CockpitError(f"backend URI is malformed: {exc}") from None
    if url.password:
        secrets.register_secret(str(url.password))
    if not url.database:
        raise CockpitError(f"backend URI {secrets.scrub_text(db_uri)!r} names no database")
    return BackendURI(
        uri=db_uri,
        kind=base,
        database=url.database,
        host=url.host,
        port=url.port,
        user=url.username,
        password=str(url.password) if url.password else None,
    )


# ------------------------------------------------------------------------------ read-only access
class ReadOnlyDB:
    """SELECTs on one backend database; the database refuses anything else (see module doc).

    ``rows(sql, params)`` takes ``:name`` parameters on every engine. Thread-safe: SQLite gets
    one connection per thread, the others a small SQLAlchemy pool.
    """

    def __init__(self, db_uri: str | BackendURI, *, pool_size: int = 8) -> None:
        self.uri = db_uri if isinstance(db_uri, BackendURI) else parse(db_uri)
        self._local = threading.local()
        self._sqlite: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._engine = None
        if self.uri.kind != SQLITE:
            self._engine = _readonly_engine(self.uri, pool_size)
        self.rows("SELECT 1")  # unreachable or refused: say so now, in one line

    @property
    def kind(self) -> str:
        return self.uri.kind

    def _sqlite_conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            path = Path(self.uri.database)
            if not path.is_file():
                raise SchemaReadError(f"no database file at {path}")
            if not is_sqlite_file(path):
                raise SchemaReadError(f"{path} is not a SQLite database")
            conn = sqlite3.connect(
                f"file:{quote(str(path.resolve()))}?mode=ro",
                uri=True,
                timeout=5.0,
                check_same_thread=False,  # closed by close(), from another thread
            )
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._lock:
                self._sqlite.append(conn)
        return conn

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        if self._engine is None:
            try:
                return self._sqlite_conn().execute(sql, dict(params or {})).fetchall()
            except sqlite3.Error as exc:
                raise DatabaseError(f"cannot read {self.uri.display}: {exc}") from None
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as conn:
                result = conn.execute(text(sql), dict(params or {}))
                out = [tuple(r) for r in result.fetchall()]
                conn.rollback()  # a read-only transaction: nothing to keep
                return out
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot read {self.uri.display}: {_first_line(exc)}") from None

    def execute_write_for_test(self, sql: str) -> None:
        """Try a write (tests prove the database refuses it); raises DatabaseError when refused."""
        if self._engine is None:
            try:
                self._sqlite_conn().execute(sql)
            except sqlite3.Error as exc:
                raise DatabaseError(str(exc)) from None
            return
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self._engine.connect() as conn:
                conn.execute(text(sql))
                conn.commit()
        except SQLAlchemyError as exc:
            raise DatabaseError(_first_line(exc)) from None

    def table_names(self) -> list[str]:
        if self._engine is None:
            return [
                r[0]
                for r in self.rows(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
        from sqlalchemy import inspect
        from sqlalchemy.exc import SQLAlchemyError

        try:
            return sorted(inspect(self._engine).get_table_names())
        except SQLAlchemyError as exc:
            raise DatabaseError(
                f"cannot list tables of {self.uri.display}: {_first_line(exc)}"
            ) from None

    def quote(self, name: str) -> str:
        if self.kind == MYSQL:
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def close(self) -> None:
        with self._lock:
            for conn in self._sqlite:
                conn.close()
            self._sqlite.clear()
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> ReadOnlyDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _readonly_engine(uri: BackendURI, pool_size: int):
    from sqlalchemy import create_engine

    if uri.kind == POSTGRESQL:
        connect_args: dict[str, Any] = {
            # Enforced by the server for every transaction of the session.
            "options": "-c default_transaction_read_only=on "
            f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}",
            "connect_timeout": CONNECT_TIMEOUT_S,
            "application_name": "migration-cockpit (read-only)",
        }
    else:
        connect_args = {
            "init_command": "SET SESSION TRANSACTION READ ONLY",
            "connect_timeout": CONNECT_TIMEOUT_S,
            "read_timeout": STATEMENT_TIMEOUT_S,
            "charset": "utf8mb4",
        }
    return create_engine(
        uri.sqlalchemy_url(),
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return secrets.scrub_text(text[0] if text else type(exc).__name__)


# ------------------------------------------------------------------------------ revision, counts
def read_revision(db: ReadOnlyDB) -> str | None:
    """The alembic revision; None for a database MLflow never set up. More than one row in
    ``alembic_version`` is reported by :func:`alembic_rows` (another tool shares the table)."""
    rows = alembic_rows(db)
    return rows[0] if rows else None


def alembic_rows(db: ReadOnlyDB) -> list[str]:
    if "alembic_version" not in db.table_names():
        return []
    return sorted(str(r[0]) for r in db.rows("SELECT version_num FROM alembic_version"))


def table_counts(db: ReadOnlyDB) -> dict[str, int]:
    return {
        name: int(db.rows(f"SELECT COUNT(*) FROM {db.quote(name)}")[0][0])
        for name in db.table_names()
    }


# ------------------------------------------------------------------------------ dumps
def pg_bin(name: str) -> str:
    """A PostgreSQL program: Debian keeps them under /usr/lib/postgresql/<major>/bin."""
    found = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise CockpitError(f"PostgreSQL's {name} was not found (Debian package `postgresql`)")
    return path


def tool(kind: str, *names: str) -> str:
    """A command-line tool of the engine (Debian paths for PostgreSQL's versioned binaries)."""
    if kind == POSTGRESQL:
        return pg_bin(names[0])
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise CockpitError(f"{names[0]} was not found (MariaDB/MySQL client tools)")


def dump_command(uri: BackendURI, *, database: str | None = None) -> list[str]:
    db = database or uri.database
    if uri.kind == POSTGRESQL:
        pg_dump = tool(POSTGRESQL, "pg_dump")
        cmd = [pg_dump, *uri.tool_args(), "--no-password", "-d", db]
        if _has_restrict_key(pg_dump):
            # Since 17.6/16.10/15.14 pg_dump brackets its output with a random \restrict key
            # (CVE-2025-8714); a fixed one keeps two dumps of the same data byte-identical.
            cmd.append("--restrict-key=cockpitdump")
        return cmd
    return [
        tool(MYSQL, "mariadb-dump", "mysqldump"),
        *uri.tool_args(),
        # One consistent snapshot without locking the live store; no timestamp, so an
        # unchanged database dumps to the same bytes.
        "--single-transaction",
        "--skip-dump-date",
        "--order-by-primary",
        "--routines",
        "--triggers",
        db,
    ]


@functools.cache
def _has_restrict_key(pg_dump: str) -> bool:
    try:
        out = subprocess.run([pg_dump, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--restrict-key" in out.stdout


def dump(db_uri: str | BackendURI, *, timeout: float = 600.0) -> bytes:
    """Schema and every row, from the engine's own dump tool (SQLite: the file's bytes)."""
    uri = db_uri if isinstance(db_uri, BackendURI) else parse(db_uri)
    if uri.kind == SQLITE:
        return Path(uri.database).read_bytes()
    try:
        result = subprocess.run(
            dump_command(uri), capture_output=True, env=uri.tool_env(), timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DatabaseError(f"cannot dump {uri.display}: {exc}") from None
    if result.returncode != 0:
        raise DatabaseError(
            f"cannot dump {uri.display}: {_last(result.stderr.decode(errors='replace'))}"
        )
    return result.stdout


def _last(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return secrets.scrub_text(lines[-1] if lines else "failed")
