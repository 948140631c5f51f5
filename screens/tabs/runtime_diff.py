"""Runtime diff tab: system stack, libraries (search, filter, detail), behaviour changes, runway."""

from __future__ import annotations

import threading
import time
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Checkbox, DataTable, Input, Select, Static

from cockpit.compat.impact import UseSite, used_by, used_by_label
from cockpit.compat.records import load_uses, uses_scan
from cockpit.errors import CockpitError
from cockpit.runtimes.diff import (
    CHANGE_KINDS,
    SEVERITIES,
    LibraryChange,
    RuntimeDiff,
    diff_runtimes,
)
from cockpit.runtimes.manifest import all_runtime_ids, load_runtime
from screens.tabs.base import LEAVE_INPUT, CockpitTab, ViewContext
from screens.widgets.palette import palette
from screens.widgets.safe import text as safe_text
from screens.widgets.worker_errors import internal_error

# Styles name roles of screens.widgets.palette: the colours come from the theme.
SEVERITY_STYLE = {"breaking": "bold bad", "notable": "warn", "info": "info", "none": "dim"}
DEFAULT_FROM, DEFAULT_TO = "14.3-lts-ml", "16.4-lts-ml"
PROBE_POLL_S = 2.0


ANY_CHANGE = "any-change"  # pseudo kind: everything but "unchanged"


def library_matches(
    lib: LibraryChange, search: str, kind: str | None, severity: str | None
) -> bool:
    if kind == ANY_CHANGE:
        if lib.kind == "unchanged":
            return False
    elif kind and lib.kind != kind:
        return False
    if severity and lib.severity != severity:
        return False
    return not search or search.lower() in lib.name


def _filters_text(only_used: bool, search: str, kind: str | None, severity: str | None) -> str:
    """The filters in force, on the summary line (the filter row is hidden on short terminals)."""
    parts = ["used by my pipelines"] if only_used else []
    parts += [f"{severity} only"] if severity else []
    parts += ["changed" if kind == ANY_CHANGE else kind] if kind else []
    parts += [f"“{search}”"] if search else []
    return f"[{', '.join(parts)}] " if parts else ""


class RuntimeDiffTab(CockpitTab):
    TAB_ID = "runtime-diff"
    TITLE = "Runtime diff"
    ORDER = 10
    DEFAULT_FOCUS = "#rt-libs"
    BINDINGS: ClassVar = [
        Binding("slash", "focus_search", "Search", id="runtime-diff.search"),
        Binding("b", "filter_breaking", "Breaking only", id="runtime-diff.breaking"),
        Binding("c", "filter_changed", "Hide unchanged", id="runtime-diff.changed"),
        Binding("u", "toggle_used", "Used by my pipelines", id="runtime-diff.used"),
        Binding("x", "swap", "Swap from/to", id="runtime-diff.swap"),
        LEAVE_INPUT,  # first Escape: out of the search box, filter kept
        Binding("escape", "clear_filters", "Clear filters", id="runtime-diff.clear"),
        Binding("p", "probe", "Probe target live", id="runtime-diff.probe"),
        Binding("k", "cancel_probe", "Cancel probe", id="runtime-diff.cancel-probe"),
    ]
    # Command-palette entries: (name, help, action on this widget).
    COMMANDS: ClassVar = [
        (
            "Show breaking-risk changes only",
            "filter the library table by severity",
            "filter_breaking",
        ),
        ("Hide unchanged libraries", "filter the library table by change kind", "filter_changed"),
        (
            "Only libraries my pipelines use",
            "changed libraries the scanned pipelines import or pin (toggle)",
            "toggle_used",
        ),
        ("Swap from and to", "diff the other way round", "swap"),
        ("Search libraries", "focus the search box", "focus_search"),
        ("Clear filters", "show every library", "clear_filters"),
        (
            "Probe the target runtime live",
            "run a one-time job on the workspace that lists what the runtime really has",
            "probe",
        ),
    ]

    def __init__(self, view: ViewContext) -> None:
        super().__init__(view)
        self.diff: RuntimeDiff | None = None
        self._shown: list[LibraryChange] = []
        self._ids: tuple[str, ...] = ()
        self._probe_cancel: threading.Event | None = None
        # Library -> where the scanned pipelines use it; None: no scan with uses in the state.
        self.usage: dict[str, tuple[UseSite, ...]] | None = None
        self._uses_marker: int | None = None

    def compose(self) -> ComposeResult:
        ids = all_runtime_ids(self.view.store)
        self._ids = ids
        options = [(i, i) for i in ids]
        start_from = self.view.migration_from if self.view.migration_from in ids else DEFAULT_FROM
        start_to = self.view.migration_to if self.view.migration_to in ids else DEFAULT_TO
        with Horizontal(id="rt-controls"):
            yield Select(options, value=start_from, allow_blank=False, id="rt-from", prompt="from")
            yield Static("→", id="rt-arrow")
            yield Select(options, value=start_to, allow_blank=False, id="rt-to", prompt="to")
            yield Input(placeholder="search libraries  ( / )", id="rt-search")
        # Filters on a row of their own, so the search box keeps its width on a laptop terminal;
        # on a short one the row is hidden and b / c / u filter (the summary line says which).
        with Horizontal(id="rt-filters"):
            yield Select(
                [("changed (any)", ANY_CHANGE)] + [(k, k) for k in CHANGE_KINDS],
                prompt="all libraries",
                id="rt-kind",
            )
            yield Select([(s, s) for s in SEVERITIES], prompt="any severity", id="rt-severity")
            # On by default once a scan says what the pipelines use (set in recompute).
            yield Checkbox("used by my pipelines", False, id="rt-used")
        with Horizontal(id="rt-body"):
            with VerticalScroll(id="rt-left"):
                yield Static(id="rt-system")
                yield Static(id="rt-runway")
                yield Static(id="rt-behavior")
            with Vertical(id="rt-right"):
                yield Static(id="rt-probe")
                yield Static(id="rt-summary")
                table: DataTable = DataTable(id="rt-libs", cursor_type="row", zebra_stripes=True)
                # Key columns first: what a narrow terminal cuts is on the right.
                table.add_columns("library", "severity", "from", "to", "used by", "change", "bump")
                yield table
                yield Static(id="rt-detail")

    def on_mount(self) -> None:
        self.recompute()

    # ------------------------------------------------------------------ data
    def refresh_view(self, view: ViewContext) -> None:
        moved_in_time = view.today() != self.view.today()
        super().refresh_view(view)
        marker = uses_scan(view.store, view.as_of)
        if moved_in_time or marker != self._uses_marker:
            # The runway counts days from the moment shown; a new scan changes "used by".
            self._uses_marker = marker
            self.recompute()
        ids = all_runtime_ids(view.store)
        if ids != self._ids:  # a runtime was imported or probed meanwhile
            self._ids = ids
            options = [(i, i) for i in ids]
            for select_id in ("#rt-from", "#rt-to"):
                select = self.query_one(select_id, Select)
                current = select.value
                select.set_options(options)
                if current in ids:
                    select.value = current

    def restyle(self, view: ViewContext) -> None:
        # refresh_view recomputes only when the moment or the scan changed: draw it again.
        super().restyle(view)
        self.recompute()

    def recompute(self) -> None:
        from_id = self.query_one("#rt-from", Select).value
        to_id = self.query_one("#rt-to", Select).value
        if not isinstance(from_id, str) or not isinstance(to_id, str):
            return
        try:
            diff = diff_runtimes(
                load_runtime(from_id, self.view.store),
                load_runtime(to_id, self.view.store),
                today=self.view.today(),
            )
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            return
        self.diff = diff
        self._load_usage(diff)
        self._render_system(diff)
        self._render_runway(diff)
        self._render_behavior(diff)
        self.apply_filters()

    def apply_filters(self) -> None:
        if self.diff is None:
            return
        search = self.query_one("#rt-search", Input).value.strip()
        kind = self.query_one("#rt-kind", Select).value
        severity = self.query_one("#rt-severity", Select).value
        kind = kind if isinstance(kind, str) else None
        severity = severity if isinstance(severity, str) else None
        only_used = self.usage is not None and self.query_one("#rt-used", Checkbox).value
        usage = self.usage or {}
        self._shown = [
            lib
            for lib in self.diff.libraries
            if library_matches(lib, search, kind, severity)
            and (not only_used or (lib.name in usage and lib.kind != "unchanged"))
        ]
        table = self.query_one("#rt-libs", DataTable)
        table.clear()
        p = palette(self.app)
        for lib in self._shown:
            style = p(SEVERITY_STYLE.get(lib.severity, ""))
            table.add_row(
                # Imported or probed manifests come from clusters: names are data, not markup.
                safe_text(lib.name, "bold" if lib.severity == "breaking" else ""),
                Text(lib.severity, style=style),
                safe_text(lib.old or ""),
                safe_text(lib.new or ""),
                safe_text(used_by_label(usage.get(lib.name, ()), 28)),
                lib.kind,
                lib.bump or "",
                key=lib.name,
            )
        counts = self.diff.counts()
        self.query_one("#rt-summary", Static).update(
            Text.assemble(
                (f"{len(self._shown)} of {len(self.diff.libraries)} libraries shown  ", "bold"),
                (_filters_text(only_used, search, kind, severity), p("bold good")),
                (f"{counts['breaking']} breaking-risk ", p(SEVERITY_STYLE["breaking"])),
                (f"{counts['notable']} notable ", p(SEVERITY_STYLE["notable"])),
                (f"{counts['info']} info ", p(SEVERITY_STYLE["info"])),
                (f"{counts['unchanged']} unchanged", "dim"),
            )
        )
        self._render_detail(self._shown[0] if self._shown else None)

    # ------------------------------------------------------------------ rendering
    def _render_system(self, diff: RuntimeDiff) -> None:
        table = Table(title="System", title_justify="left", expand=True, show_edge=False)
        table.add_column("component")
        table.add_column(safe_text(diff.from_id))
        table.add_column(safe_text(diff.to_id))
        p = palette(self.app)
        for s in diff.system:
            style = p("bold warn") if s.changed else ""
            table.add_row(
                safe_text(s.component),
                safe_text(s.old or "?"),
                safe_text(s.new or "?"),
                style=style,
            )
        self.query_one("#rt-system", Static).update(table)

    def _render_runway(self, diff: RuntimeDiff) -> None:
        p = palette(self.app)
        text = Text("Support runway\n", style="bold")
        for r in diff.runway:
            if r.days_left is None:
                text.append(f"  {r.runtime_id}: end of support unknown\n", style="dim")
            else:
                style = p("bad" if r.days_left < 180 else ("warn" if r.days_left < 365 else "good"))
                text.append(f"  {r.runtime_id}: until {r.end_of_support} ", style="")
                text.append(f"({r.days_left} days)\n", style=style)
        self.query_one("#rt-runway", Static).update(text)

    def _render_behavior(self, diff: RuntimeDiff) -> None:
        text = Text(f"Behaviour changes ({len(diff.behavior_changes)})\n", style="bold")
        if not diff.behavior_changes:
            text.append("  none recorded between these runtimes\n", style="dim")
        for b in diff.behavior_changes:
            text.append(f"• {b.title}", style="bold")
            text.append(f"  [{b.release}]\n", style="dim")
            text.append(f"  {b.detail}\n")
            text.append(
                f"  {b.source}\n", style=f"link {b.source} " + palette(self.app)("underline ref")
            )
        self.query_one("#rt-behavior", Static).update(text)

    def _render_detail(self, lib: LibraryChange | None) -> None:
        detail = self.query_one("#rt-detail", Static)
        if lib is None:
            detail.update(Text("no library matches the filters", style="dim"))
            return
        text = Text.assemble(
            (lib.name, "bold"),
            f"  {lib.old or '—'} → {lib.new or '—'}  ",
            (lib.kind, "bold"),
            "  severity ",
            (lib.severity, palette(self.app)(SEVERITY_STYLE.get(lib.severity, ""))),
        )
        if lib.bump:
            text.append(f"  ({lib.bump} bump)")
        if lib.reason:
            text.append(f"\n{lib.reason}", style="italic")
        mentions = [
            b
            for b in (self.diff.behavior_changes if self.diff else ())
            if lib.name in b.title.lower()
        ]
        for b in mentions:
            text.append(f"\nsee: {b.title} — {b.source}", style=palette(self.app)("ref"))
        for site in (self.usage or {}).get(lib.name, ()):
            text.append("\nused by ")
            text.append_text(safe_text(site.pipeline, "bold"))
            text.append(" at ")
            text.append_text(safe_text(f"{site.where} ({site.kind} {site.module})"))
        detail.update(text)

    def _load_usage(self, diff: RuntimeDiff) -> None:
        """Join the diff with the latest scan's uses (at the moment shown)."""
        uses = load_uses(self.view.store, self.view.as_of)
        had = self.usage is not None
        self.usage = None if uses is None else used_by(diff, uses)
        checkbox = self.query_one("#rt-used", Checkbox)
        checkbox.disabled = self.usage is None
        if self.usage is not None and not had:
            with self.prevent(Checkbox.Changed):
                checkbox.value = True  # default on once the pipelines are known
        elif self.usage is None:
            with self.prevent(Checkbox.Changed):
                checkbox.value = False

    # ------------------------------------------------------------------ events
    @on(Select.Changed, "#rt-from, #rt-to")
    def _runtime_changed(self) -> None:
        self.recompute()

    @on(Select.Changed, "#rt-kind, #rt-severity")
    @on(Input.Changed, "#rt-search")
    @on(Checkbox.Changed, "#rt-used")
    def _filters_changed(self) -> None:
        self.apply_filters()

    @on(DataTable.RowHighlighted, "#rt-libs")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self._shown):
            self._render_detail(self._shown[event.cursor_row])

    # ------------------------------------------------------------------ actions
    def action_focus_search(self) -> None:
        self.query_one("#rt-search", Input).focus()

    def action_filter_breaking(self) -> None:
        self.query_one("#rt-severity", Select).value = "breaking"

    def action_filter_changed(self) -> None:
        self.query_one("#rt-kind", Select).value = ANY_CHANGE

    def action_toggle_used(self) -> None:
        checkbox = self.query_one("#rt-used", Checkbox)
        if self.usage is None:
            self.app.notify("No scan recorded: run cockpit check --record (or r in Checklist)")
            return
        checkbox.value = not checkbox.value

    def action_swap(self) -> None:
        a = self.query_one("#rt-from", Select)
        b = self.query_one("#rt-to", Select)
        a_value, b_value = a.value, b.value
        with self.prevent(Select.Changed):
            a.value, b.value = b_value, a_value
        self.recompute()

    def action_clear_filters(self) -> None:
        self.query_one("#rt-search", Input).value = ""
        self.query_one("#rt-kind", Select).clear()
        self.query_one("#rt-severity", Select).clear()
        self.apply_filters()

    # ------------------------------------------------------------------ live probe
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "probe":
            config = self.view.config
            live = not self.view.offline and config is not None
            return live and bool(config.databricks.host or config.databricks.profile)
        if action == "cancel_probe":
            return self._probe_cancel is not None
        return super().check_action(action, parameters)

    def action_probe(self) -> None:
        if self._probe_cancel is not None:
            self.app.notify("A probe is already running (k cancels it)", severity="warning")
            return
        to_id = self.query_one("#rt-to", Select).value
        try:
            keys = load_runtime(str(to_id), self.view.store).spark_version_keys
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            return
        cpu = [k for k in keys if "gpu" not in k] or list(keys)
        if not cpu:
            self.app.notify(f"{to_id} names no spark_version to probe", severity="error")
            return
        self._probe_cancel = threading.Event()
        self._show_probe(f"probe of {cpu[0]}: submitting…")
        self.refresh_bindings()
        self.run_worker(
            lambda: self._probe_in_thread(cpu[0], self._probe_cancel),
            thread=True,
            group="probe",
            exit_on_error=False,
        )

    def action_cancel_probe(self) -> None:
        if self._probe_cancel is not None:
            self._probe_cancel.set()
            self._show_probe("cancelling the probe run…")

    def _probe_in_thread(self, spark_version: str, cancel: threading.Event) -> None:
        from cockpit.databricks.probe import ProbeOptions, probe_runtime

        config = self.view.config
        assert config is not None
        started = time.monotonic()

        def progress(status) -> None:
            state = status.result_state or status.life_cycle_state
            self.app.call_from_thread(
                self._show_probe,
                f"probe of {spark_version}: run {status.run_id} {state} "
                f"({time.monotonic() - started:.0f} s)   k cancels",
            )

        try:
            adapter = self.view.services.workspace()
            result = probe_runtime(
                adapter,
                self.view.store,
                spark_version,
                options=ProbeOptions(poll_interval_s=PROBE_POLL_S),
                on_progress=progress,
                cancel=cancel,
                source="tui",
            )
        except CockpitError as exc:
            self.app.call_from_thread(self._probe_done, None, exc.message)
            return
        except Exception as exc:  # a bug: said, and a probe can be started again
            self.app.call_from_thread(self._probe_done, None, internal_error("probe", exc))
            return
        self.app.call_from_thread(self._probe_done, result.runtime_id, "")

    def _probe_done(self, runtime_id: str | None, error: str) -> None:
        self._probe_cancel = None
        self.refresh_bindings()
        if runtime_id is None:
            self._show_probe(f"probe failed: {error}")
            self.app.notify(error, title="Probe", severity="error")
            return
        self._show_probe(f"probed: stored as {runtime_id}; pick it in “to” to diff it")
        self.app.notify(f"stored as {runtime_id}", title="Probe finished")
        self.refresh_view(self.view)  # the new runtime joins the selects
        self.query_one("#rt-from", Select).value = str(self.query_one("#rt-to", Select).value)
        self.query_one("#rt-to", Select).value = runtime_id

    def _show_probe(self, text: str) -> None:
        line = self.query_one("#rt-probe", Static)
        line.display = True
        line.update(Text(text, style=palette(self.app)("bold info")))
