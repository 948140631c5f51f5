"""The checklist item "distributed training runs on the target", for pipelines that used Horovod.

Every pipeline with a Horovod finding (DBR101) in the latest scan gets the item; a DDP probe on
the migration's target runtime closes it (pass) or fails it, with the probe's one-line result as
the note. Like the other manual items it has no rule severity, and like them it blocks sign-off
until it passes or is waived. A person's waiver stands: a failing probe then only updates the note. Each change is a
``compat.item.*`` event, like every other checklist change, so history and time travel show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    from cockpit.ddp.probe import DdpProbeRecord
    from cockpit.store import StateStore

ITEM_KEY = "probe:ddp-on-target"
ITEM_TITLE = "distributed training runs on the target"
HOROVOD_CODES = ("DBR101",)
ACTOR = "ddp-probe"


def target_runtime(tx: sqlite3.Connection) -> str | None:
    """The migration's target: the config's (kept in the state file), else the last scan's."""
    row = tx.execute("SELECT value FROM cockpit_meta WHERE key = 'migration.to'").fetchone()
    if row is not None and row["value"]:
        return str(row["value"])
    row = tx.execute("SELECT to_runtime FROM compat_scans ORDER BY id DESC LIMIT 1").fetchone()
    return str(row["to_runtime"]) if row is not None else None


def horovod_pipelines(tx: sqlite3.Connection) -> list[str]:
    """Present pipelines with a Horovod finding in the latest scan, or that have the item."""
    marks = ",".join("?" * len(HOROVOD_CODES))
    rows = tx.execute(
        "SELECT DISTINCT f.pipeline_id FROM compat_findings f JOIN compat_pipelines p"
        " ON p.pipeline_id = f.pipeline_id AND p.present = 1"
        f" WHERE f.scan_id = (SELECT MAX(id) FROM compat_scans) AND f.code IN ({marks})"
        " UNION SELECT i.pipeline_id FROM checklist_items i JOIN compat_pipelines p"
        " ON p.pipeline_id = i.pipeline_id AND p.present = 1 WHERE i.item_key = ?"
        " ORDER BY 1",
        (*HOROVOD_CODES, ITEM_KEY),
    ).fetchall()
    return [r[0] for r in rows]


def _latest_on_target(tx: sqlite3.Connection) -> Any:
    target = target_runtime(tx)
    if target is None:
        return None
    return tx.execute(
        "SELECT * FROM ddp_probes WHERE runtime_id = ? AND state IN ('passed', 'failed')"
        " ORDER BY finished_at DESC, id DESC LIMIT 1",
        (target,),
    ).fetchone()


def _note(probe_id: int, run_id: Any, spark_version: str, message: str) -> str:
    return f"DDP probe #{probe_id} (run {run_id} on {spark_version}): {message}"


def _event(store, tx, pipeline_id, what, old, new, now, source) -> None:
    store.append_event(
        f"compat.item.{what}",
        {"pipeline": pipeline_id, "item": ITEM_KEY, "old": old, "new": new, "by": ACTOR},
        source=source,
        ts=now,
        conn=tx,
    )


def _upsert(store, tx, pipeline_id: str, status: str, note: str, now: float, source: str) -> None:
    row = tx.execute(
        "SELECT * FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
        (pipeline_id, ITEM_KEY),
    ).fetchone()
    if row is None:
        position = tx.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM checklist_items WHERE pipeline_id = ?",
            (pipeline_id,),
        ).fetchone()[0]
        tx.execute(
            "INSERT INTO checklist_items (pipeline_id, item_key, kind, title, status,"
            " note, position, created_at, updated_at, updated_by)"
            " VALUES (?, ?, 'manual', ?, ?, ?, ?, ?, ?, ?)",
            (pipeline_id, ITEM_KEY, ITEM_TITLE, status, note, position, now, now, ACTOR),
        )
        _event(store, tx, pipeline_id, "status", None, status, now, source)
        if note:
            _event(store, tx, pipeline_id, "note", None, note, now, source)
        return
    if row["status"] == "waived" and status == "fail":
        status = "waived"  # a person's waiver stands; the note still tells what the probe saw
    if status != row["status"]:
        tx.execute(
            "UPDATE checklist_items SET status = ?, updated_at = ?, updated_by = ?"
            " WHERE pipeline_id = ? AND item_key = ?",
            (status, now, ACTOR, pipeline_id, ITEM_KEY),
        )
        _event(store, tx, pipeline_id, "status", row["status"], status, now, source)
    if note and note != row["note"]:
        tx.execute(
            "UPDATE checklist_items SET note = ?, updated_at = ?, updated_by = ?"
            " WHERE pipeline_id = ? AND item_key = ?",
            (note, now, ACTOR, pipeline_id, ITEM_KEY),
        )
        _event(store, tx, pipeline_id, "note", row["note"], note, now, source)


def apply_probe(
    store: StateStore, tx: sqlite3.Connection, record: DdpProbeRecord, *, source: str
) -> int:
    """A finished probe on the target passes or fails the item of every Horovod pipeline.
    Returns how many pipelines it applied to (0 when the probe was not on the target)."""
    if record.runtime_id != target_runtime(tx):
        return 0
    now = store.clock()
    status = "pass" if record.passed else "fail"
    note = _note(record.id, record.run_id, record.spark_version, record.message)
    pipelines = horovod_pipelines(tx)
    for pipeline_id in pipelines:
        _upsert(store, tx, pipeline_id, status, note, now, source)
    return len(pipelines)


def sync_items(store: StateStore, tx: sqlite3.Connection, now: float, *, source: str) -> None:
    """After a scan: every Horovod pipeline has the item, taking the latest probe on the target
    when there is one (a pipeline new to the checklist is covered by a probe already run)."""
    pipelines = horovod_pipelines(tx)
    if not pipelines:
        return
    probe = _latest_on_target(tx)
    for pipeline_id in pipelines:
        exists = tx.execute(
            "SELECT 1 FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
            (pipeline_id, ITEM_KEY),
        ).fetchone()
        if exists:
            continue
        if probe is None:
            _upsert(store, tx, pipeline_id, "todo", "", now, source)
        else:
            status = "pass" if probe["state"] == "passed" else "fail"
            note = _note(probe["id"], probe["run_id"], probe["spark_version"], probe["message"])
            _upsert(store, tx, pipeline_id, status, note, now, source)
