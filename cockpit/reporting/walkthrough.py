"""The walkthrough report: every feature's section, as of a moment, in one document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from cockpit.bench.section import benchmarks_section
from cockpit.ddp.section import ddp_section
from cockpit.document.model import Document, Section
from cockpit.reporting import sections

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

SectionFn = Callable[["StateStore", "CockpitConfig | None", "float | None"], Section]

# Order of the report. Features add their section function here.
SECTIONS: list[SectionFn] = [
    sections.gates_section,
    sections.runtime_section,
    sections.checklist_section,
    ddp_section,
    sections.mlflow_section,
    benchmarks_section,
    sections.timeline_section,
]


def build_report(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> Document:
    route = store.migration_route(config)
    name, from_id, to_id = route.title, route.from_runtime, route.to_runtime
    moment = f" as of {sections.fmt_ts(as_of)}" if as_of else ""
    doc = Document(
        title=f"{name} — walkthrough report",
        subtitle=f"{from_id} → {to_id}{moment}",
        generated_at=dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
    doc.sections = [fn(store, config, as_of) for fn in SECTIONS]
    return doc
