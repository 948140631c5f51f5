"""``cockpit open``: the terminal UI on a state file, live or offline (read-only)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 2


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "open",
        help="open the terminal UI on a state file",
        description="Open the cockpit UI. Live (default) it polls the sources in cockpit.toml and "
        "writes to the state file; --offline opens the file read-only, polls nothing, and lets you "
        "step through its recorded history. A file another process is writing (a recorder) is "
        "followed as it grows.",
    )
    parser.add_argument(
        "state_file",
        nargs="?",
        metavar="STATE_FILE",
        help="default: --state, else [state] path in cockpit.toml, else ./cockpit.db",
    )
    parser.add_argument(
        "--offline", action="store_true", help="read-only review: no polling, no writes"
    )
    parser.add_argument(
        "--theme",
        metavar="NAME",
        help="colour theme: cockpit-high-contrast (for projectors) or any Textual theme "
        "(textual-dark, textual-light, nord, ...); ctrl+p also switches it",
    )
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    offline = ctx.args.offline
    from screens.themes import checked_theme

    theme = checked_theme(ctx.args.theme)
    # Open (and validate) the store before Textual starts, so a bad file is a one-line error.
    # Offline, a big file's integrity check runs after the first frame (the app does it).
    store = ctx.open_store(
        readonly=offline, create=not offline, explicit=ctx.args.state_file, defer_check=offline
    )
    if not store.readonly:
        from cockpit import debuglog

        debuglog.configure(store.path)  # tracebacks of a poller's internal errors
    from screens.app import CockpitApp

    app = CockpitApp(store=store, config=ctx.config, offline=offline or store.readonly, theme=theme)
    try:
        app.run()
    finally:
        store.close()
    return int(app.return_code or EXIT_OK)
