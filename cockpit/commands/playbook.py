"""``cockpit playbook``: a Markdown runbook of the migration as executed."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 86


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "playbook",
        help="write a Markdown runbook of the migration as executed",
        description="From the state file: the phases with their times, every step taken, the "
        "decisions and who made them, the gotchas noted during walkthroughs, the rules that fired "
        "most, and how long each part took. Keep it for the next upgrade.",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    parser.add_argument(
        "--format",
        choices=("markdown", "json"),
        default="markdown",
        help="json: the phases' steps and every event, each with its sentence and raw payload",
    )
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="the runbook as executed up to an ISO time (UTC), e.g. 2026-11-02T10:00",
    )
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    import sys

    from cockpit.cli.report_io import parse_as_of, write_output
    from cockpit.cutover.playbook import playbook_json, playbook_markdown

    as_of = parse_as_of(ctx.args.as_of)
    with ctx.open_store(readonly=True, create=False) as store:
        if ctx.wants_json and not ctx.args.output:
            ctx.print_json(playbook_json(store, ctx.config, as_of=as_of))
            return EXIT_OK
        if ctx.wants_json:
            from cockpit.textsafe import json_text

            text = json_text(playbook_json(store, ctx.config, as_of=as_of), indent=2) + "\n"
        else:
            text = playbook_markdown(store, ctx.config, as_of=as_of)
    write_output(text, ctx.args.output)
    if ctx.args.output:
        print(f"wrote {ctx.args.output}", file=sys.stderr)
    return EXIT_OK
