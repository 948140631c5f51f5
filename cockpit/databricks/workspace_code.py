"""The code workspace jobs run, fetched through databricks-sdk: notebooks (``workspace.export``,
SOURCE format), workspace files and Repos files, ``dbfs:/`` files (the DBFS API), every
notebook they ``%run`` and every requirements file a serverless environment or another
requirements file includes with ``-r``, recursively (cycles broken: each object is fetched
once).

Objects are keyed by their *location*: the Workspace API's path form (``/Users/a/nb``,
``/Repos/x/y``; a ``/Workspace/...`` path is the same object) or ``dbfs:/path``. What a task
names stays the caller's business (findings show the path as the job wrote it).

A re-fetch reads each object's status first (``workspace.get_status`` / ``dbfs.get_status``,
a few hundred bytes) and exports only what changed since the stored copy (``modified_at`` and
size), so a second ``cockpit check --workspace`` over 1,000 notebooks moves almost no data.

Per object, "not there" (404), "not allowed" (403) and "too big" are outcomes, not errors;
anything else (bad token, rate-limited past the retry budget, unreachable) stops the fetch with
the adapter's one-line error. Requests go through the SDK's client, so its retries (429 with
``Retry-After``, 503, dropped connections), proxies and auth apply.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.store import StateStore

MAX_BYTES = 5 * 1024 * 1024  # a bigger file is reported, not read (the scanners read source)
DBFS_CHUNK = 1024 * 1024  # dbfs/read's maximum per call
DEFAULT_WORKERS = 8  # concurrent requests; the SDK's connection pool holds 20
# Statuses an object can end in.
OK, MISSING, FORBIDDEN, TOO_LARGE, DIRECTORY, UNREADABLE = (
    "ok",
    "missing",
    "forbidden",
    "too_large",
    "directory",
    "unreadable",
)
_RUN = re.compile(r"^# MAGIC\s*%run\s+(\S+)", re.MULTILINE)
# pip's include of another requirements file: `-r path`, `--requirement path` (or `=path`).
_INCLUDE = re.compile(r"^\s*(?:-r|--requirement)(?:\s*=\s*|\s+)(\S+)\s*$")
_HEADER = "# Databricks notebook source"


@dataclass(frozen=True)
class CodeObject:
    """One fetched object (a row of ``workspace_code``)."""

    location: str  # "/Repos/kyros/ml/train" or "dbfs:/scripts/x.py"
    kind: str  # "notebook", "file", "dbfs" ("" when it could not be read)
    language: str  # PYTHON, SQL, SCALA, R for notebooks; "" for files
    status: str  # ok, missing, forbidden, too_large, directory, unreadable
    message: str  # why it is not ok, from the workspace's answer (sanitised)
    modified_at: int  # ms since the epoch, the workspace's; 0 when unknown
    size: int
    sha256: str  # of the text; "" when not read
    text: str  # the exported source ("" when not read)

    @property
    def is_python(self) -> bool:
        if self.status != OK:
            return False
        if self.kind == "notebook":
            return self.language == "PYTHON"
        return self.location.lower().endswith(".py") or self.text.startswith(_HEADER)

    def run_targets(self) -> list[tuple[int, str]]:
        """``(line, location)`` of every ``%run`` in a Python notebook, resolved against it."""
        if self.kind != "notebook" or not self.is_python:
            return []
        out = []
        for match in _RUN.finditer(self.text):
            line = self.text.count("\n", 0, match.start()) + 1
            target = resolve_run(self.location, match.group(1))
            if target:
                out.append((line, target))
        return out

    def includes(self) -> list[tuple[int, str]]:
        """``(line, location)`` of every ``-r`` in a requirements file (pip reads a relative
        one next to the file that names it)."""
        if self.status != OK or not self.location.lower().endswith(".txt"):
            return []
        out = []
        for number, line in enumerate(self.text.splitlines(), start=1):
            target = requirement_include(line)
            if target is None:
                continue
            if not target.startswith(("/", "dbfs:")):
                # requirements_location puts a dbfs: path joined this way back in shape.
                target = posixpath.join(posixpath.dirname(self.location), target)
            found = requirements_location(target)
            if found:
                out.append((number, found))
        return out

    def follows(self) -> list[tuple[int, str]]:
        """What running this object reads too: the notebooks it %runs, the files it -r's."""
        return self.run_targets() + self.includes()


@dataclass(frozen=True)
class FetchSummary:
    objects: int
    exported: int  # read in full this time
    unchanged: int  # status matched the stored copy: not read again
    missing: int
    forbidden: int


def location_of(path: str) -> str | None:
    """The object a task path names, or None when it is not in the workspace or DBFS (a
    relative path of a Git task, ``s3://``, ``file:/``...)."""
    path = path.strip()
    if path.startswith("dbfs:/"):
        return "dbfs:/" + posixpath.normpath(path[len("dbfs:") :]).lstrip("/")
    if path.startswith("/dbfs/"):  # the FUSE mount form of a DBFS path
        return "dbfs:/" + posixpath.normpath(path[len("/dbfs") :]).lstrip("/")
    if not path.startswith("/"):
        return None
    normal = posixpath.normpath(path)
    if normal == "/Workspace" or normal.startswith("/Workspace/"):
        normal = normal[len("/Workspace") :] or "/"
    return normal


def requirement_include(line: str) -> str | None:
    """The file a requirements line (or a serverless environment dependency) includes with
    ``-r``, as written; None for any other line."""
    match = _INCLUDE.match(line.split(" #", 1)[0])
    return match.group(1).strip("\"'") if match else None


def requirements_location(path: str) -> str | None:
    """The object an included requirements file is: a workspace file or a DBFS file. Unity
    Catalog volumes (``/Volumes/...``) are not in the Workspace API (None: not fetched)."""
    location = location_of(path)
    if location is None or location == "/Volumes" or location.startswith("/Volumes/"):
        return None
    return location


def display_of(location: str, like: str) -> str:
    """``location`` written the way ``like`` (the path a job or notebook used) writes paths."""
    if like.startswith("/Workspace/") and location.startswith("/"):
        return "/Workspace" + location
    return location


def resolve_run(notebook: str, target: str) -> str | None:
    """A ``%run`` target (relative to the notebook's folder, or absolute) as a location."""
    target = target.strip().strip("\"'")
    if not target or notebook.startswith("dbfs:"):
        return None
    if target.startswith("/"):
        return location_of(target)
    return location_of(posixpath.join(posixpath.dirname(notebook), target))


def fetch_code(
    adapter: WorkspaceAdapter,
    locations: Iterable[str],
    *,
    known: dict[str, CodeObject] | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, CodeObject], FetchSummary]:
    """Fetch ``locations``, every notebook they ``%run`` and every requirements file they
    include (``-r``); ``known`` are stored copies, reused
    when the workspace says they did not change. ``progress(done, total)`` after each object."""
    known = known or {}
    found: dict[str, CodeObject] = {}
    exported = 0
    lock = threading.Lock()
    done = 0
    pending = sorted(set(locations))
    total = len(pending)

    def one(location: str) -> CodeObject:
        nonlocal done, exported
        obj, read = _fetch_one(adapter, location, known.get(location))
        with lock:
            exported += int(read)
            done += 1
            if progress is not None:
                progress(done, total)
        return obj

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ws-code") as pool:
        # Waves: the notebooks a wave %runs are the next wave, so helpers no job names are
        # fetched too; an object already fetched is never fetched again (cycles end here).
        while pending:
            fetched = adapter.guard("read workspace code", partial(_fetch_wave, pool, one, pending))
            for obj in fetched:
                found[obj.location] = obj
            following = {
                target
                for location in pending
                for _line, target in found[location].follows()
                if target not in found
            }
            pending = sorted(following)
            total += len(pending)
    statuses = [o.status for o in found.values()]
    return found, FetchSummary(
        objects=len(found),
        exported=exported,
        unchanged=sum(1 for o in found.values() if o.status == OK) - exported,
        missing=statuses.count(MISSING),
        forbidden=statuses.count(FORBIDDEN),
    )


def _fetch_wave(
    pool: ThreadPoolExecutor, one: Callable[[str], CodeObject], wave: list[str]
) -> list[CodeObject]:
    return list(pool.map(one, wave))


def _fetch_one(
    adapter: WorkspaceAdapter, location: str, stored: CodeObject | None
) -> tuple[CodeObject, bool]:
    """(object, whether its content was read this time)."""
    from databricks.sdk import errors

    try:
        if location.startswith("dbfs:"):
            return _fetch_dbfs(adapter, location, stored)
        return _fetch_workspace(adapter, location, stored)
    except errors.NotFound as exc:
        return _failed(location, MISSING, exc), False
    except errors.PermissionDenied as exc:
        return _failed(location, FORBIDDEN, exc), False
    except errors.BadRequest as exc:
        # MAX_NOTEBOOK_SIZE_EXCEEDED, or a path the API refuses to read (a folder...).
        status = TOO_LARGE if "SIZE" in str(getattr(exc, "error_code", "")) else UNREADABLE
        return _failed(location, status, exc), False


def _failed(location: str, status: str, exc: Exception) -> CodeObject:
    from cockpit.databricks.adapter import _first_line

    return CodeObject(location, "", "", status, _first_line(exc)[:300], 0, 0, "", "")


def _unchanged(stored: CodeObject | None, modified_at: int, size: int) -> bool:
    return (
        stored is not None
        and stored.status == OK
        and stored.modified_at == modified_at
        and stored.size == size
    )


def _fetch_workspace(
    adapter: WorkspaceAdapter, location: str, stored: CodeObject | None
) -> tuple[CodeObject, bool]:
    from databricks.sdk.service.workspace import ExportFormat

    client = adapter.client
    info = client.workspace.get_status(location)
    kind_raw = _enum(info.object_type)
    modified, size = int(info.modified_at or 0), int(info.size or 0)
    language = _enum(info.language)
    if kind_raw in ("DIRECTORY", "REPO"):
        return CodeObject(location, "", "", DIRECTORY, "a folder", modified, 0, "", ""), False
    kind = "notebook" if kind_raw == "NOTEBOOK" else "file"
    if _unchanged(stored, modified, size):
        assert stored is not None
        return stored, False
    if size > MAX_BYTES:
        message = f"{size} bytes, more than the {MAX_BYTES} the cockpit reads"
        return CodeObject(
            location, kind, language, TOO_LARGE, message, modified, size, "", ""
        ), False
    exported = client.workspace.export(location, format=ExportFormat.SOURCE)
    data = base64.b64decode(exported.content or "")
    return _read(location, kind, language, modified, size, data), True


def _fetch_dbfs(
    adapter: WorkspaceAdapter, location: str, stored: CodeObject | None
) -> tuple[CodeObject, bool]:
    client = adapter.client
    path = location[len("dbfs:") :]
    info = client.dbfs.get_status(path)
    modified, size = int(info.modification_time or 0), int(info.file_size or 0)
    if info.is_dir:
        return CodeObject(location, "dbfs", "", DIRECTORY, "a folder", modified, 0, "", ""), False
    if _unchanged(stored, modified, size):
        assert stored is not None
        return stored, False
    if size > MAX_BYTES:
        message = f"{size} bytes, more than the {MAX_BYTES} the cockpit reads"
        return CodeObject(location, "dbfs", "", TOO_LARGE, message, modified, size, "", ""), False
    chunks, offset = [], 0
    while offset < size:
        part = client.dbfs.read(path, offset=offset, length=min(DBFS_CHUNK, size - offset))
        data = base64.b64decode(part.data or "")
        if not data:
            break
        chunks.append(data)
        offset += len(data)
    return _read(location, "dbfs", "", modified, size, b"".join(chunks)[:MAX_BYTES]), True


def _read(
    location: str, kind: str, language: str, modified: int, size: int, data: bytes
) -> CodeObject:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return CodeObject(
            location, kind, language, UNREADABLE, "not UTF-8 text", modified, size, "", ""
        )
    digest = hashlib.sha256(data).hexdigest()
    return CodeObject(location, kind, language, OK, "", modified, size, digest, text)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


# ------------------------------------------------------------------------------ the state file
def has_code_table(store: StateStore) -> bool:
    return store.has_table("workspace_code")


def has_code(store: StateStore) -> bool:
    """Whether a workspace scan stored any exported code (a re-scan must include it)."""
    return (
        has_code_table(store)
        and store.query_one("SELECT 1 FROM workspace_code LIMIT 1") is not None
    )


def read_code(store: StateStore) -> dict[str, CodeObject]:
    """Every stored object by location (none in a file made before migration 0010)."""
    if not has_code_table(store):
        return {}
    rows = store.query(
        "SELECT location, kind, language, status, message, modified_at, size, sha256, text "
        "FROM workspace_code"
    )
    return {
        r["location"]: CodeObject(
            r["location"],
            r["kind"],
            r["language"],
            r["status"],
            r["message"],
            int(r["modified_at"]),
            int(r["size"]),
            r["sha256"],
            r["text"],
        )
        for r in rows
    }


def read_code_text(store: StateStore, path: str) -> str | None:
    """The stored source of the object a finding's ``path`` names (offline review)."""
    location = location_of(path)
    if location is None or not has_code_table(store):
        return None
    row = store.query_one(
        "SELECT text FROM workspace_code WHERE location = ? AND status = ?", (location, OK)
    )
    return row["text"] if row is not None else None


def record_code(
    store: StateStore,
    objects: dict[str, CodeObject],
    summary: FetchSummary,
    *,
    source: str = "cli",
) -> None:
    """Store what was fetched (objects not fetched this time are kept: another job may still
    name them at an earlier ``as_of``); one transaction, one ``databricks.code_fetched`` event."""
    now = store.clock()
    with store.write() as tx:
        tx.executemany(
            "INSERT INTO workspace_code (location, kind, language, status, message, modified_at, "
            "size, sha256, text, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(location) DO UPDATE SET kind = excluded.kind, "
            "language = excluded.language, status = excluded.status, "
            "message = excluded.message, modified_at = excluded.modified_at, "
            "size = excluded.size, sha256 = excluded.sha256, text = excluded.text, "
            "fetched_at = excluded.fetched_at",
            [
                (
                    o.location,
                    o.kind,
                    o.language,
                    o.status,
                    o.message,
                    o.modified_at,
                    o.size,
                    o.sha256,
                    o.text,
                    now,
                )
                for o in objects.values()
            ],
        )
        store.append_event(
            "databricks.code_fetched",
            json.loads(json.dumps(summary.__dict__)),
            source=source,
            conn=tx,
        )
