"""``cockpit record``: run every poller headless, writing the state file, until stopped."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

ORDER = 80
log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "record",
        help="poll every configured source headless, writing the state file",
        description="Run the pollers of every source in cockpit.toml (Databricks workspace, both "
        "MLflow servers) without a UI, writing to the state file. Any number of viewers can follow "
        "the file meanwhile (`cockpit open FILE --offline`). Stops cleanly on Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop by itself after this long (each source is polled at least once)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_text_or_json(parser, "each source's polls and last status, when the recorder stops")
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    import os
    import signal
    import sys
    import threading
    import time

    from cockpit.polling import INTERNAL_ERROR, Poller, Recorder, configured_sources
    from cockpit.textsafe import terminal

    config = ctx.require_config()
    sources = configured_sources(config)
    if not sources:
        raise CockpitError(
            "nothing to record: cockpit.toml configures no source ([databricks], [mlflow.old], "
            "[mlflow.new])"
        )
    store = ctx.open_store()
    from cockpit import debuglog

    debuglog.configure(store.path)  # tracebacks of internal errors (never on the terminal)
    pollers = [Poller(s, store) for s in sources]
    recorder = Recorder(pollers)
    keep_stats = StatsKeeper(store, config, quiet=ctx.args.quiet)
    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    started = time.time()
    store.append_event(
        "recorder.started", {"sources": [s.name for s in sources], "pid": os.getpid()}
    )
    if not ctx.args.quiet:
        names = ", ".join(s.name for s in sources)
        print(f"recording {names} into {store.path} (Ctrl-C to stop)", file=sys.stderr)
    keep_stats()  # a file that already holds runs or samples: its latest moment
    shown: dict[str, str] = {}

    def report_changes() -> None:
        for poller in pollers:
            status = poller.status.status
            if shown.get(poller.source.name) != status and not ctx.args.quiet:
                error = (
                    f" ({poller.status.last_error})"
                    if status != "ok" and poller.status.last_error
                    else ""
                )
                if status == INTERNAL_ERROR and debuglog.path() is not None:
                    error += f"; traceback in {debuglog.path()}"
                # Errors quote remote sources (workspace, MLflow): no controls through.
                print(terminal(f"{poller.source.name}: {status}{error}"), file=sys.stderr)
            shown[poller.source.name] = status

    recorder.start()
    try:
        polls_seen = 0
        while not stop.is_set():
            if ctx.args.duration is not None and time.time() - started >= ctx.args.duration:
                break
            stop.wait(0.2)
            polls = sum(p.status.polls for p in pollers)
            if polls != polls_seen:  # a poll ended: it may have written runs
                polls_seen = polls
                keep_stats()
            report_changes()
    finally:
        recorder.stop(now=stop.is_set())  # a signal: no first poll still owed
        keep_stats()  # the polls that ended while stopping
        report_changes()  # and how they ended (a first poll longer than --duration, say)
        store.append_event(
            "recorder.stopped",
            {
                "seconds": round(time.time() - started, 1),
                "polls": {p.source.name: p.status.polls for p in pollers},
            },
        )
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if ctx.wants_json:
        ctx.print_json(
            {
                "state": str(store.path),
                "seconds": round(time.time() - started, 1),
                "sources": [
                    {
                        "name": p.source.name,
                        "status": p.status.status,
                        "polls": p.status.polls,
                        "last_error": p.status.last_error,
                    }
                    for p in pollers
                ],
            }
        )
    return EXIT_OK


class StatsKeeper:
    """Stores the benchmark statistics of every moment the recorder recorded (each event's time,
    and the latest) whose run history or samples no stored row names, on the recorder's main
    thread.

    Poller threads never import numpy or scipy (unsafe there, see cockpit.polling), so without
    this a moment no live cockpit looked at had no stored row, and time travel to it imported
    them and computed (~1 s a step). Each moment's key is cheap (a few indexed queries); the
    statistics are computed only for a key not seen before. Moments, not only the latest: polls
    can end faster than the statistics are computed, and the moments in between would be missed.
    """

    def __init__(self, store: StateStore, config: CockpitConfig, *, quiet: bool) -> None:
        self.store = store
        self.config = config
        self.quiet = quiet
        self._done: int | None = None  # events up to this id are done
        self._warned = False

    def __call__(self) -> None:
        from cockpit.bench.data import keep_stats_at
        from cockpit.errors import ConfigError

        try:
            if self._done is None:
                # This recording's moments only: an older file's are not recomputed at start.
                self._done = self.store.last_event_id()
                keep_stats_at(self.store, self.config, None)
                return
            # By id, not time: an event's time is taken before it waits for the write lock.
            for event_id, ts in self.store.event_moments_after(self._done):
                # Done before it is tried: a moment that fails is given up (the viewers compute
                # it), not tried again at every poll with every moment after it.
                self._done = event_id
                keep_stats_at(self.store, self.config, ts)
            keep_stats_at(self.store, self.config, None)
        except ConfigError:
            return  # the file does not say which runtimes are compared: nothing to compute
        except Exception as exc:  # recording goes on; the viewers compute what is missing
            log.exception("storing the benchmark statistics failed")
            if not self._warned and not self.quiet:
                import sys

                from cockpit import debuglog
                from cockpit.textsafe import terminal

                where = f"; traceback in {debuglog.path()}" if debuglog.path() else ""
                message = debuglog.one_line(exc)
                print(
                    terminal(f"benchmark statistics not stored ({message}){where}"),
                    file=sys.stderr,
                )
            self._warned = True
