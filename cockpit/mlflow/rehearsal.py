"""Rehearse the backend DB upgrade: the target release's `mlflow db upgrade`, on a copy only.

The production backend is the one thing that must not change before cutover, so the original is
opened read-only, copied with SQLite's online backup API (a consistent snapshot even while the
1.x server keeps writing), and checksummed before and after; every figure comes from the copy.
What is recorded: how long the upgrade took, the alembic revision and row counts per table
before and after, and each alembic step it ran.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit import secrets
from cockpit.errors import CockpitError
from cockpit.mlflow import schema, venvs
from cockpit.mlflow.venvs import migration_chain

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

    @property
    def clean(self) -> bool:
        """The upgrade ran, lost no rows, and nothing migrated the original meanwhile.

        ``source_unchanged`` (the original's checksum) is not part of it: a production backend
        keeps being written by its own server during a rehearsal, which changes the bytes but
        not the schema. The rehearsal itself only ever opens the original read-only.
        """
        return self.ok and self.error is None and not self.rows_lost()

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
        }


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
    progress: venvs.Progress = venvs._quiet,
    source: str = "cli",
    timeout_s: float = 1800.0,
) -> RehearsalResult:
    """Copy the backend at ``db_uri``, upgrade the copy with ``to_version``, record the result.

    ``keep_copy`` keeps the upgraded copy at that path (e.g. to start a new server on it);
    otherwise it is deleted. Raises :class:`CockpitError` for bad input (URI, version, a file
    that is not an MLflow SQLite backend); an upgrade that fails is a recorded result, not an
    exception.
    """
    venvs.parse_version(to_version)
    original = schema.sqlite_path(db_uri)
    if not original.is_file():
        raise CockpitError(f"no backend database at {original} (from --db {db_uri})")
    if not schema.is_sqlite_file(original):
        raise CockpitError(f"{original} is not a SQLite database")
    if keep_copy is not None:
        keep_copy = Path(keep_copy)
        if keep_copy.exists():
            raise CockpitError(f"--keep-copy {keep_copy} already exists; pick a new path")
        if not keep_copy.parent.is_dir():
            raise CockpitError(f"--keep-copy: folder {keep_copy.parent} does not exist")
        if keep_copy.resolve() == original.resolve():
            raise CockpitError("--keep-copy must not be the original database")
    if schema.read_revision(original) is None:
        raise CockpitError(f"{original} has no alembic_version table: not an MLflow backend")

    started_at = store.clock()
    sha_before = schema.file_sha256(original)
    venvs.install(to_version, progress=progress)
    work = Path(tempfile.mkdtemp(prefix="cockpit-rehearsal-"))
    try:
        copy = work / "mlflow.db"
        progress(f"copying {original} (read-only) to {copy}")
        backup_copy(original, copy)
        revision_before = schema.read_revision(copy)
        counts_before = schema.table_counts(copy)
        progress(f"running mlflow {to_version} `db upgrade` on the copy")
        began = time.monotonic()
        result = venvs.run_mlflow_cli(
            to_version, ["db", "upgrade", f"sqlite:///{copy}"], timeout=timeout_s, cwd=work
        )
        duration = time.monotonic() - began
        output = f"{result.stdout}\n{result.stderr}"
        steps = [(m["src"], m["dst"]) for m in _STEP.finditer(output)]
        ok = result.returncode == 0
        error = None
        if not ok:
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            error = lines[-1] if lines else f"exit code {result.returncode}"
        revision_after = schema.read_revision(copy) if ok else None
        if ok and not steps:
            steps = steps_between(migration_chain(to_version), revision_before, revision_after)
        counts_after = schema.table_counts(copy) if ok else {}
        kept = None
        if keep_copy is not None and ok:
            shutil.move(str(copy), str(keep_copy))
            kept = str(keep_copy.resolve())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sha_after = schema.file_sha256(original)
    # The original's schema must not have moved (that is what breaks the old server); its rows
    # may have, if its server is live.
    original_revision = schema.read_revision(original)
    if ok and original_revision != revision_before:
        error = (
            f"the original's schema revision changed during the rehearsal ({revision_before} -> "
            f"{original_revision}): something else migrated it in place"
        )

    measured = RehearsalResult(
        id=0,
        started_at=started_at,
        source_uri=db_uri,
        source_sha256=sha_before,
        source_unchanged=sha_after == sha_before,
        target_version=to_version,
        ok=ok,
        error=error,
        duration_s=round(duration, 3),
        revision_before=revision_before,
        revision_after=revision_after,
        migrations=steps,
        row_counts_before=counts_before,
        row_counts_after=counts_after,
        copy_path=kept,
    )
    return record_rehearsal(store, measured, source=source)


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
            "revision_after, migrations, row_counts_before, row_counts_after, copy_path) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    )
