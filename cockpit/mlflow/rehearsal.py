"""Rehearse the backend DB upgrade: the target release's `mlflow db upgrade`, on a copy only.

The production backend is the one thing that must not change before cutover, so the original is
only read: a SQLite file is copied with SQLite's online backup API, a PostgreSQL or MySQL
database is dumped by the engine's own tool into a scratch database (:mod:`.dbcopy`); every
figure comes from the copy. The original's fingerprint (the file's sha256, or the sha256 of its
dump: schema and every row) is taken before and after.

Before anything runs, ``alembic_version`` is read: a revision the target release does not know
(another tool sharing the database and its version table, or a store already upgraded by
something newer) is a finding and nothing is copied or upgraded (mlflow#6166, #2923).

What is recorded: the pending steps, each alembic step with its own duration, the revision and
row counts per table before and after, and an index and constraint audit of the upgraded schema
against a fresh one made by the same release (:mod:`.schema_audit`; mlflow#14465). The scratch
database is dropped afterwards unless kept.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit import secrets
from cockpit.errors import CockpitError
from cockpit.mlflow import dbtools, schema, venvs
from cockpit.mlflow.venvs import head_revision, migration_chain

if TYPE_CHECKING:
    from cockpit.store import StateStore

# Alembic logs each step as "Running upgrade <from> -> <to>, <message>" (<from> empty at the root).
_STEP = re.compile(r"Running upgrade (?P<src>[0-9a-f]*) -> (?P<dst>[0-9a-f]+)")


@dataclass(frozen=True)
class TableChange:
    table: str
    before: int | None  # None: the table did not exist before
    after: int | None  # None: the table is gone after


@dataclass(frozen=True)
class RehearsalResult:
    id: int
    started_at: float
    source_uri: str
    source_sha256: str
    source_unchanged: bool
    target_version: str
    ok: bool
    error: str | None
    duration_s: float
    revision_before: str | None
    revision_after: str | None
    migrations: list[tuple[str, str]] = field(default_factory=list)
    row_counts_before: dict[str, int] = field(default_factory=dict)
    row_counts_after: dict[str, int] = field(default_factory=dict)
    copy_path: str | None = None
    backend: str = dbtools.SQLITE  # sqlite, postgresql or mysql
    pending: list[tuple[str, str]] = field(default_factory=list)  # steps due, known up front
    step_seconds: list[float] = field(default_factory=list)  # per entry of ``migrations``
    audit: list[str] = field(default_factory=list)  # schema findings vs a fresh target schema
    audited: bool = False  # the audit ran (False: the upgrade failed or nothing ran)
    foreign_revisions: list[str] = field(default_factory=list)
    scratch: str | None = None  # where the copy was upgraded (no password)
    scratch_kept: bool = False
    copy_s: float = 0.0  # taking the copy (backup API, or dump + restore)
    audit_s: float = 0.0  # the index/constraint audit

    @property
    def clean(self) -> bool:
        """The upgrade ran, lost no rows, left the schema the release expects, and nothing
        migrated the original meanwhile.

        ``source_unchanged`` (the original's fingerprint) is not part of it: a production backend
        keeps being written by its own server during a rehearsal, which changes the bytes but
        not the schema. The rehearsal itself only ever reads the original.
        """
        return (
            self.ok
            and self.error is None
            and not self.rows_lost()
            and not self.audit
            and not self.foreign_revisions
        )

    def slowest_steps(self, n: int = 3) -> list[tuple[str, str, float]]:
        """The ``n`` alembic steps that took longest: where a big store's upgrade time goes."""
        timed = [(a, b, t) for (a, b), t in zip(self.migrations, self.step_seconds, strict=False)]
        return sorted(timed, key=lambda x: -x[2])[:n]

    def table_changes(self) -> list[TableChange]:
        """Every table whose presence or row count differs between before and after."""
        out = []
        for name in sorted(set(self.row_counts_before) | set(self.row_counts_after)):
            before = self.row_counts_before.get(name)
            after = self.row_counts_after.get(name) if self.ok else before
            if before != after:
                out.append(TableChange(name, before, after))
        return out

    def rows_lost(self) -> list[TableChange]:
        """Tables that existed before and hold fewer rows after (the thing that must not happen)."""
        return [
            c
            for c in self.table_changes()
            if c.before is not None and (c.after is None or c.after < c.before)
        ]

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "source_uri": self.source_uri,
            "source_sha256": self.source_sha256,
            "source_unchanged": self.source_unchanged,
            "target_version": self.target_version,
            "ok": self.ok,
            "clean": self.clean,
            "error": self.error,
            "duration_s": self.duration_s,
            "revision_before": self.revision_before,
            "revision_after": self.revision_after,
            "migrations": [list(m) for m in self.migrations],
            "row_counts_before": self.row_counts_before,
            "row_counts_after": self.row_counts_after,
            "rows_lost": [c.table for c in self.rows_lost()],
            "copy_path": self.copy_path,
            "backend": self.backend,
            "pending": [list(m) for m in self.pending],
            "step_seconds": self.step_seconds,
            "audit": self.audit,
            "audited": self.audited,
            "foreign_revisions": self.foreign_revisions,
            "scratch": self.scratch,
            "scratch_kept": self.scratch_kept,
            "copy_s": self.copy_s,
            "audit_s": self.audit_s,
        }

    def details_json(self) -> str:
        """What the 0009 ``details`` column holds (everything 0007's columns do not)."""
        data = self.to_json()
        keys = (
            "backend",
            "pending",
            "step_seconds",
            "audit",
            "audited",
            "foreign_revisions",
            "scratch",
            "scratch_kept",
            "copy_s",
            "audit_s",
        )
        return json.dumps({k: data[k] for k in keys}, sort_keys=True)


def steps_between(
    chain: dict[str, str | None], before: str | None, after: str | None
) -> list[tuple[str, str]]:
    """The alembic steps from ``before`` to ``after`` (oldest first); [] when not a straight line."""
    steps: list[tuple[str, str]] = []
    current = after
    seen: set[str] = set()
    while current is not None and current != before and current not in seen:
        seen.add(current)
        if current not in chain:
            return []
        down = chain[current]
        steps.append((down or "", current))
        current = down
    if current != before:
        return []
    return list(reversed(steps))


def backup_copy(source: Path, dest: Path) -> None:
    """A consistent copy of a live SQLite file; the source is opened read-only."""
    with schema.open_readonly(source) as src:
        dst = sqlite3.connect(str(dest))
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise CockpitError(f"cannot copy {source}: {exc}") from None
        finally:
            dst.close()


def rehearse_db_upgrade(
    store: StateStore,
    db_uri: str,
    to_version: str,
    *,
    keep_copy: Path | None = None,
    scratch_uri: str | None = None,
    keep: bool = False,
    progress: venvs.Progress = venvs._quiet,
    source: str = "cli",
    timeout_s: float = 1800.0,
) -> RehearsalResult:
    """Copy the backend at ``db_uri``, upgrade the copy with ``to_version``, record the result.

    SQLite: ``keep_copy`` keeps the upgraded copy at that path. PostgreSQL/MySQL: the copy goes
    to ``scratch_uri`` (an empty or new database; default: a new one next to the original,
    named after it) and is dropped afterwards unless ``keep``. Raises :class:`CockpitError` for
    bad input; an upgrade that fails, or a foreign revision, is a recorded result.
    """
    venvs.parse_version(to_version)
    uri = dbtools.parse(db_uri)
    if uri.kind == dbtools.SQLITE:
        original = Path(uri.database)
        if not original.is_file():
            raise CockpitError(f"no backend database at {original} (from --db {db_uri})")
        if not schema.is_sqlite_file(original):
            raise CockpitError(f"{original} is not a SQLite database")
        if scratch_uri is not None:
            raise CockpitError("--scratch is for PostgreSQL/MySQL; a SQLite copy is a temp file")
        if keep_copy is not None:
            keep_copy = Path(keep_copy)
            if keep_copy.exists():
                raise CockpitError(f"--keep-copy {keep_copy} already exists; pick a new path")
            if not keep_copy.parent.is_dir():
                raise CockpitError(f"--keep-copy: folder {keep_copy.parent} does not exist")
            if keep_copy.resolve() == original.resolve():
                raise CockpitError("--keep-copy must not be the original database")
    elif keep_copy is not None:
        raise CockpitError("--keep-copy is for SQLite; keep a server copy with --keep/--scratch")
    scratch = dbtools.parse(scratch_uri) if scratch_uri is not None else None
    rows = _alembic_rows(uri)
    if not rows:
        raise CockpitError(f"{uri.display} has no alembic_version table: not an MLflow backend")

    started_at = store.clock()
    venvs.install(to_version, progress=progress)
    chain = migration_chain(to_version)
    foreign = [r for r in rows if r not in chain]
    fingerprint_before = _fingerprint(uri)
    base = RehearsalResult(
        id=0,
        started_at=started_at,
        source_uri=uri.display,
        source_sha256=fingerprint_before,
        source_unchanged=True,
        target_version=to_version,
        ok=False,
        error=None,
        duration_s=0.0,
        revision_before=rows[0] if len(rows) == 1 else None,
        revision_after=None,
        backend=uri.kind,
    )
    if foreign or len(rows) > 1:
        # Nothing runs: `db upgrade` would fail half-way, or migrate a database it does not own.
        shown = ", ".join(foreign or rows)
        why = (
            f"alembic_version holds {shown}, which mlflow {to_version} does not know: another "
            "tool shares this database's alembic_version table, or a newer release upgraded it"
            if foreign
            else f"alembic_version holds {len(rows)} revisions ({shown}); MLflow keeps one"
        )
        result = dataclasses.replace(
            base,
            error=f"foreign alembic revision: {why}; nothing was copied or upgraded",
            foreign_revisions=foreign or rows,
            source_unchanged=_fingerprint(uri) == fingerprint_before,
        )
        return record_rehearsal(store, result, source=source)
    revision_before = rows[0]
    pending = steps_between(chain, revision_before, head_revision(chain))
    if uri.kind == dbtools.SQLITE:
        measured = _rehearse_sqlite(uri, to_version, keep_copy, keep, progress, timeout_s)
    else:
        measured = _rehearse_server(uri, scratch, to_version, keep, progress, timeout_s)
    fingerprint_after = _fingerprint(uri)
    error = measured.error
    # The original's schema must not have moved (that is what breaks the old server); its rows
    # may have, if its server is live.
    original_revision = _alembic_rows(uri)
    if measured.ok and original_revision != [revision_before]:
        error = (
            f"the original's schema revision changed during the rehearsal ({revision_before} -> "
            f"{', '.join(original_revision) or 'none'}): something else migrated it in place"
        )
    steps = measured.steps
    seconds = measured.step_seconds
    if measured.ok and not steps:  # 3.x logs no steps: known from the migration files
        steps = steps_between(chain, measured.revision_before, measured.revision_after)
        seconds = []
    result = dataclasses.replace(
        base,
        source_unchanged=fingerprint_after == fingerprint_before,
        ok=measured.ok,
        error=error,
        duration_s=round(measured.duration_s, 3),
        revision_before=measured.revision_before,
        revision_after=measured.revision_after,
        migrations=steps,
        step_seconds=[round(t, 3) for t in seconds],
        row_counts_before=measured.counts_before,
        row_counts_after=measured.counts_after,
        copy_path=measured.kept_path,
        pending=pending,
        audit=measured.audit,
        audited=measured.audited,
        scratch=measured.scratch,
        scratch_kept=measured.kept,
        copy_s=round(measured.copy_s, 3),
        # Microseconds: with the fresh schema cached the audit can take under 0.5 ms, which
        # rounded to ms would read as 0 (an audit that did not run).
        audit_s=round(measured.audit_s, 6),
    )
    return record_rehearsal(store, result, source=source)


@dataclass
class _Measured:
    ok: bool = False
    error: str | None = None
    duration_s: float = 0.0
    revision_before: str | None = None
    revision_after: str | None = None
    steps: list[tuple[str, str]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    audit: list[str] = field(default_factory=list)
    audited: bool = False
    scratch: str | None = None
    kept: bool = False
    kept_path: str | None = None
    copy_s: float = 0.0
    audit_s: float = 0.0


def _alembic_rows(uri: dbtools.BackendURI) -> list[str]:
    try:
        with dbtools.ReadOnlyDB(uri, pool_size=1) as db:
            return dbtools.alembic_rows(db)
    except dbtools.DatabaseError as exc:
        raise CockpitError(exc.message) from None


def _fingerprint(uri: dbtools.BackendURI) -> str:
    """sha256 of the SQLite file, or of the engine's dump (schema and every row)."""
    if uri.kind == dbtools.SQLITE:
        return schema.file_sha256(Path(uri.database))
    return hashlib.sha256(dbtools.dump(uri)).hexdigest()


def _measure(
    m: _Measured,
    scratch_uri: str,
    to_version: str,
    kind: str,
    progress: venvs.Progress,
    timeout_s: float,
    cwd: Path,
    fresh_db: tuple | None,
) -> None:
    """Counts, the timed upgrade and the audit, all on the scratch copy at ``scratch_uri``."""
    from cockpit.mlflow import schema_audit

    with dbtools.ReadOnlyDB(scratch_uri, pool_size=1) as db:
        m.revision_before = dbtools.read_revision(db)
        m.counts_before = dbtools.table_counts(db)
    progress(f"running mlflow {to_version} `db upgrade` on the copy")
    run = timed_upgrade(to_version, scratch_uri, timeout_s=timeout_s, cwd=cwd)
    m.ok, m.duration_s, m.steps, m.step_seconds = run.ok, run.duration_s, run.steps, run.seconds
    m.error = run.error
    if not m.ok:
        return
    with dbtools.ReadOnlyDB(scratch_uri, pool_size=1) as db:
        m.revision_after = dbtools.read_revision(db)
        m.counts_after = dbtools.table_counts(db)
        engine_version = _engine_version(db)
        upgraded = schema_audit.snapshot(db)
    create_fresh, drop_fresh = fresh_db if fresh_db else (None, None)
    progress("auditing indexes and constraints against a fresh schema of the same release")
    began = time.monotonic()
    fresh = schema_audit.fresh_snapshot(
        to_version,
        kind,
        create_fresh,
        drop_fresh,
        engine_version=engine_version,
        progress=progress,
        timeout_s=timeout_s,
    )
    m.audit = [f.line() for f in schema_audit.compare(upgraded, fresh)]
    m.audited = True
    m.audit_s = time.monotonic() - began


def _engine_version(db: dbtools.ReadOnlyDB) -> str:
    if db.kind == dbtools.POSTGRESQL:
        return "pg" + str(db.rows("SHOW server_version")[0][0]).split()[0]
    if db.kind == dbtools.MYSQL:
        return "my" + str(db.rows("SELECT VERSION()")[0][0])
    return "sqlite" + sqlite3.sqlite_version


def _rehearse_sqlite(
    uri: dbtools.BackendURI,
    to_version: str,
    keep_copy: Path | None,
    keep: bool,
    progress: venvs.Progress,
    timeout_s: float,
) -> _Measured:
    original = Path(uri.database)
    m = _Measured()
    work = Path(tempfile.mkdtemp(prefix="cockpit-rehearsal-"))
    try:
        copy = work / "mlflow.db"
        progress(f"copying {original} (read-only) to {copy}")
        began = time.monotonic()
        backup_copy(original, copy)
        m.copy_s = time.monotonic() - began
        m.scratch = str(copy)
        _measure(
            m, f"sqlite:///{copy}", to_version, dbtools.SQLITE, progress, timeout_s, work, None
        )
        if m.ok and keep_copy is not None:
            shutil.move(str(copy), str(keep_copy))
            m.kept_path = str(keep_copy.resolve())
            m.scratch, m.kept = m.kept_path, True
        elif keep:
            kept = Path(tempfile.mkdtemp(prefix="cockpit-rehearsal-kept-")) / "mlflow.db"
            shutil.move(str(copy), str(kept))
            m.kept_path = m.scratch = str(kept)
            m.kept = True
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return m


def _rehearse_server(
    uri: dbtools.BackendURI,
    scratch: dbtools.BackendURI | None,
    to_version: str,
    keep: bool,
    progress: venvs.Progress,
    timeout_s: float,
) -> _Measured:
    from cockpit.mlflow import dbcopy

    if scratch is None:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime())
        name = f"{uri.database[:30]}_rehearsal_{stamp}_{os.getpid()}"
        scratch = uri.with_database(name)
    prepared = dbcopy.prepare_scratch(uri, scratch)
    fresh_uri = scratch.with_database(f"{scratch.database[:40]}_fresh_{os.getpid()}")

    def create_fresh() -> str:
        dbcopy.create(fresh_uri)
        return fresh_uri.uri

    def drop_fresh() -> None:
        dbcopy.drop(fresh_uri)

    m = _Measured(scratch=scratch.display)
    work = Path(tempfile.mkdtemp(prefix="cockpit-rehearsal-"))
    try:
        progress(f"copying {uri.display} (read-only dump) into {scratch.display}")
        began = time.monotonic()
        dbcopy.copy_into(uri, scratch, timeout_s=timeout_s)
        m.copy_s = time.monotonic() - began
        _measure(
            m,
            scratch.uri,
            to_version,
            uri.kind,
            progress,
            timeout_s,
            work,
            (create_fresh, drop_fresh),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if keep:
            m.kept = True
        else:
            with contextlib.suppress(CockpitError):
                if prepared.created:
                    dbcopy.drop(scratch)
                else:  # an empty database the user gave: emptied again, not dropped
                    _empty(scratch)
    return m


def _empty(uri: dbtools.BackendURI) -> None:
    from cockpit.mlflow import dbcopy

    dbcopy.drop(uri)
    dbcopy.create(uri)


@dataclass(frozen=True)
class TimedUpgrade:
    ok: bool
    error: str | None
    duration_s: float
    steps: list[tuple[str, str]]
    seconds: list[float]  # one per step


def timed_upgrade(version: str, uri: str, *, timeout_s: float, cwd: Path) -> TimedUpgrade:
    """``mlflow db upgrade`` of ``version`` on ``uri``, timing each alembic step.

    Alembic logs "Running upgrade A -> B" as each step starts; a step lasts until the next one
    starts (the last until the command ends). Output is read line by line and only its tail is
    kept, so a chatty upgrade cannot fill memory.
    """
    server = venvs.installed(version)
    if server is None:
        raise CockpitError(
            f"mlflow {version} is not installed (`cockpit servers install {version}`)"
        )
    # The password goes in the environment (or an option file), never on the command line.
    with dbtools.parse(uri).for_command_line() as (cli_uri, password_env):
        cmd = [str(server.path / "bin" / "mlflow"), "db", "upgrade", cli_uri]
        began = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                env={**venvs.server_env(version), **password_env},
                cwd=cwd,
                start_new_session=True,
            )
        except OSError as exc:
            raise CockpitError(f"cannot run mlflow {version} db upgrade: {exc}") from None
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout_s, kill)
        timer.start()
        marks: list[tuple[str, str, float]] = []
        tail: collections.deque[str] = collections.deque(maxlen=40)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                now = time.monotonic()
                line = line[:2000].rstrip()
                match = _STEP.search(line)
                if match:
                    marks.append((match["src"], match["dst"], now))
                if line.strip():
                    tail.append(line)
            proc.wait()
        finally:
            timer.cancel()
    end = time.monotonic()
    seconds = [
        (marks[i + 1][2] if i + 1 < len(marks) else end) - mark[2] for i, mark in enumerate(marks)
    ]
    ok = proc.returncode == 0 and not timed_out.is_set()
    error = None
    if timed_out.is_set():
        error = f"mlflow {version} db upgrade timed out after {timeout_s:.0f} s"
    elif not ok:
        error = secrets.scrub_text(tail[-1] if tail else f"exit code {proc.returncode}")
    return TimedUpgrade(ok, error, end - began, [(a, b) for a, b, _ in marks], seconds)


def record_rehearsal(
    store: StateStore, result: RehearsalResult, *, source: str = "cli"
) -> RehearsalResult:
    """Store a rehearsal (its row and its event, in one transaction); returns it with its id.

    Separate from :func:`rehearse_db_upgrade` so the sample-state builder can record the
    figures of a rehearsal measured elsewhere, through the same code.
    """
    with store.write() as tx:
        cur = tx.execute(
            "INSERT INTO mlflow_db_rehearsals (started_at, source_uri, source_sha256, "
            "source_unchanged, target_version, ok, error, duration_s, revision_before, "
            "revision_after, migrations, row_counts_before, row_counts_after, copy_path, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                result.started_at,
                secrets.scrub_text(result.source_uri),
                result.source_sha256,
                int(result.source_unchanged),
                result.target_version,
                int(result.ok),
                result.error,
                result.duration_s,
                result.revision_before,
                result.revision_after,
                json.dumps([list(m) for m in result.migrations]),
                json.dumps(result.row_counts_before, sort_keys=True),
                json.dumps(result.row_counts_after, sort_keys=True),
                result.copy_path,
                result.details_json(),
            ),
        )
        stored = dataclasses.replace(result, id=int(cur.lastrowid or 0))
        store.append_event(
            "mlflow.rehearsal.finished" if stored.clean else "mlflow.rehearsal.failed",
            {
                "id": stored.id,
                "db_uri": stored.source_uri,
                "to_version": stored.target_version,
                "ok": stored.clean,
                "upgrade_ok": stored.ok,
                "error": stored.error,
                "duration_s": stored.duration_s,
                "revision_before": stored.revision_before,
                "revision_after": stored.revision_after,
                "migrations": len(stored.migrations),
                "rows_lost": [c.table for c in stored.rows_lost()],
                "source_unchanged": stored.source_unchanged,
                "backend": stored.backend,
                "audit": stored.audit[:20],
                "foreign_revisions": stored.foreign_revisions,
                "slowest_steps": [list(s) for s in stored.slowest_steps()],
            },
            source=source,
            conn=tx,
        )
    return stored


def load_rehearsals(store: StateStore, *, until_ts: float | None = None) -> list[RehearsalResult]:
    """Recorded rehearsals, oldest first (``until_ts`` for time travel)."""
    sql = "SELECT * FROM mlflow_db_rehearsals"
    params: tuple[float, ...] = ()
    if until_ts is not None:
        sql += " WHERE started_at <= ?"
        params = (until_ts,)
    return [_from_row(r) for r in store.query(sql + " ORDER BY id", params)]


def _from_row(row) -> RehearsalResult:
    details = json.loads(row["details"] or "{}")
    return RehearsalResult(
        id=row["id"],
        started_at=row["started_at"],
        source_uri=row["source_uri"],
        source_sha256=row["source_sha256"],
        source_unchanged=bool(row["source_unchanged"]),
        target_version=row["target_version"],
        ok=bool(row["ok"]),
        error=row["error"],
        duration_s=row["duration_s"],
        revision_before=row["revision_before"],
        revision_after=row["revision_after"],
        migrations=[(m[0], m[1]) for m in json.loads(row["migrations"])],
        row_counts_before=json.loads(row["row_counts_before"]),
        row_counts_after=json.loads(row["row_counts_after"]),
        copy_path=row["copy_path"],
        copy_s=float(details.get("copy_s", 0.0)),
        audit_s=float(details.get("audit_s", 0.0)),
        backend=details.get("backend", dbtools.SQLITE),
        pending=[(m[0], m[1]) for m in details.get("pending", [])],
        step_seconds=list(details.get("step_seconds", [])),
        audit=list(details.get("audit", [])),
        audited=bool(details.get("audited", False)),
        foreign_revisions=list(details.get("foreign_revisions", [])),
        scratch=details.get("scratch"),
        scratch_kept=bool(details.get("scratch_kept", False)),
    )
