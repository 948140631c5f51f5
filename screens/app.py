"""The cockpit's Textual app: a header, one tab per feature, a footer with the keys.

Flow is one direction. Pollers (worker threads) and commands write to the state store; a timer
here notices a change through ``StateStore.change_marker()`` (which also sees commits made by
another process, e.g. a recorder) and asks every tab to re-render from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import os
import pkgutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import Hit, Hits, Provider
from textual.widgets import Footer, TabbedContent, TabPane
from textual.worker import WorkerFailed

from cockpit.cutover.gates import Gate
from cockpit.cutover.gates import evaluate as evaluate_gates
from cockpit.cutover.gates import record_changes as record_gate_changes
from cockpit.errors import CockpitError, StateError
from cockpit.polling import Poller, PollOutcome, PollSource, configured_sources, prepare_pollers
from cockpit.textsafe import terminal
from screens.tabs.base import CockpitTab, DeferredTab, ViewContext
from screens.widgets import state_errors
from screens.widgets.status_header import StatusHeader
from screens.widgets.time_travel import TimeTravelBar

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

REFRESH_SECONDS = 1.0
GATES_FIRST_DELAY_S = 1.0


def discover_tabs() -> list[type[CockpitTab]]:
    """Every CockpitTab subclass defined in a module of ``screens.tabs``, ordered by ORDER."""
    import screens.tabs as tabs_pkg

    found: list[type[CockpitTab]] = []
    for info in pkgutil.iter_modules(tabs_pkg.__path__):
        if info.name in ("base",) or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"screens.tabs.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, CockpitTab)
                and obj is not CockpitTab
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return sorted(found, key=lambda t: (t.ORDER, t.TAB_ID))


class TabCommands(Provider):
    """Command palette entries: jump to a tab, and each tab's own actions (``tab.commands()``)."""

    async def search(self, query: str) -> Hits:
        app = self.app
        assert isinstance(app, CockpitApp)
        matcher = self.matcher(query)
        for tab_cls in app.tab_classes:
            label = f"Go to {tab_cls.TITLE}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), lambda t=tab_cls: app.show_tab(t.TAB_ID))
        for tab in app.query(CockpitTab):
            for name, help_text, action in tab.commands():
                label = f"{tab.TITLE}: {name}"
                score = matcher.match(label)
                if score > 0:
                    yield Hit(
                        score,
                        matcher.highlight(label),
                        lambda t=tab, a=action: app.run_tab_action(t, a),
                        help=help_text,
                    )


class CockpitApp(state_errors.KeepsRunningOnStateError, App[int]):
    CSS_PATH = Path(__file__).parent / "styles" / "app.tcss"
    TITLE = "Migration Cockpit"
    COMMANDS = App.COMMANDS | {TabCommands}
    # Layout classes on the screen, for app.tcss: a laptop terminal (80x24, 100x30) stacks or
    # hides side panes; a wide one (160x45) shows everything side by side.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-medium"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall"), (40, "-very-tall")]
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("f5", "reload", "Reload", id="reload"),
        # Time travel, offline only (check_action hides them when live).
        Binding("left_square_bracket", "travel('prev')", "Back", id="travel.prev"),
        Binding("right_square_bracket", "travel('next')", "Forward", id="travel.next"),
        Binding("left_curly_bracket", "travel('-hour')", "-1h", show=False, id="travel.back-hour"),
        Binding("right_curly_bracket", "travel('+hour')", "+1h", show=False, id="travel.fwd-hour"),
        Binding("L", "travel('latest')", "Latest", show=False, id="travel.latest"),
        *[
            Binding(str(n), f"show_tab_index({n - 1})", f"Tab {n}", show=False, id=f"tab-{n}")
            for n in range(1, 10)
        ],
    ]

    def notify(self, message: str, *, markup: bool = True, **kwargs) -> None:  # type: ignore[override]
        # Notifications carry server messages, names and paths (and text like "[mlflow.old]"):
        # plain text with controls shown as escapes, never markup.
        super().notify(terminal(message, multiline=True), markup=False, **kwargs)

    def __init__(
        self,
        *,
        store: StateStore,
        config: CockpitConfig | None = None,
        offline: bool = True,
        tab_classes: list[type[CockpitTab]] | None = None,
        sources: list[PollSource] | None = None,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        from screens.themes import THEMES

        for custom in THEMES:
            self.register_theme(custom)
        if theme:
            self.theme = theme  # a name from screens.themes.theme_names(); checked by the CLI
        self.store = store
        self.config = config
        self.offline = offline or store.readonly
        self.tab_classes = tab_classes if tab_classes is not None else discover_tabs()
        self._marker: tuple[int, int] | None = None
        self._stale_tabs: set[str] = set()  # built, hidden, and behind the store or the moment
        self.as_of: float | None = None
        # Live only: what to poll. None = every feature's sources for the config.
        self._sources = sources
        self.pollers: list[Poller] = []
        self.gates: list[Gate] | None = None  # latest evaluation, for the moment shown
        self._gates_as_of: float | None = None
        self._materializing = asyncio.Lock()
        self._gates_asked = self._gates_answered = 0  # evaluations started / newest shown
        self._gates_lock = threading.Lock()

    # ------------------------------------------------------------------ view
    def view_context(self) -> ViewContext:
        route = self.store.migration_route(self.config)
        return ViewContext(
            store=self.store,
            config=self.config,
            offline=self.offline,
            as_of=self.as_of,
            migration_from=route.from_runtime,
            migration_to=route.to_runtime,
            gates=tuple(self.gates) if self.gates is not None else None,
        )

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status-header")
        view = self.view_context()
        with TabbedContent(id="tabs"):
            for index, tab_cls in enumerate(self.tab_classes):
                with TabPane(tab_cls.TITLE, id=f"pane-{tab_cls.TAB_ID}"):
                    # Only the first tab is built now; the others when first shown, so the first
                    # frame never waits on what a hidden tab loads.
                    yield tab_cls(view) if index == 0 else DeferredTab(tab_cls)
        if self.offline:
            yield TimeTravelBar(id="time-travel")
        yield Footer()

    def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._focus_active_tab()
        self._update_header()
        self._update_time_bar()
        self.refresh_tabs()
        self._marker = self.store.change_marker()
        self.set_interval(REFRESH_SECONDS, self._check_store)
        # Gates read every feature (pandas, scipy, which hold the GIL while they import): first
        # evaluation a moment after the first frame has been drawn, never before it.
        self.call_after_refresh(lambda: self.set_timer(GATES_FIRST_DELAY_S, self._evaluate_gates))
        if self.store.note:
            self.notify(f"Read-only: {self.store.note}", severity="warning")
        if self.store.check_deferred:
            # A big file opened for review: its page-by-page integrity check runs now, beside
            # the first frame, and a failure closes the cockpit with the usual one-line error.
            # A daemon thread, not a worker: quitting never waits for the check to finish.
            self.call_after_refresh(
                threading.Thread(
                    target=self._check_in_thread, name="cockpit-integrity", daemon=True
                ).start
            )
        if not self.offline:
            # After the first frame: preparing the pollers imports their clients (the SDK).
            self.call_after_refresh(self._start_polling)
        if os.environ.get("COCKPIT_EXIT_AFTER_FIRST_FRAME") == "1":
            # bench/startup.py measures time to first frame: leave once it has been drawn.
            self.call_after_refresh(self.exit)

    def _check_in_thread(self) -> None:
        try:
            self.store.run_deferred_check()
        except CockpitError as exc:
            # Plain text, controls escaped: the message carries the file's path.
            message = Text(f"cockpit: error: {terminal(exc.message)}")
            with contextlib.suppress(RuntimeError):  # the app has closed meanwhile
                self.call_from_thread(self.exit, return_code=exc.exit_code, message=message)

    def _handle_exception(self, error: Exception) -> None:
        # A state error of one action (a refused write, a missing record) from a worker, a
        # timer or a callback: shown, and the cockpit keeps running (screens/widgets/state_errors.py).
        action = state_errors.action_error(error)
        if action is not None:
            state_errors.notify(self, action)
            return
        if isinstance(error, WorkerFailed) and isinstance(error.error, StateError):
            error = error.error
        # A big file opened before its integrity check (see _check_in_thread) can meet a damaged
        # page in any read: that is the one-line error the check would give, not a traceback.
        if isinstance(error, StateError):
            message = Text(f"cockpit: error: {terminal(error.message)}")
            self.exit(return_code=error.exit_code, message=message)
            return
        super()._handle_exception(error)

    def _update_header(self) -> None:
        header = self.query_one(StatusHeader)
        view = self.view_context()
        header.migration_name = self.store.migration_route(self.config).name
        header.route = f"{view.migration_from} → {view.migration_to}" if view.migration_to else ""
        header.offline = self.offline
        header.as_of = self.as_of
        # Health of sources polled by another process (a recorder), as it recorded it.
        own = {p.source.name for p in self.pollers}
        recorded = {
            name: status
            for name, status in self._recorded_source_statuses().items()
            if name not in own
        }
        if recorded:
            header.sources = {**header.sources, **recorded}

    def _recorded_source_statuses(self) -> dict[str, str]:
        latest = self.store.latest_events_by("source.status", "source", until_ts=self.as_of)
        return {name: event.payload.get("to") for name, event in latest.items()}

    def set_source_status(self, name: str, status: str) -> None:
        """Pollers report per-source health here (ok / degraded / down)."""
        header = self.query_one(StatusHeader)
        header.sources = {**header.sources, name: status}

    # ------------------------------------------------------------------ live polling
    def _start_polling(self) -> None:
        """One-shot thread workers re-armed by timers: a slow source never blocks the UI, and a
        poll never overlaps itself (the Poller skips a poll that is still running)."""
        sources = self._sources
        if sources is None:
            if self.config is None:
                return
            try:
                sources = configured_sources(self.config)
            except CockpitError as exc:
                self.notify(exc.message, severity="error")
                return
        self.pollers = [Poller(source, self.store) for source in sources]
        # Imports on this (the main) thread before any poll thread runs: concurrent first
        # imports of one package can leave a half-initialised module (issue 20).
        prepare_pollers(self.pollers)
        for poller in self.pollers:
            self.set_source_status(poller.source.name, "unknown")
            self._run_poll(poller)

    def _run_poll(self, poller: Poller) -> None:
        self.run_worker(
            lambda: self._poll_in_thread(poller),
            thread=True,
            group=f"poll-{poller.source.name}",
            exit_on_error=False,
        )

    def _poll_in_thread(self, poller: Poller) -> None:
        outcome = poller.poll_once()
        self.call_from_thread(self._poll_done, poller, outcome)

    def _poll_done(self, poller: Poller, outcome: PollOutcome) -> None:
        if not self.is_running:
            return  # a poll that finished while the app closes: nothing to show, no re-arm
        before = self.query_one(StatusHeader).sources.get(poller.source.name)
        self.set_source_status(poller.source.name, outcome.status.status)
        if before not in (None, "unknown") and before != outcome.status.status:
            severity = "information" if outcome.status.status == "ok" else "warning"
            error = f": {outcome.status.last_error}" if outcome.status.status != "ok" else ""
            self.notify(
                f"{poller.source.name} is {outcome.status.status}{error}", severity=severity
            )
        self.set_timer(outcome.next_delay_s, lambda: self._run_poll(poller))

    def refresh_tabs(self) -> None:
        view = self.view_context()
        # query, not query_one: a timer may fire while the app is closing and the tabs are gone.
        panes = self.query(TabbedContent)
        active = panes.first().active_pane if panes else None
        for tab in self._drawn_tabs(view):
            if active is None or tab.parent is active:
                tab.refresh_view(view)
            else:
                # Hidden tabs re-render when next shown: on a month of recording each tab's
                # refresh costs, and only the one on screen must follow every step and write.
                self._stale_tabs.add(tab.TAB_ID)

    def _drawn_tabs(self, view: ViewContext | None = None) -> list[CockpitTab]:
        """The tabs whose widgets exist. A tab being mounted (a tab switch's _materialize awaits
        its mount while timers and workers' messages run) is in the DOM before its children are:
        drawing it then raised NoMatches and closed the app. It is handed the current view
        instead (``view``, else one made now) and draws that in its own on_mount."""
        drawn = []
        for tab in self.query(CockpitTab):
            if tab.is_mounted:
                drawn.append(tab)
            else:
                tab.view = view or self.view_context()
        return drawn

    def _theme_changed(self, _theme: object) -> None:
        # Verdicts, severities, gates and source health are Rich styles from the theme's
        # palette (screens.widgets.palette), not CSS: draw what is on screen again.
        self.query_one(StatusHeader).refresh()
        self._update_time_bar()
        # Every built tab, hidden ones too: a hidden tab is redrawn on showing only when its
        # data changed, so it would keep the old theme's colours.
        view = self.view_context()
        for tab in self._drawn_tabs(view):
            tab.restyle(view)
            self._stale_tabs.discard(tab.TAB_ID)  # drawn now, from the current view

    def _check_store(self) -> None:
        if not self.is_running:
            # Shutting down (Textual clears is_running before it removes the screens): an
            # interval tick now would refresh tabs whose widgets are already gone.
            return
        marker = self.store.change_marker()
        if marker != self._marker:
            self._marker = marker
            self._update_header()
            self.refresh_tabs()
            self._evaluate_gates()

    # ------------------------------------------------------------------ gates
    def _evaluate_gates(self) -> None:
        # exclusive cancels only the worker's wrapper: the thread of an older evaluation still
        # finishes and answers. Its number lets _gates_done drop it after a newer one.
        self._gates_asked += 1
        asked = self._gates_asked
        self.run_worker(
            lambda: self._gates_in_thread(asked),
            thread=True,
            exclusive=True,
            group="gates",
            exit_on_error=False,
        )

    def _gates_in_thread(self, asked: int) -> None:
        # One evaluation at a time, each reading the store when its turn comes: an older one
        # finishing after a newer one recorded its statuses would record the old ones back (a
        # flap on the timeline, with its go/no-go decisions, that the screen never showed).
        with self._gates_lock:
            if asked < self._gates_asked:
                return  # a newer evaluation is asked for: it reads and records
            as_of = self.as_of
            gates = evaluate_gates(self.store, self.config, as_of=as_of)
            if (
                as_of is None
                and not self.store.readonly
                and record_gate_changes(self.store, gates, source="tui")
            ):
                gates = evaluate_gates(self.store, self.config)  # with their new change times
        self.call_from_thread(self._gates_done, gates, as_of, asked)

    def _gates_done(self, gates: list[Gate], as_of: float | None, asked: int | None = None) -> None:
        if not self.is_running:
            return  # an evaluation that finished while the app closes: nothing left to show
        if asked is not None:
            if asked < self._gates_answered:
                return  # read the store before an evaluation already shown
            self._gates_answered = asked
        if as_of != self.as_of:
            return  # the user moved in time meanwhile; a newer evaluation is on its way
        before = {g.id: g.status for g in self.gates or []}
        # Notify for changes seen at "latest", not while stepping through history.
        if before and as_of is None and self._gates_as_of is None:
            for gate in gates:
                if before.get(gate.id) not in (None, gate.status):
                    self.notify(
                        f"{gate.title}: {before[gate.id]} → {gate.status}. {gate.evidence}",
                        title="Gate changed",
                        severity="information" if gate.passed else "warning",
                    )
        self.gates = gates
        self._gates_as_of = as_of
        for tab in self._drawn_tabs():
            tab.show_gates(gates)

    def set_as_of(self, ts: float | None) -> None:
        """Time travel: show every tab as of ``ts`` (None = latest)."""
        self.as_of = ts
        self._update_header()
        self._update_time_bar()
        self.refresh_tabs()
        self._evaluate_gates()

    # ------------------------------------------------------------------ time travel
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "travel":
            return self.offline
        return True

    def _update_time_bar(self) -> None:
        bars = self.query(TimeTravelBar)
        if not bars:
            return
        # Read through the store's ts index: a month of recording is a million events, and the
        # bar must not hold them (issue 17).
        position = self.store.event_position(self.as_of)
        if self.as_of is None:
            label = f"last event: {position.kind}" if position.total else "no events recorded"
            bars.first().show_position(None, None, position.total, label)
            return
        label = position.kind if position.index is not None else "before the first event"
        bars.first().show_position(self.as_of, position.index, position.total, label)

    def action_travel(self, where: str) -> None:
        first, last = self.store.event_span()
        if first is None or last is None:
            return
        if where == "latest":
            self.set_as_of(None)
            return
        if where in ("-hour", "+hour"):
            base = self.as_of if self.as_of is not None else last
            target = base + (3600 if where == "+hour" else -3600)
            self.set_as_of(None if target >= last else max(target, first))
            return
        # Step to the previous / next distinct event time.
        current = self.as_of if self.as_of is not None else last
        if where == "prev":
            earlier = self.store.event_time_before(current)
            # From "latest", one step back shows the state just before the last event.
            self.set_as_of(earlier if earlier is not None else first)
        else:
            later = self.store.event_time_after(current)
            self.set_as_of(later if later is not None and later < last else None)

    def _focus_active_tab(self) -> None:
        """Put focus inside the active tab so its key bindings (shown in the footer) work."""
        pane = self.query_one(TabbedContent).active_pane
        if pane is None:
            return
        focused = self.screen.focused
        if focused is not None and pane in focused.ancestors:
            return  # already inside: a key may have moved it (`/` to a search box), keep that
        for tab in pane.query(CockpitTab):
            tab.focus_default()

    async def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        await self._materialize(event.pane)
        # Now: show_tab dropped the focus, and until it is set keys reach no tab (a `/` was
        # lost, a digit switched back). Again after the refresh, for a pane not yet shown that
        # refused it.
        self._focus_active_tab()
        self.call_after_refresh(self._focus_active_tab)

    async def _materialize(self, pane: TabPane | None) -> CockpitTab | None:
        if pane is None:
            return None
        # One at a time: show_tab_ready and the activation it causes both come here, and the
        # second must find the tab the first built, not build another.
        async with self._materializing:
            for deferred in pane.query(DeferredTab):
                await deferred.remove()
                # Built after the await, mounted with none between: a tab that existed during
                # the removal was in no DOM, so a gate answer or a store tick then passed it by
                # and it showed an empty gate board for good (offline, none comes later).
                self._stale_tabs.discard(deferred.tab_cls.TAB_ID)  # built from the current view
                tab = deferred.tab_cls(self.view_context())
                await pane.mount(tab)
                return tab
        tabs = pane.query(CockpitTab)
        if not tabs:
            return None
        tab = tabs.first()
        if tab.TAB_ID in self._stale_tabs:
            self._stale_tabs.discard(tab.TAB_ID)
            tab.refresh_view(self.view_context())
        return tab

    # ------------------------------------------------------------------ actions
    def show_tab(self, tab_id: str) -> None:
        tabs = self.query_one(TabbedContent)
        if tabs.active != f"pane-{tab_id}" and tabs.screen.focused is not None:
            # Textual hands the focus of a widget being hidden to a sibling in the same (hidden)
            # pane, and a pane whose widget gets focus becomes active again: the digit was
            # swallowed (issue 16). Drop the focus first; _focus_active_tab sets it in the new tab.
            tabs.screen.set_focus(None)
        tabs.active = f"pane-{tab_id}"

    async def show_tab_ready(self, tab_id: str) -> CockpitTab | None:
        """Show a tab and return it built (for actions that need its widgets)."""
        self.show_tab(tab_id)
        return await self._materialize(self.query_one(f"#pane-{tab_id}", TabPane))

    def action_show_tab_index(self, index: int) -> None:
        if 0 <= index < len(self.tab_classes):
            self.show_tab(self.tab_classes[index].TAB_ID)

    def action_reload(self) -> None:
        self._update_header()
        self.refresh_tabs()
        self.notify("Reloaded from the state file")

    async def run_tab_action(self, tab: CockpitTab, action: str) -> None:
        built = await self.show_tab_ready(tab.TAB_ID)
        if built is not None:
            await built.run_action(action)
