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

    from cockpit.ddp.records import DdpProbeRecord
    from cockpit.store import StateStore

ITEM_KEY = "probe:ddp-on-target"
ITEM_TITLE = "distributed training runs on the target"
HOROVOD_CODES = ("DBR101",)
ACTOR = "ddp-probe"


def target_runtime(store: StateStore) -> str | None:
    """The migration's target: the config's (kept in the state file), else the last scan's."""
    from cockpit.compat.checklist import last_scan_target

    return store.get_meta("migration.to") or last_scan_target(store)


def horovod_pipelines(store: StateStore) -> list[str]:
    """Present pipelines with a Horovod finding in the latest scan, or that have the item."""
    from cockpit.compat.checklist import pipelines_with

    return pipelines_with(store, HOROVOD_CODES, ITEM_KEY)


def _note(probe_id: int, run_id: Any, spark_version: str, message: str) -> str:
    return f"DDP probe #{probe_id} (run {run_id} on {spark_version}): {message}"


def note_prefix(probe_id: int) -> str:
    """How the notes a probe wrote begin (to list the items it closed)."""
    return f"DDP probe #{probe_id} "


def _set(store, tx, pipeline_id: str, status: str, note: str, now: float, source: str) -> None:
    from cockpit.compat.checklist import set_tool_item

    set_tool_item(
        store,
        tx,
        pipeline_id,
        ITEM_KEY,
        title=ITEM_TITLE,
        status=status,
        note=note,
        now=now,
        by=ACTOR,
        source=source,
    )


def apply_probe(
    store: StateStore, tx: sqlite3.Connection, record: DdpProbeRecord, *, source: str
) -> int:
    """A finished probe on the target passes or fails the item of every Horovod pipeline.
    Returns how many pipelines it applied to (0 when the probe was not on the target).
    ``tx`` is the store's open write transaction (the store reads inside it)."""
    if record.runtime_id != target_runtime(store):
        return 0
    now = store.clock()
    status = "pass" if record.passed else "fail"
    note = _note(record.id, record.run_id, record.spark_version, record.message)
    pipelines = horovod_pipelines(store)
    for pipeline_id in pipelines:
        _set(store, tx, pipeline_id, status, note, now, source)
    return len(pipelines)


def sync_items(store: StateStore, tx: sqlite3.Connection, now: float, *, source: str) -> None:
    """After a scan: every Horovod pipeline has the item, taking the latest probe on the target
    when there is one (a pipeline new to the checklist is covered by a probe already run).
    Run by the scan's recording (found by cockpit.compat.checklist.item_providers)."""
    from cockpit.compat.checklist import has_item
    from cockpit.ddp.records import latest_finished_probe

    pipelines = horovod_pipelines(store)
    if not pipelines:
        return
    target = target_runtime(store)
    probe = latest_finished_probe(store, target) if target is not None else None
    for pipeline_id in pipelines:
        if has_item(tx, pipeline_id, ITEM_KEY):
            continue
        if probe is None:
            _set(store, tx, pipeline_id, "todo", "", now, source)
        else:
            note = _note(probe.id, probe.run_id, probe.spark_version, probe.message)
            _set(store, tx, pipeline_id, "pass" if probe.passed else "fail", note, now, source)
