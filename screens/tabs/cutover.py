"""Cutover tab: the go/no-go gates board and the timeline of every recorded event.

The board is meant for a shared screen: one large verdict, one card per gate with its evidence.
When a gate changes, the app raises a notification (and, when it may write, records the change).
"""

from __future__ import annotations

import json
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Select, Static

from cockpit.cutover.gates import Gate, is_go
from cockpit.events.sentences import sentence
from cockpit.store import Event
from cockpit.timefmt import fmt_ts
from screens.tabs.base import LEAVE_INPUT, CockpitTab, ViewContext
from screens.widgets.palette import palette
from screens.widgets.safe import clean
from screens.widgets.safe import text as safe_text

# Styles name roles of screens.widgets.palette: the colours come from the theme.
GATE_MARK = {
    "pass": ("✔", "bold good"),
    "fail": ("✘", "bold bad"),
    "no data": ("?", "bold warn"),
    "waived": ("~", "bold info"),
}
TIMELINE_LIMIT = 500  # newest first; older events stay reachable through search and time travel
# A text search reads each payload: it looks through the newest this many events (at or before
# the moment), so a keystroke costs the same on a month of recording as on a few days; older
# ones are reached by time travel, which moves the window back.
SEARCH_WINDOW = 50_000
KIND_STYLE = {
    "error": "bold bad",
    "failed": "bold bad",
    "alarm": "bold bad",
    "signed": "bold good",
    "gate": "bold alert",
}


def kind_style(kind: str) -> str:
    for word, style in KIND_STYLE.items():
        if word in kind:
            return style
    return ""


def summarize(event: Event, width: int = 110) -> str:
    """The event in a sentence (cockpit.events.sentences); the raw payload is in the detail pane."""
    text = sentence(event.kind, event.payload)
    return text if len(text) <= width else text[: width - 1] + "…"


class CutoverTab(CockpitTab):
    TAB_ID = "cutover"
    TITLE = "Cutover"
    ORDER = 90
    DEFAULT_FOCUS = "#timeline"
    BINDINGS: ClassVar = [
        Binding("slash", "focus_search", "Search", id="cutover.search"),
        LEAVE_INPUT,  # first Escape: out of the search box, filter kept
        Binding("escape", "clear_filters", "Clear filters", id="cutover.clear"),
    ]
    COMMANDS: ClassVar = [
        ("Search the timeline", "focus the timeline search box", "focus_search"),
        ("Clear timeline filters", "show every event", "clear_filters"),
    ]

    def __init__(self, view: ViewContext) -> None:
        super().__init__(view)
        self._events: list[Event] = []
        self._prefixes: tuple[str, ...] = ()
        self.gates: list[Gate] = []

    def compose(self) -> ComposeResult:
        with Horizontal(id="cut-board"):
            yield Static(id="cut-verdict")
            # One line per gate; its evidence in full in the detail pane when the row is
            # highlighted (a wrapped evidence under each gate hid the timeline on a laptop).
            gates: DataTable = DataTable(id="cut-gate-list", cursor_type="row")
            gates.add_columns("", "gate", "status", "evidence", "since")
            yield gates
        with Vertical(id="cut-timeline-box"):
            with Horizontal(id="cut-controls"):
                yield Input(placeholder="search events  ( / )", id="cut-search")
                yield Select([], prompt="every source", id="cut-kind")
            yield Static(id="cut-summary")
            table: DataTable = DataTable(id="timeline", cursor_type="row", zebra_stripes=True)
            table.add_columns("time (UTC)", "what happened", "event", "source")
            yield table
            yield Static(id="cut-detail")

    def on_mount(self) -> None:
        self.refresh_view(self.view)

    def refresh_view(self, view: ViewContext) -> None:
        super().refresh_view(view)
        self._refresh_gates()
        self._refresh_prefixes()
        self._load()

    # ------------------------------------------------------------------ gates
    def _refresh_gates(self) -> None:
        # The app evaluates the gates (in a worker, also when this tab is not shown); draw its
        # latest result for the moment being shown.
        if self.view.gates is not None:
            self.show_gates(list(self.view.gates))

    def show_gates(self, gates: list[Gate]) -> None:
        self.gates = gates
        self._render_gates()

    def _render_gates(self) -> None:
        go = is_go(self.gates)
        p = palette(self.app)
        verdict = Text(justify="center")
        verdict.append(" GO " if go else " NO-GO ", style=p.badge("good" if go else "bad"))
        passed = sum(1 for g in self.gates if g.passed)
        verdict.append(f"\n{passed} of {len(self.gates)} gates pass", style="bold")
        self.query_one("#cut-verdict", Static).update(verdict)
        table = self.query_one("#cut-gate-list", DataTable)
        row = table.cursor_row
        table.clear()
        for gate in self.gates:
            mark, role = GATE_MARK[gate.status]
            style = p(role)
            table.add_row(
                Text(mark, style=style),
                Text(gate.title, style="bold"),
                Text(gate.status.upper(), style=style),
                safe_text(gate.evidence),
                fmt_ts(gate.changed_at).removesuffix(" UTC") if gate.changed_at else "",
                key=gate.id,
            )
        if self.gates:
            table.move_cursor(row=min(max(row, 0), len(self.gates) - 1))
        if table.has_focus:
            self._show_gate(self.gates[table.cursor_row] if self.gates else None)

    def _show_gate(self, gate: Gate | None) -> None:
        if gate is None:
            return
        mark, role = GATE_MARK[gate.status]
        style = palette(self.app)(role)
        since = f"  since {fmt_ts(gate.changed_at)}" if gate.changed_at else ""
        self.query_one("#cut-detail", Static).update(
            Text.assemble(
                (f"{mark} {gate.status.upper()}  ", style),
                (gate.title, "bold"),
                (since, "dim"),
                "\n",
                clean(gate.evidence, multiline=True),
            )
        )

    def _refresh_prefixes(self) -> None:
        prefixes = self.view.store.event_prefixes()
        if prefixes != self._prefixes:
            self._prefixes = prefixes
            select = self.query_one("#cut-kind", Select)
            current = select.value
            select.set_options([(p, p) for p in prefixes])
            if current in prefixes:
                select.value = current

    def _load(self) -> None:
        search = self.query_one("#cut-search", Input).value.strip() or None
        prefix = self.query_one("#cut-kind", Select).value
        prefix = f"{prefix}." if isinstance(prefix, str) else None
        self._events = self.view.store.events(
            until_ts=self.view.as_of,
            kind_prefix=prefix,
            search=search,
            newest_first=True,
            by_time=True,
            limit=TIMELINE_LIMIT,
            search_window=SEARCH_WINDOW if search else None,
        )
        table = self.query_one("#timeline", DataTable)
        # Every store change reloads: a cursor moved down stays on its event (the newest row
        # follows the newest event), and a gate's evidence in the detail pane stays.
        keep = None
        if table.row_count and table.cursor_row > 0:
            keep = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        table.clear()
        p = palette(self.app)
        for event in self._events:
            table.add_row(
                fmt_ts(event.ts).removesuffix(" UTC"),
                # Key columns first: a narrow terminal cuts what is on the right.
                safe_text(summarize(event), p(kind_style(event.kind))),
                safe_text(event.kind),
                safe_text(event.source),
                key=str(event.id),
            )
        total = self.view.store.event_count(until_ts=self.view.as_of)
        shown = len(self._events)
        more = f" (newest {TIMELINE_LIMIT})" if shown == TIMELINE_LIMIT else ""
        if search and total > SEARCH_WINDOW:
            more += f"; search looks through the newest {SEARCH_WINDOW:,} ([ for older)"
        self.query_one("#cut-summary", Static).update(
            Text(f"{shown} of {total} events shown{more}", style="bold")
        )
        row = 0
        if keep is not None and keep in table.rows:
            row = table.get_row_index(keep)
        table.move_cursor(row=row)
        if not self.query_one("#cut-gate-list", DataTable).has_focus:
            self._show_detail(self._events[row] if self._events else None)

    def _show_detail(self, event: Event | None) -> None:
        detail = self.query_one("#cut-detail", Static)
        if event is None:
            detail.update(Text("no events match", style="dim"))
            return
        body = json.dumps(event.payload, ensure_ascii=False, indent=2, sort_keys=True)
        detail.update(
            Text.assemble(
                (sentence(event.kind, event.payload), "bold"),
                "\n",
                (f"#{event.id} {clean(event.kind)}", "dim"),
                (f"  {clean(event.source)}  raw payload:\n", "dim"),
                clean(body, multiline=True),
            )
        )

    @on(Input.Changed, "#cut-search")
    @on(Select.Changed, "#cut-kind")
    def _filters_changed(self) -> None:
        self._load()

    @on(DataTable.RowHighlighted, "#timeline")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        if self.query_one("#cut-gate-list", DataTable).has_focus:
            return  # the detail pane shows the gate under that cursor
        if 0 <= event.cursor_row < len(self._events):
            self._show_detail(self._events[event.cursor_row])

    @on(DataTable.RowHighlighted, "#cut-gate-list")
    def _gate_row(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.has_focus and 0 <= event.cursor_row < len(self.gates):
            self._show_gate(self.gates[event.cursor_row])

    def on_descendant_focus(self, event) -> None:
        # The detail pane follows the table that has the focus: a gate's evidence or an event.
        table = self.query_one("#cut-gate-list", DataTable)
        if event.widget is table and self.gates:
            self._show_gate(self.gates[min(table.cursor_row, len(self.gates) - 1)])
        elif event.widget is self.query_one("#timeline", DataTable) and self._events:
            row = self.query_one("#timeline", DataTable).cursor_row
            self._show_detail(self._events[min(row, len(self._events) - 1)])

    def action_focus_search(self) -> None:
        self.query_one("#cut-search", Input).focus()

    def action_clear_filters(self) -> None:
        self.query_one("#cut-search", Input).value = ""
        self.query_one("#cut-kind", Select).clear()
