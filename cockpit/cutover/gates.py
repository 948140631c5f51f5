"""Go/no-go gates, computed from the state file as of any moment.

Each gate is a pure read of the store (plus thresholds from the config) and returns a
:class:`Gate` with its status and the evidence for it. GO means every gate passes; a gate whose
feature has recorded nothing yet does not pass (no evidence is not good news). A person may
waive a gate that does not pass (``cockpit gates waive``): the waiver is an event carrying the
reason, who and when, and the gate then shows WAIVED with the evidence it lacked.

When a gate's status changes, :func:`record_changes` appends a ``cutover.gate`` event; the time a
gate last changed is read back from those events, so it survives restarts and replays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError
from cockpit.gate_thresholds import Thresholds
from cockpit.timefmt import utc_day

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

PASS, FAIL, NO_DATA, WAIVED = "pass", "fail", "no data", "waived"
WAIVE_EVENT, UNWAIVE_EVENT = "cutover.gate.waived", "cutover.gate.unwaived"


@dataclass(frozen=True)
class Gate:
    id: str
    title: str
    status: str  # PASS, FAIL, NO_DATA or WAIVED
    evidence: str
    changed_at: float | None = None

    @property
    def passed(self) -> bool:
        """Passed on evidence, or waived by a person with a recorded reason."""
        return self.status in (PASS, WAIVED)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateContext:
    store: StateStore
    config: CockpitConfig | None
    as_of: float | None
    thresholds: Thresholds

    def today(self) -> dt.date:
        # UTC, as the TUI and the report count it (live gates used the local date).
        return utc_day(self.as_of)

    def route(self) -> tuple[str, str]:
        route = self.store.migration_route(self.config)
        return route.from_runtime, route.to_runtime


# --------------------------------------------------------------------------------- the gates
def gate_mlflow_drift(ctx: GateContext) -> tuple[str, str]:
    from cockpit.mlflow.records import recent_polls

    n = ctx.thresholds.drift_zero_polls
    polls = recent_polls(ctx.store, as_of=ctx.as_of, limit=n)
    if not polls:
        return NO_DATA, "no MLflow status poll recorded yet"
    streak = 0
    for poll in polls:
        if poll.drift != 0:
            break
        streak += 1
    if streak >= n:
        return PASS, f"drift 0 in the last {n} polls"
    latest = polls[0]
    return FAIL, (
        f"drift 0 in {streak} of the last {n} required polls; latest poll: "
        f"{latest.missing} runs missing, {latest.differing} differing, "
        f"{latest.versions_missing} model versions missing"
    )


def _switched_off(switch: str, gate_id: str, verdict: tuple[str, str]) -> tuple[str, str]:
    """A ``[gates] require_* = false`` switch no longer passes a gate on its own: a line in a
    file says neither who accepted the risk, nor when, nor why. The gate keeps its verdict, and
    the evidence says how to accept it the way every other gate is accepted: a waiver (event
    with who, when and why; shown as WAIVED)."""
    status, evidence = verdict
    if status == PASS:
        return verdict
    return status, (
        f"{evidence}; [gates] {switch} = false is not a waiver (it records no who, when or "
        f"why): `cockpit gates --waive {gate_id} --reason ... --by ...`"
    )


def gate_mlflow_verify(ctx: GateContext) -> tuple[str, str]:
    verdict = _mlflow_verify(ctx)
    if not ctx.thresholds.require_verify:
        return _switched_off("require_verify", "mlflow-verify", verdict)
    return verdict


def _mlflow_verify(ctx: GateContext) -> tuple[str, str]:
    from cockpit.mlflow.records import last_verification

    last = last_verification(ctx.store, as_of=ctx.as_of)
    if last is None:
        return NO_DATA, "no deep verify has run"
    summary = (
        f"{last.experiments} experiments, {last.runs} runs, {last.artifacts} artifacts, "
        f"{last.models} models compared"
    )
    if last.clean:
        return PASS, f"last verify clean: {summary}"
    return FAIL, f"last verify found {last.differences} differences ({summary})"


def gate_db_rehearsal(ctx: GateContext) -> tuple[str, str]:
    verdict = _db_rehearsal(ctx)
    if not ctx.thresholds.require_db_rehearsal:
        return _switched_off("require_db_rehearsal", "db-rehearsal", verdict)
    return verdict


def _db_rehearsal(ctx: GateContext) -> tuple[str, str]:
    events = ctx.store.events(
        kind_prefix="mlflow.rehearsal", until_ts=ctx.as_of, newest_first=True, limit=1
    )
    if not events:
        return NO_DATA, "no DB-upgrade rehearsal recorded"
    p = events[0].payload
    ok = bool(p.get("ok"))
    what = f"{p.get('to_version', '?')} upgraded a copy {p.get('revision_before')} → {p.get('revision_after')}"
    if "duration_s" in p:
        what += f" in {p['duration_s']} s"
    if ok:
        return PASS, f"last rehearsal clean: {what}, no rows lost"
    why = p.get("error") or (
        f"rows lost in {', '.join(p['rows_lost'])}" if p.get("rows_lost") else "failed"
    )
    return FAIL, f"last rehearsal not clean ({why}): {what}"


def gate_checklist(ctx: GateContext) -> tuple[str, str]:
    from cockpit.compat.checklist import has_checklist, load_checklist, progress

    if has_checklist(ctx.store):
        views = load_checklist(ctx.store, as_of=ctx.as_of)
        ready, total = progress(views)
        waiting = [v.name for v in views if not v.ready]
    else:
        views, ready, total, waiting = [], 0, 0, []
    if not total:
        return NO_DATA, "no pipeline checklist recorded"
    if ready == total:
        return PASS, f"all {total} pipelines passed or waived"
    names = ", ".join(waiting[:4]) + (f" and {len(waiting) - 4} more" if len(waiting) > 4 else "")
    return FAIL, f"{ready} of {total} pipelines ready; waiting: {names}"


def gate_old_schema(ctx: GateContext) -> tuple[str, str]:
    """The old backend must still be at its own schema: a 2.x/3.x server started on it by mistake
    migrates it in place, after which the 1.x server refuses to start."""
    events = [
        e
        for e in ctx.store.events(kind_prefix="mlflow.schema.", until_ts=ctx.as_of)
        if e.payload.get("label") == "old"
        and e.kind
        in ("mlflow.schema.baseline", "mlflow.schema.changed", "mlflow.schema.acknowledged")
    ]
    if not events:
        configured = (
            ctx.config is not None
            and ctx.config.mlflow.old is not None
            and ctx.config.mlflow.old.db_uri
        )
        if configured:
            return NO_DATA, "the old backend's schema has not been checked yet"
        # Nothing read the old database, so nothing shows it untouched: unknown, not good news.
        return NO_DATA, (
            "unknown: [mlflow.old] has no db_uri, so nothing watches the old backend's schema "
            "(set db_uri, or waive this gate with a reason)"
        )
    last = events[-1]
    if last.kind == "mlflow.schema.changed":
        return FAIL, (
            f"ALARM: the old backend was migrated in place ({last.payload.get('from')} → "
            f"{last.payload.get('to')}); the 1.x server will refuse to start on it"
        )
    revision = last.payload.get("revision")
    return PASS, f"old backend still at revision {revision}"


def gate_benchmarks(ctx: GateContext) -> tuple[str, str]:
    if not ctx.store.has_table("bench_samples"):
        return NO_DATA, "no benchmark data recorded"
    from cockpit.bench.verdicts import benchmark_verdicts

    # Stored verdicts when their inputs still match: no pandas/scipy for a gates check.
    comparisons = benchmark_verdicts(ctx.store, ctx.config, as_of=ctx.as_of)
    if not comparisons:
        return NO_DATA, "no benchmark data recorded"
    regressions = [c for c in comparisons if c.verdict == "regression"]
    judged = len(comparisons)
    if regressions:
        names = ", ".join(
            f"{c.pipeline} {c.metric} ×{c.ratio:.2f}" if c.ratio else f"{c.pipeline} {c.metric}"
            for c in regressions
        )
        return FAIL, f"{len(regressions)} regression(s): {names}"
    insufficient = sum(1 for c in comparisons if c.verdict == "insufficient data")
    extra = f"; {insufficient} with insufficient data" if insufficient else ""
    return PASS, f"no regression in {judged} pipeline metrics{extra}"


def gate_jobs_on_target(ctx: GateContext) -> tuple[str, str]:
    events = ctx.store.events(
        kinds=["databricks.inventory"], until_ts=ctx.as_of, newest_first=True, limit=1
    )
    if not events:
        return NO_DATA, "no workspace inventory recorded"
    per_runtime: dict[str, int] = events[0].payload.get("jobs_per_runtime", {})
    _, to_id = ctx.route()
    target_keys = _spark_keys(to_id)
    # A job on the standard flavour of the target release (16.4-lts for 16.4-lts-ml) is on it.
    release = to_id.split("-", 1)[0]
    off_target = {
        rt: n
        for rt, n in per_runtime.items()
        if rt not in target_keys
        and not rt.startswith(f"{release}-")
        and not rt.startswith(f"{release}.")
    }
    total = sum(per_runtime.values())
    if not total:
        return NO_DATA, "the inventory holds no jobs"
    if not off_target:
        return PASS, f"all {total} jobs on {to_id}"
    listing = ", ".join(f"{n} on {rt}" for rt, n in sorted(off_target.items()))
    return FAIL, f"{sum(off_target.values())} of {total} jobs not on {to_id}: {listing}"


def _spark_keys(runtime_id: str) -> set[str]:
    from cockpit.runtimes.manifest import load_runtime

    try:
        manifest = load_runtime(runtime_id)
    except CockpitError:
        return {runtime_id}
    return {runtime_id, *manifest.spark_version_keys}


def gate_support_runway(ctx: GateContext) -> tuple[str, str]:
    from cockpit.runtimes.diff import runway_of
    from cockpit.runtimes.manifest import load_runtime

    _, to_id = ctx.route()
    if not to_id:
        return NO_DATA, "no target runtime recorded"
    try:
        runway = runway_of(load_runtime(to_id, ctx.store), ctx.today())
    except CockpitError as exc:
        return NO_DATA, exc.message
    if runway.days_left is None:
        return NO_DATA, f"end of support of {to_id} unknown"
    need = ctx.thresholds.min_support_runway_days
    verdict = PASS if runway.days_left >= need else FAIL
    return (
        verdict,
        f"{to_id} supported until {runway.end_of_support}: {runway.days_left} days left (need {need})",
    )


GATES: list[tuple[str, str, Callable[[GateContext], tuple[str, str]]]] = [
    ("mlflow-drift", "MLflow drift zero", gate_mlflow_drift),
    ("mlflow-verify", "Deep verify clean", gate_mlflow_verify),
    ("db-rehearsal", "DB upgrade rehearsed", gate_db_rehearsal),
    ("old-schema", "Old MLflow DB untouched", gate_old_schema),
    ("checklist", "Every pipeline signed off", gate_checklist),
    ("benchmarks", "No benchmark regression", gate_benchmarks),
    ("jobs-runtime", "Every job on the target runtime", gate_jobs_on_target),
    ("support-runway", "Target support runway", gate_support_runway),
]


GATE_IDS = tuple(gate_id for gate_id, _, _ in GATES)


@dataclass(frozen=True)
class Waiver:
    gate: str
    reason: str
    by: str
    at: float


def waive(store: StateStore, gate_id: str, *, reason: str, by: str, source: str = "cli") -> Waiver:
    """Record that ``by`` accepts ``gate_id`` not passing, for ``reason`` (both required)."""
    if gate_id not in GATE_IDS:
        raise CockpitError(f"no gate {gate_id!r}; gates are: {', '.join(GATE_IDS)}")
    reason, by = reason.strip(), by.strip()
    if not reason:
        raise CockpitError("a waiver needs a reason (--reason)")
    if not by:
        raise CockpitError("a waiver needs who waives it (--by)")
    at = store.clock()
    store.append_event(
        WAIVE_EVENT, {"gate": gate_id, "reason": reason, "by": by}, source=source, ts=at
    )
    return Waiver(gate_id, reason, by, at)


def unwaive(store: StateStore, gate_id: str, *, by: str, source: str = "cli") -> None:
    if gate_id not in GATE_IDS:
        raise CockpitError(f"no gate {gate_id!r}; gates are: {', '.join(GATE_IDS)}")
    if gate_id not in waivers(store):
        raise CockpitError(f"gate {gate_id} is not waived")
    store.append_event(UNWAIVE_EVENT, {"gate": gate_id, "by": by.strip()}, source=source)


def waivers(store: StateStore, as_of: float | None = None) -> dict[str, Waiver]:
    """The waivers in force at ``as_of`` (now by default), by gate id."""
    found: dict[str, Waiver] = {}
    for event in store.events(kinds=[WAIVE_EVENT, UNWAIVE_EVENT], until_ts=as_of):
        gate_id = str(event.payload.get("gate", ""))
        if event.kind == UNWAIVE_EVENT:
            found.pop(gate_id, None)
        else:
            found[gate_id] = Waiver(
                gate_id,
                str(event.payload.get("reason", "")),
                str(event.payload.get("by", "")),
                event.ts,
            )
    return found


def evaluate(
    store: StateStore, config: CockpitConfig | None = None, *, as_of: float | None = None
) -> list[Gate]:
    ctx = GateContext(store, config, as_of, Thresholds.from_config(config))
    changed = last_changes(store, as_of)
    waived = waivers(store, as_of)
    gates = []
    for gate_id, title, fn in GATES:
        try:
            status, evidence = fn(ctx)
        except CockpitError as exc:  # e.g. the file does not say which runtimes are compared
            status, evidence = NO_DATA, exc.message
        waiver = waived.get(gate_id)
        if waiver is not None and status != PASS:
            from cockpit.timefmt import fmt_ts

            # The evidence it lacks stays visible next to who accepted that, when and why.
            evidence = (
                f"waived by {waiver.by} at {fmt_ts(waiver.at)}: {waiver.reason} "
                f"(without the waiver: {status.upper()}, {evidence})"
            )
            status = WAIVED
        gates.append(Gate(gate_id, title, status, evidence, changed.get(gate_id)))
    return gates


def is_go(gates: list[Gate]) -> bool:
    return all(g.passed for g in gates)


def last_changes(store: StateStore, as_of: float | None) -> dict[str, float]:
    """When each gate last changed status, as of a moment."""
    return {
        g: e.ts for g, e in store.latest_events_by("cutover.gate", "gate", until_ts=as_of).items()
    }


def last_statuses(store: StateStore) -> dict[str, str | None]:
    """Each gate's last recorded status."""
    return {
        g: e.payload.get("to") for g, e in store.latest_events_by("cutover.gate", "gate").items()
    }


def record_changes(store: StateStore, gates: list[Gate], *, source: str = "gates") -> list[Gate]:
    """Append a ``cutover.gate`` event for each gate whose status differs from the last recorded.

    Returns the gates that changed (the TUI raises a notification for each).
    """
    if store.readonly:
        return []
    if all(last_statuses(store).get(g.id) == g.status for g in gates):
        return []  # the usual answer, without taking the write lock
    with store.write() as tx:
        # Read again under the write lock: another evaluation (the TUI's previous one still
        # finishing, `cockpit gates --record` elsewhere) may have recorded the same change.
        previous = last_statuses(store)
        changed = [g for g in gates if previous.get(g.id) != g.status]
        if not changed:
            return []
        # Go as is_go counts it: a waived gate is passed (counting only PASS recorded a "go"
        # decision at every change while a waiver stood).
        go_before = bool(previous) and all(previous.get(g.id) in (PASS, WAIVED) for g in gates)
        for gate in changed:
            store.append_event(
                "cutover.gate",
                {
                    "gate": gate.id,
                    "from": previous.get(gate.id),
                    "to": gate.status,
                    "evidence": gate.evidence,
                },
                source=source,
                conn=tx,
            )
        go_now = is_go(gates)
        if go_now != go_before:
            store.append_event(
                "cutover.decision",
                {"go": go_now, "failing": [g.id for g in gates if not g.passed]},
                source=source,
                conn=tx,
            )
    return changed
