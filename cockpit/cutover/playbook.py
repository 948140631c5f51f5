"""The playbook: the migration as executed, written as steps a next team can follow.

Built only from the state file. Per phase: the steps in order, each told in a sentence
(:mod:`cockpit.events.sentences`) with the command that does it and how long it took; then who
decided what and why (sign-offs, statuses, waivers, owners, with their notes), the gotchas (notes
written along the way), what failed and how it was fixed, the rules that fired most with their
fixes, and the go/no-go history. Markdown that reads well on GitHub (headings, numbered steps,
commands as code), escaped and scrubbed like the walkthrough report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cockpit.document.model import Bullet, Bullets, Document, Paragraph, Section, Table
from cockpit.document.render import to_markdown
from cockpit.events.sentences import item_name, pipeline_name, plural, seconds_text, sentence
from cockpit.timefmt import fmt_ts

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import Event, StateStore

# (phase title, event-kind prefixes), in the order a migration goes through them.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1. Assess the target runtime", ("migration.", "runtime.")),
    ("2. Make pipelines compatible", ("compat.",)),
    ("3. Inventory the workspace", ("databricks.", "ddp.")),
    ("4. Copy and mirror MLflow", ("mlflow.",)),
    ("5. Benchmark on the target", ("bench.",)),
    ("6. Cut over", ("cutover.", "recorder.", "source.")),
)
# High-volume kinds are summarised (count, first, last) rather than listed one by one.
ROUTINE_SUFFIXES = (".poll", ".status", ".error", ".batch", ".progress", ".cycle")

# The command that does each kind of step (what a next team types), by kind prefix; the
# longest matching prefix wins. A step recorded by the TUI names the tab and key instead.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("runtime.imported", "cockpit runtimes import FILE --name NAME --base RUNTIME"),
    ("runtime.probed", "cockpit probe SPARK_VERSION"),
    ("runtime.", "cockpit runtimes import FILE --name NAME"),
    ("compat.scan.", "cockpit check PATH --record"),
    ("compat.pipeline.added", "cockpit check PATH --record"),
    ("compat.pipeline.gone", "cockpit check PATH --record"),
    ("compat.pipeline.owner", "TUI: Checklist tab, o on the pipeline's row"),
    ("compat.pipeline.signed_off", "cockpit checklist sign-off PIPELINE --note NOTE"),
    ("compat.item.note", "cockpit checklist set PIPELINE ITEM --note NOTE"),
    ("compat.item.owner", "cockpit checklist set PIPELINE ITEM --owner WHO"),
    ("compat.item.", "cockpit checklist set PIPELINE ITEM --status STATUS"),
    ("databricks.inventory", "cockpit inventory"),
    ("databricks.runs", "cockpit inventory"),
    ("databricks.job_runtime_changed", "cockpit inventory"),
    ("databricks.code_fetched", "cockpit check --workspace"),
    ("databricks.probe", "cockpit probe SPARK_VERSION"),
    ("ddp.", "cockpit probe ddp --runtime RUNTIME"),
    ("mlflow.poll", "cockpit mlflow status"),
    ("mlflow.sync.", "cockpit mlflow sync --yes"),
    ("mlflow.mirror.", "cockpit mlflow mirror"),
    ("mlflow.verify.", "cockpit mlflow verify"),
    ("mlflow.rehearsal.", "cockpit mlflow rehearse-db-upgrade --to VERSION"),
    ("mlflow.schema.", "cockpit mlflow schema-watch"),
    ("bench.samples_recorded", "cockpit bench collect"),
    ("bench.rerun", "cockpit bench rerun"),
    ("cutover.gate.waived", "cockpit gates --waive GATE --reason WHY --by WHO"),
    ("cutover.gate.unwaived", "cockpit gates --unwaive GATE"),
    ("cutover.", "cockpit gates --record"),
    ("recorder.", "cockpit record"),
    ("source.", "cockpit record"),
)
TUI_PLACES = {
    "compat.": "Checklist tab",
    "mlflow.": "MLflow sync tab",
    "bench.": "Benchmarks tab",
    "runtime.": "Runtime diff tab (p)",
    "databricks.probe": "Runtime diff tab (p)",
    "cutover.": "Cutover tab",
}


def command_for(event: Event) -> str:
    """The command that does this step; the TUI place when the TUI recorded it."""
    if event.source == "tui":
        for prefix, place in TUI_PLACES.items():
            if event.kind.startswith(prefix):
                return f"TUI: {place}"
    best = ""
    for prefix, command in COMMANDS:
        if event.kind.startswith(prefix) and len(prefix) > len(best):
            best, found = prefix, command
    if not best:
        return ""
    if event.source.startswith("poller:"):
        return f"{found}  (polled by cockpit record / the TUI)"
    return found


@dataclass(frozen=True)
class Step:
    first: float
    last: float
    kind: str
    count: int
    detail: str  # the headline event's sentence
    command: str = ""
    took: float | None = None  # seconds, when the step says or its start/finish pair does
    with_it: str = ""  # what the same transaction also recorded ("15 pipelines found, ...")


def phase_of(kind: str) -> str:
    for title, prefixes in PHASES:
        if kind.startswith(prefixes):
            return title
    return "7. Other"


def _detail(event: Event) -> str:
    return sentence(event.kind, event.payload)


def _took(event: Event, started: dict[str, float]) -> float | None:
    for key in ("duration_s", "seconds"):
        value = event.payload.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    family = event.kind.rsplit(".", 1)[0]
    if event.kind.endswith((".finished", ".stopped", "_finished")):
        begin = started.pop(family, None) or started.pop(event.kind.replace("_finished", ""), None)
        if begin is not None:
            return max(0.0, event.ts - begin)
    return None


def _started(event: Event, started: dict[str, float]) -> None:
    if event.kind.endswith((".started", "_submitted")):
        started[event.kind.rsplit(".", 1)[0]] = event.ts
        started[event.kind.replace("_submitted", "")] = event.ts


# What a step recorded along with its headline event: (noun, what happened to it).
SIDE_EFFECTS = {
    "compat.pipeline.added": ("pipeline", "found"),
    "compat.item.status": ("checklist item", "set"),
    "compat.pipeline.gone": ("pipeline", "gone"),
    "databricks.job_runtime_changed": ("job", "on another runtime"),
    "mlflow.sync.experiment": ("experiment", "copied"),
}


def _side_effect(kind: str, n: int) -> str:
    noun, what = SIDE_EFFECTS.get(kind, (kind + " event", "recorded"))
    return f"{plural(n, noun)} {what}"


def steps_of(events: list[Event]) -> list[Step]:
    """The steps of a phase, in order. What one command recorded in one transaction (same time,
    same source, nobody's decision: a scan's pipelines and items) is one step, told by its last
    event; consecutive routine events of one kind (polls) fold into one step."""
    groups: list[list[Event]] = []
    for event in events:
        last = groups[-1][-1] if groups else None
        # One transaction stamps its events with one time (a scan and its items, whichever
        # source each names).
        same_write = (
            last is not None
            and last.ts == event.ts
            and not _by_a_person(event)
            and not _by_a_person(last)
        )
        if same_write:
            groups[-1].append(event)
        else:
            groups.append([event])
    steps: list[Step] = []
    started: dict[str, float] = {}
    for group in groups:
        head = group[-1]
        _started(head, started)
        extra: dict[str, int] = {}
        for event in group[:-1]:
            extra[event.kind] = extra.get(event.kind, 0) + 1
        with_it = ", ".join(_side_effect(kind, n) for kind, n in extra.items())
        routine = head.kind.endswith(ROUTINE_SUFFIXES) and len(group) == 1
        if routine and steps and steps[-1].kind == head.kind and not _by_a_person(head):
            prev = steps[-1]
            steps[-1] = Step(
                prev.first, head.ts, prev.kind, prev.count + 1, _detail(head), prev.command
            )
            continue
        steps.append(
            Step(
                head.ts if len(group) == 1 else group[0].ts,
                head.ts,
                head.kind,
                1,
                _detail(head),
                command_for(head),
                _took(head, started),
                with_it,
            )
        )
    return steps


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _step_bullet(step: Step) -> Bullet:
    when = fmt_ts(step.first)
    if step.count > 1:
        when = f"{fmt_ts(step.first)} – {fmt_ts(step.last)}, {step.count} times; the last"
    text = f"{when}: {step.detail}"
    if step.with_it:
        text += f" (with it: {step.with_it})"
    facts = []
    if step.took is not None:
        facts.append(f"took {seconds_text(step.took)}")
    return Bullet(text, step.command, "; ".join(facts))


@dataclass(frozen=True)
class Phase:
    """One phase as executed: its events in order and the steps they make."""

    title: str
    events: list[Event]
    steps: list[Step]


def _executed(store: StateStore, as_of: float | None) -> tuple[list[Event], list[Phase]]:
    """The events up to ``as_of`` and the phases they fall in, in phase order: what the
    Markdown playbook and its JSON are both made of."""
    # Schema upgrades of the file itself are bookkeeping, not migration steps.
    events = [e for e in store.events(until_ts=as_of) if not e.kind.startswith("store.")]
    by_phase: dict[str, list[Event]] = {}
    for event in events:
        by_phase.setdefault(phase_of(event.kind), []).append(event)
    phases = [Phase(title, evs, steps_of(evs)) for title, evs in sorted(by_phase.items())]
    return events, phases


def build_playbook(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> Document:
    """The runbook as executed up to ``as_of`` (everything recorded by default)."""
    route = store.migration_route(config)
    name, from_id, to_id = route.title, route.from_runtime, route.to_runtime
    events, phases = _executed(store, as_of)
    doc = Document(
        title=f"Playbook: {name}",
        subtitle=f"{from_id} → {to_id}, as executed",
        generated_at=fmt_ts(events[-1].ts if events else None),
    )
    overview = Section("How this migration went", "overview")
    if events:
        overview.add(
            Paragraph(
                f"{len(events)} recorded events from {fmt_ts(events[0].ts)} to "
                f"{fmt_ts(events[-1].ts)} ({_duration(events[-1].ts - events[0].ts)}). "
                "Each phase below lists its steps in order with the command that does them; "
                "then who decided what and why, the gotchas, what failed and how it was fixed, "
                "the rules that fired most, and the go/no-go history."
            )
        )
    else:
        overview.add(Paragraph("Nothing was recorded in this state file yet."))
    mlflow = _mlflow_state(store, as_of)
    if mlflow is not None:
        overview.add(mlflow)
    overview.add(
        Table(
            ("phase", "started", "finished", "took", "steps"),
            tuple(
                (
                    phase.title,
                    fmt_ts(phase.events[0].ts),
                    fmt_ts(phase.events[-1].ts),
                    _duration(phase.events[-1].ts - phase.events[0].ts),
                    len(phase.steps),
                )
                for phase in phases
            ),
        )
    )
    doc.sections.append(overview)

    for phase in phases:
        title, evs, steps = phase.title, phase.events, phase.steps
        section = Section(title, f"phase-{title.split('.')[0]}")
        section.add(
            Paragraph(
                f"{len(steps)} steps from {fmt_ts(evs[0].ts)} to {fmt_ts(evs[-1].ts)} "
                f"({_duration(evs[-1].ts - evs[0].ts)})."
            )
        )
        section.add(Bullets(tuple(_step_bullet(s) for s in steps), ordered=True))
        doc.sections.append(section)

    doc.sections.append(_decisions(events))
    doc.sections.append(_gotchas(store, events))
    doc.sections.append(_failures(events))
    doc.sections.append(_rules(store, as_of))
    doc.sections.append(_go_no_go(events))
    return doc


def _mlflow_state(store: StateStore, as_of: float | None) -> Paragraph | None:
    """Where the MLflow copy stood: the same views (drift, last verify) the gates and tabs show."""
    from cockpit.mlflow.records import last_verification, latest_poll

    poll = latest_poll(store, as_of=as_of)
    verification = last_verification(store, as_of=as_of)
    if poll is None and verification is None:
        return None
    parts = []
    if poll is not None:
        parts.append(f"drift {poll.drift} at the last status poll ({fmt_ts(poll.ts)})")
    if verification is not None:
        outcome = "clean" if verification.clean else f"{verification.differences} differences"
        parts.append(
            f"last deep verify {fmt_ts(verification.ts)}: {outcome} ({verification.runs} runs, "
            f"{verification.artifacts} artifacts, {verification.models} models)"
        )
    return Paragraph("MLflow copy: " + "; ".join(parts) + ".")


# Actors that are the cockpit itself (a scan, the DDP item's sync), not people deciding.
AUTOMATIC_ACTORS = ("", "scan", "ddp-probe")


def _by_a_person(event: Event) -> bool:
    """Changes people made (sign-offs, statuses, waivers, owners) carry who; scans say "scan"."""
    by = event.payload.get("by")
    return isinstance(by, str) and by not in AUTOMATIC_ACTORS


def _is_decision(event: Event) -> bool:
    if event.kind in ("cutover.decision",):
        return True
    return _by_a_person(event) or any(word in event.kind for word in ("signed", "waived"))


def _why(event: Event) -> str:
    for key in ("note", "reason"):
        value = event.payload.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return ""


def _decisions(events: list[Event]) -> Section:
    section = Section("Decisions: who decided what, and why", "decisions")
    items = []
    for e in events:
        if not _is_decision(e) or e.kind.endswith(".note"):
            continue  # a note is the why of a decision, listed with the gotchas
        told = sentence(e.kind, e.payload)
        why = _why(e) or _note_near(events, e)
        if why and why in told:
            why = ""  # the sentence already says it (a sign-off's note)
        items.append(Bullet(f"{fmt_ts(e.ts)}: {told}", detail=f"Why: {why}" if why else ""))
    if not items:
        return section.add(Paragraph("No decisions recorded."))
    return section.add(Bullets(tuple(items)))


def _note_near(events: list[Event], decision: Event) -> str:
    """The note written with a decision: the same person, pipeline and item, the same minute."""
    for e in events:
        if (
            e.kind.endswith(".note")
            and abs(e.ts - decision.ts) <= 60
            and e.payload.get("by") == decision.payload.get("by")
            and e.payload.get("pipeline") == decision.payload.get("pipeline")
            and e.payload.get("item") == decision.payload.get("item")
        ):
            new = e.payload.get("new")
            return new if isinstance(new, str) else ""
    return ""


def _note_of(event: Event) -> str:
    note = event.payload.get("note")
    if not note and event.kind.endswith(".note"):
        note = event.payload.get("new")  # a note edit carries the new text
    return note if isinstance(note, str) else ""


def _gotchas(store: StateStore, events: list[Event]) -> Section:
    section = Section("Gotchas (notes written along the way)", "gotchas")
    items = []
    for e in events:
        note = _note_of(e)
        if not note:
            continue
        where = pipeline_name(str(e.payload.get("pipeline", "")))
        item = e.payload.get("item")
        if item:
            where = f"{item_name(str(item))} on {where}"
        who = str(e.payload.get("by") or e.source)
        items.append(Bullet(f"{where} ({who}, {fmt_ts(e.ts)}): {note}"))
    if not items:
        return section.add(Paragraph("No notes were written."))
    return section.add(Bullets(tuple(items)))


def _failed(event: Event) -> bool:
    p, kind = event.payload, event.kind
    if kind.endswith((".failed", ".error", ".unreadable")) or kind == "mlflow.schema.changed":
        return True
    if kind == "source.status":
        return p.get("to") not in ("ok", None)
    if kind.endswith(("probe_finished", "rerun_finished")):
        return str(p.get("state", "")).lower() not in ("succeeded", "success", "passed", "ok")
    if kind == "mlflow.verify.finished":
        return bool(p.get("differences"))
    return kind == "compat.item.status" and p.get("new") == "fail"


def _fixed_by(failure: Event, later: list[Event]) -> Event | None:
    """The first later event that shows the same thing working again."""
    p = failure.payload
    for e in later:
        q = e.payload
        if failure.kind == "compat.item.status":
            same = (q.get("pipeline"), q.get("item")) == (p.get("pipeline"), p.get("item"))
            if e.kind == "compat.item.status" and same and q.get("new") in ("pass", "waived"):
                return e
        elif failure.kind.startswith("source."):
            same = e.kind == "source.status" and q.get("source") == p.get("source")
            if same and q.get("to") == "ok":
                return e
        elif failure.kind.startswith("mlflow.rehearsal."):
            if e.kind == "mlflow.rehearsal.finished":
                return e
        elif failure.kind.startswith("mlflow.mirror."):
            if e.kind == "mlflow.mirror.cycle" and not q.get("errors"):
                return e
        elif failure.kind == "mlflow.verify.finished":
            if e.kind == failure.kind and not q.get("differences"):
                return e
        elif failure.kind.startswith("mlflow.schema."):
            if e.kind == "mlflow.schema.acknowledged":
                return e
        elif e.kind == failure.kind and not _failed(e):
            return e
    return None


def _failures(events: list[Event]) -> Section:
    from cockpit.compat.rules import rule_for

    section = Section("What failed, and how it was fixed", "failures")
    fixed: list[Bullet] = []
    still: list[Bullet] = []
    seen: set[tuple] = set()
    for i, e in enumerate(events):
        if not _failed(e):
            continue
        key = (e.kind, e.payload.get("pipeline"), e.payload.get("item"), e.payload.get("source"))
        if key in seen:
            continue  # the same thing failing again is one entry
        seen.add(key)
        fix = _fixed_by(e, events[i + 1 :])
        text = f"{fmt_ts(e.ts)}: {sentence(e.kind, e.payload)}"
        item = str(e.payload.get("item", ""))
        rule = rule_for(item[5:]) if item.startswith("rule:") else None
        if fix is not None:
            who = fix.payload.get("by") or fix.source
            how = f"Fixed {fmt_ts(fix.ts)} ({who}): {sentence(fix.kind, fix.payload)}"
            note = _note_near(events, fix)
            fixed.append(Bullet(text, detail=how + (f"; ‘{note}’" if note else "")))
        else:
            still.append(Bullet(text, detail=f"The rule's fix: {rule.fix}" if rule else ""))
    if fixed:
        section.add(Bullets(tuple(fixed), caption=f"Fixed ({len(fixed)})"))
    if still:
        section.add(Bullets(tuple(still), caption=f"Still open at the end ({len(still)})"))
    if not fixed and not still:
        section.add(Paragraph("Nothing failed."))
    return section


def _rules(store: StateStore, as_of: float | None) -> Section:
    from cockpit.compat.checklist import has_scans, rule_counts
    from cockpit.compat.rules import rule_for

    section = Section("Rules that fired most, and their fixes", "rules")
    if not has_scans(store):
        return section.add(Paragraph("No compatibility scan recorded."))
    counts = rule_counts(store, limit=15, as_of=as_of)
    if not counts:
        return section.add(Paragraph("The compatibility scans found nothing."))
    items = []
    for c in counts:
        rule = rule_for(c.code)
        fix = rule.fix if rule is not None else ""
        autofix = " (cockpit fix rewrites it)" if rule is not None and rule.autofix else ""
        items.append(
            Bullet(
                f"{c.code} {c.name} ({c.severity}): {plural(c.findings, 'finding')} in the "
                "latest scan",
                detail=f"Fix: {fix}{autofix}" if fix else "",
            )
        )
    return section.add(Bullets(tuple(items), ordered=True))


def _go_no_go(events: list[Event]) -> Section:
    section = Section("Go / no-go history", "go-no-go")
    kinds = ("cutover.decision", "cutover.gate", "cutover.gate.waived", "cutover.gate.unwaived")
    items = [
        Bullet(f"{fmt_ts(e.ts)}: {sentence(e.kind, e.payload)}", command_for(e))
        for e in events
        if e.kind in kinds
    ]
    if not items:
        return section.add(
            Paragraph("No gate evaluation was recorded (cockpit gates --record records one).")
        )
    return section.add(Bullets(tuple(items)))


def playbook_markdown(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> str:
    return to_markdown(build_playbook(store, config, as_of=as_of))


def playbook_json(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> dict[str, Any]:
    """The playbook's steps per phase, and every event with its sentence and raw payload (the
    Markdown's sentences stay one key away from what was recorded)."""
    from cockpit import secrets

    route = store.migration_route(config)
    events, phases = _executed(store, as_of)
    phases_json = [
        {
            "title": phase.title,
            "steps": [
                {
                    "first": s.first,
                    "last": s.last,
                    "kind": s.kind,
                    "count": s.count,
                    "sentence": s.detail,
                    "command": s.command,
                    "took_s": s.took,
                    "with": s.with_it,
                }
                for s in phase.steps
            ],
        }
        for phase in phases
    ]
    return secrets.scrub(
        {
            "migration": route.name,
            "from": route.from_runtime,
            "to": route.to_runtime,
            "phases": phases_json,
            "events": [
                {
                    "id": e.id,
                    "ts": e.ts,
                    "kind": e.kind,
                    "source": e.source,
                    "sentence": sentence(e.kind, e.payload),
                    "payload": e.payload,
                }
                for e in events
            ],
        }
    )
