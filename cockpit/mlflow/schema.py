"""An MLflow backend database's schema, read directly, and a watch on the old server's revision.

Why a watch: a 2.x or 3.x server (or a stray `mlflow db upgrade`) pointed at the production 1.x
database migrates it in place without asking, and from then on the 1.x server refuses to start.
The cockpit cannot prevent someone doing that, but it notices at once: :class:`SchemaWatch`
reads the alembic revision every few seconds and, the moment it differs from the baseline,
records an event, sets a persistent alarm in the state file and calls back the UI.

Everything here reads SQLite with :mod:`sqlite3` in read-only mode (no mlflow import), and
PostgreSQL/MySQL through :class:`cockpit.mlflow.dbtools.ReadOnlyDB` (read-only sessions the
server enforces), so watching can never be the thing that changes the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from cockpit import secrets
from cockpit.errors import CockpitError
from cockpit.mlflow.dbtools import SchemaReadError, is_sqlite_file, sqlite_path

if TYPE_CHECKING:
    from cockpit.store import StateStore

# Head revisions measured here with `mlflow db upgrade` of each release, so the status can say
# which generation a backend's schema belongs to, not just an opaque hash.
KNOWN_HEADS = {
    "97727af70f4d": "1.30",
    "0584bdc529eb": "2.22",
    "dc11669786a5": "3.17",
}


# How stale mlflow_schema_watch.last_checked_at may get while nothing changes.
CHECKED_AT_REFRESH_S = 60.0


@contextlib.contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that cannot create, write or migrate the file."""
    if not path.is_file():
        raise SchemaReadError(f"no database file at {path}")
    if not is_sqlite_file(path):
        raise SchemaReadError(f"{path} is not a SQLite database")
    try:
        conn = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise SchemaReadError(f"cannot open {path}: {exc}") from None
    try:
        conn.execute("PRAGMA query_only=ON")
        yield conn
    finally:
        conn.close()


def _server_uri(db_uri_or_path: str | Path) -> str | None:
    """The URI when it names a PostgreSQL/MySQL database (read through dbtools), else None."""
    if (
        isinstance(db_uri_or_path, str)
        and "://" in db_uri_or_path
        and not db_uri_or_path.lower().startswith("sqlite")
    ):
        return db_uri_or_path
    return None


def display_uri(db_uri: str) -> str:
    """A backend URI fit for messages and events (no password)."""
    from cockpit.mlflow import dbtools

    try:
        return dbtools.parse(db_uri).display
    except CockpitError:
        return secrets.scrub_text(db_uri)


def check_uri(db_uri: str) -> None:
    """Refuse, in one line, a backend URI the cockpit cannot read (before anything is recorded)."""
    from cockpit.mlflow import dbtools

    dbtools.parse(db_uri)


def _on_server(uri: str, what: str, read):
    from cockpit.mlflow import dbtools

    try:
        with dbtools.ReadOnlyDB(uri, pool_size=1) as db:
            return read(db)
    except dbtools.DatabaseError as exc:
        raise SchemaReadError(f"cannot read {what}: {exc.message}") from None


def read_revision(db_uri_or_path: str | Path) -> str | None:
    """The alembic revision of an MLflow backend; None for a database MLflow never set up."""
    server = _server_uri(db_uri_or_path)
    if server is not None:
        from cockpit.mlflow import dbtools

        return _on_server(server, "the schema revision", dbtools.read_revision)
    path = _to_path(db_uri_or_path)
    with open_readonly(path) as conn:
        try:
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if "alembic_version" not in tables:
                return None
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error as exc:
            raise SchemaReadError(f"cannot read the schema revision of {path}: {exc}") from None
    return row[0] if row else None


def table_counts(db_uri_or_path: str | Path) -> dict[str, int]:
    """Rows per table (every user table, sorted by name) of a backend database."""
    server = _server_uri(db_uri_or_path)
    if server is not None:
        from cockpit.mlflow import dbtools

        return _on_server(server, "row counts", dbtools.table_counts)
    path = _to_path(db_uri_or_path)
    with open_readonly(path) as conn:
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            counts = {}
            for name in names:
                quoted = '"' + name.replace('"', '""') + '"'
                counts[name] = int(conn.execute(f"SELECT COUNT(*) FROM {quoted}").fetchone()[0])
            return counts
        except sqlite3.Error as exc:
            raise SchemaReadError(f"cannot count rows in {path}: {exc}") from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_revision(revision: str | None) -> str:
    if revision is None:
        return "no MLflow schema"
    known = KNOWN_HEADS.get(revision)
    return f"{revision} (MLflow {known} head)" if known else revision


def _to_path(db_uri_or_path: str | Path) -> Path:
    if isinstance(db_uri_or_path, Path):
        return db_uri_or_path
    if "://" in db_uri_or_path:
        return sqlite_path(db_uri_or_path)
    return Path(db_uri_or_path)


# ------------------------------------------------------------------------------------- the watch
@dataclass(frozen=True)
class SchemaCheck:
    """One look at the watched database."""

    db_uri: str
    checked_at: float
    revision: str | None
    baseline: str | None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.error is None and self.revision != self.baseline


@dataclass(frozen=True)
class SchemaAlarm:
    """The state file's record of a watched database whose revision moved."""

    db_uri: str
    label: str
    baseline: str | None
    revision: str | None
    raised_at: float


class SchemaWatch:
    """Watches one backend database's alembic revision against a baseline kept in the state file.

    The baseline is the revision first seen for this URI (kept across runs); an alarm, once
    raised, stays raised in the state file until :meth:`acknowledge` adopts the new revision as
    the baseline. ``on_alarm`` is called once per change, from whichever thread checked.
    """

    def __init__(
        self,
        store: StateStore,
        db_uri: str,
        *,
        label: str = "old",
        on_alarm: Callable[[SchemaAlarm], None] | None = None,
        source: str = "watch:mlflow-schema",
    ) -> None:
        check_uri(db_uri)  # refuse a URI we cannot read before anything is recorded
        self.store = store
        self.db_uri = db_uri
        # What the state file records: the URI without a password (the same for SQLite).
        self.key = display_uri(db_uri)
        self.label = label
        self.on_alarm = on_alarm
        self.source = source
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_error: str | None = None

    # ------------------------------------------------------------------ state-file records
    def baseline(self) -> str | None:
        row = self.store.query_one(
            "SELECT baseline_revision FROM mlflow_schema_watch WHERE db_uri = ?", (self.key,)
        )
        return row["baseline_revision"] if row else None

    def alarm(self) -> SchemaAlarm | None:
        return current_alarm(self.store, self.key)

    def check(self) -> SchemaCheck:
        """Read the revision now; record it, and raise the alarm if it moved from the baseline."""
        now = self.store.clock()
        try:
            revision = read_revision(self.db_uri)
        except CockpitError as exc:
            # A migration in progress can hold the file locked for a moment; say so once, and
            # keep watching rather than raising an alarm on a failed read.
            if exc.message != self._last_error:
                self._last_error = exc.message
                self.store.append_event(
                    "mlflow.schema.unreadable",
                    {"db_uri": self.key, "label": self.label, "error": exc.message},
                    source=self.source,
                )
            return SchemaCheck(self.key, now, None, self.baseline(), error=exc.message)
        self._last_error = None
        # Most checks see nothing new: answer those from a read, so a watch polling every
        # second does not commit to the state file (and wake every viewer) every second.
        seen = self.store.query_one(
            "SELECT baseline_revision, last_revision, last_checked_at, alarm "
            "FROM mlflow_schema_watch WHERE db_uri = ?",
            (self.key,),
        )
        if (
            seen is not None
            and seen["last_revision"] == revision
            and (revision == seen["baseline_revision"] or seen["alarm"])
            and now - (seen["last_checked_at"] or 0) < CHECKED_AT_REFRESH_S
        ):
            return SchemaCheck(self.key, now, revision, seen["baseline_revision"])
        raised: SchemaAlarm | None = None
        with self.store.write() as tx:
            row = tx.execute(
                "SELECT baseline_revision, alarm FROM mlflow_schema_watch WHERE db_uri = ?",
                (self.key,),
            ).fetchone()
            if row is None:
                baseline = revision
                tx.execute(
                    "INSERT INTO mlflow_schema_watch (db_uri, label, baseline_revision, "
                    "last_revision, last_checked_at, alarm) VALUES (?, ?, ?, ?, ?, 0)",
                    (self.key, self.label, revision, revision, now),
                )
                self.store.append_event(
                    "mlflow.schema.baseline",
                    {"db_uri": self.key, "label": self.label, "revision": revision},
                    source=self.source,
                    conn=tx,
                )
            else:
                baseline = row["baseline_revision"]
                already = bool(row["alarm"])
                tx.execute(
                    "UPDATE mlflow_schema_watch SET last_revision = ?, last_checked_at = ? "
                    "WHERE db_uri = ?",
                    (revision, now, self.key),
                )
                if revision != baseline and not already:
                    tx.execute(
                        "UPDATE mlflow_schema_watch SET alarm = 1, alarm_raised_at = ?, "
                        "alarm_revision = ? WHERE db_uri = ?",
                        (now, revision, self.key),
                    )
                    self.store.append_event(
                        "mlflow.schema.changed",
                        {
                            "db_uri": self.key,
                            "label": self.label,
                            "from": baseline,
                            "to": revision,
                            "alarm": True,
                            "why": "the backend was migrated in place; a server of the older "
                            "generation will refuse to start on it",
                        },
                        source=self.source,
                        conn=tx,
                    )
                    raised = SchemaAlarm(self.key, self.label, baseline, revision, now)
        if raised is not None and self.on_alarm is not None:
            self.on_alarm(raised)
        return SchemaCheck(self.key, now, revision, baseline)

    def acknowledge(self) -> None:
        """Accept the current revision as the new baseline and clear the alarm."""
        revision = read_revision(self.db_uri)
        with self.store.write() as tx:
            tx.execute(
                "UPDATE mlflow_schema_watch SET baseline_revision = ?, alarm = 0, "
                "alarm_raised_at = NULL, alarm_revision = NULL WHERE db_uri = ?",
                (revision, self.key),
            )
            self.store.append_event(
                "mlflow.schema.acknowledged",
                {"db_uri": self.key, "label": self.label, "revision": revision},
                source=self.source,
                conn=tx,
            )

    # ------------------------------------------------------------------ background thread
    def start(self, interval_s: float = 1.0) -> None:
        """Check every ``interval_s`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                with contextlib.suppress(CockpitError):
                    self.check()
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="mlflow-schema-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wait_for_alarm(self, timeout: float) -> SchemaAlarm | None:
        """Block until the alarm is raised (by any thread or process) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.alarm()
            if found is not None:
                return found
            time.sleep(0.05)
        return self.alarm()


def current_alarm(store: StateStore, db_uri: str | None = None) -> SchemaAlarm | None:
    """The raised schema alarm (for ``db_uri``, or any watched database), if there is one."""
    sql = (
        "SELECT db_uri, label, baseline_revision, alarm_revision, alarm_raised_at "
        "FROM mlflow_schema_watch WHERE alarm = 1"
    )
    params: tuple[str, ...] = ()
    if db_uri is not None:
        sql += " AND db_uri = ?"
        params = (db_uri,)
    row = store.query_one(sql + " ORDER BY alarm_raised_at LIMIT 1", params)
    if row is None:
        return None
    return SchemaAlarm(
        db_uri=row["db_uri"],
        label=row["label"],
        baseline=row["baseline_revision"],
        revision=row["alarm_revision"],
        raised_at=row["alarm_raised_at"],
    )
