"""One SQLite file (WAL) per migration: metadata, the append-only event log, typed feature tables.

Opening rules, in the order they are checked, so a bad file is refused before SQLite touches it:

* a path that is not a file, an empty file, or a file without the SQLite header is refused;
* a corrupted file (``PRAGMA quick_check`` fails) is refused;
* a SQLite file without ``cockpit_meta`` (someone else's database) is refused;
* a file whose schema is newer than this cockpit is refused (a higher ``user_version``, or a
  migration in its applied-migrations record that this cockpit does not have);
* an older file is migrated forward inside one transaction when writable; when read-only it is
  migrated in an in-memory copy instead, so offline review of old files still works and the file
  itself is never written.

Read-only is enforced twice: the connection is opened with ``mode=ro`` and ``query_only``, and
every write method checks :attr:`StateStore.readonly` first and raises
:class:`~cockpit.errors.ReadOnlyError`. A WAL-mode file in a folder this user cannot write
(an archive) cannot even be opened ``mode=ro`` (SQLite must create its ``-shm`` file there), so
it is opened ``immutable=1`` instead, and a writable file in such a folder opens read-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cockpit import secrets
from cockpit.errors import ReadOnlyError, StateError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig

SQLITE_HEADER = b"SQLite format 3\x00"
# "Everything, whenever it happened": the bound of a read with no as-of moment.
FOREVER = float("inf")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def until(as_of: float | None) -> float:
    """The as-of rule every reader shares: a row belongs to moment ``as_of`` when its own time
    is ``<= as_of``; no moment (``None``) means the latest, i.e. no bound."""
    return FOREVER if as_of is None else as_of


@dataclass(frozen=True)
class MigrationRoute:
    """Which migration a file is about: the config's ``[migration]`` when there is a config
    (a live session), else what the file recorded (offline review of someone else's file)."""

    name: str  # "" when neither says
    from_runtime: str
    to_runtime: str

    @property
    def title(self) -> str:
        """The name for a document's title."""
        return self.name or "(unnamed migration)"


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    kind: str
    source: str
    payload: dict[str, Any] = field(default_factory=dict)


def _migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every bundled migration, in order, versions unique.

    Numbers are reserved per feature (see CONTRIBUTING.md) so they may have gaps; a file's
    ``user_version`` is the highest migration applied to it.
    """
    found = []
    for entry in resources.files("cockpit.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {[n for _, n, _ in found]}")
    return found


def latest_schema_version() -> int:
    found = _migrations()
    return found[-1][0] if found else 0


class StateStore:
    """A handle on one state file. Thread-safe: one connection guarded by a lock.

    Pollers in worker threads may share one store; another process (a recorder, a viewer) opens
    its own. WAL mode lets any number of readers follow one writer.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        *,
        readonly: bool,
        note: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        # Every default timestamp comes from here; the sample-state builder passes a fixed clock
        # so the shipped file is reproducible byte for byte in content.
        self.clock = clock
        self._lock = threading.RLock()
        self.path = path
        self.readonly = readonly
        # Why the store is read-only when nobody asked for it (e.g. "file is not writable").
        self.note = note

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        create: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> StateStore:
        path = Path(path)
        note = ""
        if path.exists() and create and _is_empty_file(path):
            # Another process has just created it (SQLite makes the file before its first
            # write): it is new, and the migration transaction below settles who fills it.
            pass
        elif path.exists():
            _check_header(path)
            if not readonly and not os.access(path, os.W_OK):
                readonly, note = True, "the file is not writable"
            elif not readonly and not os.access(path.parent, os.W_OK | os.X_OK):
                # SQLite writes its -wal and -shm files next to the database.
                readonly, note = True, "its folder is not writable"
        elif readonly or not create:
            raise StateError(f"no state file at {path}")
        else:
            if not path.parent.exists():
                raise StateError(f"cannot create {path}: folder {path.parent} does not exist")
        store = cls._open_readonly(path, note) if readonly else cls._open_writable(path, clock)
        store.clock = clock
        return store

    @classmethod
    def create_in_memory(cls) -> StateStore:
        """A throwaway writable store (tests, previews). Nothing touches the disk."""
        conn = _connect(":memory:", uri=False)
        store = cls(conn, Path(":memory:"), readonly=False)
        store._migrate()
        return store

    @classmethod
    def _open_writable(cls, path: Path, clock: Callable[[], float]) -> StateStore:
        try:
            conn = _connect(str(path), uri=False)
            _quick_check(conn, path)
            _check_ours(conn, path)
            _check_not_newer(conn, path)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} cannot be opened as a state file: {exc}") from None
        store = cls(conn, path, readonly=False, clock=clock)
        try:
            store._migrate()
        except StateError:
            conn.close()
            raise
        # WAL only once the file is known good and current: switching mode rewrites the header,
        # and a refused file must be left byte for byte as it was.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return store

    @classmethod
    def _open_readonly(cls, path: Path, note: str) -> StateStore:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        try:
            try:
                conn, version = _open_checked(uri, path)
            except sqlite3.OperationalError as exc:
                if not _cannot_open_in_place(exc):
                    raise
                # An archived WAL file in a folder we cannot write: SQLite cannot create the
                # -shm file it needs for mode=ro. immutable=1 reads the main file as it is
                # (nothing is locked or created); changes still in a -wal file are not seen.
                conn, version = _open_checked(uri + "&immutable=1", path)
                note = note or "opened as immutable: its folder is not writable"
                wal = path.with_name(path.name + "-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    note += f"; {wal.stat().st_size} bytes of changes in {wal.name} not shown"
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} cannot be opened as a state file: {exc}") from None
        probe = cls(conn, path, readonly=True)
        if probe._pending():
            # Older file: migrate a private in-memory copy so the file itself is never written.
            memory = _connect(":memory:", uri=False)
            conn.backup(memory)
            conn.close()
            migrated = cls(memory, path, readonly=False)
            migrated._migrate()
            memory.execute("PRAGMA query_only=ON")
            note = note or f"schema v{version} upgraded in memory for viewing"
            return cls(memory, path, readonly=True, note=note)
        return cls(conn, path, readonly=True, note=note)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- schema
    @property
    def schema_version(self) -> int:
        with self._lock:
            return _user_version(self._conn)

    def _applied(self) -> set[int]:
        """Migrations this file has. Recorded one by one in ``cockpit_schema_migrations``; a file
        made before that table existed has every migration up to its ``user_version``."""
        has_table = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cockpit_schema_migrations'"
        ).fetchone()
        if has_table:
            return {
                r[0] for r in self._conn.execute("SELECT version FROM cockpit_schema_migrations")
            }
        current = _user_version(self._conn)
        return {version for version, _, _ in _migrations() if version <= current}

    def _pending(self) -> list[tuple[int, str, str]]:
        applied = self._applied()
        # By set, not by "above the highest": features reserve numbers, so a lower number can
        # arrive after a higher one (0002 after 0007) and must still be applied.
        return [m for m in _migrations() if m[0] not in applied]

    def _has_log(self) -> bool:
        return bool(
            self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'cockpit_schema_migrations'"
            ).fetchone()
        )

    def _migrate(self) -> None:
        with self._lock:
            if not self._pending() and self._has_log():
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                # Read again under the write lock: two processes creating the same new file
                # both get here, and the second must see what the first has just applied.
                current = _user_version(self._conn)
                applied = self._applied()
                pending = self._pending()
                if not pending and self._has_log():
                    self._conn.execute("COMMIT")
                    return
                target = max([current, *(v for v, _, _ in pending)])
                now = self.clock()
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS cockpit_schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
                )
                names = {v: n for v, n, _ in _migrations()}
                for version in sorted(applied):
                    self._conn.execute(
                        "INSERT OR IGNORE INTO cockpit_schema_migrations VALUES (?, ?, ?)",
                        (version, names.get(version, ""), now),
                    )
                for version, name, sql in pending:
                    for statement in _split_sql(sql):
                        self._conn.execute(statement)
                    self._conn.execute(
                        "INSERT INTO cockpit_schema_migrations VALUES (?, ?, ?)",
                        (version, name, now),
                    )
                self._conn.execute(f"PRAGMA user_version={target}")
                if pending:
                    self._conn.execute(
                        "INSERT INTO events (ts, kind, source, payload) VALUES (?, ?, ?, ?)",
                        (
                            now,
                            "store.migrated",
                            "store",
                            json.dumps(
                                {
                                    "from": current,
                                    "to": target,
                                    "applied": [v for v, _, _ in pending],
                                }
                            ),
                        ),
                    )
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise StateError(
                    f"{self.path} cannot be upgraded to schema v{latest_schema_version()}: "
                    f"{exc}; the file was left as it was"
                ) from None
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    # ----------------------------------------------------------------- reading
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, params).fetchone()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM cockpit_meta WHERE key = ?", (key,))
        return row["value"] if row else default

    def meta(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.query("SELECT key, value FROM cockpit_meta")}

    def has_table(self, name: str) -> bool:
        """Whether the file has table ``name`` (a feature's readers say "nothing recorded" on an
        older file that never had it, e.g. one opened read-only without its migrations)."""
        row = self.query_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
        return row is not None

    def migration_route(self, config: CockpitConfig | None = None) -> MigrationRoute:
        if config is not None:
            m = config.migration
            return MigrationRoute(m.name, m.from_runtime, m.to_runtime)
        meta = self.meta()
        return MigrationRoute(
            meta.get("migration.name", ""),
            meta.get("migration.from", ""),
            meta.get("migration.to", ""),
        )

    def events(
        self,
        *,
        after_id: int = 0,
        until_ts: float | None = None,
        kinds: Sequence[str] | None = None,
        kind_prefix: str | None = None,
        search: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Event]:
        where: list[str] = ["id > ?"]
        params: list[Any] = [after_id]
        if until_ts is not None:
            where.append("ts <= ?")
            params.append(until_ts)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if kind_prefix:
            where.append("kind LIKE ? ESCAPE '\\'")
            params.append(_like_escape(kind_prefix) + "%")
        if search:
            where.append("(kind LIKE ? ESCAPE '\\' OR payload LIKE ? ESCAPE '\\')")
            needle = "%" + _like_escape(search) + "%"
            params.extend([needle, needle])
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id"
        if newest_first:
            sql += " DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_event(r) for r in self.query(sql, params)]

    def event_count(self, *, until_ts: float | None = None) -> int:
        row = self.query_one("SELECT COUNT(*) AS n FROM events WHERE ts <= ?", (until(until_ts),))
        return int(row["n"]) if row else 0

    def event_kind_counts(self, *, until_ts: float | None = None) -> list[tuple[str, int]]:
        """(kind, how many) up to ``until_ts``, most frequent first."""
        rows = self.query(
            "SELECT kind, COUNT(*) AS n FROM events WHERE ts <= ? GROUP BY kind ORDER BY n DESC",
            (until(until_ts),),
        )
        return [(r["kind"], int(r["n"])) for r in rows]

    def event_prefixes(self) -> tuple[str, ...]:
        """The features that have recorded events: each kind's first dotted part, sorted."""
        rows = self.query(
            "SELECT DISTINCT substr(kind, 1, instr(kind || '.', '.') - 1) AS p FROM events "
            "ORDER BY p"
        )
        return tuple(r["p"] for r in rows)

    def event_times(self) -> list[tuple[float, str]]:
        """(time, kind) of every event in time order: the steps time travel moves through."""
        rows = self.query("SELECT ts, kind FROM events ORDER BY ts, id")
        return [(r["ts"], r["kind"]) for r in rows]

    def latest_events_by(
        self, kind: str, key: str, *, until_ts: float | None = None
    ) -> dict[str, Event]:
        """The newest event of ``kind`` (up to ``until_ts``) for each value of ``payload[key]``:
        e.g. each source's last ``source.status``, each gate's last ``cutover.gate``."""
        rows = self.query(
            "SELECT * FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE kind = ? "
            "AND ts <= ? GROUP BY json_extract(payload, '$.' || ?)) ORDER BY id",
            (kind, until(until_ts), key),
        )
        found: dict[str, Event] = {}
        for row in rows:
            event = _event(row)
            name = event.payload.get(key)
            if name:
                found[str(name)] = event
        return found

    def last_event_id(self) -> int:
        row = self.query_one("SELECT COALESCE(MAX(id), 0) AS m FROM events")
        return int(row["m"]) if row else 0

    def change_marker(self) -> tuple[int, int]:
        """Cheap value that changes whenever anyone (this or another process) commits.

        Viewers poll it to know when to re-render without re-reading every table.
        """
        with self._lock:
            data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return (data_version, self.last_event_id())

    # ----------------------------------------------------------------- writing
    def _require_writable(self) -> None:
        if self.readonly:
            why = f" ({self.note})" if self.note else ""
            raise ReadOnlyError(f"{self.path} is open read-only{why}; nothing was written")

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction. Everything inside commits together or not at all."""
        self._require_writable()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def append_event(
        self,
        kind: str,
        payload: dict[str, Any] | None = None,
        *,
        source: str = "cli",
        ts: float | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> int:
        """Append one event. Pass ``conn`` from :meth:`write` to join an open transaction."""
        body = json.dumps(secrets.scrub(payload or {}), sort_keys=True, default=str)
        row = (self.clock() if ts is None else ts, kind, source, body)
        sql = "INSERT INTO events (ts, kind, source, payload) VALUES (?, ?, ?, ?)"
        if conn is not None:
            self._require_writable()
            return int(conn.execute(sql, row).lastrowid or 0)
        with self.write() as tx:
            return int(tx.execute(sql, row).lastrowid or 0)

    def set_meta(self, key: str, value: str, *, conn: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO cockpit_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if conn is not None:
            self._require_writable()
            conn.execute(sql, (key, secrets.scrub_text(value)))
            return
        with self.write() as tx:
            tx.execute(sql, (key, secrets.scrub_text(value)))

    def checkpoint(self) -> None:
        """Fold the WAL into the main file (used before shipping a file, e.g. the sample)."""
        self._require_writable()
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --------------------------------------------------------------------- helpers
def _connect(target: str, *, uri: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        target, uri=uri, isolation_level=None, check_same_thread=False, timeout=10.0
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _is_empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def _open_checked(uri: str, path: Path) -> tuple[sqlite3.Connection, int]:
    """A read-only connection on ``uri`` that passed every opening check, and its version."""
    conn = _connect(uri, uri=True)
    try:
        conn.execute("PRAGMA query_only=ON")
        _quick_check(conn, path)
        _check_ours(conn, path)
        _check_not_newer(conn, path)
        return conn, _user_version(conn)
    except BaseException:
        conn.close()
        raise


def _cannot_open_in_place(exc: sqlite3.OperationalError) -> bool:
    """SQLite's "readonly" or "cannot open": what mode=ro says for a WAL file whose -shm it
    cannot create (not a damaged file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN)
    text = str(exc)
    return "readonly" in text or "unable to open" in text


def _check_header(path: Path) -> None:
    if not path.is_file():
        raise StateError(f"{path} is not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise StateError(f"{path} is empty, not a cockpit state file")
    if head != SQLITE_HEADER:
        raise StateError(f"{path} is not a SQLite file, so not a cockpit state file")


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.OperationalError:
        raise  # cannot open or lock it (a read-only folder, a busy file): not corruption
    except sqlite3.DatabaseError as exc:
        raise StateError(f"{path} is corrupted: {exc}") from None
    if result != "ok":
        raise StateError(f"{path} is corrupted: {result}")


def _check_ours(conn: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "cockpit_meta" not in tables:
        raise StateError(f"{path} is a SQLite database but not a cockpit state file")


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check_not_newer(conn: sqlite3.Connection, path: Path) -> None:
    version, latest = _user_version(conn), latest_schema_version()
    if version > latest:
        raise StateError(
            f"{path} has state schema v{version}, newer than this cockpit understands "
            f"(v{latest}); upgrade migration-cockpit to open it"
        )
    # Migration numbers are reserved per feature, so a newer cockpit can add one below the
    # highest (0006 after 0008) without raising user_version: the applied record tells.
    has_log = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cockpit_schema_migrations'"
    ).fetchone()
    if has_log:
        known = {v for v, _, _ in _migrations()}
        unknown = sorted(
            r[0]
            for r in conn.execute("SELECT version FROM cockpit_schema_migrations")
            if r[0] not in known
        )
        if unknown:
            raise StateError(
                f"{path} has state schema migrations {', '.join(map(str, unknown))} that this "
                "cockpit does not have, so it is newer than this cockpit understands; "
                "upgrade migration-cockpit to open it"
            )


def _split_sql(sql: str) -> list[str]:
    """Split a migration into statements; trigger bodies (BEGIN ... END;) stay whole."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if line.strip().startswith("--") and not buf.strip():
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        ts=row["ts"],
        kind=row["kind"],
        source=row["source"],
        payload=json.loads(row["payload"]),
    )
