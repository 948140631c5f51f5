"""The per-pipeline checklist in the state store.

Automatic items come from findings (one per rule a pipeline has ever had); manual items come
from the ``[checklist]`` template. A re-scan updates automatic items and never touches what a
person decided: manual statuses, notes, owners, waivers and sign-offs survive it. Every change is
an event (``compat.*``), which is the history shown in the tab and what time travel replays.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit import secrets
from cockpit.compat.jobs import redact_uri
from cockpit.compat.pipelines import Pipeline, rollup
from cockpit.compat.scan import ScanResult
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    import sqlite3

    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

STATUSES = ("todo", "pass", "fail", "waived")
SCAN_ACTOR = "scan"
DEFAULT_MANUAL_ITEMS = (
    "ran green on the target runtime",
    "tracking URI switched to the new server",
    "owner signed off",
)


@dataclass(frozen=True)
class RecordSummary:
    scan_id: int
    pipelines: int
    findings: int
    blocking: int


@dataclass
class Item:
    pipeline_id: str
    item_key: str
    kind: str
    title: str
    code: str | None
    severity: str | None
    status: str
    owner: str | None
    note: str
    finding_count: int
    updated_at: float
    updated_by: str


@dataclass
class PipelineView:
    pipeline_id: str
    name: str
    kind: str
    origin: str
    owner: str | None
    tracking_uri: str | None
    signed_off_by: str | None
    signed_off_at: float | None
    items: list[Item] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Every item passed or waived, and signed off."""
        return bool(self.signed_off_by) and all(i.status in ("pass", "waived") for i in self.items)

    @property
    def blocking_open(self) -> int:
        return sum(1 for i in self.items if i.status == "fail" and i.severity == "blocking")


# A feature that adds its own items to pipelines after each scan has a module
# ``cockpit/<feature>/checklist.py`` with ``sync_items(store, tx, now, *, source)``, run inside the
# scan's write transaction. The checklist finds them by name, as the CLI finds its commands and
# the pollers their sources: those features build on the checklist's API, so importing them here
# would be an import cycle (tests/test_import_hygiene.py).
_NOT_FEATURES = frozenset({"cli", "commands", "compat"})


def item_providers() -> list[Callable[..., None]]:
    """Every feature's ``checklist.sync_items``, in the order of the features' names."""
    import importlib
    import importlib.util
    import pkgutil

    import cockpit

    found = []
    for info in sorted(pkgutil.iter_modules(cockpit.__path__), key=lambda i: i.name):
        if not info.ispkg or info.name in _NOT_FEATURES:
            continue
        name = f"cockpit.{info.name}.checklist"
        if importlib.util.find_spec(name) is None:
            continue
        sync_items = getattr(importlib.import_module(name), "sync_items", None)
        if callable(sync_items):
            found.append(sync_items)
    return found


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"


def has_checklist(store: StateStore) -> bool:
    return store.has_table("checklist_items")


def has_scans(store: StateStore) -> bool:
    return store.has_table("compat_findings")


def _auto_status(current: str | None, set_by_person: bool, severity: str, count: int) -> str:
    if count == 0:
        return "pass"
    if severity == "blocking":
        return "waived" if current == "waived" else "fail"
    if severity == "warning":
        # A person who reviewed a warning and passed or waived it keeps that decision.
        return current if set_by_person and current in ("pass", "waived") else "todo"
    return "pass"  # info: nothing to do but know it


# --------------------------------------------------------------------------- recording a scan
def record_scan(
    store: StateStore,
    result: ScanResult,
    config: CockpitConfig | None,
    *,
    roots: list[str] | None = None,
    base_dir: str = "",
    source: str = "cli",
) -> RecordSummary:
    """Store a scan: pipelines, their findings, and the automatic checklist items.

    Jobs the Databricks inventory recorded in the state file join in as pipelines (merged by
    name with bundle jobs), checked with the same rules.
    """
    from cockpit.compat.workspace_jobs import add_workspace_jobs, workspace_owners

    result = add_workspace_jobs(store, result)
    pipelines = rollup(result, roots or ["."], config)
    owners = workspace_owners(store)
    for pipeline in pipelines:
        if pipeline.owner is None and pipeline.pipeline_id.startswith("job:"):
            # The job's creator; for a bundle job deployed only under other names
            # ("[dev alice] train"), the creator of the first of them.
            names = [pipeline.pipeline_id, *pipeline.deployed_as]
            pipeline.owner = next((owners[n[4:]] for n in names if n[4:] in owners), None)
    manual = list(config.checklist.manual_items) if config is not None else DEFAULT_MANUAL_ITEMS
    now = store.clock()
    with store.write() as tx:
        scan_id = int(
            tx.execute(
                "INSERT INTO compat_scans (ts, from_runtime, to_runtime, paths, base_dir,"
                " mlflow_from, old_tracking_uri, files, findings, blocking)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    result.crossing.from_runtime,
                    result.crossing.to_runtime,
                    # As given: a workspace-only scan has no local paths, and recording "." would
                    # make a later re-scan read whatever folder it was started from.
                    json.dumps(["."] if roots is None else roots),
                    base_dir,
                    result.crossing.versions.get("mlflow", (None, None))[0],
                    # The old server's URI may carry credentials (user:token@): never stored.
                    redact_uri(result.crossing.old_tracking_uri)
                    if result.crossing.old_tracking_uri
                    else None,
                    len(result.files),
                    len(result.findings),
                    result.blocking,
                ),
            ).lastrowid
            or 0
        )
        seen = set()
        for pipeline in pipelines:
            seen.add(pipeline.pipeline_id)
            _record_pipeline(store, tx, scan_id, pipeline, manual, now)
        gone = [
            r["pipeline_id"]
            for r in tx.execute("SELECT pipeline_id FROM compat_pipelines WHERE present = 1")
            if r["pipeline_id"] not in seen
        ]
        for pipeline_id in gone:
            tx.execute(
                "UPDATE compat_pipelines SET present = 0, last_scan_id = ? WHERE pipeline_id = ?",
                (scan_id, pipeline_id),
            )
            store.append_event(
                "compat.pipeline.gone", {"pipeline": pipeline_id}, source=source, ts=now, conn=tx
            )
        # Items other features add after each scan, e.g. cockpit.ddp's "distributed training
        # runs on the target" for the pipelines that used Horovod.
        for sync_items in item_providers():
            sync_items(store, tx, now, source=source)
        store.append_event(
            "compat.scan.recorded",
            {
                "scan_id": scan_id,
                "from": result.crossing.from_runtime,
                "to": result.crossing.to_runtime,
                "files": len(result.files),
                "findings": len(result.findings),
                "blocking": result.blocking,
                "pipelines": len(pipelines),
            },
            source=source,
            ts=now,
            conn=tx,
        )
    return RecordSummary(scan_id, len(pipelines), len(result.findings), result.blocking)


def _record_pipeline(store, tx, scan_id: int, pipeline: Pipeline, manual, now: float) -> None:
    existing = tx.execute(
        "SELECT * FROM compat_pipelines WHERE pipeline_id = ?", (pipeline.pipeline_id,)
    ).fetchone()
    deployed = _DeployedDecisions.read(tx, pipeline)
    if existing is None:
        tx.execute(
            "INSERT INTO compat_pipelines (pipeline_id, name, kind, origin, owner, tracking_uri,"
            " first_seen, last_scan_id, present) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            (
                pipeline.pipeline_id,
                pipeline.name,
                pipeline.kind,
                pipeline.origin,
                pipeline.owner,
                pipeline.tracking_uri,
                now,
                scan_id,
            ),
        )
        store.append_event(
            "compat.pipeline.added",
            {"pipeline": pipeline.pipeline_id, "name": pipeline.name, "kind": pipeline.kind},
            source=SCAN_ACTOR,
            ts=now,
            conn=tx,
        )
    else:
        # The owner is a person's decision once set; a config owner only fills a gap.
        tx.execute(
            "UPDATE compat_pipelines SET name = ?, kind = ?, origin = ?, tracking_uri = ?,"
            " owner = COALESCE(owner, ?), last_scan_id = ?, present = 1 WHERE pipeline_id = ?",
            (
                pipeline.name,
                pipeline.kind,
                pipeline.origin,
                pipeline.tracking_uri,
                pipeline.owner,
                scan_id,
                pipeline.pipeline_id,
            ),
        )
    carried_owner = deployed.owner(tx, pipeline.pipeline_id)
    if carried_owner is not None:
        owner, by, from_pipeline, was = carried_owner
        tx.execute(
            "UPDATE compat_pipelines SET owner = ? WHERE pipeline_id = ?",
            (owner, pipeline.pipeline_id),
        )
        store.append_event(
            "compat.pipeline.owner",
            {
                "pipeline": pipeline.pipeline_id,
                "old": was,
                "new": owner,
                "by": by,
                "carried_from": from_pipeline,
            },
            source=SCAN_ACTOR,
            ts=now,
            conn=tx,
        )
    for f in pipeline.findings:
        tx.execute(
            "INSERT INTO compat_findings (scan_id, pipeline_id, code, name, severity, path, line,"
            " col, message, fix, source, autofix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scan_id,
                pipeline.pipeline_id,
                f.code,
                f.name,
                f.severity,
                f.path,
                f.line,
                f.column,
                secrets.scrub_text(f.message),
                f.fix,
                f.source,
                int(f.autofix),
            ),
        )
    # One row per (name, kind): the first use is the location shown; more add nothing to the join.
    first_uses = {(u.name, u.kind): u for u in reversed(pipeline.uses)}
    tx.executemany(
        "INSERT INTO compat_uses (scan_id, pipeline_id, name, kind, path, line)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (scan_id, pipeline.pipeline_id, u.name, u.kind, u.path, u.line)
            for (_name, _kind), u in sorted(first_uses.items())
        ],
    )
    items = {
        r["item_key"]: r
        for r in tx.execute(
            "SELECT * FROM checklist_items WHERE pipeline_id = ?", (pipeline.pipeline_id,)
        )
    }
    counts: dict[str, tuple[int, Any]] = {}
    for f in pipeline.findings:
        n, first = counts.get(f.code, (0, f))
        counts[f.code] = (n + 1, first)
    codes = sorted(set(counts) | {r["code"] for r in items.values() if r["kind"] == "auto"})
    position = 0
    for code in codes:
        key = f"rule:{code}"
        count, first = counts.get(code, (0, None))
        row = items.get(key)
        severity = (
            first.severity
            if first is not None
            else (row["severity"] if row is not None else "info")
        )
        current = row["status"] if row else None
        by_person = row is not None and row["updated_by"] != SCAN_ACTOR
        # A rule folded into this one (its code now an alias of this code) may carry a person's
        # decision in an older state file: the new item starts from it, or a waiver signed in a
        # walkthrough would reopen as a failure under the code that replaced it.
        carried = _decision_of_folded(tx, items, code) if row is None else None
        if carried is None and not by_person:
            # Or the same item on a workspace job this bundle job was deployed as, walked
            # before the bundle was scanned (the pipeline had the deployed name then).
            paths = {f.path for f in pipeline.findings if f.code == code}
            carried = deployed.rule_decision(tx, code, paths)
        if carried is not None:
            current, by_person = carried["status"], True
        status = _auto_status(current, by_person, severity, count)
        if row is None:
            title = f"{code} {first.name}"
            tx.execute(
                "INSERT INTO checklist_items (pipeline_id, item_key, kind, title, code, severity,"
                " status, owner, note, finding_count, position, created_at, updated_at, updated_by)"
                " VALUES (?, ?, 'auto', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    pipeline.pipeline_id,
                    key,
                    title,
                    code,
                    severity,
                    status,
                    None,
                    "",
                    count,
                    position,
                    now,
                    now,
                    SCAN_ACTOR,
                ),
            )
            if carried is None:
                _item_event(store, tx, pipeline.pipeline_id, key, "status", None, status, now)
            else:
                before = {"status": None, "owner": None, "note": ""}
                _carry_into(store, tx, pipeline.pipeline_id, key, before, carried, status, now)
        elif carried is not None:
            _carry_into(store, tx, pipeline.pipeline_id, key, row, carried, status, now)
            tx.execute(
                "UPDATE checklist_items SET finding_count = ?, position = ?, severity = ?"
                " WHERE pipeline_id = ? AND item_key = ?",
                (count, position, severity, pipeline.pipeline_id, key),
            )
        else:
            changed = status != current
            tx.execute(
                "UPDATE checklist_items SET status = ?, finding_count = ?, position = ?,"
                " severity = ?, updated_at = CASE WHEN ? THEN ? ELSE updated_at END,"
                " updated_by = CASE WHEN ? THEN ? ELSE updated_by END"
                " WHERE pipeline_id = ? AND item_key = ?",
                (
                    status,
                    count,
                    position,
                    severity,
                    changed,
                    now,
                    changed,
                    SCAN_ACTOR,
                    pipeline.pipeline_id,
                    key,
                ),
            )
            if changed:
                _item_event(store, tx, pipeline.pipeline_id, key, "status", current, status, now)
        position += 1
    for title in manual:
        key = f"manual:{slug(title)}"
        row = items.get(key)
        if row is None:
            tx.execute(
                "INSERT INTO checklist_items (pipeline_id, item_key, kind, title, status, position,"
                " created_at, updated_at, updated_by) VALUES (?, ?, 'manual', ?, 'todo', ?, ?, ?, ?)",
                (pipeline.pipeline_id, key, title, position, now, now, SCAN_ACTOR),
            )
            _item_event(store, tx, pipeline.pipeline_id, key, "status", None, "todo", now)
        else:
            tx.execute(
                "UPDATE checklist_items SET position = ? WHERE pipeline_id = ? AND item_key = ?",
                (position, pipeline.pipeline_id, key),
            )
        carried = deployed.manual_decision(tx, key)
        if carried is not None and (row is None or row["updated_by"] == SCAN_ACTOR):
            before = {"status": "todo", "owner": None, "note": ""} if row is None else row
            _carry_into(
                store, tx, pipeline.pipeline_id, key, before, carried, carried["status"], now
            )
        position += 1


@dataclass
class _DeployedDecisions:
    """What people decided on the workspace pipelines a bundle job was deployed as
    (``Pipeline.deployed_as``), read while those are still recorded as present: the scan that
    first joins them to the bundle's pipeline marks them gone, so their decisions are carried
    once, as the folded rules' are (:func:`_decision_of_folded`)."""

    items: list[dict[str, Any]]
    # (pipeline, code) -> the paths of its findings in that pipeline's last scan.
    paths: dict[tuple[str, str], set[str]]
    owner_event: dict[str, Any] | None

    @classmethod
    def read(cls, tx: sqlite3.Connection, pipeline: Pipeline) -> _DeployedDecisions:
        wanted = [i for i in dict.fromkeys(pipeline.deployed_as) if i != pipeline.pipeline_id]
        if not wanted:
            return cls([], {}, None)
        marks = ",".join("?" * len(wanted))
        present = {
            r["pipeline_id"]: r["last_scan_id"]
            for r in tx.execute(
                "SELECT pipeline_id, last_scan_id FROM compat_pipelines"
                f" WHERE present = 1 AND pipeline_id IN ({marks})",
                wanted,
            )
        }
        if not present:
            return cls([], {}, None)
        ids = sorted(present)
        marks = ",".join("?" * len(ids))
        items = [
            dict(r)
            for r in tx.execute(
                f"SELECT * FROM checklist_items WHERE pipeline_id IN ({marks}) AND updated_by != ?",
                (*ids, SCAN_ACTOR),
            )
        ]
        paths: dict[tuple[str, str], set[str]] = {}
        for pipeline_id, scan_id in present.items():
            for r in tx.execute(
                "SELECT code, path FROM compat_findings WHERE pipeline_id = ? AND scan_id = ?",
                (pipeline_id, scan_id),
            ):
                paths.setdefault((pipeline_id, r["code"]), set()).add(r["path"])
        event = tx.execute(
            "SELECT payload FROM events WHERE kind = 'compat.pipeline.owner'"
            f" AND json_extract(payload, '$.pipeline') IN ({marks}) ORDER BY id DESC LIMIT 1",
            ids,
        ).fetchone()
        return cls(items, paths, json.loads(event["payload"]) if event is not None else None)

    def rule_decision(
        self, tx: sqlite3.Connection, code: str, paths: set[str]
    ) -> dict[str, Any] | None:
        from cockpit.compat.rules import current_code

        decided = [
            r
            for r in self.items
            if r["kind"] == "auto" and r["code"] and current_code(r["code"]) == code
        ]
        if not decided:
            return None
        latest = max(decided, key=lambda r: (r["updated_at"], r["pipeline_id"], r["item_key"]))
        carried = _decision(tx, latest)
        # Whoever was made answerable on any deployment stays so (the latest one named).
        owners = [r for r in decided if r["owner"]]
        if owners and not carried["owner"]:
            named = _decision(tx, max(owners, key=lambda r: (r["updated_at"], r["pipeline_id"])))
            carried["owner"], carried["owner_by"] = named["owner"], named["owner_by"]
        seen: set[str] = set()
        for r in decided:
            if r["status"] in ("pass", "waived"):
                seen |= self.paths.get((r["pipeline_id"], r["code"]), set())
        if carried["status"] in ("pass", "waived") and not paths <= seen:
            # The joined item also holds findings nobody passed or waived (the bundle's own
            # files, another deployment): the note and owner come along, the waiver does not.
            carried["status"] = None
        return carried

    def manual_decision(self, tx: sqlite3.Connection, key: str) -> dict[str, Any] | None:
        if "sign" in key:
            # A sign-off covered the deployment's code only; the joined pipeline has the
            # bundle's too, so it is signed again (sign_off passes the item then).
            return None
        decided = [r for r in self.items if r["kind"] == "manual" and r["item_key"] == key]
        if not decided:
            return None
        return _decision(tx, max(decided, key=lambda r: (r["updated_at"], r["pipeline_id"])))

    def owner(
        self, tx: sqlite3.Connection, pipeline_id: str
    ) -> tuple[str, str, str, str | None] | None:
        """(owner, by, from pipeline, the pipeline's owner now) a person gave a deployment, for
        a pipeline no person gave one; None when there is nothing to carry."""
        event = self.owner_event
        if event is None or not event.get("new"):
            return None
        own = tx.execute(
            "SELECT 1 FROM events WHERE kind = 'compat.pipeline.owner'"
            " AND json_extract(payload, '$.pipeline') = ? LIMIT 1",
            (pipeline_id,),
        ).fetchone()
        if own is not None:
            return None
        current = tx.execute(
            "SELECT owner FROM compat_pipelines WHERE pipeline_id = ?", (pipeline_id,)
        ).fetchone()
        was = current["owner"] if current is not None else None
        if was == event["new"]:
            return None
        return str(event["new"]), str(event.get("by") or ""), str(event["pipeline"]), was


def _decision(tx: sqlite3.Connection, row: Any) -> dict[str, Any]:
    """A person's decision on an item, to carry: its status, owner and note, and who set each
    (the row names only who changed it last)."""
    out = {k: row[k] for k in ("pipeline_id", "item_key", "status", "owner", "note", "updated_by")}
    for what in ("owner", "note"):
        found = tx.execute(
            "SELECT json_extract(payload, '$.by') AS by FROM events WHERE kind = ?"
            " AND json_extract(payload, '$.pipeline') = ? AND json_extract(payload, '$.item') = ?"
            " ORDER BY id DESC LIMIT 1",
            (f"compat.item.{what}", row["pipeline_id"], row["item_key"]),
        ).fetchone()
        out[f"{what}_by"] = (found["by"] if found is not None else None) or row["updated_by"]
    return out


def _carry_into(store, tx, pipeline_id: str, key: str, before, carried, status: str, now) -> None:
    """Give an item that only the scan has set so far (``before``: its status, owner and note)
    a person's decision carried to it: ``status`` (what the carried status comes to, or the
    scan's when ``carried`` keeps none), and the owner and note where it has none. Each change
    is an event of whoever made it, written in order, and the row's "updated by" is the last
    of them: what a replay of the log at any later moment shows."""
    by_status = carried["updated_by"] if carried["status"] is not None else SCAN_ACTOR
    changes = (
        [("status", before["status"], status, by_status)] if status != before["status"] else []
    )
    for what in ("owner", "note"):
        if carried[what] and not before[what]:
            changes.append((what, before[what], carried[what], carried[f"{what}_by"]))
    if not changes:
        return
    tx.execute(
        "UPDATE checklist_items SET status = ?, owner = ?, note = ?, updated_at = ?,"
        " updated_by = ? WHERE pipeline_id = ? AND item_key = ?",
        (
            status,
            before["owner"] or carried["owner"],
            before["note"] or carried["note"],
            now,
            changes[-1][3],
            pipeline_id,
            key,
        ),
    )
    for what, old, new, by in changes:
        _item_event(
            store,
            tx,
            pipeline_id,
            key,
            what,
            old,
            new,
            now,
            by=by,
            carried_from=carried["item_key"],
            carried_from_pipeline=carried["pipeline_id"],
        )


def _decision_of_folded(
    tx: sqlite3.Connection, items: dict[str, Any], code: str
) -> dict[str, Any] | None:
    """The latest person's decision on an item whose rule was folded into ``code`` (its code is
    now an alias of ``code``), as a plain dict; None when there is none."""
    from cockpit.compat.rules import current_code

    decided = [
        r
        for r in items.values()
        if r["kind"] == "auto"
        and r["code"]
        and r["code"] != code
        and r["updated_by"] != SCAN_ACTOR
        and current_code(r["code"]) == code
    ]
    if not decided:
        return None
    return _decision(tx, max(decided, key=lambda r: (r["updated_at"], r["item_key"])))


def _item_event(
    store,
    tx,
    pipeline_id,
    key,
    what,
    old,
    new,
    now,
    by=SCAN_ACTOR,
    source="scan",
    carried_from=None,
    carried_from_pipeline=None,
):
    payload = {"pipeline": pipeline_id, "item": key, "old": old, "new": new, "by": by}
    if carried_from is not None:
        payload["carried_from"] = carried_from  # the item whose decision it took
    if carried_from_pipeline not in (None, pipeline_id):
        payload["carried_from_pipeline"] = carried_from_pipeline  # a deployment's pipeline
    store.append_event(f"compat.item.{what}", payload, source=source, ts=now, conn=tx)


# --------------------------------------------------------------------------- people's changes
def _item_row(store: StateStore, pipeline_id: str, item_key: str):
    row = store.query_one(
        "SELECT * FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
        (pipeline_id, item_key),
    )
    if row is None:
        raise CockpitError(f"no checklist item {item_key!r} for pipeline {pipeline_id!r}")
    return row


def set_item(
    store: StateStore,
    pipeline_id: str,
    item_key: str,
    *,
    by: str,
    status: str | None = None,
    note: str | None = None,
    owner: str | None = None,
    source: str = "cli",
) -> None:
    """Change an item's status, note or owner; each change becomes a ``compat.item.*`` event."""
    if status is not None and status not in STATUSES:
        raise CockpitError(f"status must be one of {', '.join(STATUSES)} (got {status!r})")
    if not by.strip():
        raise CockpitError("say who is making the change")
    row = _item_row(store, pipeline_id, item_key)
    if (
        status == "pass"
        and row["kind"] == "auto"
        and row["finding_count"]
        and (row["severity"] == "blocking")
    ):
        raise CockpitError(
            f"{item_key} still has {row['finding_count']} blocking finding(s): fix them, or waive "
            "the item with a note saying why"
        )
    changes = {
        k: v
        for k, v in (("status", status), ("note", note), ("owner", owner))
        if v is not None and v != row[k]
    }
    if not changes:
        return
    now = store.clock()
    with store.write() as tx:
        for column, value in changes.items():
            tx.execute(
                f"UPDATE checklist_items SET {column} = ?, updated_at = ?, updated_by = ?"
                " WHERE pipeline_id = ? AND item_key = ?",
                (value, now, by, pipeline_id, item_key),
            )
            _item_event(
                store, tx, pipeline_id, item_key, column, row[column], value, now, by, source
            )


def set_pipeline_owner(
    store: StateStore, pipeline_id: str, owner: str, *, by: str, source: str = "cli"
) -> None:
    """Assign the person answerable for a pipeline (event ``compat.pipeline.owner``)."""
    row = store.query_one(
        "SELECT owner FROM compat_pipelines WHERE pipeline_id = ?", (pipeline_id,)
    )
    if row is None:
        raise CockpitError(f"no pipeline {pipeline_id!r} in the checklist")
    owner = owner.strip()
    if not owner or owner == row["owner"]:
        return
    with store.write() as tx:
        tx.execute(
            "UPDATE compat_pipelines SET owner = ? WHERE pipeline_id = ?", (owner, pipeline_id)
        )
        store.append_event(
            "compat.pipeline.owner",
            {"pipeline": pipeline_id, "old": row["owner"], "new": owner, "by": by},
            source=source,
            conn=tx,
        )


def sign_off(
    store: StateStore, pipeline_id: str, *, by: str, note: str = "", source: str = "cli"
) -> None:
    """Record that ``by`` signed the pipeline off (and pass a manual "signed off" item)."""
    if not by.strip():
        raise CockpitError("say who signs off")
    row = store.query_one("SELECT * FROM compat_pipelines WHERE pipeline_id = ?", (pipeline_id,))
    if row is None:
        raise CockpitError(f"no pipeline {pipeline_id!r} in the checklist")
    open_items = store.query(
        "SELECT item_key FROM checklist_items WHERE pipeline_id = ? AND status IN ('fail', 'todo')"
        " AND item_key NOT LIKE 'manual:%sign%'",
        (pipeline_id,),
    )
    if open_items:
        keys = ", ".join(r["item_key"] for r in open_items)
        raise CockpitError(f"{pipeline_id} has open items ({keys}): pass or waive them first")
    now = store.clock()
    with store.write() as tx:
        tx.execute(
            "UPDATE compat_pipelines SET signed_off_by = ?, signed_off_at = ? WHERE pipeline_id = ?",
            (by, now, pipeline_id),
        )
        for item in tx.execute(
            "SELECT item_key, status FROM checklist_items WHERE pipeline_id = ?"
            " AND kind = 'manual' AND item_key LIKE 'manual:%sign%' AND status != 'pass'",
            (pipeline_id,),
        ).fetchall():
            tx.execute(
                "UPDATE checklist_items SET status = 'pass', updated_at = ?, updated_by = ?"
                " WHERE pipeline_id = ? AND item_key = ?",
                (now, by, pipeline_id, item["item_key"]),
            )
            _item_event(
                store,
                tx,
                pipeline_id,
                item["item_key"],
                "status",
                item["status"],
                "pass",
                now,
                by,
                source,
            )
        store.append_event(
            "compat.pipeline.signed_off",
            {"pipeline": pipeline_id, "by": by, "note": note},
            source=source,
            ts=now,
            conn=tx,
        )


# --------------------------------------------------------------------------- reading
def _latest_scan(store: StateStore, as_of: float | None) -> int | None:
    if as_of is None:
        row = store.query_one("SELECT MAX(id) AS id FROM compat_scans")
    else:
        row = store.query_one("SELECT MAX(id) AS id FROM compat_scans WHERE ts <= ?", (as_of,))
    return int(row["id"]) if row and row["id"] is not None else None


@dataclass(frozen=True)
class RuleCount:
    code: str
    name: str
    severity: str
    findings: int


def rule_counts(
    store: StateStore, *, limit: int = 15, as_of: float | None = None
) -> list[RuleCount]:
    """The rules that fired most in the latest scan as of a moment (findings are kept per scan,
    so counting only the latest one keeps re-scans from double counting), most findings first."""
    scan_id = _latest_scan(store, as_of)
    if scan_id is None:
        return []
    rows = store.query(
        "SELECT code, name, severity, COUNT(*) AS n FROM compat_findings WHERE scan_id = ? "
        "GROUP BY code ORDER BY n DESC, code LIMIT ?",
        (scan_id, int(limit)),
    )
    return [RuleCount(r["code"], r["name"], r["severity"], int(r["n"])) for r in rows]


def load_checklist(store: StateStore, as_of: float | None = None) -> list[PipelineView]:
    """Pipelines with their items, now or as they were at ``as_of`` (replayed from events)."""
    if not has_checklist(store):
        return []
    views = {
        r["pipeline_id"]: PipelineView(
            pipeline_id=r["pipeline_id"],
            name=r["name"],
            kind=r["kind"],
            origin=r["origin"],
            owner=r["owner"],
            tracking_uri=r["tracking_uri"],
            signed_off_by=r["signed_off_by"],
            signed_off_at=r["signed_off_at"],
        )
        for r in store.query(
            "SELECT * FROM compat_pipelines WHERE "
            + ("present = 1" if as_of is None else "first_seen <= ?")
            + " ORDER BY pipeline_id",
            () if as_of is None else (as_of,),
        )
    }
    rows = store.query(
        "SELECT * FROM checklist_items ORDER BY pipeline_id, position, item_key"
        if as_of is None
        else "SELECT * FROM checklist_items WHERE created_at <= ? ORDER BY pipeline_id,"
        " position, item_key",
        () if as_of is None else (as_of,),
    )
    items = {
        (r["pipeline_id"], r["item_key"]): Item(
            pipeline_id=r["pipeline_id"],
            item_key=r["item_key"],
            kind=r["kind"],
            title=r["title"],
            code=r["code"],
            severity=r["severity"],
            status=r["status"],
            owner=r["owner"],
            note=r["note"],
            finding_count=r["finding_count"],
            updated_at=r["updated_at"],
            updated_by=r["updated_by"],
        )
        for r in rows
    }
    if as_of is not None:
        _replay(store, as_of, views, items)
    for item in items.values():
        view = views.get(item.pipeline_id)
        if view is not None:
            view.items.append(item)
    return list(views.values())


def _replay(store, as_of, views, items) -> None:
    """Rewind statuses, notes, owners and sign-offs to ``as_of`` from the event log."""
    for item in items.values():
        item.status, item.note, item.owner = "todo", "", None
    for view in views.values():
        view.signed_off_by = view.signed_off_at = None
    scan_id = _latest_scan(store, as_of)
    if scan_id is not None:
        counts = {
            (r["pipeline_id"], r["code"]): r["n"]
            for r in store.query(
                "SELECT pipeline_id, code, COUNT(*) AS n FROM compat_findings WHERE scan_id = ?"
                " GROUP BY pipeline_id, code",
                (scan_id,),
            )
        }
        for item in items.values():
            if item.code:
                item.finding_count = counts.get((item.pipeline_id, item.code), 0)
    # Only the last change of each field of each item (and of each pipeline) as of the moment
    # decides what it was then: chosen in SQL, so a month of checklist history (thousands of
    # notes) is not read into Python. Applied in write order, as the changes were made: the
    # last one applied to an item gives its "updated" time and person.
    rows = store.query(
        f"SELECT id, ts, kind, payload FROM events WHERE id IN (SELECT MAX(id) FROM events "
        f"WHERE kind IN ({','.join('?' * len(_REPLAYED))}) AND ts <= ? GROUP BY kind, "
        "json_extract(payload, '$.pipeline'), json_extract(payload, '$.item')) ORDER BY id",
        (*_REPLAYED, as_of),
    )
    for row in rows:
        kind, ts, p = row["kind"], row["ts"], json.loads(row["payload"])
        if kind.startswith("compat.item."):
            item = items.get((p.get("pipeline"), p.get("item")))
            if item is None:
                continue
            field_name = kind.rsplit(".", 1)[1]
            value = p.get("new")
            setattr(item, field_name, value if value is not None or field_name == "owner" else "")
            item.updated_at, item.updated_by = ts, str(p.get("by") or "")
        elif kind == "compat.pipeline.owner":
            view = views.get(p.get("pipeline"))
            if view is not None:
                view.owner = p.get("new")
        elif kind == "compat.pipeline.signed_off":
            view = views.get(p.get("pipeline"))
            if view is not None:
                view.signed_off_by, view.signed_off_at = p.get("by"), ts


# The events the checklist replay rewinds with (every other compat.* kind changes none of it).
_REPLAYED = (
    "compat.item.status",
    "compat.item.note",
    "compat.item.owner",
    "compat.pipeline.owner",
    "compat.pipeline.signed_off",
)


@dataclass(frozen=True)
class StoredFinding:
    code: str
    name: str
    severity: str
    path: str
    line: int
    column: int
    message: str
    fix: str
    source: str
    autofix: bool


def findings_for(
    store: StateStore, pipeline_id: str, code: str | None = None, as_of: float | None = None
) -> list[StoredFinding]:
    scan_id = _latest_scan(store, as_of)
    if scan_id is None:
        return []
    sql = "SELECT * FROM compat_findings WHERE scan_id = ? AND pipeline_id = ?"
    params: list[Any] = [scan_id, pipeline_id]
    if code:
        sql += " AND code = ?"
        params.append(code)
    return [
        StoredFinding(
            r["code"],
            r["name"],
            r["severity"],
            r["path"],
            r["line"],
            r["col"],
            r["message"],
            r["fix"],
            r["source"],
            bool(r["autofix"]),
        )
        for r in store.query(sql + " ORDER BY path, line, col", params)
    ]


def history(store: StateStore, pipeline_id: str, item_key: str | None = None, as_of=None):
    """Who changed what when, newest first: this pipeline's events (those of ``item_key`` and
    of the pipeline as a whole when given), picked in SQL rather than every checklist event
    read into Python and most thrown away."""
    from cockpit.store import Event, until

    sql = (
        "SELECT * FROM events WHERE kind >= 'compat.' AND kind < 'compat/' AND ts <= ? "
        "AND json_extract(payload, '$.pipeline') = ?"
    )
    params: list[Any] = [until(as_of), pipeline_id]
    if item_key is not None:
        sql += (
            " AND (json_extract(payload, '$.item') = ? OR json_extract(payload, '$.item') IS NULL)"
        )
        params.append(item_key)
    rows = store.query(sql + " ORDER BY ts DESC, id DESC", params)
    return [Event.from_row(r) for r in rows]


def progress(views: list[PipelineView]) -> tuple[int, int]:
    """(ready, total) pipelines: the "9 of 14 pipelines ready" line."""
    return sum(1 for v in views if v.ready), len(views)


# --------------------------------------------------------------------------- for other features
# The DDP probe, the re-scan and the CLI read and set checklist rows through these, so the
# checklist's tables are touched only here.
@dataclass(frozen=True)
class ScanRecord:
    """What the latest recorded scan ran on (a re-scan repeats it)."""

    id: int
    from_runtime: str
    to_runtime: str
    paths: list[str]
    base_dir: str
    mlflow_from: str | None
    old_tracking_uri: str | None


def latest_scan_record(store: StateStore, as_of: float | None = None) -> ScanRecord | None:
    scan_id = _latest_scan(store, as_of)
    row = (
        None
        if scan_id is None
        else store.query_one("SELECT * FROM compat_scans WHERE id = ?", (scan_id,))
    )
    if row is None:
        return None
    return ScanRecord(
        id=row["id"],
        from_runtime=row["from_runtime"],
        to_runtime=row["to_runtime"],
        paths=json.loads(row["paths"]),
        base_dir=row["base_dir"],
        mlflow_from=row["mlflow_from"],
        old_tracking_uri=row["old_tracking_uri"],
    )


def item_record(store: StateStore, pipeline_id: str, item_key: str) -> dict[str, Any] | None:
    """One checklist item as stored, every column (the CLI's JSON answer), or None."""
    row = store.query_one(
        "SELECT * FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
        (pipeline_id, item_key),
    )
    return dict(row) if row is not None else None


def sign_off_record(store: StateStore, pipeline_id: str) -> dict[str, Any] | None:
    """A pipeline's sign-off as stored (pipeline_id, signed_off_by, signed_off_at), or None."""
    row = store.query_one(
        "SELECT pipeline_id, signed_off_by, signed_off_at FROM compat_pipelines "
        "WHERE pipeline_id = ?",
        (pipeline_id,),
    )
    return dict(row) if row is not None else None


def items_noted(store: StateStore, item_key: str, note_prefix: str) -> list[tuple[str, str]]:
    """(pipeline, status) of the items ``item_key`` whose note starts with ``note_prefix``."""
    rows = store.query(
        "SELECT pipeline_id, status FROM checklist_items WHERE item_key = ? "
        "AND substr(note, 1, ?) = ? ORDER BY pipeline_id",
        (item_key, len(note_prefix), note_prefix),
    )
    return [(r["pipeline_id"], r["status"]) for r in rows]


def findings_with_codes(
    store: StateStore, codes: tuple[str, ...] | list[str], as_of: float | None = None
) -> list[tuple[str, str, int, str]]:
    """(pipeline name, path, line, message) of the latest scan's findings with these codes."""
    scan_id = _latest_scan(store, as_of)
    if scan_id is None or not codes:
        return []
    marks = ",".join("?" * len(codes))
    rows = store.query(
        "SELECT p.name, f.path, f.line, f.message FROM compat_findings f"
        " JOIN compat_pipelines p ON p.pipeline_id = f.pipeline_id"
        f" WHERE f.scan_id = ? AND f.code IN ({marks}) ORDER BY p.name, f.path, f.line",
        (scan_id, *sorted(codes)),
    )
    return [(r["name"], r["path"], r["line"], r["message"]) for r in rows]


def last_scan_target(store: StateStore) -> str | None:
    """The target runtime of the latest scan."""
    scan = latest_scan_record(store)
    return scan.to_runtime if scan is not None else None


def pipelines_with(store: StateStore, codes: tuple[str, ...], item_key: str) -> list[str]:
    """Present pipelines with a finding of one of ``codes`` in the latest scan, or that have
    the item ``item_key``."""
    marks = ",".join("?" * len(codes))
    rows = store.query(
        "SELECT DISTINCT f.pipeline_id FROM compat_findings f JOIN compat_pipelines p"
        " ON p.pipeline_id = f.pipeline_id AND p.present = 1"
        f" WHERE f.scan_id = (SELECT MAX(id) FROM compat_scans) AND f.code IN ({marks})"
        " UNION SELECT i.pipeline_id FROM checklist_items i JOIN compat_pipelines p"
        " ON p.pipeline_id = i.pipeline_id AND p.present = 1 WHERE i.item_key = ?"
        " ORDER BY 1",
        (*codes, item_key),
    )
    return [r[0] for r in rows]


def set_tool_item(
    store: StateStore,
    tx: sqlite3.Connection,
    pipeline_id: str,
    item_key: str,
    *,
    title: str,
    status: str,
    note: str,
    now: float,
    by: str,
    source: str,
) -> None:
    """Create or update an item a tool (not a scan rule) decides, e.g. the DDP probe's, inside
    the caller's transaction. A person's waiver stands: a failing tool only updates the note."""
    row = tx.execute(
        "SELECT * FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
        (pipeline_id, item_key),
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
            (pipeline_id, item_key, title, status, note, position, now, now, by),
        )
        _item_event(store, tx, pipeline_id, item_key, "status", None, status, now, by, source)
        if note:
            _item_event(store, tx, pipeline_id, item_key, "note", None, note, now, by, source)
        return
    if row["status"] == "waived" and status == "fail":
        status = "waived"  # the note still tells what the tool saw
    if status != row["status"]:
        tx.execute(
            "UPDATE checklist_items SET status = ?, updated_at = ?, updated_by = ?"
            " WHERE pipeline_id = ? AND item_key = ?",
            (status, now, by, pipeline_id, item_key),
        )
        _item_event(
            store, tx, pipeline_id, item_key, "status", row["status"], status, now, by, source
        )
    if note and note != row["note"]:
        tx.execute(
            "UPDATE checklist_items SET note = ?, updated_at = ?, updated_by = ?"
            " WHERE pipeline_id = ? AND item_key = ?",
            (note, now, by, pipeline_id, item_key),
        )
        _item_event(store, tx, pipeline_id, item_key, "note", row["note"], note, now, by, source)


def has_item(tx: sqlite3.Connection, pipeline_id: str, item_key: str) -> bool:
    row = tx.execute(
        "SELECT 1 FROM checklist_items WHERE pipeline_id = ? AND item_key = ?",
        (pipeline_id, item_key),
    ).fetchone()
    return row is not None
