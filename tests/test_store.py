"""The state store: migrations, the append-only log, read-only mode, and refusing bad files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cockpit import secrets
from cockpit.errors import ReadOnlyError, StateError
from cockpit.store import StateStore, latest_schema_version


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    with StateStore.open(path, create=True) as store:
        store.append_event("test.hello", {"n": 1}, source="test")
        store.set_meta("migration.name", "demo")
    return path


def test_new_file_is_migrated_to_latest_and_logs_it(tmp_path: Path):
    with StateStore.open(tmp_path / "n.db", create=True) as store:
        assert store.schema_version == latest_schema_version()
        kinds = [e.kind for e in store.events()]
        assert kinds == ["store.migrated"]
        payload = store.events()[0].payload
        assert (payload["from"], payload["to"]) == (0, latest_schema_version())
        from cockpit.store.state import _migrations

        assert payload["applied"] == [v for v, _, _ in _migrations()]
        mode = store.query_one("PRAGMA journal_mode")[0]
        assert mode == "wal"


def test_missing_file_is_not_created_unless_asked(tmp_path: Path):
    with pytest.raises(StateError, match="no state file"):
        StateStore.open(tmp_path / "absent.db")
    with pytest.raises(StateError, match="no state file"):
        StateStore.open(tmp_path / "absent.db", readonly=True)
    assert not (tmp_path / "absent.db").exists()


def test_events_are_append_only(state: Path):
    with StateStore.open(state) as store:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.write() as tx:
            tx.execute("UPDATE events SET kind = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.write() as tx:
            tx.execute("DELETE FROM events")
        assert [e.kind for e in store.events()] == ["store.migrated", "test.hello"]


def test_event_filters(state: Path):
    with StateStore.open(state) as store:
        store.append_event("mlflow.poll", {"experiment": "churn_100%"}, ts=10.0)
        store.append_event("mlflow.sync", {"experiment": "fraud"}, ts=20.0)
        assert [e.kind for e in store.events(kind_prefix="mlflow.")] == [
            "mlflow.poll",
            "mlflow.sync",
        ]
        assert [e.kind for e in store.events(search="100%")] == ["mlflow.poll"]
        assert [e.kind for e in store.events(search="_")] == ["mlflow.poll"]  # literal, not LIKE
        assert [e.kind for e in store.events(kinds=["mlflow.sync"])] == ["mlflow.sync"]
        assert [e.ts for e in store.events(until_ts=15.0) if e.kind.startswith("mlflow")] == [10.0]
        assert store.events(newest_first=True, limit=1)[0].kind == "mlflow.sync"


def test_failed_transaction_writes_nothing(state: Path):
    with StateStore.open(state) as store:
        before = store.last_event_id()
        with pytest.raises(RuntimeError), store.write() as tx:
            store.append_event("half", conn=tx)
            raise RuntimeError("boom")
        assert store.last_event_id() == before


def test_readonly_refuses_writes_and_leaves_bytes_unchanged(state: Path):
    before = digest(state)
    with StateStore.open(state, readonly=True) as store:
        assert store.readonly
        with pytest.raises(ReadOnlyError):
            store.append_event("nope")
        with pytest.raises(ReadOnlyError):
            store.set_meta("k", "v")
        with pytest.raises(ReadOnlyError), store.write():
            pass
        # Even bypassing the store's own checks, SQLite refuses: the connection is read-only.
        with pytest.raises(sqlite3.OperationalError):
            store._conn.execute("INSERT INTO cockpit_meta VALUES ('a', 'b')")
        assert [e.kind for e in store.events()] == ["store.migrated", "test.hello"]
    assert digest(state) == before


def test_unwritable_file_opens_readonly(state: Path):
    state.chmod(0o444)
    try:
        store = StateStore.open(state)
        if store.readonly:  # root ignores file modes; then the open is simply writable
            assert "not writable" in store.note
        store.close()
    finally:
        state.chmod(0o644)


def test_newer_schema_is_refused_untouched(state: Path):
    conn = sqlite3.connect(state)
    conn.execute(f"PRAGMA user_version={latest_schema_version() + 5}")
    conn.commit()
    conn.close()
    before = digest(state)
    for readonly in (False, True):
        with pytest.raises(StateError, match="newer than this cockpit"):
            StateStore.open(state, readonly=readonly)
    assert digest(state) == before


def test_non_sqlite_and_empty_files_are_refused_untouched(tmp_path: Path):
    text = tmp_path / "notes.db"
    text.write_text("this is not a database\n" * 100)
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    for path, message in ((text, "not a SQLite file"), (empty, "is empty")):
        before = digest(path)
        for readonly in (False, True):
            with pytest.raises(StateError, match=message):
                StateStore.open(path, readonly=readonly)
        assert digest(path) == before


def test_other_sqlite_database_is_refused(tmp_path: Path):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = digest(other)
    with pytest.raises(StateError, match="not a cockpit state file"):
        StateStore.open(other)
    assert digest(other) == before


def test_corrupted_file_is_refused_untouched(state: Path):
    with StateStore.open(state) as store:
        # Enough rows that the table spans many pages, then fold the WAL in.
        with store.write() as tx:
            for i in range(2000):
                store.append_event("fill", {"i": i, "pad": "x" * 200}, conn=tx)
        store.checkpoint()
    data = bytearray(state.read_bytes())
    page = 4096
    for offset in range(page * 3, len(data) - page, page * 7):  # scribble over some pages
        data[offset : offset + 64] = b"\xff" * 64
    state.write_bytes(bytes(data))
    before = digest(state)
    for readonly in (False, True):
        with pytest.raises(StateError, match=r"is corrupted"):
            StateStore.open(state, readonly=readonly)
    assert digest(state) == before


def test_older_file_readonly_is_upgraded_in_a_private_copy_only(tmp_path: Path):
    """A file at schema v1 (core only) opens for review at the latest schema, never written: the
    migrations run on a private copy on disk (not in memory), removed when the store closes."""
    from cockpit.store.state import _index_only, _migrations, _split_sql

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    version, _name, sql = _migrations()[0]
    for statement in _split_sql(sql):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version={version}")
    conn.execute("INSERT INTO cockpit_meta VALUES ('migration.name', 'legacy')")
    conn.commit()
    conn.close()
    before = digest(path)
    with StateStore.open(tmp_path / "new.db", create=True) as fresh:
        latest_tables = _tables(fresh)
    with StateStore.open(path, readonly=True) as store:
        # Every table of the latest schema; the index-only migrations (0013's indexes) are
        # skipped in a copy made to be read (they change no answer, see the in-place test below).
        assert _tables(store) == latest_tables
        assert not store.query("SELECT 1 FROM sqlite_master WHERE name = 'events_kind_ts'")
        assert store.schema_version == max(v for v, _, sql in _migrations() if not _index_only(sql))
        assert store.get_meta("migration.name") == "legacy"
        with pytest.raises(ReadOnlyError):
            store.append_event("nope")
        copy = store._copy
        assert copy is not None and copy.path.is_file()
        assert copy.folder.parent == Path(tempfile.gettempdir())
        assert stat.S_IMODE(copy.folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(copy.path.stat().st_mode) == 0o600
        assert "private copy" in store.note
    assert not copy.folder.exists()
    assert digest(path) == before


def _tables(store: StateStore) -> dict[str, str]:
    return {
        r["name"]: r["sql"]
        for r in store.query("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    }


def test_failed_migration_is_a_state_error_and_leaves_the_file(tmp_path: Path):
    """A file whose tables clash with a migration is refused with a one-line error."""
    path = tmp_path / "clash.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE cockpit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.commit()
    conn.close()  # user_version 0 but cockpit_meta exists: 0001 cannot apply
    before = digest(path)
    for readonly in (False, True):
        with pytest.raises(StateError, match="cannot be upgraded"):
            StateStore.open(path, readonly=readonly)
    assert digest(path) == before


def test_secrets_are_scrubbed_from_events_and_meta(tmp_path: Path):
    token = "dapi-canary-0123456789abcdef"
    secrets.register_secret(token)
    with StateStore.open(tmp_path / "s.db", create=True) as store:
        store.append_event("auth.failed", {"message": f"bad token {token}", "nested": [token]})
        store.set_meta("note", f"Bearer {token}")
    raw = (
        (tmp_path / "s.db").read_bytes() + (tmp_path / "s.db-wal").read_bytes()
        if (tmp_path / "s.db-wal").exists()
        else (tmp_path / "s.db").read_bytes()
    )
    assert token.encode() not in raw
    with StateStore.open(tmp_path / "s.db", readonly=True) as store:
        assert store.events(kinds=["auth.failed"])[0].payload["message"] == "bad token ***"


def test_change_marker_sees_other_connections(state: Path):
    reader = StateStore.open(state, readonly=True)
    writer = StateStore.open(state)
    try:
        before = reader.change_marker()
        writer.append_event("from.elsewhere")
        assert reader.change_marker() != before
        assert reader.events()[-1].kind == "from.elsewhere"
    finally:
        reader.close()
        writer.close()


def test_a_lower_numbered_migration_arriving_later_is_still_applied(tmp_path: Path):
    """Features reserve migration numbers; 0002 may land after a file already has 0007."""
    from cockpit.store.state import _migrations, _split_sql

    path = tmp_path / "gap.db"
    everything = _migrations()
    skipped = everything[1]  # pretend this one did not exist when the file was made
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE cockpit_schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    for version, name, sql in everything:
        if version == skipped[0]:
            continue
        for statement in _split_sql(sql):
            conn.execute(statement)
        conn.execute("INSERT INTO cockpit_schema_migrations VALUES (?, ?, 0)", (version, name))
    conn.execute(f"PRAGMA user_version={everything[-1][0]}")
    conn.commit()
    conn.close()
    before = digest(path)
    with StateStore.open(path, readonly=True) as viewer:  # read-only: upgraded in memory only
        assert viewer.query(
            "SELECT version FROM cockpit_schema_migrations WHERE version = ?", (skipped[0],)
        )
    assert digest(path) == before
    with StateStore.open(path) as store:
        versions = [
            r["version"]
            for r in store.query("SELECT version FROM cockpit_schema_migrations ORDER BY version")
        ]
        assert versions == [v for v, _, _ in everything]
        assert store.events(kinds=["store.migrated"])[-1].payload["applied"] == [skipped[0]]


def _corrupted(state: Path, made_older: Callable[[Path], object] | None = None) -> None:
    """A state file with scribbled pages of its events table (``made_older`` first, if given)."""
    with StateStore.open(state, create=True) as store:
        with store.write() as tx:
            for i in range(2000):
                store.append_event("fill", {"i": i, "pad": "x" * 200}, conn=tx)
        store.checkpoint()
    if made_older is not None:
        made_older(state)
    data = bytearray(state.read_bytes())
    # Pages of the events table only (the second half of the file): what opening reads
    # (the schema, the metadata, the migrations record) stays sound.
    for offset in range(len(data) // 2 // 4096 * 4096, len(data) - 4096, 4096 * 7):
        data[offset : offset + 64] = b"\xff" * 64
    state.write_bytes(bytes(data))


def test_deferred_integrity_check_refuses_a_corrupted_big_file_later(tmp_path: Path, monkeypatch):
    """Offline review of a big file (above DEFER_CHECK_BYTES) opens before the page-by-page check;
    the check, run afterwards, refuses a corrupted file the same way, and leaves it untouched."""
    from cockpit.store import state as state_module

    path = tmp_path / "big.db"
    _corrupted(path)
    before = digest(path)
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 1024)
    store = StateStore.open(path, readonly=True, defer_check=True)
    assert store.check_deferred
    with pytest.raises(StateError, match=r"is corrupted"):
        store.run_deferred_check()
    store.close()
    # Below the size, or without asking, the check runs at opening as always.
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 10**12)
    with pytest.raises(StateError, match=r"is corrupted"):
        StateStore.open(path, readonly=True, defer_check=True)
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 1024)
    with pytest.raises(StateError, match=r"is corrupted"):
        StateStore.open(path, readonly=True)
    assert digest(path) == before


def test_deferred_integrity_check_passes_a_sound_file(tmp_path: Path, monkeypatch):
    from cockpit.store import state as state_module

    path = tmp_path / "fine.db"
    with StateStore.open(path, create=True) as store:
        store.append_event("a.b", {"x": 1})
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 0)
    with StateStore.open(path, readonly=True, defer_check=True) as store:
        assert store.check_deferred
        store.run_deferred_check()
        assert not store.check_deferred
        assert [e.kind for e in store.events(kind_prefix="a.")] == ["a.b"]


def test_event_position_and_steps_match_the_whole_log(tmp_path: Path):
    """The time-travel figures read through the ts index equal those of the whole log in memory
    (ties in ts, out-of-order ts, before the first and after the last event)."""
    import random

    rng = random.Random(5)
    with StateStore.open(tmp_path / "t.db", create=True) as store:
        base = store.events()[0].ts if store.events() else 1000.0
        times = [base + rng.choice([0, 1, 1, 2, 5, 30]) * i for i in range(1, 300)]
        rng.shuffle(times)
        store.append_events((f"k{i % 7}.x", {"i": i}, "test", ts) for i, ts in enumerate(times))
        log = sorted((e.ts, e.id, e.kind) for e in store.events())
        first, last = log[0][0], log[-1][0]
        for moment in [first - 1, first, last, last + 1, *rng.sample(times, 40), None]:
            position = store.event_position(moment)
            upto = [row for row in log if moment is None or row[0] <= moment]
            assert position.total == len(log)
            assert (position.first_ts, position.last_ts) == (first, last)
            assert position.index == (len(upto) - 1 if upto else None)
            assert position.kind == (upto[-1][2] if upto else None)
            assert store.event_count(until_ts=moment) == len(upto)
            if moment is not None:
                earlier = [t for t, _, _ in log if t < moment]
                later = [t for t, _, _ in log if t > moment]
                assert store.event_time_before(moment) == (max(earlier) if earlier else None)
                assert store.event_time_after(moment) == (min(later) if later else None)
        assert store.event_kinds() == sorted({k for _, _, k in log})
        assert [e.id for e in store.events(kind_prefix="k3.")] == sorted(
            i for _, i, k in log if k == "k3.x"
        )


def test_query_columns_gives_the_same_values_as_query(tmp_path: Path):
    """Column lists read in chunks: every value, in order, NULLs and mixed types included."""
    with StateStore.open(tmp_path / "c.db", create=True) as store:
        rows = [("a.b" if i % 3 else "c.d", {"i": i}, f"s{i % 5}", float(i)) for i in range(2500)]
        store.append_events(rows)
        # NULLs among text: json_extract of a key only some payloads have.
        sql = (
            "SELECT kind, source, CASE WHEN id % 7 THEN source END AS sometimes, ts, id "
            "FROM events WHERE kind != 'store.migrated' ORDER BY id"
        )
        expected = [tuple(r) for r in store.query(sql)]
        columns = store.query_columns(sql, chunk=333)
        assert list(zip(*columns, strict=True)) == expected
        assert store.query_columns("SELECT kind FROM events WHERE 0") == [[]]
        mixed = store.query_columns("SELECT 1 AS x UNION ALL SELECT 'two' UNION ALL SELECT NULL")
        assert mixed == [[1, "two", None]]


def _trailing_additive() -> list[tuple[int, str, str]]:
    """The migrations after the last one that changes existing tables: each only creates tables
    and creates or drops indexes (0010 ... 0014 when this was written)."""
    from cockpit.store.state import _additive, _migrations

    everything = _migrations()
    last_change = max(i for i, m in enumerate(everything) if not _additive(m[2]))
    return everything[last_change + 1 :]


def _created_tables(sql: str) -> list[str]:
    from cockpit.store.state import _split_sql

    found = (re.match(r"CREATE\s+TABLE\s+(\w+)", st, re.I) for st in _split_sql(sql))
    return [m.group(1) for m in found if m]


def _without_additive_migrations(path: Path) -> list[int]:
    """Undo, on the file at ``path``, the trailing additive migrations (their tables dropped,
    their indexes as before them): the file as a cockpit without them recorded it (e.g. every
    file made before 0014, which also lacks 0013's indexes). Returns the versions undone."""
    from cockpit.store.state import _migrations, _split_sql

    everything = _migrations()
    undone = _trailing_additive()
    assert undone, "no additive migration to undo"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for version, _name, sql in reversed(undone):
        for statement in reversed(_split_sql(sql)):
            created = re.match(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(\w+)", statement, re.I)
            table = re.match(r"CREATE\s+TABLE\s+(\w+)", statement, re.I)
            dropped = re.match(r"DROP\s+INDEX\s+(\w+)", statement, re.I)
            if table:
                conn.execute(f"DROP TABLE {table.group(1)}")
            elif created:
                conn.execute(f"DROP INDEX IF EXISTS {created.group(1)}")  # gone with its table
            else:
                assert dropped, statement
                # Recreated as the newest earlier migration made it.
                earlier = [
                    st
                    for v, _, text in everything
                    if v < version
                    for st in _split_sql(text)
                    if re.match(rf"CREATE\s+(?:UNIQUE\s+)?INDEX\s+{dropped.group(1)}\b", st, re.I)
                ]
                conn.execute(earlier[-1])
        conn.execute("DELETE FROM cockpit_schema_migrations WHERE version = ?", (version,))
    kept = max(v for v, _, _ in everything if v not in {u for u, _, _ in undone})
    conn.execute(f"PRAGMA user_version={kept}")
    conn.execute("COMMIT")
    conn.close()
    return [v for v, _, _ in undone]


def _emptied_additive_tables(path: Path) -> None:
    """The trailing additive migrations' tables emptied: what a file made before them holds
    once migrated (tables it never had are empty)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for _, _, sql in _trailing_additive():
        for table in _created_tables(sql):
            conn.execute(f"DELETE FROM {table}")
    conn.close()


def _before_0009(path: Path) -> None:
    """The file as recorded before migration 0009 (a column of an existing table missing): it
    cannot be read in place, so it is read from a migrated copy."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("ALTER TABLE mlflow_db_rehearsals DROP COLUMN details")
    conn.execute("DELETE FROM cockpit_schema_migrations WHERE version = 9")
    conn.close()


def test_a_file_lacking_only_new_tables_and_indexes_is_read_in_place_with_the_same_answers(
    tmp_path: Path, monkeypatch
):
    """Read-only, a file whose missing migrations only create tables and indexes (every file
    recorded before 0014) is read as it is: no copy, so memory and time do not grow with the
    file; the new tables exist empty in the connection's TEMP schema. Every reader answers as
    on the migrated file: the whole walkthrough report, now and as of a past moment, is the
    same document."""
    from cockpit.document.render import to_markdown
    from cockpit.reporting.walkthrough import build_report

    sample = Path(__file__).resolve().parent.parent / "sample_state" / "kyros.cockpit.db"
    current, older = tmp_path / "current.db", tmp_path / "older.db"
    current.write_bytes(sample.read_bytes())
    older.write_bytes(sample.read_bytes())
    _emptied_additive_tables(current)
    undone = _without_additive_migrations(older)
    before = digest(older)

    from cockpit.timefmt import utc_day

    today = utc_day()  # "now" reports count runway days from today: one day for both reports
    monkeypatch.setattr(
        "cockpit.reporting.sections.utc_day",
        lambda as_of=None: today if as_of is None else utc_day(as_of),
    )

    def report(store: StateStore, as_of: float | None) -> str:
        document = build_report(store, None, as_of=as_of)
        document.generated_at = ""  # the wall clock, not the file
        return to_markdown(document)

    with (
        StateStore.open(current, readonly=True) as new,
        StateStore.open(older, readonly=True) as old,
    ):
        assert old._copy is None and new._copy is None
        assert old.note == (
            f"schema v{old.schema_version}, read without migrations "
            f"{', '.join(f'{v:04d}' for v in undone)} (no copy)"
        )
        # Their tables are there (empty, in TEMP), the applied record says so, the file's own
        # schema does not have them; kind counts take their other path without (kind, ts).
        assert old._pending() == []
        for _, _, sql in _trailing_additive():
            for table in _created_tables(sql):
                assert old.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0
                assert not old.has_table(table)
        assert not old._has_kind_ts_index() and new._has_kind_ts_index()
        first, last = new.event_span()
        assert first is not None and last is not None
        middle = first + (last - first) / 2
        for as_of in (None, middle):
            assert report(old, as_of) == report(new, as_of)
            assert old.event_kind_counts(until_ts=as_of) == new.event_kind_counts(until_ts=as_of)
            assert old.event_position(as_of) == new.event_position(as_of)
            for search in ("churn", "status", "no-such-text"):
                assert old.events(search=search, until_ts=as_of, newest_first=True) == (
                    new.events(search=search, until_ts=as_of, newest_first=True)
                )
        assert old.events(kind_prefix="compat.") == new.events(kind_prefix="compat.")
        assert old.event_kinds() == new.event_kinds()
        with pytest.raises(ReadOnlyError):
            old.append_event("nope")
    assert digest(older) == before
    # Opened writable, the file gets its tables and indexes like any older file.
    with StateStore.open(older) as store:
        assert store.schema_version == latest_schema_version()
        assert store.events(kinds=["store.migrated"])[-1].payload["applied"] == undone


def test_an_older_corrupted_file_is_refused_in_one_line_untouched(
    tmp_path: Path, scratch: Path, monkeypatch
):
    """Corruption is refused the same way whichever way an older file is read: in place (only
    tables and indexes missing; the check deferred or not) or from a private copy (a column
    missing)."""
    from cockpit.store import state as state_module

    lacking_additions = tmp_path / "additions.db"
    _corrupted(lacking_additions, _without_additive_migrations)
    lacking_a_column = tmp_path / "column.db"
    _corrupted(lacking_a_column, _before_0009)
    monkeypatch.setattr(state_module, "DEFER_CHECK_BYTES", 1024)
    for path in (lacking_additions, lacking_a_column):
        before = digest(path)
        with pytest.raises(StateError, match=r"is corrupted") as refused:
            StateStore.open(path, readonly=True)
        assert "\n" not in str(refused.value)
        damaged = rf"^{re.escape(str(path))} is corrupted"
        try:
            store = StateStore.open(path, readonly=True, defer_check=True)
        except StateError as exc:
            # The copy's migration met a damaged page: the check ran then, not after.
            assert path == lacking_a_column and re.match(damaged, str(exc))
            assert "\n" not in str(exc)
        else:
            assert store.check_deferred and (store._copy is None) == (path == lacking_additions)
            with pytest.raises(StateError, match=damaged) as late:
                store.run_deferred_check()
            assert "\n" not in str(late.value)
            store.close()
        assert digest(path) == before
    assert list(scratch.iterdir()) == []  # no copy left behind


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch) -> Path:
    """The temporary folder (TMPDIR) of this test alone: what a copy leaves behind shows."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    return folder


def test_no_room_for_the_copy_is_a_one_line_error(tmp_path: Path, scratch: Path, monkeypatch):
    """An older file needing tables is read from a copy on disk; without room for it the open
    is refused in one line, naming the folder and TMPDIR, and nothing is left behind."""
    from cockpit.store import viewcopy

    path = tmp_path / "old.db"
    with StateStore.open(path, create=True) as store:
        store.append_event("a.b", {"x": 1})
    _before_0009(path)
    before = digest(path)
    monkeypatch.setattr(viewcopy, "HEADROOM", 10.0**15)  # more room than any disk has
    with pytest.raises(StateError, match=r"needs \d+ MB in .*scratch .*TMPDIR") as refused:
        StateStore.open(path, readonly=True)
    assert "\n" not in str(refused.value)
    assert list(scratch.iterdir()) == []
    assert digest(path) == before
    monkeypatch.setattr(viewcopy, "HEADROOM", 0.25)
    with StateStore.open(path, readonly=True) as store:
        assert [e.kind for e in store.events(kinds=["a.b"])] == ["a.b"]
        assert store._copy is not None
        assert store._copy.folder.parent == scratch
    assert list(scratch.iterdir()) == []


def test_an_unusable_temporary_folder_is_a_one_line_error(
    tmp_path: Path, scratch: Path, monkeypatch
):
    """The copy's folder cannot be made (here a file where it would go; a full disk or a quota
    the same): one line, the file untouched, nothing left behind."""
    path = tmp_path / "old.db"
    with StateStore.open(path, create=True) as store:
        store.append_event("a.b", {"x": 1})
    _before_0009(path)
    before = digest(path)
    scratch.rmdir()
    scratch.write_text("not a folder")
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # as set, without TMPDIR's fallback
    with pytest.raises(StateError, match=r"could not be copied for reading") as refused:
        StateStore.open(path, readonly=True)
    assert "\n" not in str(refused.value)
    assert digest(path) == before


def test_a_copy_left_by_a_killed_viewer_is_removed_by_the_next(tmp_path: Path, scratch: Path):
    """A viewer killed with its terminal runs no finalizer; its copy (named by its pid) goes
    when the next copy is made, while a running viewer's copy stays."""
    path = tmp_path / "old.db"
    with StateStore.open(path, create=True) as store:
        store.append_event("a.b", {"x": 1})
    _before_0009(path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = scratch / f"cockpit-view-{gone.pid}-abc"
    orphan.mkdir()
    (orphan / "state.db").write_bytes(b"x" * 1000)
    alive = scratch / f"cockpit-view-{os.getpid()}-def"
    alive.mkdir()
    with StateStore.open(path, readonly=True) as store:
        assert store._copy is not None and store._copy.folder.name.startswith(
            f"cockpit-view-{os.getpid()}-"
        )
        assert not orphan.exists() and alive.exists()
    assert list(scratch.iterdir()) == [alive]


def test_kind_counts_by_time_order_and_search_window_match_the_whole_log(tmp_path: Path):
    """Kind counts (counted per kind from the moment's nearer end), the newest events by time
    and a windowed search equal what the whole log read into Python gives, at every moment."""
    from collections import Counter

    path = tmp_path / "k.db"
    with StateStore.open(path, create=True) as store:
        kinds = ("a.poll", "a.sync", "b.inventory", "c.note")
        for i in range(300):
            # Times mostly rising, some written late (an importer's backlog): time order and
            # write order differ.
            ts = 1000.0 + i * 10 - (95 if i % 17 == 0 else 0)
            store.append_event(kinds[(i * i) % 4], {"i": i, "w": "odd" if i % 3 else "x"}, ts=ts)
    with StateStore.open(path, readonly=True) as store:
        everything = store.events()
        moments = sorted({e.ts for e in everything})
        for as_of in [moments[0] - 1, *moments[::7], moments[-1], None]:
            upto = [e for e in everything if as_of is None or e.ts <= as_of]
            counted = Counter(e.kind for e in upto)
            assert store.event_kind_counts(until_ts=as_of) == sorted(
                counted.items(), key=lambda kn: (-kn[1], kn[0])
            )
            by_time = sorted(upto, key=lambda e: (e.ts, e.id), reverse=True)
            assert store.events(until_ts=as_of, newest_first=True, by_time=True) == by_time
            assert (
                store.events(until_ts=as_of, newest_first=True, by_time=True, limit=5)
                == (by_time[:5])
            )
            window = [
                e for e in by_time[:40] if "odd" in e.kind or '"odd"' in json.dumps(e.payload)
            ]
            assert (
                store.events(
                    until_ts=as_of, newest_first=True, by_time=True, search="odd", search_window=40
                )
                == window
            )
            prefixed = [e for e in by_time[:40] if e.kind.startswith("a.")]
            assert store.events(
                until_ts=as_of,
                kind_prefix="a.",
                newest_first=True,
                by_time=True,
                search="x",
                search_window=40,
            ) == [e for e in prefixed if '"x"' in json.dumps(e.payload)]
            # Without a window the search reads the whole log, as it always did.
            assert store.events(until_ts=as_of, search="odd") == [
                e for e in upto if '"odd"' in json.dumps(e.payload)
            ]
        with pytest.raises(ValueError, match="newest_first"):
            store.events(search="x", search_window=10)
        # The totals are kept until the file changes, and seen to change.
        before = dict(store.event_kind_counts())
        with StateStore.open(path) as writer:
            writer.append_event("d.new", {}, ts=5000.0)
        assert dict(store.event_kind_counts()) == {**before, "d.new": 1}


# A process that creates a state file, and one that opens it as soon as it appears (a viewer on
# the file `cockpit record` is starting): run as separate processes, as in use.
CREATE_MANY = """
import sys
from pathlib import Path
from cockpit.store import StateStore
for i in range(int(sys.argv[2])):
    StateStore.open(Path(sys.argv[1]) / f"s{i}.db", create=True).close()
"""


def test_a_new_state_file_appears_whole_to_a_reader(tmp_path: Path):
    count = 40
    creator = subprocess.Popen(
        [sys.executable, "-c", CREATE_MANY, str(tmp_path), str(count)],
        cwd=Path(__file__).resolve().parents[1],
        stderr=subprocess.PIPE,
        text=True,
    )
    opened, errors = 0, []
    deadline = time.monotonic() + 120
    while opened < count and time.monotonic() < deadline:
        path = tmp_path / f"s{opened}.db"
        if not path.exists():
            continue  # poll as fast as a reader can: the window, if any, is milliseconds
        try:
            with StateStore.open(path, readonly=True) as store:
                assert store.has_table("events")
        except StateError as exc:
            errors.append(str(exc))
        opened += 1
    assert creator.wait(timeout=120) == 0, creator.stderr.read()
    assert opened == count and errors == []
    # Nothing of the building is left beside them (SQLite's own -wal and -shm files may be).
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".creating")]


def test_two_processes_creating_one_state_file_share_it(tmp_path: Path):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    # Both create s0.db .. s9.db at once; every file ends migrated once, by one of them.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_MANY, str(tmp_path), "10"],
            cwd=root,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    for i in range(10):
        with StateStore.open(tmp_path / f"s{i}.db", readonly=True) as store:
            migrated = store.events(kinds=["store.migrated"])
            assert len(migrated) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".creating")]


def test_a_new_state_file_is_linked_into_place_already_in_wal_mode(tmp_path: Path):
    """Two processes opening a just-created file would each switch it to WAL, and a switch
    needs the file to itself (CI: "database is locked"); the header says WAL from the start."""
    from cockpit.store.state import _create_whole

    path = tmp_path / "new.db"
    _create_whole(path, time.time)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_opening_a_rollback_journal_file_waits_for_a_reader_to_let_go(tmp_path: Path):
    """An older file (rollback journal) opened for writing while another connection reads it:
    the switch to WAL waits for the reader (SQLite's busy timeout did this before the retry,
    too; the refusal the retry is for is in the next test) and the file ends in WAL mode."""
    path = tmp_path / "old.db"
    StateStore.open(path, create=True).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM events").fetchone()  # holds a shared lock
    timer = threading.Timer(0.5, reader.rollback)
    timer.start()
    try:
        with StateStore.open(path) as store:
            assert store.query_one("PRAGMA journal_mode")[0] == "wal"
    finally:
        timer.join()
        reader.close()


def test_a_switch_to_wal_refused_as_busy_is_tried_again(tmp_path: Path):
    """When two processes switch one file at once, SQLite refuses one of them at once (it
    would deadlock), without the busy timeout; that one lets go and tries again. The
    interleaving cannot be scheduled from here, so a connection refused twice stands in."""
    from cockpit.store.state import _switch_to_wal

    real = sqlite3.connect(tmp_path / "x.db")

    class RefusedTwice:
        def __init__(self, error: str):
            self.error, self.calls = error, 0

        def execute(self, sql):
            self.calls += 1
            if self.calls <= 2:
                raise sqlite3.OperationalError(self.error)
            return real.execute(sql)

    busy = RefusedTwice("database is locked")
    _switch_to_wal(busy)
    assert busy.calls == 3 and real.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    broken = RefusedTwice("disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _switch_to_wal(broken)
    assert broken.calls == 1
    real.close()
