"""Index and constraint audit: an upgraded MLflow schema against a fresh one of the same release.

Why: an upgrade that "succeeded" can still leave the schema unlike what the release expects:
users reported upgrades that left indexes missing, after which metric queries took 20 s
(mlflow#14465). The only trustworthy reference is a database the target release created itself,
so the rehearsal has the target's own ``SqlAlchemyStore`` create one (in the target's venv), and
compares every table's columns, primary key, indexes, unique constraints, foreign keys and check
constraints, as SQLAlchemy's inspector reads them from the live databases. Anything the fresh
schema has that the upgraded one lacks is *missing*; anything else the upgraded one has is
*extra*. ``alembic_version`` rows are compared by the rehearsal itself, not here.

A fresh schema depends only on the release and the engine, so its snapshot is kept next to that
release's venv (rebuilt with it) and measured once per engine and server version.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.mlflow import dbtools, venvs

# Creates every table of the release's tracking and registry stores on an empty database.
_CREATE_FRESH = """\
import sys
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
SqlAlchemyStore(sys.argv[1], sys.argv[2])
"""


@dataclass(frozen=True)
class AuditFinding:
    what: str  # "missing" (in the fresh schema, not in the upgraded one) or "extra"
    kind: str  # column, primary key, index, unique, foreign key, check
    table: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.what} {self.kind} {self.name or '(unnamed)'} on {self.table}: {self.detail}"


def snapshot(db: dbtools.ReadOnlyDB) -> list[list[str]]:
    """The schema of ``db`` as sorted rows [kind, table, name, detail] (read-only)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    engine = db._engine
    if engine is None:  # SQLite: the inspector needs an engine; read-only through the URI
        from sqlalchemy import create_engine

        path = Path(db.uri.database).resolve()
        engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    rows: list[list[str]] = []
    try:
        inspector = inspect(engine)
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            for col in inspector.get_columns(table):
                kind = _type_name(col["type"])
                null = "NULL" if col.get("nullable", True) else "NOT NULL"
                rows.append(["column", table, col["name"], f"{kind} {null}"])
            pk = inspector.get_pk_constraint(table) or {}
            if pk.get("constrained_columns"):
                rows.append(["primary key", table, "", ", ".join(pk["constrained_columns"])])
            for ix in inspector.get_indexes(table):
                unique = "unique " if ix.get("unique") else ""
                cols = ", ".join(c or "?" for c in ix.get("column_names", []))
                rows.append(["index", table, ix.get("name") or "", f"{unique}({cols})"])
            for uc in inspector.get_unique_constraints(table):
                cols = ", ".join(uc.get("column_names", []))
                rows.append(["unique", table, uc.get("name") or "", f"({cols})"])
            for fk in inspector.get_foreign_keys(table):
                detail = (
                    f"({', '.join(fk['constrained_columns'])}) -> {fk['referred_table']}"
                    f"({', '.join(fk['referred_columns'])})"
                )
                ondelete = (fk.get("options") or {}).get("ondelete")
                if ondelete:
                    detail += f" ON DELETE {ondelete.upper()}"
                rows.append(["foreign key", table, fk.get("name") or "", detail])
            try:
                checks = inspector.get_check_constraints(table)
            except NotImplementedError:  # a dialect without CHECK reflection: none to compare
                checks = []
            for ck in checks:
                rows.append(["check", table, ck.get("name") or "", _check_text(ck["sqltext"])])
    except SQLAlchemyError as exc:
        raise dbtools.DatabaseError(f"cannot read the schema of {db.uri.display}: {exc}") from None
    finally:
        if db._engine is None:
            engine.dispose()
    return sorted(rows)


def _check_text(sql: str) -> str:
    """A check constraint's expression without the casts and brackets PostgreSQL adds when it
    re-renders one (a restored dump says ``ARRAY['a'::character varying::text]`` where the
    original said ``(ARRAY['a'::character varying])::text[]``: the same constraint)."""
    for cast in ("::character varying", "::text[]", "::text"):
        sql = sql.replace(cast, "")
    return "".join(c for c in sql if c not in "() \t\n")


def _type_name(sqltype) -> str:
    try:
        return str(sqltype).upper()
    except Exception:  # some dialect types cannot render without a dialect
        return type(sqltype).__name__.upper()


def compare(upgraded: list[list[str]], fresh: list[list[str]]) -> list[AuditFinding]:
    have = {tuple(r) for r in upgraded}
    want = {tuple(r) for r in fresh}
    out = [AuditFinding("missing", *r) for r in sorted(want - have)]
    out += [AuditFinding("extra", *r) for r in sorted(have - want)]
    return out


def fresh_snapshot(
    version: str,
    kind: str,
    create_db,
    drop_db,
    *,
    engine_version: str,
    progress: venvs.Progress = venvs._quiet,
    timeout_s: float = 900.0,
) -> list[list[str]]:
    """The schema ``version`` creates on an empty database of ``kind``; made once and kept.

    ``create_db()`` returns the URI of a new empty database (None for SQLite: a temp file is
    used) and ``drop_db()`` removes it; both are the rehearsal's scratch operations.
    """
    server = venvs.installed(version)
    if server is None:
        raise CockpitError(f"mlflow {version} is not installed")
    safe = "".join(c if c.isalnum() or c in ".-" else "_" for c in engine_version)[:60]
    cache = server.path / f".cockpit-fresh-schema-{kind}-{safe}.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    progress(f"creating a fresh mlflow {version} schema on {kind} (once per release and engine)")
    with tempfile.TemporaryDirectory(prefix="cockpit-fresh-") as work:
        uri = create_db() if kind != dbtools.SQLITE else f"sqlite:///{Path(work) / 'fresh.db'}"
        try:
            # The password goes in the environment (or an option file), never on argv.
            with dbtools.parse(uri).for_command_line() as (cli_uri, password_env):
                result = subprocess.run(
                    [
                        str(server.python_path),
                        "-c",
                        _CREATE_FRESH,
                        cli_uri,
                        str(Path(work) / "artifacts"),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=timeout_s,
                    env={**venvs.server_env(version), **password_env},
                    cwd=work,
                )
            if result.returncode != 0:
                tail = venvs._last_line(result.stderr) or f"exit {result.returncode}"
                raise CockpitError(f"mlflow {version} could not create a fresh schema: {tail}")
            with dbtools.ReadOnlyDB(uri, pool_size=1) as db:
                rows = snapshot(db)
        finally:
            if kind != dbtools.SQLITE:
                drop_db()
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows), encoding="utf-8")
    tmp.replace(cache)
    return rows
