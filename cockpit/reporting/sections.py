"""Report sections, one function per feature, each reading the state store as of a moment.

A section whose feature has recorded nothing says so plainly instead of being left out, so a
reader can tell "nothing recorded" from "all clear".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.document.model import Details, Links, Paragraph, Section, Table
from cockpit.errors import CockpitError
from cockpit.events.sentences import sentence
from cockpit.timefmt import fmt_ts, utc_day

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

TIMELINE_ROWS = 300


def runtime_section(
    store: StateStore, config: CockpitConfig | None, as_of: float | None
) -> Section:
    from cockpit.runtimes.diff import diff_runtimes
    from cockpit.runtimes.manifest import load_runtime

    section = Section("Runtime diff", "runtime-diff")
    route = store.migration_route(config)
    from_id, to_id = route.from_runtime, route.to_runtime
    if not from_id or not to_id:
        return section.add(
            Paragraph("No migration route (from/to) is recorded in this state file.", "warn")
        )
    try:
        diff = diff_runtimes(
            load_runtime(from_id, store),
            load_runtime(to_id, store),
            today=utc_day(as_of),
        )
    except CockpitError as exc:
        return section.add(Paragraph(exc.message, "bad"))
    counts = diff.counts()
    section.add(
        Paragraph(
            f"{from_id} → {to_id}: {counts['breaking']} breaking-risk, {counts['notable']} notable "
            f"and {counts['info']} informational library changes; {counts['unchanged']} unchanged; "
            f"{len(diff.behavior_changes)} platform behaviour changes."
        )
    )
    section.add(
        Table(
            ("component", from_id, to_id),
            tuple(
                (s.component, s.old or "unknown", s.new or "unknown")
                for s in diff.system
                if s.changed
            ),
            caption="System changes",
        )
    )
    _library_tables(section, store, diff, as_of)
    section.add(
        Table(
            ("release", "behaviour change"),
            tuple((b.release, b.title) for b in diff.behavior_changes),
            caption="Behaviour changes (sources below)",
        )
    )
    section.add(Links(tuple((b.title, b.source) for b in diff.behavior_changes if b.source)))
    section.add(
        Table(
            ("runtime", "end of support", "days left"),
            tuple((r.runtime_id, r.end_of_support or "unknown", r.days_left) for r in diff.runway),
            caption="Support runway",
        )
    )
    return section


def _library_tables(section: Section, store: StateStore, diff, as_of: float | None) -> None:
    """Breaking-risk libraries the scanned pipelines use first, with where; the rest folded."""
    from cockpit.compat.impact import used_by
    from cockpit.compat.records import load_uses

    breaking = [lib for lib in diff.libraries if lib.severity == "breaking"]
    uses = load_uses(store, as_of)
    if uses is None:
        section.add(
            Paragraph(
                "No scan recorded which libraries the pipelines use (`cockpit check PATH "
                "--record`), so every breaking-risk change is listed.",
                "warn",
            )
        )
        section.add(_lib_table(breaking, {}, f"Breaking-risk library changes ({len(breaking)})"))
        return
    usage = used_by(diff, uses)
    hit = [lib for lib in breaking if lib.name in usage]
    section.add(
        _lib_table(hit, usage, f"Breaking-risk libraries the pipelines use ({len(hit)})")
        if hit
        else Paragraph("None of the breaking-risk libraries is used by the scanned pipelines.")
    )
    others = [
        lib
        for lib in diff.libraries
        if lib.name in usage and lib.severity != "breaking" and lib.kind != "unchanged"
    ]
    unused = [lib for lib in breaking if lib.name not in usage]
    if others:
        caption = f"Other changed libraries the pipelines use ({len(others)})"
        section.add(Details(caption, (_lib_table(others, usage, ""),)))
    if unused:
        caption = f"Breaking-risk changes no scanned pipeline uses ({len(unused)})"
        section.add(Details(caption, (_lib_table(unused, {}, ""),)))


def _lib_table(libs, usage, caption: str) -> Table:
    if not usage:
        return Table(
            ("library", "change", "from", "to", "why"),
            tuple((x.name, x.kind, x.old or "", x.new or "", x.reason) for x in libs),
            caption=caption,
        )
    return Table(
        ("library", "change", "from", "to", "used by (one place each)", "why"),
        tuple(
            (
                x.name,
                x.kind,
                x.old or "",
                x.new or "",
                "; ".join(f"{s.pipeline} ({s.where})" for s in usage[x.name]),
                x.reason,
            )
            for x in libs
        ),
        caption=caption,
    )


def timeline_section(
    store: StateStore, config: CockpitConfig | None, as_of: float | None
) -> Section:
    section = Section("Timeline", "timeline")
    events = store.events(until_ts=as_of, newest_first=True, by_time=True, limit=TIMELINE_ROWS)
    total = store.event_count(until_ts=as_of)
    if not events:
        return section.add(Paragraph("No events recorded."))
    kinds = store.event_kind_counts(until_ts=as_of)
    section.add(Paragraph(f"{total} events recorded; the newest {len(events)} are listed."))
    section.add(Table(("event", "count"), tuple(kinds), caption="Events by kind"))
    section.add(
        Table(
            ("time", "what happened", "event", "source"),
            # Sentences, not payloads (cockpit.events.sentences); the raw JSON is in the state
            # file and in the Cutover tab's detail pane.
            tuple((fmt_ts(e.ts), sentence(e.kind, e.payload), e.kind, e.source) for e in events),
        )
    )
    return section


def gates_section(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> Section:
    from cockpit.cutover.gates import evaluate, is_go

    gates = evaluate(store, config, as_of=as_of)
    go = is_go(gates)
    section = Section("Go / no-go gates", "gates")
    passed = sum(1 for g in gates if g.passed)
    section.add(
        Paragraph(
            f"{'GO' if go else 'NO-GO'}: {passed} of {len(gates)} gates pass.",
            "good" if go else "bad",
        )
    )
    section.add(
        Table(
            ("gate", "status", "evidence", "since"),
            tuple((g.title, g.status.upper(), g.evidence, fmt_ts(g.changed_at)) for g in gates),
        )
    )
    return section


def checklist_section(
    store: StateStore, config: CockpitConfig | None, as_of: float | None
) -> Section:
    from cockpit.compat.checklist import has_checklist, load_checklist, progress

    section = Section("Pipeline checklist", "checklist")
    views = load_checklist(store, as_of=as_of) if has_checklist(store) else []
    if not views:
        return section.add(Paragraph("No pipeline checklist recorded."))
    ready, total = progress(views)
    section.add(
        Paragraph(f"{ready} of {total} pipelines ready.", "good" if ready == total else "warn")
    )
    section.add(
        Table(
            ("pipeline", "kind", "owner", "ready", "open blocking", "signed off by", "signed off"),
            tuple(
                (
                    v.name,
                    v.kind,
                    v.owner or "",
                    "yes" if v.ready else "no",
                    v.blocking_open,
                    v.signed_off_by or "",
                    fmt_ts(v.signed_off_at) if v.signed_off_at else "",
                )
                for v in views
            ),
        )
    )
    rows = [
        (v.name, i.title, i.status, i.owner or "", i.note)
        for v in views
        for i in v.items
        if i.status in ("fail", "waived") or i.note
    ]
    if rows:
        section.add(
            Table(
                ("pipeline", "check", "status", "owner", "note"),
                tuple(rows),
                caption="Open, failed and waived checks, and every note",
            )
        )
    return section


def mlflow_section(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> Section:
    from cockpit.mlflow.records import (
        drift_series,
        last_synced,
        last_verification,
        latest_poll,
        poll_experiments,
        poll_models,
        verification_differences,
    )

    section = Section("MLflow sync", "mlflow")
    poll = latest_poll(store, as_of=as_of)
    if poll is None:
        return section.add(Paragraph("No MLflow status poll recorded."))
    section.add(
        Paragraph(
            f"Last poll {fmt_ts(poll.ts)}: old {poll.old_url} (MLflow {poll.old_version}, "
            f"schema {poll.old_schema or 'unknown'}) → new {poll.new_url} (MLflow "
            f"{poll.new_version}, schema {poll.new_schema or 'unknown'}). Drift {poll.drift}: "
            f"{poll.missing} runs missing, {poll.differing} differing, "
            f"{poll.versions_missing} model versions missing; {poll.old_runs} runs on old, "
            f"{poll.new_runs} on new.",
            "good" if poll.drift == 0 else "warn",
        )
    )
    synced = last_synced(store, as_of=as_of)
    section.add(
        Table(
            (
                "experiment",
                "old active/deleted",
                "new active/deleted",
                "missing",
                "differing",
                "running",
                "last synced",
            ),
            tuple(
                (
                    e.name,
                    f"{e.old_active}/{e.old_deleted}",
                    f"{e.new_active}/{e.new_deleted}",
                    e.missing,
                    e.differing,
                    e.running,
                    fmt_ts(synced[e.name]) if e.name in synced else "never",
                )
                for e in poll_experiments(store, poll.id)
            ),
            caption="Experiments",
        )
    )
    models = poll_models(store, poll.id)
    if models:
        section.add(
            Table(
                (
                    "model",
                    "versions old",
                    "versions new",
                    "missing",
                    "stages old",
                    "stages new",
                    "aliases new",
                ),
                tuple(m.stored() for m in models),
                caption="Model registry",
            )
        )
    series = drift_series(store, as_of=as_of)
    if len(series) > 1:
        from cockpit.document.model import Chart

        section.add(
            Chart(
                "Drift per poll (runs missing + differing + versions missing)",
                {
                    "data": [
                        {"type": "scatter", "mode": "lines+markers", "y": series, "name": "drift"}
                    ],
                    "layout": {
                        "xaxis": {"title": "poll"},
                        "yaxis": {"title": "drift"},
                        "height": 320,
                    },
                },
                fallback=Table(("poll", "drift"), tuple(enumerate(series, 1))),
            )
        )
    verify = last_verification(store, as_of=as_of)
    if verify is None:
        section.add(Paragraph("No deep verify has run.", "warn"))
    else:
        section.add(
            Paragraph(
                f"Last deep verify {fmt_ts(verify.ts)}: {verify.experiments} experiments, "
                f"{verify.runs} runs, {verify.artifacts} artifacts, {verify.models} models "
                f"compared; {verify.differences} differences.",
                "good" if verify.clean else "bad",
            )
        )
        diffs = verification_differences(store, verify.id, limit=50)
        if diffs:
            section.add(
                Table(
                    ("kind", "object", "field", "old", "new"),
                    tuple((d.kind, d.object, d.field, d.old, d.new) for d in diffs),
                    caption="Differences (first 50)",
                )
            )
    return section
