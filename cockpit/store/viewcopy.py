"""A private copy on disk of a state file, for reading an older file read-only.

An older file that lacks more than new tables (a column of an existing one) must be migrated
before the cockpit's readers can use it, and a read-only open must never write the file, so the
migrations run on a copy. The copy was made in
memory until a month of recording (400 MB) cost 400 MB of RAM to review; it is now a file:

* made with SQLite's online backup API: consistent even while a recorder writes the original,
  changes still in its ``-wal`` included, a bounded number of pages per step so memory stays at
  SQLite's page cache whatever the file's size;
* in a folder only this user can enter (``mkdtemp``: 0700), as a file only this user can read
  (0600): a state file holds a migration's whole history;
* removed when the store closes, and otherwise when the copy is garbage collected or the
  interpreter exits (``weakref.finalize``); a copy left by a viewer that was killed is removed
  by the next copy made, recognised by the dead pid in its folder's name.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import weakref
from pathlib import Path

from cockpit.errors import StateError

# Pages copied per backup step (16 MB at the default 4 KiB page): each step is a transaction of
# its own on the copy, so SQLite's page cache, not the file's size, bounds the memory used.
COPY_STEP_PAGES = 4096
# The copies' folders: cockpit-view-<pid>-<random>, so a copy whose viewer was killed (a closed
# terminal: no finalizer runs) is known by its dead pid and removed by the next copy made.
PREFIX = "cockpit-view-"
# Room the migrations need beyond the copy itself (new indexes, journal), as a share of its size.
HEADROOM = 0.25


class ViewCopy:
    """One private copy; :meth:`remove` (idempotent) deletes it and its folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.db"
        self._remove = weakref.finalize(self, shutil.rmtree, str(folder), ignore_errors=True)

    @classmethod
    def of(cls, source: sqlite3.Connection, original: Path) -> ViewCopy:
        """Copy the database ``source`` is open on (``original``, for messages)."""
        page_size = int(source.execute("PRAGMA page_size").fetchone()[0])
        pages = int(source.execute("PRAGMA page_count").fetchone()[0])
        need = int(page_size * pages * (1 + HEADROOM))
        root = Path(tempfile.gettempdir())
        _remove_orphans(root)  # first: a killed viewer's copy may be what fills the folder
        try:
            free = shutil.disk_usage(root).free
        except OSError as exc:
            raise StateError(f"cannot use {root} for a copy of {original}: {exc}") from None
        if free < need:
            raise StateError(
                f"{original} has an older schema and is read from an upgraded copy, which needs "
                f"{need // 1_000_000} MB in {root} ({free // 1_000_000} MB free); "
                "point TMPDIR at a folder with room"
            )
        copy: ViewCopy | None = None
        try:
            copy = cls(Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root)))
            # Created here, private, before SQLite opens it (SQLite would create it 0644 less
            # the umask); O_EXCL|O_NOFOLLOW: nothing else may already be at that path.
            fd = os.open(copy.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.close(fd)
            target = sqlite3.connect(copy.path, isolation_level=None)
            try:
                # No crash safety needed for a throwaway copy: no fsync per step.
                target.execute("PRAGMA synchronous=OFF")
                source.backup(target, pages=COPY_STEP_PAGES)
                # The copy takes the original's WAL flag; a plain rollback journal (inside the
                # private folder) is enough for the migrations run on it.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        except (sqlite3.DatabaseError, OSError) as exc:
            # A full disk, a quota, TMPDIR not a folder: one line, as for any unreadable file.
            if copy is not None:
                copy.remove()
            raise StateError(f"{original} could not be copied for reading: {exc}") from None
        except BaseException:
            if copy is not None:
                copy.remove()
            raise
        return copy

    def remove(self) -> None:
        self._remove()


def _remove_orphans(root: Path) -> None:
    """Remove this user's copies whose process is gone (killed before it could clean up)."""
    try:
        entries = list(root.glob(f"{PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name[len(PREFIX) :].split("-", 1)[0]
        try:
            if not pid_text.isdigit() or entry.is_symlink() or not entry.is_dir():
                continue
            if entry.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)  # still running (or not ours to signal): keep it
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
