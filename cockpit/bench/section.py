"""The benchmarks section of the walkthrough report (``cockpit.reporting``), as of a moment."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from cockpit.document.model import Chart, Paragraph, Section, Table
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore


def benchmarks_section(
    store: StateStore, config: CockpitConfig | None, as_of: float | None
) -> Section:
    from cockpit.bench.report import COLUMNS, build_report, ratio_figure, table_rows

    section = Section("Regression benchmarks", "benchmarks")
    try:
        report = build_report(store, config, as_of=as_of)
    except CockpitError as exc:
        return section.add(Paragraph(exc.message, "bad"))
    if not report.comparisons:
        return section.add(Paragraph("No benchmark samples recorded."))
    counts = report.counts
    tone = "bad" if counts["regression"] else ("warn" if counts["insufficient data"] else "good")
    first = report.comparisons[0]
    section.add(
        Paragraph(
            f"{report.old_runtime} → {report.new_runtime}: {counts['regression']} regression(s), "
            f"{counts['improvement']} improvement(s), {counts['no change']} without a change, "
            f"{counts['insufficient data']} with too few runs. A change is called only when the "
            f"median ratio is beyond ×{first.threshold:g} and the Mann–Whitney U p-value is below "
            f"{first.alpha:g}; at least {first.min_runs} runs per runtime are needed.",
            tone,
        )
    )
    table = Table(tuple(COLUMNS), tuple(tuple(r) for r in table_rows(report)), "Worst first")
    figure = json.loads(ratio_figure(report).to_json())
    section.add(Chart("Ratio new/old median with 95% CI", figure, fallback=table))
    section.add(table)
    return section
