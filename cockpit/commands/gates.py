"""``cockpit gates``: GO or NO-GO, from the state file. Exit 0 for GO, 1 for NO-GO."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 70
STATUS_STYLE = {
    "pass": "bold green",
    "fail": "bold red",
    "no data": "bold yellow",
    "waived": "bold cyan",
}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "gates",
        help="go/no-go: every cutover gate with its evidence (exit 0 GO, 1 NO-GO)",
        description="Compute the cutover gates from the state file: MLflow drift zero for N polls, "
        "last deep verify clean, DB upgrade rehearsed, every pipeline signed off, no benchmark "
        "regression, every job on the target runtime, target support runway. Thresholds come from "
        "[gates] in cockpit.toml. Exit code 0 means GO and 1 NO-GO, so a CI step can gate on it.",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--as-of", metavar="TIME", help="evaluate as of an ISO time (UTC)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also record gate changes in the state file (the recorder and the TUI always do)",
    )
    waiver = parser.add_mutually_exclusive_group()
    waiver.add_argument(
        "--waive",
        metavar="GATE",
        help="accept a gate that does not pass (needs --reason; recorded with who and when)",
    )
    waiver.add_argument("--unwaive", metavar="GATE", help="withdraw a gate's waiver")
    parser.add_argument("--reason", help="why the gate is waived (required with --waive)")
    parser.add_argument("--by", help="who waives it (default: $COCKPIT_USER, else your login name)")
    parser.set_defaults(handler=run)


def run_waiver(ctx: CliContext) -> None:
    from cockpit.cutover.gates import unwaive, waive

    args = ctx.args
    with ctx.open_store(create=False) as store:
        if args.waive:
            waive(store, args.waive, reason=args.reason or "", by=args.by or ctx.services.user())
        else:
            unwaive(store, args.unwaive, by=args.by or ctx.services.user())


def run(ctx: CliContext) -> int:
    from cockpit.cli.report_io import parse_as_of
    from cockpit.cutover.gates import evaluate, is_go, record_changes

    if ctx.args.waive or ctx.args.unwaive:
        if ctx.args.as_of:
            from cockpit.errors import CockpitError

            raise CockpitError("--waive/--unwaive record now; they do not take --as-of")
        run_waiver(ctx)
    as_of = parse_as_of(ctx.args.as_of)
    writable = ctx.args.record and as_of is None
    with ctx.open_store(readonly=not writable, create=False) as store:
        if writable and store.readonly:
            from cockpit.errors import ReadOnlyError

            # --record asked for a write: saying GO/NO-GO while recording nothing would hide it.
            raise ReadOnlyError(
                f"{store.path} is read-only ({store.note}): nothing recorded; "
                "run without --record to only evaluate the gates"
            )
        gates = evaluate(store, ctx.config, as_of=as_of)
        if writable:
            record_changes(store, gates, source="cli")
            gates = evaluate(store, ctx.config, as_of=as_of)  # picks up the new change times
    go = is_go(gates)
    if ctx.args.format == "json":
        ctx.print_json({"go": go, "gates": [g.to_json() for g in gates]})
    else:
        from rich.markup import escape
        from rich.table import Table

        from cockpit.reporting.sections import fmt_ts

        table = Table(title="Cutover gates", title_justify="left")
        for column in ("gate", "status", "evidence", "since"):
            table.add_column(column)
        for g in gates:
            table.add_row(
                escape(g.title),
                f"[{STATUS_STYLE[g.status]}]{g.status.upper()}[/]",
                escape(g.evidence),  # evidence quotes config keys like [mlflow.old]
                fmt_ts(g.changed_at),
            )
        ctx.console.print(table)
        verdict = "[bold black on green] GO [/]" if go else "[bold white on red] NO-GO [/]"
        ctx.console.print(verdict)
    return EXIT_OK if go else EXIT_FINDINGS
