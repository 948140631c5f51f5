"""``cockpit demo``: a live Kyros migration on real local servers, opened in the TUI."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 3


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="a live demo: real MLflow 1.x and 2.x servers, a workspace simulator, a recorder",
        description="Start, on 127.0.0.1 only: a real MLflow 1.30.1 server (the old generation) "
        "seeded with Kyros' history by MLflow 1.x's own client and kept busy by a pipeline that "
        "goes on logging runs, a real MLflow 2.22.5 server (the new one) partly synced, the "
        "Databricks workspace simulator with the Kyros scenario, and a recorder. Then open the "
        "cockpit live on all of it. Everything is stopped and removed when you quit (q), on "
        "Ctrl-C, or on SIGTERM. The first run installs the MLflow virtualenvs (about a minute).",
    )
    parser.add_argument("--workdir", metavar="DIR", help="default: a new temporary folder")
    parser.add_argument("--keep", action="store_true", help="keep the workdir (state file, logs)")
    parser.add_argument(
        "--live-writes",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="a new run on the old server every SECONDS (0: none); default 20",
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme, as for `cockpit open` (cockpit-high-contrast for projectors)",
    )
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    import os
    import signal
    import sys
    import tempfile
    from pathlib import Path

    from cockpit.config import load_config
    from cockpit.demo.orchestrator import start
    from cockpit.store import StateStore
    from screens.themes import checked_theme

    theme = checked_theme(ctx.args.theme)  # before anything starts: a bad name is one line
    workdir = (
        Path(ctx.args.workdir)
        if ctx.args.workdir
        else Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
    )

    def say(message: str) -> None:
        print(f"demo: {message}", file=sys.stderr, flush=True)

    # SIGTERM must unwind through the finally below like Ctrl-C does, so nothing is left running.
    def on_term(signum, _frame):
        raise KeyboardInterrupt

    # SIGHUP too: closing the terminal (or its tmux session) must clean up like Ctrl-C.
    previous = {sig: signal.signal(sig, on_term) for sig in (signal.SIGTERM, signal.SIGHUP)}
    demo = None
    try:
        demo = start(
            workdir, progress=say, keep=ctx.args.keep, live_writes_every_s=ctx.args.live_writes
        )
        os.environ.update(demo.env)  # the TUI's own actions (sync, probe) use the same tokens
        config = load_config(demo.config_path)
        say(f"ready; state file {demo.state_path}; opening the cockpit (q quits and cleans up)")
        store = StateStore.open(demo.state_path)
        from cockpit import debuglog
        from cockpit.polling import Poller, configured_sources, prepare_pollers

        debuglog.configure(demo.state_path)
        # The recorder (its own process) polls; the TUI's actions (poll now, sync, probe) use the
        # same clients from worker threads: import them here, on the main thread, first.
        prepare_pollers([Poller(source, store) for source in configured_sources(config)])
        from screens.app import CockpitApp

        # The recorder polls; the TUI follows the file it writes and acts on request.
        app = CockpitApp(store=store, config=config, offline=False, sources=[], theme=theme)
        try:
            app.run()
        finally:
            store.close()
    except KeyboardInterrupt:
        say("interrupted")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if demo is not None:
            say("stopping everything the demo started")
            demo.stop()
            if ctx.args.keep:
                say(f"kept {workdir}")
    return EXIT_OK
