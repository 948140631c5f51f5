"""Checklist tab: pipelines -> checks, for walking the cutover checklist with the client team.

A tree of pipelines (ready / open, blocking count, owner, sign-off) with their automatic checks
(one per rule found) and manual items; a detail pane with the rule's explanation, its source and
fix, and the code excerpt of every finding; keys to set a status, add a note, assign an owner,
sign a pipeline off, filter, and re-scan. Everything it shows comes from the store (as of the
moment the app shows), and every change goes through the engine, which records who did what.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Select, Static, Tree

from cockpit.compat import checklist as engine
from cockpit.compat import sourcefiles
from cockpit.databricks.workspace_code import read_code_text
from cockpit.errors import CockpitError
from cockpit.timefmt import fmt_ts
from screens.tabs.base import CockpitTab, ViewContext
from screens.widgets.palette import Palette, palette
from screens.widgets.safe import clean
from screens.widgets.worker_errors import internal_error

# Styles name roles of screens.widgets.palette: the colours come from the theme.
STATUS_STYLE = {"pass": "bold good", "fail": "bold bad", "todo": "warn", "waived": "info"}
STATUS_MARK = {"pass": "✔", "fail": "✘", "todo": "○", "waived": "≈"}
SEVERITY_STYLE = {"blocking": "bold bad", "warning": "warn", "info": "info"}
STATUS_FILTERS = ("all", "open", "fail", "todo", "pass", "waived")
SEVERITY_FILTERS = ("all", "blocking", "warning", "info")
EXCERPT_CONTEXT = 2  # lines shown above and below a finding
MAX_EXCERPTS = 6
DDP_POLL_S = 5.0
DDP_ITEM = "probe:ddp-on-target"  # cockpit.ddp.checklist.ITEM_KEY (kept light: no import here)


def current_user() -> str:
    """Who is at the keyboard, for the history: the services' answer, the CLI's too
    (COCKPIT_USER wins, e.g. on a shared screen)."""
    from cockpit.services import current_user as services_user

    return services_user()


def item_visible(item: engine.Item, status: str, severity: str) -> bool:
    if status == "open" and item.status not in ("fail", "todo"):
        return False
    if status not in ("all", "open") and item.status != status:
        return False
    return severity == "all" or item.severity == severity


def format_ts(ts: float | None) -> str:
    return fmt_ts(ts, seconds=False, missing="")


class ChecklistTab(CockpitTab):
    TAB_ID = "checklist"
    TITLE = "Checklist"
    ORDER = 20
    DEFAULT_FOCUS = "#cl-tree"
    BINDINGS: ClassVar = [
        Binding("p", "set_status('pass')", "Pass", id="checklist.pass"),
        Binding("f", "set_status('fail')", "Fail", id="checklist.fail"),
        Binding("w", "set_status('waived')", "Waive", id="checklist.waive"),
        Binding("t", "set_status('todo')", "To do", show=False, id="checklist.todo"),
        Binding("n", "prompt('note')", "Note", id="checklist.note"),
        Binding("o", "prompt('owner')", "Owner", id="checklist.owner"),
        Binding("s", "sign_off", "Sign off", id="checklist.sign-off"),
        Binding("v", "cycle_status", "Status filter", id="checklist.status-filter"),
        Binding("e", "cycle_severity", "Severity filter", id="checklist.severity-filter"),
        Binding("r", "rescan", "Re-scan", id="checklist.rescan"),
        Binding("D", "ddp_probe", "DDP probe", id="checklist.ddp-probe"),
        # Escape in the note/owner box: discard it, focus back on the tree (shown only then).
        Binding("escape", "cancel_prompt", "Cancel", id="checklist.cancel"),
    ]
    COMMANDS: ClassVar = [
        ("Re-scan pipelines", "run the compatibility scan again and record it", "rescan"),
        ("Show open checks only", "filter to failing and to-do items", "cycle_status"),
        (
            "Run the DDP smoke probe",
            "PyTorch DDP through TorchDistributor on the target: closes the Horovod item",
            "ddp_probe",
        ),
    ]
    DEFAULT_CSS = """
    #cl-top { height: auto; padding: 0 1; }
    #cl-progress { width: 1fr; padding: 1 0 0 0; }
    #cl-top Select { width: 22; }
    #cl-body { height: 1fr; }
    #cl-tree { width: 1fr; border: round $primary; }
    #cl-detail-box { width: 1fr; border: round $secondary; padding: 0 1; }
    #cl-prompt { display: none; }
    #cl-prompt.-visible { display: block; }
    """

    def __init__(self, view: ViewContext) -> None:
        super().__init__(view)
        self.views: list[engine.PipelineView] = []
        self.status_filter = "all"
        self.severity_filter = "all"
        self.selected: tuple[str, str | None] | None = None  # (pipeline, item key or None)
        self._prompt_field: str | None = None
        self._prompt_target: tuple[str, str | None] | None = None
        self.rescanning = False
        self.ddp_running = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="cl-top"):
            yield Static(id="cl-progress")
            yield Select(
                [(f"status: {s}", s) for s in STATUS_FILTERS],
                value="all",
                allow_blank=False,
                id="cl-status",
            )
            yield Select(
                [(f"severity: {s}", s) for s in SEVERITY_FILTERS],
                value="all",
                allow_blank=False,
                id="cl-severity",
            )
        yield Input(id="cl-prompt")
        with Horizontal(id="cl-body"):
            tree: Tree[tuple[str, str | None]] = Tree("pipelines", id="cl-tree")
            tree.show_root = False
            yield tree
            with VerticalScroll(id="cl-detail-box"):
                yield Static(id="cl-detail")

    def on_mount(self) -> None:
        self.refresh_view(self.view)

    # ------------------------------------------------------------------ reading
    def refresh_view(self, view: ViewContext) -> None:
        super().refresh_view(view)
        try:
            self.views = engine.load_checklist(view.store, as_of=view.as_of)
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            self.views = []
        self._fill_tree()
        self._fill_progress()
        self._fill_detail()

    def _fill_progress(self) -> None:
        ready, total = engine.progress(self.views)
        p = palette(self.app)
        text = Text()
        if not total:
            text.append("No checklist yet: run `cockpit check PATH --record` (or press r).", "dim")
        else:
            style = p("bold good") if ready == total else "bold"
            text.append(f"{ready} of {total} pipelines ready", style)
            blocking = sum(v.blocking_open for v in self.views)
            if blocking:
                text.append(f"   {blocking} blocking checks open", p("bold bad"))
        if self.view.as_of is not None:
            text.append(f"   (as of {format_ts(self.view.as_of)})", "italic")
        self.query_one("#cl-progress", Static).update(text)

    def _pipeline_label(self, v: engine.PipelineView, p: Palette) -> Text:
        label = Text()
        label.append("✔ " if v.ready else "● ", p("bold good" if v.ready else "bold warn"))
        label.append(clean(v.name), "bold")
        if v.blocking_open:
            label.append(f"  {v.blocking_open} blocking", p("bold bad"))
        open_items = sum(1 for i in v.items if i.status in ("fail", "todo"))
        label.append(f"  {open_items} open" if open_items else "  all checks closed", "dim")
        if v.owner:
            label.append(f"  @{clean(v.owner)}", p("ref"))
        if v.signed_off_by:
            label.append(f"  signed off by {clean(v.signed_off_by)}", p("good"))
        return label

    def _item_label(self, i: engine.Item, p: Palette) -> Text:
        label = Text()
        label.append(f"{STATUS_MARK[i.status]} {i.status:<6} ", p(STATUS_STYLE[i.status]))
        label.append(clean(i.title), p(SEVERITY_STYLE.get(i.severity or "", "")))
        if i.kind == "auto" and i.finding_count:
            label.append(f"  ({i.finding_count})", "dim")
        if i.owner:
            label.append(f"  @{clean(i.owner)}", p("ref"))
        if i.note:
            label.append("  ✎", p("info"))
        return label

    def _fill_tree(self) -> None:
        tree = self.query_one("#cl-tree", Tree)
        # The cursor, not the last handled highlight: a key moved it already if its highlight
        # is still queued behind this refill.
        cursor = tree.cursor_node
        keep = cursor.data if cursor is not None and cursor.data is not None else self.selected
        expanded = {
            node.data[0]
            for node in tree.root.children
            if node.data is not None and node.is_expanded
        }
        first_fill = not tree.root.children
        tree.clear()
        p = palette(self.app)  # once, not per node
        target = None
        for v in self.views:
            items = [
                i for i in v.items if item_visible(i, self.status_filter, self.severity_filter)
            ]
            filtering = (self.status_filter, self.severity_filter) != ("all", "all")
            if filtering and not items:
                continue
            open_it = (first_fill and not v.ready) or v.pipeline_id in expanded or filtering
            node = tree.root.add(
                self._pipeline_label(v, p), data=(v.pipeline_id, None), expand=open_it
            )
            if keep == (v.pipeline_id, None):
                target = node
            for i in items:
                leaf = node.add_leaf(self._item_label(i, p), data=(v.pipeline_id, i.item_key))
                if keep == (v.pipeline_id, i.item_key):
                    target = leaf
        if target is None and tree.root.children:
            target = tree.root.children[0]
        if target is not None:
            # Now, not after the next refresh: a key pressed in between would move from the old
            # tree's line and then be taken back. New nodes have no line numbers until the tree
            # builds its lines, which asking for a line does.
            tree.get_node_at_line(0)
            tree.move_cursor(target)
            self.selected = target.data

    # ------------------------------------------------------------------ detail pane
    @on(Tree.NodeHighlighted, "#cl-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        # A rebuild posts highlights for nodes the cursor only passed through (handled after
        # it); the cursor's final node is the selection.
        if event.node is not self.query_one("#cl-tree", Tree).cursor_node:
            return
        self.selected = event.node.data
        self._fill_detail()

    def _find(self) -> tuple[engine.PipelineView | None, engine.Item | None]:
        if self.selected is None:
            return None, None
        pipeline_id, key = self.selected
        view = next((v for v in self.views if v.pipeline_id == pipeline_id), None)
        if view is None or key is None:
            return view, None
        return view, next((i for i in view.items if i.item_key == key), None)

    def _fill_detail(self) -> None:
        view, item = self._find()
        detail = self.query_one("#cl-detail", Static)
        if view is None:
            detail.update(Text("Select a pipeline or a check.", "dim"))
            return
        parts: list[Text] = []
        head = Text()
        # Names, owners and URIs come from scanned bundles and from people: shown, never run.
        head.append(f"{clean(view.name)}\n", "bold")
        head.append(f"{clean(view.kind)} · {clean(view.origin)}\n", "dim")
        head.append(f"owner: {clean(view.owner or '—')}   ")
        head.append(f"MLflow: {clean(view.tracking_uri or 'workspace default')}\n")
        if view.signed_off_by:
            head.append(
                f"signed off by {clean(view.signed_off_by)} at {format_ts(view.signed_off_at)}\n",
                palette(self.app)("good"),
            )
        parts.append(head)
        if item is None:
            parts.append(self._pipeline_summary(view))
        else:
            parts += self._item_detail(view, item)
        # One Text (not a Group): it renders the same and reads back as plain text.
        detail.update(Text("").join(parts))

    def _pipeline_summary(self, view: engine.PipelineView) -> Text:
        p = palette(self.app)
        text = Text()
        for status in ("fail", "todo", "waived", "pass"):
            count = sum(1 for i in view.items if i.status == status)
            if count:
                text.append(f"{count} {status}  ", p(STATUS_STYLE[status]))
        text.append("\n\nkeys: p pass · f fail · w waive · n note · o owner · s sign off", "dim")
        return text

    def _item_detail(self, view: engine.PipelineView, item: engine.Item) -> list[Text]:
        parts: list[Text] = []
        text = Text()
        text.append(f"\n{clean(item.title)}\n", "bold")
        p = palette(self.app)
        text.append(f"{STATUS_MARK[item.status]} {item.status}", p(STATUS_STYLE[item.status]))
        if item.severity:
            text.append(f"   {item.severity}", p(SEVERITY_STYLE.get(item.severity, "")))
        text.append(f"   owner: {clean(item.owner or '—')}\n")
        if item.note:
            text.append(f"note: {clean(item.note, multiline=True)}\n", p("info"))
        text.append(
            f"last change: {clean(item.updated_by)} at {format_ts(item.updated_at)}\n", "dim"
        )
        parts.append(text)
        if item.code:
            parts.append(self._rule_text(item.code))
            findings = engine.findings_for(
                self.view.store, view.pipeline_id, item.code, as_of=self.view.as_of
            )
            for f in findings[:MAX_EXCERPTS]:
                parts.append(self._excerpt(f))
            if len(findings) > MAX_EXCERPTS:
                parts.append(Text(f"… and {len(findings) - MAX_EXCERPTS} more", "dim"))
            parts += self._guides(findings)
        if item.item_key == DDP_ITEM:
            parts.append(self._ddp_probe_text())
        history = engine.history(
            self.view.store, view.pipeline_id, item.item_key, as_of=self.view.as_of
        )
        changes = [e for e in history if e.kind.startswith("compat.item.")][:8]
        if changes:
            log = Text("\nhistory\n", "bold")
            for e in changes:
                p = e.payload
                log.append(
                    f"{format_ts(e.ts)}  {clean(p.get('by'))}: {clean(e.kind.rsplit('.', 1)[1])} "
                )
                log.append(clean(f"{p.get('old') or '—'} → {p.get('new') or '—'}") + "\n")
            parts.append(log)
        return parts

    def _rule_text(self, code: str) -> Text:
        from cockpit.compat.rules import rule_for

        rule = rule_for(code)
        text = Text()
        if rule is None:
            return text
        text.append(f"\n{rule.code} {rule.name}\n", "bold")
        text.append(f"{rule.what}\n")
        text.append("fix: ", "bold")
        text.append(f"{rule.fix}\n")
        text.append(f"source: {rule.source}\n", palette(self.app)("underline ref"))
        return text

    def _guides(self, findings: list[engine.StoredFinding]) -> list[Text]:
        """Horovod findings: the TorchDistributor / DDP construct and a worked before/after,
        once per construct (guidance: the cockpit does not rewrite this code)."""
        from cockpit.ddp.guidance import guide_for

        guides = {}
        for f in findings:
            guide = guide_for(f.code, f.message)
            if guide is not None:
                guides.setdefault(guide.key, guide)
        p = palette(self.app)
        parts = []
        for guide in guides.values():
            text = Text()
            text.append("\nHorovod → PyTorch DDP: ", p("bold alert"))
            text.append(f"{guide.construct}  →  {guide.replacement}\n", "bold")
            text.append(f"{guide.explanation}\n")
            text.append("before\n", p("bold bad"))
            for line in guide.before.rstrip("\n").splitlines():
                text.append(f"  - {line}\n", p("bad"))
            text.append("after\n", p("bold good"))
            for line in guide.after.rstrip("\n").splitlines():
                text.append(f"  + {line}\n", p("good"))
            for url in guide.sources:
                text.append(f"source: {url}\n", p("underline ref"))
            parts.append(text)
        return parts

    def _ddp_probe_text(self) -> Text:
        """The latest DDP probe: what closed (or failed) this item, with its checks."""
        from cockpit.ddp.records import read_ddp_probes
        from cockpit.textsafe import terminal

        text = Text("\nDDP smoke probe\n", "bold")
        probes = read_ddp_probes(self.view.store, as_of=self.view.as_of)
        if not probes:
            text.append("none yet: press D (or `cockpit probe ddp`) to run one\n", "dim")
            return text
        probe = probes[0]
        p = palette(self.app)
        style = p("bold good" if probe.passed else "bold bad")
        text.append(f"#{probe.id} {probe.state}", style)
        text.append(
            f" on {probe.runtime_id} ({probe.spark_version}, run {probe.run_id}) "
            f"at {format_ts(probe.finished_at or probe.submitted_at)}\n"
        )
        text.append(f"{terminal(probe.message)}\n")
        for check in probe.checks:
            ok = bool(check.get("ok"))
            text.append("  ✔ " if ok else "  ✘ ", p("good" if ok else "bold bad"))
            text.append(terminal(f"{check.get('name')}: {check.get('detail')}\n"))
        if not probe.passed and probe.output:
            text.append("output (tail)\n", "bold")
            for line in probe.output.splitlines()[-8:]:
                text.append(f"  {terminal(line)[:200]}\n", "dim")
        return text

    def _resolve(self, path: str) -> Path | None:
        """A finding's file, relative to where it was scanned: the config's folder, or next to
        the state file (how the sample is built), or the working directory."""
        candidates = [Path(path)]
        if self.view.config is not None:
            candidates.append(Path(self.view.config.base_dir) / path)
        candidates.append(Path(self.view.store.path).parent / path)
        return next((c for c in candidates if c.is_file()), None)

    def _excerpt(self, f: engine.StoredFinding) -> Text:
        text = Text()
        text.append(f"\n{clean(f.path)}:{f.line}:{f.column}", "bold")
        text.append(
            "  fixable with `cockpit fix`\n" if f.autofix else "\n", palette(self.app)("good")
        )
        text.append(f"{clean(f.message)}\n", "dim")
        # Workspace code (a notebook path, dbfs:/...) as exported into the state file, so
        # offline review shows the line without the workspace.
        stored = read_code_text(self.view.store, f.path)
        file = None if stored is not None else self._resolve(f.path)
        if stored is None and file is None:
            text.append("(source not available on this machine)\n", "dim italic")
            return text
        try:
            # Bounded and regular files only (a FIFO would hang the UI); lines as Python counts.
            source = (
                stored
                if stored is not None
                else sourcefiles.read_bytes(file).decode("utf-8", errors="replace")
            )
        except (OSError, sourcefiles.NotRead):
            text.append("(source not readable)\n", "dim italic")
            return text
        lines = sourcefiles.python_lines(source)
        start = max(1, f.line - EXCERPT_CONTEXT)
        for number in range(start, min(len(lines), f.line + EXCERPT_CONTEXT) + 1):
            style = "bold reverse" if number == f.line else ""
            text.append(f"{number:>5} │ {clean(lines[number - 1])}\n", style)
        return text

    # ------------------------------------------------------------------ changes
    def _can_write(self) -> bool:
        if self.view.store.readonly:
            self.app.notify("This state file is open read-only", severity="warning")
            return False
        if self.view.as_of is not None:
            self.app.notify("Showing the past: press L for the latest before changing it")
            return False
        return True

    def action_set_status(self, status: str) -> None:
        view, item = self._find()
        if item is None:
            self.app.notify("Select a check to set its status", severity="warning")
            return
        if not self._can_write():
            return
        try:
            engine.set_item(
                self.view.store,
                view.pipeline_id,
                item.item_key,
                by=current_user(),
                status=status,
                source="tui",
            )
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            return
        self.refresh_view(self.view)

    def action_prompt(self, field: str) -> None:
        view, item = self._find()
        if view is None or (field == "note" and item is None):
            self.app.notify("Select a check first", severity="warning")
            return
        if not self._can_write():
            return
        self._prompt_field = field
        self._prompt_target = (view.pipeline_id, item.item_key if item else None)
        prompt = self.query_one("#cl-prompt", Input)
        what = item.title if item else view.name
        current = (item.note if field == "note" else item.owner) if item else view.owner
        prompt.placeholder = f"{field} for {what} (enter saves, esc cancels)"
        prompt.value = current or ""
        prompt.add_class("-visible")
        # Focus once the class has taken effect: a hidden widget refuses focus.
        self.call_after_refresh(prompt.focus)

    @on(Input.Submitted, "#cl-prompt")
    def _prompt_submitted(self, event: Input.Submitted) -> None:
        field, target = self._prompt_field, self._prompt_target
        self.action_cancel_prompt()
        if field is None or target is None:
            return
        pipeline_id, key = target
        value = event.value.strip()
        try:
            if key is None:
                engine.set_pipeline_owner(
                    self.view.store, pipeline_id, value, by=current_user(), source="tui"
                )
            else:
                engine.set_item(
                    self.view.store,
                    pipeline_id,
                    key,
                    by=current_user(),
                    source="tui",
                    **{field: value},
                )
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            return
        self.refresh_view(self.view)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_prompt":
            prompts = self.query("#cl-prompt")
            return bool(prompts) and prompts.first().has_class("-visible")
        return super().check_action(action, parameters)

    def action_cancel_prompt(self) -> None:
        prompt = self.query_one("#cl-prompt", Input)
        if prompt.has_class("-visible"):
            prompt.remove_class("-visible")
            self._prompt_field = self._prompt_target = None
            self.query_one("#cl-tree", Tree).focus()

    def action_sign_off(self) -> None:
        view, _ = self._find()
        if view is None:
            self.app.notify("Select a pipeline to sign off", severity="warning")
            return
        if not self._can_write():
            return
        try:
            engine.sign_off(self.view.store, view.pipeline_id, by=current_user(), source="tui")
        except CockpitError as exc:
            self.app.notify(exc.message, severity="error")
            return
        self.app.notify(f"{view.name} signed off")
        self.refresh_view(self.view)

    # ------------------------------------------------------------------ filters
    def action_cycle_status(self) -> None:
        i = STATUS_FILTERS.index(self.status_filter)
        self.query_one("#cl-status", Select).value = STATUS_FILTERS[(i + 1) % len(STATUS_FILTERS)]

    def action_cycle_severity(self) -> None:
        i = SEVERITY_FILTERS.index(self.severity_filter)
        select = self.query_one("#cl-severity", Select)
        select.value = SEVERITY_FILTERS[(i + 1) % len(SEVERITY_FILTERS)]

    @on(Select.Changed, "#cl-status")
    def _status_changed(self, event: Select.Changed) -> None:
        self.status_filter = str(event.value)
        self._fill_tree()
        self._fill_detail()

    @on(Select.Changed, "#cl-severity")
    def _severity_changed(self, event: Select.Changed) -> None:
        self.severity_filter = str(event.value)
        self._fill_tree()
        self._fill_detail()

    # ------------------------------------------------------------------ re-scan
    def action_rescan(self) -> None:
        if self.rescanning:
            self.app.notify("A re-scan is already running", severity="warning")
            return
        if not self._can_write():
            return
        self.rescanning = True
        self.query_one("#cl-progress", Static).update(Text("re-scanning pipelines…", "italic"))
        self._rescan()

    @work(thread=True, group="checklist-rescan", exit_on_error=False)
    def _rescan(self) -> None:
        from cockpit.compat.rescan import run_rescan

        try:
            message, severity = run_rescan(self.view.store, self.view.config), "information"
        except CockpitError as exc:
            message, severity = exc.message, "error"
        except Exception as exc:  # a bug: said, and the tab can re-scan again
            message, severity = f"re-scan: {internal_error('re-scan', exc)}", "error"
        self.app.call_from_thread(self._rescan_done, message, severity)

    def _rescan_done(self, message: str, severity: str) -> None:
        self.rescanning = False
        self.app.notify(message, severity=severity)  # type: ignore[arg-type]
        self.refresh_view(self.view)

    # ------------------------------------------------------------------ DDP smoke probe
    def action_ddp_probe(self) -> None:
        from cockpit.ddp.checklist import ITEM_KEY

        view, _ = self._find()
        horovod = view is not None and any(
            i.item_key == ITEM_KEY or i.code == "DBR101" for i in view.items
        )
        if not horovod:
            self.app.notify(
                "Select a pipeline that used Horovod (its DDP item) to probe DDP",
                severity="warning",
            )
            return
        config = self.view.config
        if (
            self.view.offline
            or config is None
            or not (config.databricks.host or config.databricks.profile)
        ):
            self.app.notify(
                "The DDP probe needs a live workspace ([databricks])", severity="warning"
            )
            return
        if self.ddp_running:
            self.app.notify("A DDP probe is already running", severity="warning")
            return
        if not self._can_write():
            return
        self.ddp_running = True
        runtime = config.migration.to_runtime
        self.query_one("#cl-progress", Static).update(
            Text(f"DDP probe on {runtime}: submitting…", "italic")
        )
        self._ddp_probe(runtime)

    @work(thread=True, group="checklist-ddp", exit_on_error=False)
    def _ddp_probe(self, runtime: str) -> None:
        from cockpit.ddp.probe import DdpProbeOptions, run_ddp_probe

        config = self.view.config
        assert config is not None

        def progress(status) -> None:
            state = status.result_state or status.life_cycle_state
            self.app.call_from_thread(
                self.query_one("#cl-progress", Static).update,
                Text(f"DDP probe on {runtime}: run {status.run_id} {state}", "italic"),
            )

        try:
            adapter = self.view.services.workspace()
            record = run_ddp_probe(
                adapter,
                self.view.store,
                runtime,
                options=DdpProbeOptions(poll_interval_s=DDP_POLL_S),
                on_progress=progress,
                source="tui",
            )
            message = f"DDP probe {record.state}: {record.message}"
            severity = "information" if record.passed else "error"
        except CockpitError as exc:
            message, severity = f"DDP probe: {exc.message}", "error"
        except Exception as exc:  # a bug: said, and the probe can be started again
            message, severity = f"DDP probe: {internal_error('DDP probe', exc)}", "error"
        self.app.call_from_thread(self._ddp_done, message, severity)

    def _ddp_done(self, message: str, severity: str) -> None:
        self.ddp_running = False
        self.app.notify(message, title="DDP probe", severity=severity)  # type: ignore[arg-type]
        self.refresh_view(self.view)
