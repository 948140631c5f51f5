"""Typed reads of the compatibility tables (the scan's uses of libraries)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.store import StateStore


@dataclass(frozen=True)
class StoredUse:
    pipeline_id: str
    pipeline: str  # the pipeline's name
    name: str  # module imported (dotted) or PEP 503 name pinned
    kind: str  # "import" or "pin"
    path: str
    line: int


def uses_scan(store: StateStore, as_of: float | None = None) -> int | None:
    """The id of the latest scan (at ``as_of``) that recorded uses; None when there is none."""
    if not store.has_table("compat_uses"):
        return None
    sql = "SELECT MAX(id) AS id FROM compat_scans WHERE id IN (SELECT scan_id FROM compat_uses)"
    bound = "" if as_of is None else " AND ts <= ?"
    row = store.query_one(sql + bound, () if as_of is None else (as_of,))
    return int(row["id"]) if row is not None and row["id"] is not None else None


def load_uses(store: StateStore, as_of: float | None = None) -> list[StoredUse] | None:
    """What the pipelines of the latest scan (at ``as_of``) import and pin; None when no scan
    has recorded uses (no scan yet, or only scans from before uses were recorded)."""
    scan_id = uses_scan(store, as_of)
    if scan_id is None:
        return None
    rows = store.query(
        "SELECT u.pipeline_id, COALESCE(p.name, u.pipeline_id) AS pipeline, u.name, u.kind,"
        " u.path, u.line FROM compat_uses u"
        " LEFT JOIN compat_pipelines p ON p.pipeline_id = u.pipeline_id"
        " WHERE u.scan_id = ? ORDER BY u.pipeline_id, u.kind, u.name",
        (scan_id,),
    )
    return [
        StoredUse(r["pipeline_id"], r["pipeline"], r["name"], r["kind"], r["path"], int(r["line"]))
        for r in rows
    ]
