"""The DDP probes as the state file holds them (``ddp_probes``): the typed record and its readers.

Kept apart from :mod:`cockpit.ddp.probe` (which runs probes and records them) so that the
checklist item (:mod:`cockpit.ddp.checklist`) can read the latest probe without importing the
runner, which itself updates the checklist when a probe finishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.store import StateStore


@dataclass(frozen=True)
class DdpProbeRecord:
    """One probe (a row of ``ddp_probes``)."""

    id: int
    runtime_id: str
    spark_version: str
    run_id: int | None
    processes: int
    backend: str
    state: str  # submitted, running, passed, failed, cancelled
    message: str
    submitted_at: float
    finished_at: float | None
    result: dict[str, Any] = field(default_factory=dict)
    output: str = ""

    @property
    def passed(self) -> bool:
        return self.state == "passed"

    @property
    def checks(self) -> list[dict[str, Any]]:
        checks = self.result.get("checks")
        return [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []


def record_of(row: Any) -> DdpProbeRecord:
    try:
        result = json.loads(row["result"] or "{}")
    except json.JSONDecodeError:
        result = {}
    return DdpProbeRecord(
        id=row["id"],
        runtime_id=row["runtime_id"],
        spark_version=row["spark_version"],
        run_id=row["run_id"],
        processes=row["processes"],
        backend=row["backend"],
        state=row["state"],
        message=row["message"],
        submitted_at=row["submitted_at"],
        finished_at=row["finished_at"],
        result=result if isinstance(result, dict) else {},
        output=row["output"],
    )


def has_ddp_table(store: StateStore) -> bool:
    return store.has_table("ddp_probes")


def read_ddp_probes(
    store: StateStore, *, as_of: float | None = None, runtime_id: str | None = None
) -> list[DdpProbeRecord]:
    """Probes submitted up to ``as_of`` (state as last recorded), newest first."""
    if not has_ddp_table(store):
        return []
    where: list[str] = []
    params: list[Any] = []
    if as_of is not None:
        where.append("submitted_at <= ?")
        params.append(as_of)
    if runtime_id is not None:
        where.append("runtime_id = ?")
        params.append(runtime_id)
    sql = "SELECT * FROM ddp_probes" + (f" WHERE {' AND '.join(where)}" if where else "")
    return [record_of(r) for r in store.query(sql + " ORDER BY submitted_at DESC, id DESC", params)]


def latest_finished_probe(store: StateStore, runtime_id: str) -> DdpProbeRecord | None:
    """The last probe on ``runtime_id`` that passed or failed (by when it finished)."""
    row = store.query_one(
        "SELECT * FROM ddp_probes WHERE runtime_id = ? AND state IN ('passed', 'failed')"
        " ORDER BY finished_at DESC, id DESC LIMIT 1",
        (runtime_id,),
    )
    return record_of(row) if row is not None else None
