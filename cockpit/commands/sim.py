"""``cockpit sim workspace``: serve a local Databricks workspace from a scenario file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sim",
        help="local simulators of remote sources (demo and tests)",
        description="Local stand-ins for the remote sources, bound to 127.0.0.1.",
    )
    ssub = parser.add_subparsers(dest="sim_command", metavar="WHAT", required=True)
    ws = ssub.add_parser(
        "workspace",
        help="serve a Databricks workspace (jobs, runs, spark versions, probes) from a scenario",
        description="Serve the Databricks REST API subset the cockpit uses, from a scenario JSON "
        "(see sample_state/scenarios/kyros_workspace.json), on 127.0.0.1 until Ctrl-C. Point the "
        'cockpit at it with [databricks] host = "http://127.0.0.1:PORT" and DATABRICKS_TOKEN '
        "set to one of the scenario's tokens. Faults can also be switched while it runs: "
        "POST /_sim/faults with a JSON object of the options below, named with underscores "
        "(delay_s, rate_limit, retry_after, error_burst, error_status, error_after, drop; admin "
        "token); GET /_sim/stats counts requests per path.",
    )
    ws.add_argument("--scenario", required=True, metavar="FILE")
    ws.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    ws.add_argument("--pending-s", type=float, help="seconds a submitted run stays PENDING")
    ws.add_argument("--running-s", type=float, help="seconds a submitted run stays RUNNING")
    ws.add_argument("--delay-s", type=float, default=0.0, help="slow every API response")
    ws.add_argument(
        "--rate-limit", type=int, default=0, metavar="N", help="answer the next N requests 429"
    )
    ws.add_argument(
        "--retry-after", type=int, default=1, metavar="S", help="Retry-After of 429/503 (seconds)"
    )
    ws.add_argument(
        "--error-burst",
        type=int,
        default=0,
        metavar="N",
        help="answer the next N requests with --error-status",
    )
    ws.add_argument("--error-status", type=int, default=503, choices=(500, 502, 503, 504))
    ws.add_argument(
        "--error-after", type=int, default=0, metavar="N", help="start the burst after N requests"
    )
    ws.add_argument(
        "--drop",
        type=int,
        default=0,
        metavar="N",
        help="drop the connection of the next N requests",
    )
    ws.set_defaults(handler=run_workspace)


def run_workspace(ctx: CliContext) -> int:
    import signal
    import sys
    import threading

    from cockpit.databricks.scenario import load_scenario
    from cockpit.databricks.simulator import WorkspaceSimulator

    args = ctx.args
    if not 0 <= args.port <= 65535:
        raise CockpitError(f"--port {args.port} is not a TCP port")
    scenario = load_scenario(args.scenario)
    try:
        sim = WorkspaceSimulator(
            scenario, port=args.port, pending_s=args.pending_s, running_s=args.running_s
        )
    except OSError as exc:
        raise CockpitError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror}") from None
    sim.faults.set(
        delay_s=args.delay_s,
        rate_limit=args.rate_limit,
        retry_after=args.retry_after,
        error_burst=args.error_burst,
        error_status=args.error_status,
        error_after=args.error_after,
        drop=args.drop,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sim.start()
    print(
        f"serving {scenario.name or args.scenario!s} ({len(scenario.jobs)} jobs, "
        f"{len(scenario.runs)} runs) on {sim.url} (Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    try:
        stop.wait()
    finally:
        sim.stop()
    return EXIT_OK
