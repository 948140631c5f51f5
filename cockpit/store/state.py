"""One SQLite file (WAL) per migration: metadata, the append-only event log, typed feature tables.

Opening rules, in the order they are checked, so a bad file is refused before SQLite touches it:

* a path that is not a file, an empty file, or a file without the SQLite header is refused;
* a corrupted file (``PRAGMA quick_check`` fails) is refused;
* a SQLite file without ``cockpit_meta`` (someone else's database) is refused;
* a file whose schema is newer than this cockpit is refused (a higher ``user_version``, or a
  migration in its applied-migrations record that this cockpit does not have);
* an older file is migrated forward inside one transaction when writable. Read-only, the file
  itself is never written: when all it lacks are new tables and indexes it is read as it is,
  the new tables made empty in the connection's TEMP schema (an index changes how fast a read
  is, never what it returns); when it lacks more (a column), a private copy on disk (see
  :mod:`cockpit.store.viewcopy`) is migrated and read instead. Memory never grows with the file.

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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cockpit import secrets
from cockpit.errors import ReadOnlyError, StateError, StateUnreadableError
from cockpit.store.viewcopy import ViewCopy

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig

SQLITE_HEADER = b"SQLite format 3\x00"
# "Everything, whenever it happened": the bound of a read with no as-of moment.
FOREVER = float("inf")
# Above this size a read-only viewer that asks for it (``cockpit open --offline``) runs the
# integrity check after its first frame instead of before: ``PRAGMA quick_check`` reads every
# page, 1.3 s for a month of recording (400 MB), and the file cannot be damaged by reading it.
DEFER_CHECK_BYTES = 64 * 1024 * 1024
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

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Event:
        """An event from a ``SELECT * FROM events`` row (its payload stored as JSON)."""
        return cls(row["id"], row["ts"], row["kind"], row["source"], json.loads(row["payload"]))


@dataclass(frozen=True)
class EventPosition:
    """Where a moment falls in the event log (time travel's bar), read through the ts index."""

    total: int  # events in the log
    index: int | None  # 0-based, in (ts, id) order, of the last event at or before the moment
    kind: str | None  # that event's kind (the newest event's when the moment is "latest")
    first_ts: float | None
    last_ts: float | None


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
        # True while the opening integrity check is still owed (see defer_check in open()).
        self.check_deferred = False
        self._check_uri = ""
        self._total_cache: tuple[tuple[int, int], int] | None = None
        self._kind_totals_cache: tuple[tuple[int, int], dict[str, int]] | None = None
        self._kind_ts_index: bool | None = None
        # The private migrated copy an older read-only file is read from (removed on close).
        self._copy: ViewCopy | None = None

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        readonly: bool = False,
        create: bool = False,
        clock: Callable[[], float] = time.time,
        defer_check: bool = False,
    ) -> StateStore:
        """``defer_check``: a read-only file above :data:`DEFER_CHECK_BYTES` skips ``PRAGMA
        quick_check`` here; the caller must run :meth:`run_deferred_check` (the TUI does, in a
        worker after its first frame) and give up on the file if it fails."""
        path = Path(path)
        note = ""
        # Asked once: another process creating the same new file can make it appear between
        # two exists() calls, and an empty file then read as "not a state file".
        exists = path.exists()
        if exists and create and _is_empty_file(path):
            # Another process has just created it (SQLite makes the file before its first
            # write): it is new, and the migration transaction below settles who fills it.
            pass
        elif exists:
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
            _create_whole(path, clock)
        if readonly:
            defer = defer_check and path.stat().st_size > DEFER_CHECK_BYTES
            store = cls._open_readonly(path, note, defer=defer)
        else:
            store = cls._open_writable(path, clock)
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
            raise StateUnreadableError(f"{path} cannot be opened as a state file: {exc}") from None
        store = cls(conn, path, readonly=False, clock=clock)
        try:
            store._migrate()
        except StateError:
            conn.close()
            raise
        # WAL only once the file is known good and current: switching mode rewrites the header,
        # and a refused file must be left byte for byte as it was.
        try:
            _switch_to_wal(conn)
        except sqlite3.OperationalError as exc:
            conn.close()
            raise StateError(f"cannot open {path} for writing: {exc}") from None
        conn.execute("PRAGMA synchronous=NORMAL")
        return store

    @classmethod
    def _open_readonly(cls, path: Path, note: str, *, defer: bool = False) -> StateStore:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        try:
            try:
                conn, version = _open_checked(uri, path, quick=not defer)
            except sqlite3.OperationalError as exc:
                if not _cannot_open_in_place(exc):
                    raise
                # An archived WAL file in a folder we cannot write: SQLite cannot create the
                # -shm file it needs for mode=ro. immutable=1 reads the main file as it is
                # (nothing is locked or created); changes still in a -wal file are not seen.
                uri += "&immutable=1"
                conn, version = _open_checked(uri, path, quick=not defer)
                note = note or "opened as immutable: its folder is not writable"
                wal = path.with_name(path.name + "-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    note += f"; {wal.stat().st_size} bytes of changes in {wal.name} not shown"
        except sqlite3.DatabaseError as exc:
            raise StateUnreadableError(f"{path} cannot be opened as a state file: {exc}") from None
        probe = cls(conn, path, readonly=True)
        pending = probe._pending()
        if pending and probe._has_log() and all(_additive(sql) for _, _, sql in pending):
            # Only new tables and indexes missing (every file recorded before 0014): read it in
            # place. A copy would cost the file's size in disk or memory, and time, for nothing
            # a read needs: the new tables would be empty in it (this file never had them), so
            # they are made empty in the connection's private TEMP schema, which unqualified
            # names reach like the file's own tables; indexes change no answer, only speed.
            try:
                _add_in_temp(conn, pending, probe.clock())
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise StateError(
                    f"{path} cannot be upgraded to schema v{latest_schema_version()}: {exc}; "
                    "the file was left as it was"
                ) from None
            missing = ", ".join(f"{v:04d}" for v, _, _ in pending)
            note = note or f"schema v{version}, read without migrations {missing} (no copy)"
            pending = []
        if pending:
            # Older file lacking more than new tables (a column): migrate a private copy on
            # disk so the file itself is never written and memory does not grow with its size. The copy is the file page
            # for page, so a deferred integrity check runs on it after the first frame.
            try:
                copy = ViewCopy.of(conn, path)
            finally:
                conn.close()
            try:
                copy_conn = _connect(str(copy.path), uri=False)
                migrated = cls(copy_conn, path, readonly=False)
                try:
                    migrated._migrate(for_reading=True)
                except StateError:
                    if defer:  # a damaged file is told as damaged, not as "cannot be upgraded"
                        _quick_check(copy_conn, path)
                    raise
                copy_conn.execute("PRAGMA query_only=ON")
            except BaseException:
                with contextlib.suppress(NameError, sqlite3.Error):
                    copy_conn.close()
                copy.remove()
                raise
            note = note or f"schema v{version} upgraded in a private copy for viewing"
            store = cls(copy_conn, path, readonly=True, note=note)
            store._copy = copy
            store.check_deferred = defer
            store._check_uri = f"file:{quote(str(copy.path))}?mode=ro"
            return store
        store = cls(conn, path, readonly=True, note=note)
        store.check_deferred = defer
        store._check_uri = uri
        return store

    def run_deferred_check(self) -> None:
        """The opening integrity check a ``defer_check`` open skipped, on a connection of its
        own (the viewer's queries are not held up meanwhile). Raises :class:`StateError`."""
        if not self.check_deferred:
            return
        try:
            conn = _connect(self._check_uri, uri=True)
        except sqlite3.DatabaseError as exc:
            raise StateUnreadableError(
                f"{self.path} cannot be opened as a state file: {exc}"
            ) from None
        try:
            _quick_check(conn, self.path)
        except sqlite3.DatabaseError as exc:
            raise StateUnreadableError(
                f"{self.path} cannot be opened as a state file: {exc}"
            ) from None
        finally:
            conn.close()
        self.check_deferred = False

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._copy is not None:
                self._copy.remove()

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

    def _pending(self, *, for_reading: bool = False) -> list[tuple[int, str, str]]:
        """``for_reading``: without the index-only migrations (an index decides how SQLite finds
        rows, never which, and no migration needs one to run): a copy migrated only to be read
        skips building indexes (2.5 s on a month of recording) that change no answer."""
        applied = self._applied()
        # By set, not by "above the highest": features reserve numbers, so a lower number can
        # arrive after a higher one (0002 after 0007) and must still be applied.
        pending = [m for m in _migrations() if m[0] not in applied]
        if for_reading:
            pending = [m for m in pending if not _index_only(m[2])]
        return pending

    def _has_log(self) -> bool:
        return bool(
            self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'cockpit_schema_migrations'"
            ).fetchone()
        )

    def _migrate(self, *, for_reading: bool = False) -> None:
        with self._lock:
            if not self._pending(for_reading=for_reading) and self._has_log():
                return
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                # Read again under the write lock: two processes creating the same new file
                # both get here, and the second must see what the first has just applied.
                current = _user_version(self._conn)
                applied = self._applied()
                pending = self._pending(for_reading=for_reading)
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
        with self._lock, self._corruption_is_state_error():
            return self._conn.execute(sql, params).fetchall()

    def query_one(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> sqlite3.Row | None:
        with self._lock, self._corruption_is_state_error():
            return self._conn.execute(sql, params).fetchone()

    def query_columns(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), *, chunk: int = 10_000
    ) -> list[list[Any]]:
        """A result as one list per column, read ``chunk`` rows at a time: for results of
        100,000 rows (a month of run history), which as ``sqlite3.Row`` objects cost ~550 bytes
        each. Repeated strings (names, runtimes) are stored once."""
        with self._lock, self._corruption_is_state_error():
            cursor = self._conn.cursor()
            cursor.row_factory = None
            cursor.execute(sql, params)
            columns: list[list[Any]] = [[] for _ in cursor.description or ()]
            while rows := cursor.fetchmany(chunk):
                for column, values in zip(columns, zip(*rows, strict=True), strict=True):
                    if not isinstance(values[0], str):
                        column.extend(values)  # numbers (a stray text value is kept as it is)
                        continue
                    try:
                        part = list(map(sys.intern, values))  # a text column, at C speed
                    except TypeError:  # NULLs (or numbers) among the text
                        part = [sys.intern(v) if isinstance(v, str) else v for v in values]
                    column.extend(part)
            return columns

    @contextlib.contextmanager
    def _corruption_is_state_error(self) -> Iterator[None]:
        """A damaged page met by a read (possible before a deferred integrity check has run) is
        the same one-line error as at opening, not a traceback."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                raise StateUnreadableError(f"{self.path} is corrupted: {exc}") from None
            raise

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
        by_time: bool = False,
        search_window: int | None = None,
    ) -> list[Event]:
        """Events in write (id) order, oldest first unless ``newest_first``.

        ``by_time``: in time order, (ts, id), instead: what a timeline as of a moment shows.
        The ts and (kind, ts) indexes give the newest events at or before a moment in one
        search, where id order walks back over every later event first (0.2 s half-way
        through a month of recording).

        ``search_window`` (with ``newest_first`` and ``by_time``): ``search`` looks only
        through the newest that many events at or before ``until_ts`` (whatever their kind): a
        text search reads each payload, so a search that matches little would otherwise read
        the whole log at every keystroke. The window's oldest event is found on the ts index;
        the search then stops at ``limit`` matches or at that event, whichever comes first."""
        if search_window is not None and not (newest_first and by_time):
            raise ValueError("search_window counts back from the newest: needs newest_first")
        # "id > 0" only when asked: a rowid range makes SQLite walk the table instead of the
        # (kind, ts) index.
        where: list[str] = ["id > ?"] if after_id else []
        params: list[Any] = [after_id] if after_id else []
        if until_ts is not None:
            where.append("ts <= ?")
            params.append(until_ts)
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if kind_prefix:
            # The range lets SQLite search the kind index (LIKE alone scans all of it); LIKE
            # keeps the exact prefix test.
            where.append("kind >= ? AND kind < ? AND kind LIKE ? ESCAPE '\\'")
            params.extend([kind_prefix, _prefix_end(kind_prefix), _like_escape(kind_prefix) + "%"])
        if search:
            if search_window is not None:
                oldest = self.query_one(
                    "SELECT ts, id FROM events WHERE ts <= ? ORDER BY ts DESC, id DESC "
                    "LIMIT 1 OFFSET ?",
                    (until(until_ts), max(0, int(search_window) - 1)),
                )
                if oldest is not None:  # else fewer events than that: all are searched
                    where.append("ts >= ? AND (ts > ? OR id >= ?)")
                    params.extend([oldest["ts"], oldest["ts"], oldest["id"]])
            where.append("(kind LIKE ? ESCAPE '\\' OR payload LIKE ? ESCAPE '\\')")
            needle = "%" + _like_escape(search) + "%"
            params.extend([needle, needle])
        order = " ORDER BY ts, id" if by_time else " ORDER BY id"
        if newest_first:
            order = order.replace(",", " DESC,") + " DESC"
        sql = "SELECT * FROM events"
        if where:
            sql += f" WHERE {' AND '.join(where)}"
        sql += order
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [Event.from_row(r) for r in self.query(sql, params)]

    def event_kind_counts(self, *, until_ts: float | None = None) -> list[tuple[str, int]]:
        """(kind, how many) up to ``until_ts``, most frequent first (then by kind).

        Counted kind by kind on the (kind, ts) index, from the moment's nearer end: the totals
        are kept until the file changes (as :meth:`event_count`'s), so as of a moment near the
        latest only the events after it are counted. One GROUP BY over the log read every
        index entry at every call (0.23 s at a million events)."""
        if not self._has_kind_ts_index():
            # A file read without migration 0013 (see _open_readonly): counting kind by kind
            # would look each event's time up in the table, at random; one pass over the table
            # in page order is faster.
            rows = self.query(
                "SELECT kind, COUNT(*) AS n FROM events WHERE ts <= ? GROUP BY kind",
                (until(until_ts),),
            )
            counts = {r["kind"]: int(r["n"]) for r in rows}
            return sorted(counts.items(), key=lambda kn: (-kn[1], kn[0]))
        totals = self._kind_totals()
        first, last = self.event_span() if until_ts is not None else (None, None)
        if until_ts is None or first is None or last is None:
            counts = totals
        else:
            if until_ts - first > last - until_ts:
                sql = "SELECT COUNT(*) FROM events WHERE kind = ? AND ts > ?"
                counts = {k: n - self._count(sql, (k, until_ts)) for k, n in totals.items()}
            else:
                sql = "SELECT COUNT(*) FROM events WHERE kind = ? AND ts <= ?"
                counts = {k: self._count(sql, (k, until_ts)) for k in totals}
        return sorted(((k, n) for k, n in counts.items() if n), key=lambda kn: (-kn[1], kn[0]))

    def _has_kind_ts_index(self) -> bool:
        """Whether an index on events starts with (kind, ts)."""
        if self._kind_ts_index is None:
            found = False
            for index in self.query("PRAGMA index_list(events)"):
                columns = self.query(f"PRAGMA index_info({_quote_ident(index['name'])})")
                found = found or [c["name"] for c in columns][:2] == ["kind", "ts"]
            self._kind_ts_index = found
        return self._kind_ts_index

    def _kind_totals(self) -> dict[str, int]:
        marker = self.change_marker()
        if self._kind_totals_cache is None or self._kind_totals_cache[0] != marker:
            sql = "SELECT COUNT(*) FROM events WHERE kind = ?"
            totals = {kind: self._count(sql, (kind,)) for kind in self.event_kinds()}
            self._kind_totals_cache = (marker, totals)
        return self._kind_totals_cache[1]

    def event_prefixes(self) -> tuple[str, ...]:
        """The features that have recorded events: each kind's first dotted part, sorted."""
        return tuple(sorted({kind.split(".", 1)[0] for kind in self.event_kinds()}))

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
            event = Event.from_row(row)
            name = event.payload.get(key)
            if name:
                found[str(name)] = event
        return found

    def event_position(self, as_of: float | None = None) -> EventPosition:
        """The time-travel bar's figures without reading the log into memory: a few queries on
        the ts index, whatever the log's size."""
        first, last = self.event_span()
        if first is None or last is None:
            return EventPosition(0, None, None, None, None)
        total = self.event_count()
        moment = last if as_of is None else as_of
        newest = self.query_one(
            "SELECT kind FROM events WHERE ts <= ? ORDER BY ts DESC, id DESC LIMIT 1", (moment,)
        )
        if newest is None:
            return EventPosition(total, None, None, first, last)
        index = self.event_count(until_ts=moment, span=(first, last), total=total) - 1
        return EventPosition(total, index, newest["kind"], first, last)

    def event_count(
        self,
        *,
        until_ts: float | None = None,
        span: tuple[float, float] | None = None,
        total: int | None = None,
    ) -> int:
        """Events at or before ``until_ts`` (all when None), counted on the ts index from its
        nearer end: near "latest" only the few events after the moment are counted."""
        if total is None:
            total = self._event_total()
        if until_ts is None or total == 0:
            return total
        first, last = span if span is not None else self.event_span()
        if first is None or last is None:
            return total
        if until_ts - first > last - until_ts:
            return total - self._count("SELECT COUNT(*) FROM events WHERE ts > ?", (until_ts,))
        return self._count("SELECT COUNT(*) FROM events WHERE ts <= ?", (until_ts,))

    def _count(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.query_one(sql, params)
        return int(row[0]) if row is not None else 0

    def event_span(self) -> tuple[float | None, float | None]:
        """The first and the last event time (None, None for an empty log)."""
        # Two queries: SQLite answers a lone MIN() or MAX() from one end of the ts index, but
        # both in one SELECT walk all of it.
        first = self.query_one("SELECT MIN(ts) AS t FROM events")
        last = self.query_one("SELECT MAX(ts) AS t FROM events")
        return (first["t"] if first else None, last["t"] if last else None)

    def _event_total(self) -> int:
        # COUNT(*) walks a whole index (30 ms at a million events); the log only grows, so the
        # count is kept until the file changes (the change marker sees other processes too).
        marker = self.change_marker()
        if self._total_cache is None or self._total_cache[0] != marker:
            total = self._count("SELECT COUNT(*) FROM events")
            self._total_cache = (marker, total)
        return self._total_cache[1]

    def event_kinds(self) -> list[str]:
        """Every distinct event kind, sorted: one index search per kind (a skip scan), not a
        walk over every event."""
        rows = self.query(
            "WITH RECURSIVE k(kind) AS (SELECT MIN(kind) FROM events UNION ALL "
            "SELECT (SELECT MIN(kind) FROM events WHERE kind > k.kind) FROM k "
            "WHERE k.kind IS NOT NULL) SELECT kind FROM k WHERE kind IS NOT NULL"
        )
        return [r["kind"] for r in rows]

    def event_time_before(self, ts: float) -> float | None:
        """The latest event time strictly before ``ts`` (one step back), or None."""
        row = self.query_one("SELECT MAX(ts) AS t FROM events WHERE ts < ?", (ts,))
        return row["t"] if row else None

    def event_time_after(self, ts: float) -> float | None:
        """The earliest event time strictly after ``ts`` (one step forward), or None."""
        row = self.query_one("SELECT MIN(ts) AS t FROM events WHERE ts > ?", (ts,))
        return row["t"] if row else None

    def last_event_id(self) -> int:
        row = self.query_one("SELECT COALESCE(MAX(id), 0) AS m FROM events")
        return int(row["m"]) if row else 0

    def event_moments_after(self, event_id: int) -> list[tuple[int, float]]:
        """(id, time) of the events written after ``event_id``, in write order: the moments a
        follower (the recorder's statistics) has not handled yet."""
        return [
            (int(r["id"]), float(r["ts"]))
            for r in self.query("SELECT id, ts FROM events WHERE id > ? ORDER BY id", (event_id,))
        ]

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

    def append_events(self, events: Iterable[tuple[str, dict[str, Any], str, float]]) -> int:
        """Append many ``(kind, payload, source, ts)`` events in one statement (a recorder's
        backlog, a bench's month of history): the same scrubbing as :meth:`append_event`, one
        transaction, no per-event round trip. Returns how many were written."""
        rows = [
            (ts, kind, source, json.dumps(secrets.scrub(payload), sort_keys=True, default=str))
            for kind, payload, source, ts in events
        ]
        sql = "INSERT INTO events (ts, kind, source, payload) VALUES (?, ?, ?, ?)"
        with self.write() as tx:
            tx.executemany(sql, rows)
        return len(rows)

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


def _create_whole(path: Path, clock: Callable[[], float]) -> None:
    """Make a new state file so that it appears at ``path`` complete, with every table.

    SQLite creates the file empty and fills it on the first commit: a viewer or a second
    ``cockpit`` opening it in between read "is empty, not a cockpit state file" (CI saw a
    reader lose that race against ``cockpit record``). So the file is built under a private
    name in the same folder and linked into place; a link never replaces a file, so of two
    processes creating the same path one wins and the other opens the winner's file."""
    # Short, whatever the file's name (a long name plus a suffix could pass NAME_MAX).
    temp = path.with_name(f".cockpit-{os.getpid()}-{os.urandom(4).hex()}.creating")
    try:
        try:
            conn = _connect(str(temp), uri=False)
        except sqlite3.Error as exc:
            raise StateError(f"cannot create {path}: {exc}") from None
        try:
            StateStore(conn, path, readonly=False, clock=clock)._migrate()
            # WAL already in the header it is linked with: two processes opening the new file
            # at once would otherwise both switch it, and a switch needs the file to itself.
            conn.execute("PRAGMA journal_mode=WAL")
        except StateError as exc:
            # Said of ``path``, which does not exist yet: not "upgraded", "left as it was".
            raise StateError(f"cannot create {path}: {exc.message}") from None
        finally:
            conn.close()
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: open theirs
        except OSError:
            # A filesystem without hard links: SQLite's own creation (the empty-file window
            # is back, and the BEGIN IMMEDIATE in _migrate still settles who fills the file).
            return
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _switch_to_wal(conn: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """``PRAGMA journal_mode=WAL``, tried again for ``wait_s`` when refused as busy.

    A switch of a rollback-journal file waits (busy_timeout) for a reader to let go, but when
    two connections switch the same file at once, each holding its shared lock, SQLite refuses
    one of them at once rather than deadlock: "database is locked", with no wait (CI, two
    processes opening one new file). The refused one has let go of its lock; trying again
    finds the file switched. A file already in WAL mode needs no switch and no lock.
    """
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _is_empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def _open_checked(uri: str, path: Path, *, quick: bool = True) -> tuple[sqlite3.Connection, int]:
    """A read-only connection on ``uri`` that passed every opening check (all but the page by
    page ``quick_check`` when ``quick`` is False), and its version."""
    conn = _connect(uri, uri=True)
    try:
        conn.execute("PRAGMA query_only=ON")
        if quick:
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
        raise StateUnreadableError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head:
        raise StateUnreadableError(f"{path} is empty, not a cockpit state file")
    if head != SQLITE_HEADER:
        raise StateUnreadableError(f"{path} is not a SQLite file, so not a cockpit state file")


def _quick_check(conn: sqlite3.Connection, path: Path) -> None:
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.OperationalError:
        raise  # cannot open or lock it (a read-only folder, a busy file): not corruption
    except sqlite3.DatabaseError as exc:
        raise StateUnreadableError(f"{path} is corrupted: {exc}") from None
    if result != "ok":
        raise StateUnreadableError(f"{path} is corrupted: {result}")


def _check_ours(conn: sqlite3.Connection, path: Path) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "cockpit_meta" not in tables:
        raise StateUnreadableError(f"{path} is a SQLite database but not a cockpit state file")


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


_INDEX_STATEMENT = re.compile(r"^(CREATE\s+(UNIQUE\s+)?INDEX|DROP\s+INDEX)\b", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^CREATE\s+TABLE\b", re.IGNORECASE)


def _statements(sql: str) -> list[str]:
    """A migration's statements without their comment lines."""
    statements = [
        "\n".join(line for line in s.splitlines() if not line.strip().startswith("--")).strip()
        for s in _split_sql(sql)
    ]
    return [s for s in statements if s]


def _index_only(sql: str) -> bool:
    """Whether a migration only creates or drops indexes: then a file without it answers every
    read the same (an index decides how SQLite finds rows, never which), only slower."""
    statements = _statements(sql)
    return bool(statements) and all(_INDEX_STATEMENT.match(s) for s in statements)


def _additive(sql: str) -> bool:
    """Whether a migration only creates tables and creates or drops indexes: a file without it
    reads as one with it once its new tables exist, empty (see :func:`_add_in_temp`)."""
    statements = _statements(sql)
    return bool(statements) and all(
        _INDEX_STATEMENT.match(s) or _CREATE_TABLE.match(s) for s in statements
    )


def _add_in_temp(conn: sqlite3.Connection, pending: list[tuple[int, str, str]], now: float) -> None:
    """The additive ``pending`` migrations, for reading only: their tables created empty in the
    connection's TEMP schema (private to it, gone when it closes; the file is not written), and
    the applied-migrations record shadowed there with them, so the view is at the latest
    schema. Their indexes are left out."""
    conn.execute("PRAGMA query_only=OFF")  # the TEMP schema only: the file is open mode=ro
    try:
        for _, _, sql in pending:
            for statement in _statements(sql):
                if _CREATE_TABLE.match(statement):
                    conn.execute(_CREATE_TABLE.sub("CREATE TEMP TABLE", statement, count=1))
        conn.execute(
            "CREATE TEMP TABLE cockpit_schema_migrations AS "
            "SELECT * FROM main.cockpit_schema_migrations"
        )
        conn.executemany(
            "INSERT INTO temp.cockpit_schema_migrations VALUES (?, ?, ?)",
            [(version, name, now) for version, name, _ in pending],
        )
    finally:
        conn.execute("PRAGMA query_only=ON")


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (prefix is not empty)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
