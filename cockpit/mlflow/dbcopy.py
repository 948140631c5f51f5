"""Scratch databases for the DB-upgrade rehearsal, and copies of the old store into them.

The original is only ever *read*, by the engine's own dump tool (``pg_dump``; ``mariadb-dump``
with ``--single-transaction``: a consistent snapshot of a live store without locking it), and
the dump is restored into a scratch database (``pg_restore``; the ``mariadb`` client). Creating
and dropping scratch databases needs a writable admin connection to the *server*: it is opened on
the maintenance database (``postgres``) or on no database (MySQL), never on the original, and a
scratch name equal to the original's is refused before anything connects.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass

from cockpit import secrets
from cockpit.errors import CockpitError
from cockpit.mlflow import dbtools
from cockpit.mlflow.dbtools import MYSQL, POSTGRESQL, BackendURI

COPY_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Scratch:
    uri: BackendURI
    created: bool  # made by the rehearsal (dropped afterwards unless kept)


def _admin_engine(uri: BackendURI):
    from sqlalchemy import create_engine

    database = "postgres" if uri.kind == POSTGRESQL else ""
    return create_engine(
        uri.sqlalchemy_url(database=database),
        isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE cannot run inside a transaction
        connect_args={"connect_timeout": dbtools.CONNECT_TIMEOUT_S},
        poolclass=_null_pool(),
    )


def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


def _quoted(uri: BackendURI, name: str) -> str:
    if not name or not all(c.isalnum() or c in "_-" for c in name) or len(name) > 63:
        raise CockpitError(f"scratch database name {name!r}: letters, digits, _ and - only")
    return f"`{name}`" if uri.kind == MYSQL else f'"{name}"'


def _admin(uri: BackendURI, statement: str) -> list[tuple]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    if uri.kind not in (POSTGRESQL, MYSQL):
        raise CockpitError("scratch databases are for PostgreSQL and MySQL backends")
    engine = _admin_engine(uri)
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement))
            return [tuple(r) for r in result.fetchall()] if result.returns_rows else []
    except SQLAlchemyError as exc:
        raise dbtools.DatabaseError(f"{uri.display}: {dbtools._first_line(exc)}") from None
    finally:
        engine.dispose()


def database_exists(uri: BackendURI) -> bool:
    if uri.kind == POSTGRESQL:
        sql = f"SELECT 1 FROM pg_database WHERE datname = '{_literal(uri.database)}'"
    else:
        sql = f"SELECT 1 FROM information_schema.schemata WHERE schema_name = '{_literal(uri.database)}'"
    return bool(_admin(uri, sql))


def _literal(name: str) -> str:
    _quoted(BackendURI("", POSTGRESQL, name), name)  # the same character rules
    return name


def create(uri: BackendURI) -> None:
    name = _quoted(uri, uri.database)
    if uri.kind == POSTGRESQL:
        _admin(uri, f"CREATE DATABASE {name}")
    else:
        _admin(uri, f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")


def drop(uri: BackendURI) -> None:
    name = _quoted(uri, uri.database)
    if uri.kind == POSTGRESQL:
        _admin(uri, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        _admin(uri, f"DROP DATABASE IF EXISTS {name}")


def same_database(a: BackendURI, b: BackendURI) -> bool:
    return (a.kind, (a.host or "").lower(), a.port, a.database) == (
        b.kind,
        (b.host or "").lower(),
        b.port,
        b.database,
    )


def prepare_scratch(source: BackendURI, scratch: BackendURI) -> Scratch:
    """A scratch database to restore into: created when missing, refused when it is the
    original or holds tables already (the rehearsal never overwrites a database it did not make)."""
    if scratch.kind != source.kind:
        raise CockpitError(
            f"--scratch {scratch.display} is {scratch.kind}; the original is {source.kind}"
        )
    if same_database(source, scratch):
        raise CockpitError("--scratch must not be the original database")
    if database_exists(scratch):
        with dbtools.ReadOnlyDB(scratch, pool_size=1) as db:
            if db.table_names():
                raise CockpitError(
                    f"--scratch {scratch.display} already holds tables; give an empty or new "
                    "database"
                )
        return Scratch(scratch, created=False)
    create(scratch)
    return Scratch(scratch, created=True)


def copy_into(
    source: BackendURI, scratch: BackendURI, *, timeout_s: float = COPY_TIMEOUT_S
) -> None:
    """Dump ``source`` (read-only) and restore it into the empty ``scratch`` database."""
    if source.kind == POSTGRESQL:
        dump_cmd = [
            dbtools.tool(POSTGRESQL, "pg_dump"),
            *source.tool_args(),
            "--no-password",
            "-Fc",
            "--no-owner",
            "--no-acl",
            "-d",
            source.database,
        ]
        load_cmd = [
            dbtools.tool(POSTGRESQL, "pg_restore"),
            *scratch.tool_args(),
            "--no-password",
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "-d",
            scratch.database,
        ]
    else:
        dump_cmd = dbtools.dump_command(source)
        load_cmd = [dbtools.tool(MYSQL, "mariadb", "mysql"), *scratch.tool_args(), scratch.database]
    _pipe(dump_cmd, source.tool_env(), load_cmd, scratch.tool_env(), timeout_s, source, scratch)


def _pipe(dump_cmd, dump_env, load_cmd, load_env, timeout_s, source, scratch) -> None:
    try:
        dumper = subprocess.Popen(
            dump_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dump_env
        )
    except OSError as exc:
        raise CockpitError(f"cannot run {dump_cmd[0]}: {exc}") from None
    try:
        loader = subprocess.run(
            load_cmd,
            stdin=dumper.stdout,
            capture_output=True,
            env=load_env,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        dumper.kill()
        raise CockpitError(f"copying {source.display} timed out after {timeout_s:.0f} s") from None
    except OSError as exc:
        dumper.kill()
        raise CockpitError(f"cannot run {load_cmd[0]}: {exc}") from None
    finally:
        if dumper.stdout is not None:
            dumper.stdout.close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        dumper.wait(timeout=60)
    dump_err = dumper.stderr.read().decode(errors="replace") if dumper.stderr else ""
    if dumper.returncode != 0:
        raise CockpitError(f"cannot dump {source.display}: {_tail(dump_err)}")
    if loader.returncode != 0:
        raise CockpitError(
            f"cannot restore into {scratch.display}: {_tail(loader.stderr.decode(errors='replace'))}"
        )


def _tail(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return secrets.scrub_text(lines[-1] if lines else "failed")
