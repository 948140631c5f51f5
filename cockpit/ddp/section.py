"""The report's "Distributed training" section: the DDP probes on the target, every Horovod
finding with the construct that replaces it, and each guide's before/after with its sources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cockpit.document.model import Code, Links, Paragraph, Section, Table

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.ddp.guidance import Guide
    from cockpit.store import StateStore


def horovod_findings(store: StateStore, as_of: float | None) -> list[tuple[str, str, int, str]]:
    """(pipeline name, path, line, message) of the Horovod findings in the latest scan."""
    from cockpit.compat.checklist import findings_with_codes, has_checklist
    from cockpit.ddp.guidance import HOROVOD_CODES

    if not has_checklist(store):
        return []
    return findings_with_codes(store, sorted(HOROVOD_CODES), as_of)


def ddp_section(store: StateStore, config: CockpitConfig | None, as_of: float | None) -> Section:
    from cockpit.ddp.guidance import guide_for
    from cockpit.ddp.records import read_ddp_probes
    from cockpit.timefmt import fmt_ts

    section = Section("Distributed training (Horovod → PyTorch DDP)", "distributed-training")
    probes = read_ddp_probes(store, as_of=as_of)
    findings = horovod_findings(store, as_of)
    if not probes and not findings:
        return section.add(Paragraph("No Horovod finding and no DDP probe recorded."))
    if probes:
        latest = probes[0]
        tone = "good" if latest.passed else ("bad" if latest.state == "failed" else "warn")
        section.add(
            Paragraph(
                f"Latest DDP probe: {latest.state} on {latest.runtime_id} "
                f"({latest.spark_version}, run {latest.run_id}): {latest.message}",
                tone,
            )
        )
        section.add(
            Table(
                ("submitted", "runtime", "run", "processes", "backend", "state", "result"),
                tuple(
                    (
                        fmt_ts(p.submitted_at),
                        p.runtime_id,
                        p.run_id,
                        p.processes,
                        p.backend,
                        p.state,
                        p.message,
                    )
                    for p in probes
                ),
                caption="DDP smoke probes (cockpit probe ddp)",
            )
        )
        if latest.checks:
            section.add(
                Table(
                    ("check", "ok", "detail"),
                    tuple(
                        (str(c.get("name")), "yes" if c.get("ok") else "NO", str(c.get("detail")))
                        for c in latest.checks
                    ),
                    caption=f"Checks of probe #{latest.id}",
                )
            )
    else:
        section.add(
            Paragraph(
                "No DDP probe recorded: `cockpit probe ddp` proves PyTorch DDP runs on the target.",
                "warn",
            )
        )
    if not findings:
        return section
    guides: dict[str, Guide] = {}
    rows = []
    for name, path, line, message in findings:
        guide = guide_for("DBR101", message)
        if guide is None:
            continue
        guides.setdefault(guide.key, guide)
        rows.append((name, f"{path}:{line}", guide.construct, guide.replacement))
    section.add(
        Table(
            ("pipeline", "where", "Horovod", "becomes"),
            tuple(rows),
            caption="Horovod findings and their TorchDistributor / DDP construct (guidance, no rewrite)",
        )
    )
    for guide in guides.values():
        section.add(Paragraph(f"{guide.construct} → {guide.replacement}"))
        section.add(Paragraph(guide.explanation))
        section.add(Code(guide.before, "python" if guide.key != "package" else "yaml", "before"))
        section.add(Code(guide.after, "python" if guide.key != "package" else "yaml", "after"))
        section.add(Links(tuple((url, url) for url in guide.sources)))
    return section
