"""MLflow sync tab: both servers side by side, what the new one still lacks, and the actions that
close the gap (sync selected or all, verify, mirror, rehearse the DB upgrade).

Everything shown comes from the recorded status polls and verifications as of the moment being
viewed, read through the MLflow feature's views (``cockpit.mlflow.records``: the same drift and
"last verify" the gates and the report show), so a saved state file reviews offline exactly as it
looked live. Actions
run in thread workers that write to the store; the app re-renders when the store changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Sparkline, Static

from cockpit.errors import CockpitError
from cockpit.mlflow.records import (
    PollView,
    VerificationView,
    drift_series,
    last_synced,
    last_verification,
    latest_poll,
    poll_experiments,
    poll_models,
)
from cockpit.timefmt import fmt_ts
from screens.tabs.base import CockpitTab, ViewContext
from screens.widgets.palette import Palette, palette
from screens.widgets.safe import clean
from screens.widgets.safe import text as safe_text
from screens.widgets.worker_errors import internal_error

# Stages in one letter so a model's whole history fits the registry panel.
SHORT_STAGE = {"None": "-", "Staging": "S", "Production": "P", "Archived": "A"}
LIVE_ACTIONS = {"sync_selected", "sync_all", "verify", "mirror", "poll", "rehearse"}


def head_text(
    poll: PollView | None, polls_shown: int, verification: VerificationView | None, p: Palette
) -> Text:
    """The tab's header: both servers, the latest poll's drift and the last verify, coloured
    by the theme's palette ``p``."""
    head = Text()
    if poll is None:
        head.append("No MLflow status poll recorded yet", style="bold")
        head.append("  (live: press p to poll, a to sync everything)", style="dim")
    else:
        head.append("old ", style="bold")
        # URLs, versions and schemas are what the servers said.
        head.append(clean(f"{poll.old_url} (MLflow {poll.old_version}"))
        head.append(clean(f", schema {poll.old_schema})") if poll.old_schema else ")")
        head.append("   new ", style="bold")
        head.append(clean(f"{poll.new_url} (MLflow {poll.new_version}"))
        head.append(clean(f", schema {poll.new_schema})") if poll.new_schema else ")")
        head.append("\nlast poll ", style="bold")
        head.append(f"{fmt_ts(poll.ts)} ({poll.duration_s:.1f} s)   ")
        head.append(
            f"drift {poll.drift}",
            style=p("bold good" if poll.drift == 0 else "bold bad"),
        )
        head.append(
            f"  ({poll.missing} runs missing, {poll.differing} differing, "
            f"{poll.versions_missing} model versions missing; "
            f"{poll.old_runs} runs old, {poll.new_runs} new)"
        )
        head.append(f"   ↓ drift, last {polls_shown} polls", style="dim")
    if verification is not None:
        n = verification.differences
        head.append("\nlast verify ", style="bold")
        head.append(f"{fmt_ts(verification.ts)}: ")
        head.append(
            f"{n} differences" if n else "clean",
            style=p("bold bad" if n else "bold good"),
        )
        head.append(
            f" ({verification.runs} runs, {verification.artifacts} artifacts, "
            f"{verification.models} models)"
        )
    return head


@dataclass
class MirrorStarted(Message):
    """The mirror worker connected and its mirror runs (posted from the worker thread)."""

    mirror: Any  # cockpit.mlflow.mirror.Mirror (not imported at start-up)


@dataclass
class MirrorEnded(Message):
    """The mirror worker ended: stopped, or failed with ``error``."""

    error: str | None = None


class MirrorControl:
    """The UI thread's hold on a mirror that a worker connects and runs. Stopping may come before
    the worker has its mirror (the tab closes while it connects): the mirror is then stopped as
    it is attached, so it never runs with nobody able to stop it. Locked: two threads use it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mirror: Any = None
        self._stopped = False

    def attach(self, mirror: Any) -> None:
        with self._lock:
            self._mirror = mirror
            stopped = self._stopped
        if stopped:
            mirror.stop()  # its run() then returns at once

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            mirror = self._mirror
        if mirror is not None:
            mirror.stop()


class MlflowSyncTab(CockpitTab):
    TAB_ID = "mlflow"
    TITLE = "MLflow sync"
    ORDER = 40
    DEFAULT_FOCUS = "#mlf-experiments"
    BINDINGS: ClassVar = [
        Binding("s", "sync_selected", "Sync selected", id="mlflow.sync_selected"),
        Binding("a", "sync_all", "Sync all", id="mlflow.sync_all"),
        Binding("v", "verify", "Verify", id="mlflow.verify"),
        Binding("m", "mirror", "Mirror on/pause", id="mlflow.mirror"),
        Binding("p", "poll", "Poll now", id="mlflow.poll"),
        Binding("R", "rehearse", "Rehearse DB upgrade", id="mlflow.rehearse"),
    ]
    COMMANDS: ClassVar = [
        ("Sync the selected experiment", "copy it old -> new", "sync_selected"),
        ("Sync every experiment", "copy everything old -> new", "sync_all"),
        ("Verify the copy", "deep compare old vs new", "verify"),
        ("Start or pause mirroring", "keep copying until cutover", "mirror"),
        ("Poll both servers now", "record a status poll", "poll"),
        ("Rehearse the DB upgrade", "upgrade a copy of the old backend DB", "rehearse"),
    ]
    DEFAULT_CSS = """
    MlflowSyncTab { layout: vertical; }
    #mlf-head { height: auto; padding: 0 1; }
    #mlf-drift { height: 3; margin: 0 1; }
    #mlf-body { height: 1fr; }
    #mlf-experiments { width: 1fr; }
    #mlf-models { width: 62; }
    #mlf-progress-row { height: 1; padding: 0 1; }
    #mlf-status { width: 1fr; }
    """

    def __init__(self, view: ViewContext) -> None:
        super().__init__(view)
        self.busy: str | None = None
        # The running mirror (cockpit.mlflow.mirror.Mirror), set on the UI thread when its worker
        # says it started; the control exists from the key press until the worker ends.
        self.mirror = None
        self._mirror_control: MirrorControl | None = None
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="mlf-head")
        yield Sparkline([], id="mlf-drift")
        with Horizontal(id="mlf-body"):
            table: DataTable = DataTable(
                id="mlf-experiments", cursor_type="row", zebra_stripes=True
            )
            table.add_columns(
                "experiment",
                "old a/d",
                "new a/d",
                "missing",
                "differ",
                "running",
                "last synced",
            )
            yield table
            with Vertical(id="mlf-models"):
                models: DataTable = DataTable(id="mlf-registry", cursor_type="row")
                models.add_columns(
                    "model", "old", "new", "missing", "stages old→new (-/S/P/A)", "aliases"
                )
                yield models
        with Horizontal(id="mlf-progress-row"):
            # Shown while a copy runs: an idle bar would animate as "indeterminate" forever.
            bar = ProgressBar(id="mlf-progress", show_eta=False)
            bar.display = False
            yield bar
            yield Static(id="mlf-status")

    def on_mount(self) -> None:
        self.refresh_view(self.view)

    # ------------------------------------------------------------------ rendering
    def refresh_view(self, view: ViewContext) -> None:
        super().refresh_view(view)
        store, as_of = view.store, view.as_of
        poll = latest_poll(store, as_of=as_of)
        series = drift_series(store, as_of=as_of)
        self.query_one("#mlf-drift", Sparkline).data = series or [0]
        p = palette(self.app)
        head = head_text(poll, len(series), last_verification(store, as_of=as_of), p)
        if self.mirror is not None:
            head.append("\nmirroring ", style="bold")
            head.append(
                "paused" if self.mirror.paused else "on",
                style=p("warn" if self.mirror.paused else "good"),
            )
        self.query_one("#mlf-head", Static).update(head)
        self._render_experiments(poll)
        self._render_models(poll)

    def _render_experiments(self, poll: PollView | None) -> None:
        table = self.query_one("#mlf-experiments", DataTable)
        cursor = table.cursor_row
        table.clear()
        self._names = []
        if poll is None:
            return
        synced = last_synced(self.view.store, as_of=self.view.as_of)
        p = palette(self.app)
        for exp in poll_experiments(self.view.store, poll.id):
            self._names.append(exp.name)
            name = safe_text(exp.name)
            if exp.old_deleted_experiment:
                name.append(" (deleted)", style="dim")
            when = synced.get(exp.name)
            table.add_row(
                name,
                f"{exp.old_active}/{exp.old_deleted}",
                f"{exp.new_active}/{exp.new_deleted}",
                Text(str(exp.missing), style=p("bold bad" if exp.missing else "good")),
                Text(str(exp.differing), style=p("bold bad" if exp.differing else "good")),
                str(exp.running),
                fmt_ts(when)[5:16] if when else "never",
                key=exp.source_id,
            )
        if self._names:
            table.move_cursor(row=min(max(cursor, 0), len(self._names) - 1))

    def _render_models(self, poll: PollView | None) -> None:
        table = self.query_one("#mlf-registry", DataTable)
        table.clear()
        if poll is None:
            return
        p = palette(self.app)
        for model in poll_models(self.view.store, poll.id):
            new_stages = model.new_stages
            stages = " ".join(
                f"v{v} {SHORT_STAGE.get(st, st)}→{SHORT_STAGE.get(new_stages.get(v, ''), '·')}"
                for v, st in sorted(model.old_stages.items(), key=lambda i: int(i[0]))
            )
            table.add_row(
                safe_text(model.name),
                str(model.old_versions),
                str(model.new_versions),
                Text(str(model.missing), style=p("bold bad" if model.missing else "good")),
                safe_text(stages),
                safe_text(", ".join(f"{a}→v{v}" for a, v in sorted(model.new_aliases.items()))),
            )

    def selected_experiment(self) -> str | None:
        table = self.query_one("#mlf-experiments", DataTable)
        if not self._names or table.cursor_row < 0:
            return None
        return self._names[min(table.cursor_row, len(self._names) - 1)]

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LIVE_ACTIONS:
            return self._live_config() is not None
        return super().check_action(action, parameters)

    def _live_config(self):
        if self.view.offline or not self.view.services.mlflow_configured():
            return None
        return self.view.config

    def _start(self, what: str) -> bool:
        if self._live_config() is None:
            self.app.notify(
                "MLflow actions need a live session with [mlflow.old] and [mlflow.new] configured",
                severity="warning",
            )
            return False
        if self.busy is not None:
            self.app.notify(f"{self.busy} is still running", severity="warning")
            return False
        self.busy = what
        self._status(f"{what}…")
        return True

    def action_sync_selected(self) -> None:
        name = self.selected_experiment()
        if name is None:
            self.app.notify("No experiment selected (poll first: p)", severity="warning")
            return
        if self._start(f"sync of {name}"):
            self._sync([name])

    def action_sync_all(self) -> None:
        if self._start("sync of every experiment"):
            self._sync(None)

    def action_verify(self) -> None:
        if self._start("verify"):
            self._verify()

    def action_poll(self) -> None:
        if self._start("poll"):
            self._poll()

    def action_rehearse(self) -> None:
        config = self._live_config()
        if config is not None and not config.mlflow.old.db_uri:
            self.app.notify(
                "Set [mlflow.old] db_uri to rehearse the DB upgrade", severity="warning"
            )
            return
        if self._start("DB upgrade rehearsal"):
            self._rehearse()

    def action_mirror(self) -> None:
        if self.mirror is not None:
            if self.mirror.paused:
                self.mirror.resume()
                self.app.notify("Mirroring resumed")
            else:
                self.mirror.pause()
                self.app.notify("Mirroring paused (after the cycle in flight)")
            self.refresh_view(self.view)
            return
        if self._mirror_control is not None:
            self.app.notify("The mirror is still connecting", severity="warning")
            return
        if self._live_config() is None:
            self._start("mirror")  # explains why not
            return
        self._mirror_control = MirrorControl()
        self._mirror(self._mirror_control)

    # ------------------------------------------------------------------ workers
    # A worker never assigns this tab's attributes: it hands its outcome to the UI thread with
    # `self.app.call_from_thread(handler, ...)` or by posting a Message (both thread-safe).
    def _connect(self):
        services = self.view.services
        return (services.require_config(), *services.mlflow_servers())

    # Each action runs in a worker thread, writes what it learnt to the store and reports one
    # line back on the UI thread; a CockpitError is that line, never a traceback.
    def _report(self, label: str, action: Callable[[], tuple[str, str]]) -> None:
        try:
            message, severity = action()
        except CockpitError as exc:
            message, severity = f"{label} failed: {exc.message}", "error"
        except Exception as exc:  # a bug: said, and the tab's actions are free again
            message, severity = f"{label} failed: {internal_error(label, exc)}", "error"
        self.app.call_from_thread(self._done, message, severity)

    def _sync_options(self, names: list[str] | None = None):
        """As the CLI's `cockpit mlflow sync` builds them, with its defaults (cockpit.services)."""
        return self.view.services.sync_options(experiments=names)

    def _record_poll(self, config, old, new):
        from cockpit.mlflow.status import poll_and_record

        _, summary = poll_and_record(
            self.view.store,
            old,
            new,
            source="tui",
            old_db_uri=config.db_uri("old"),
            new_db_uri=config.db_uri("new"),
        )
        return summary

    @work(thread=True, group="mlflow-action", exit_on_error=False)
    def _sync(self, names: list[str] | None) -> None:
        def action() -> tuple[str, str]:
            from cockpit.mlflow.sync import Syncer

            config, old, new = self._connect()
            result = Syncer(
                old,
                new,
                store=self.view.store,
                options=self._sync_options(names),
                progress=lambda done, total, label: self.app.call_from_thread(
                    self._progress, done, total, label
                ),
                source="tui",
            ).run()
            self._record_poll(config, old, new)
            message = (
                f"Synced: {result.runs_created} new, {result.runs_updated} changed runs, "
                f"{result.versions_created} model versions ({result.duration_s:.1f} s)"
            )
            if result.histories_from_db:
                message += f"; {result.histories_from_db} runs' histories from the backend file"
            if result.errors:
                message += f"; {len(result.errors)} errors, first: {result.errors[0]}"
            return message, "warning" if result.errors else "information"

        self._report("Sync", action)

    @work(thread=True, group="mlflow-action", exit_on_error=False)
    def _verify(self) -> None:
        def action() -> tuple[str, str]:
            _, old, new = self._connect()
            report = self.view.services.verify(old, new)
            report.record(self.view.store, source="tui")
            n = len(report.differences)
            if n:
                return f"Verify: {n} differences", "error"
            return "Verify: clean, zero differences", "information"

        self._report("Verify", action)

    @work(thread=True, group="mlflow-action", exit_on_error=False)
    def _poll(self) -> None:
        def action() -> tuple[str, str]:
            summary = self._record_poll(*self._connect())
            return f"Polled: drift {summary.drift}", "information"

        self._report("Poll", action)

    @work(thread=True, group="mlflow-rehearse", exit_on_error=False)
    def _rehearse(self) -> None:
        def action() -> tuple[str, str]:
            from cockpit.mlflow.rehearsal import rehearse_db_upgrade

            config, _, new = self._connect()
            target = new.info.version
            if target is None:
                raise CockpitError("the new server does not say its version; use the CLI")
            result = rehearse_db_upgrade(
                self.view.store, config.db_uri("old"), target, source="tui"
            )
            if result.ok:
                return f"Rehearsal to {target}: ok", "information"
            return f"Rehearsal to {target}: FAILED", "error"

        self._report("Rehearsal", action)

    @work(thread=True, group="mlflow-mirror", exit_on_error=False)
    def _mirror(self, control: MirrorControl) -> None:
        error = None
        try:
            _, old, new = self._connect()
            mirror = self.view.services.mirror(old, new, self.view.store, source="tui")
            control.attach(mirror)
            self.post_message(MirrorStarted(mirror))
            mirror.run()
        except CockpitError as exc:
            error = exc.message
        except Exception as exc:  # a bug: the mirror ends and says why
            error = internal_error("mirror", exc)
        finally:
            self.post_message(MirrorEnded(error))

    def on_mirror_started(self, message: MirrorStarted) -> None:
        self.mirror = message.mirror
        self.app.notify("Mirroring started")
        self.refresh_view(self.view)

    def on_mirror_ended(self, message: MirrorEnded) -> None:
        self.mirror, self._mirror_control = None, None
        if message.error:
            self.app.notify(f"Mirror: {message.error}", severity="error")
        self.refresh_view(self.view)

    def on_unmount(self) -> None:
        if self._mirror_control is not None:
            self._mirror_control.stop()

    # ------------------------------------------------------------------ feedback
    def _status(self, message: str) -> None:
        self.query_one("#mlf-status", Static).update(message)

    def _progress(self, done: int, total: int, label: str) -> None:
        bar = self.query_one("#mlf-progress", ProgressBar)
        bar.display = True
        bar.update(total=max(total, 1), progress=done)
        self._status(f"{self.busy or 'sync'}: {done}/{total} runs ({label})")

    def _done(self, message: str, severity: str) -> None:
        self.busy = None
        self._status("")
        self.query_one("#mlf-progress", ProgressBar).display = False
        self.app.notify(message, severity=severity)  # type: ignore[arg-type]
        self.refresh_view(self.view)
