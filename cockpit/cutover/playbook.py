"""The playbook: a Markdown runbook of the migration as it was executed, for the next upgrade.

Built only from the state file: the event log gives the phases, the steps and their times; the
decisions are the sign-offs, waivers, gate changes and go/no-go verdicts with who made them;
notes written during walkthroughs are the gotchas; the compatibility findings tell which rules
fired most. Everything is escaped and scrubbed like the walkthrough report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.events.sentences import sentence
from cockpit.reporting.model import Document, Paragraph, Section, Table
from cockpit.reporting.render import to_markdown
from cockpit.timefmt import fmt_ts

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import Event, StateStore

# (phase title, event-kind prefixes), in the order a migration goes through them.
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1. Assess the target runtime", ("migration.", "runtime.")),
    ("2. Make pipelines compatible", ("compat.",)),
    ("3. Inventory the workspace", ("databricks.",)),
    ("4. Copy and mirror MLflow", ("mlflow.",)),
    ("5. Benchmark on the target", ("bench.",)),
    ("6. Cut over", ("cutover.", "recorder.", "source.")),
)
# High-volume kinds are summarised (count, first, last) rather than listed one by one.
ROUTINE_SUFFIXES = (".poll", ".status", ".error", ".batch", ".progress")


@dataclass(frozen=True)
class Step:
    first: float
    last: float
    kind: str
    count: int
    detail: str


def phase_of(kind: str) -> str:
    for title, prefixes in PHASES:
        if kind.startswith(prefixes):
            return title
    return "7. Other"


def _detail(event: Event) -> str:
    return sentence(event.kind, event.payload)


def steps_of(events: list[Event]) -> list[Step]:
    """Consecutive routine events of one kind fold into one step; others stay one step each."""
    steps: list[Step] = []
    for event in events:
        routine = event.kind.endswith(ROUTINE_SUFFIXES) and not _by_a_person(event)
        if routine and steps and steps[-1].kind == event.kind:
            prev = steps[-1]
            steps[-1] = Step(prev.first, event.ts, prev.kind, prev.count + 1, prev.detail)
            continue
        steps.append(Step(event.ts, event.ts, event.kind, 1, _detail(event)))
    return steps


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def build_playbook(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> Document:
    """The runbook as executed up to ``as_of`` (everything recorded by default)."""
    route = store.migration_route(config)
    name, from_id, to_id = route.name, route.from_runtime, route.to_runtime
    # Schema upgrades of the file itself are bookkeeping, not migration steps.
    events = [e for e in store.events(until_ts=as_of) if not e.kind.startswith("store.")]
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
                f"{fmt_ts(events[-1].ts)} ({_duration(events[-1].ts - events[0].ts)})."
            )
        )
    else:
        overview.add(Paragraph("Nothing was recorded in this state file yet."))
    mlflow = _mlflow_state(store, as_of)
    if mlflow is not None:
        overview.add(mlflow)
    by_phase: dict[str, list[Event]] = {}
    for event in events:
        by_phase.setdefault(phase_of(event.kind), []).append(event)
    overview.add(
        Table(
            ("phase", "started", "finished", "took", "events"),
            tuple(
                (
                    title,
                    fmt_ts(evs[0].ts),
                    fmt_ts(evs[-1].ts),
                    _duration(evs[-1].ts - evs[0].ts),
                    len(evs),
                )
                for title, evs in sorted(by_phase.items())
            ),
        )
    )
    doc.sections.append(overview)

    for title, evs in sorted(by_phase.items()):
        section = Section(title, f"phase-{title.split('.')[0]}")
        section.add(
            Table(
                ("when", "step", "times", "details"),
                tuple(
                    (
                        fmt_ts(s.first)
                        if s.count == 1
                        else f"{fmt_ts(s.first)} – {fmt_ts(s.last)}",
                        s.kind,
                        s.count,
                        s.detail,
                    )
                    for s in steps_of(evs)
                ),
            )
        )
        doc.sections.append(section)

    doc.sections.append(_decisions(events))
    doc.sections.append(_gotchas(store, events))
    doc.sections.append(_rules(store, as_of))
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


def _by_a_person(event: Event) -> bool:
    """Changes people made (sign-offs, statuses, waivers, owners) carry who; scans say "scan"."""
    by = event.payload.get("by")
    return isinstance(by, str) and by not in ("", "scan")


def _is_decision(event: Event) -> bool:
    if event.kind in ("cutover.decision", "cutover.gate"):
        return True
    return _by_a_person(event) or any(word in event.kind for word in ("signed", "waived"))


def _decisions(events: list[Event]) -> Section:
    section = Section("Decisions and who made them", "decisions")
    rows = [
        (fmt_ts(e.ts), e.kind, str(e.payload.get("by") or e.source), _detail(e))
        for e in events
        if _is_decision(e)
    ]
    if not rows:
        return section.add(Paragraph("No decisions recorded."))
    return section.add(Table(("when", "decision", "who", "details"), tuple(rows)))


def _note_of(event: Event) -> str:
    note = event.payload.get("note")
    if not note and event.kind.endswith(".note"):
        note = event.payload.get("new")  # a note edit carries the new text
    return note if isinstance(note, str) else ""


def _gotchas(store: StateStore, events: list[Event]) -> Section:
    section = Section("Gotchas (notes written along the way)", "gotchas")
    rows = [
        (
            fmt_ts(e.ts),
            e.payload.get("pipeline", ""),
            str(e.payload.get("by") or e.source),
            _note_of(e),
        )
        for e in events
        if _note_of(e)
    ]
    if not rows:
        return section.add(Paragraph("No notes were written."))
    return section.add(Table(("when", "pipeline", "who", "note"), tuple(rows)))


def _rules(store: StateStore, as_of: float | None) -> Section:
    from cockpit.compat.checklist import has_scans, rule_counts

    section = Section("Rules that fired most", "rules")
    if not has_scans(store):
        return section.add(Paragraph("No compatibility scan recorded."))
    counts = rule_counts(store, limit=15, as_of=as_of)
    if not counts:
        return section.add(Paragraph("The compatibility scans found nothing."))
    return section.add(
        Table(
            ("rule", "name", "severity", "findings"),
            tuple((c.code, c.name, c.severity, c.findings) for c in counts),
            caption="In the latest scan",
        )
    )


def playbook_markdown(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> str:
    return to_markdown(build_playbook(store, config, as_of=as_of))
