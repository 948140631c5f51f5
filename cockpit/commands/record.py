"""``cockpit record``: run every poller headless, writing the state file, until stopped."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 80


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "record",
        help="poll every configured source headless, writing the state file",
        description="Run the pollers of every source in cockpit.toml (Databricks workspace, both "
        "MLflow servers) without a UI, writing to the state file. Any number of viewers can follow "
        "the file meanwhile (`cockpit open FILE --offline`). Stops cleanly on Ctrl-C or SIGTERM.",
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop by itself after this long"
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
    recorder.start()
    try:
        shown: dict[str, str] = {}
        while not stop.is_set():
            if ctx.args.duration is not None and time.time() - started >= ctx.args.duration:
                break
            stop.wait(0.2)
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
    finally:
        recorder.stop()
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
