"""``cockpit report``: the walkthrough report as one self-contained HTML or Markdown file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.cli.report_io import parse_as_of, write_output
from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 85


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="write the walkthrough report (HTML or Markdown)",
        description="Everything the cockpit knows, for the client team: runtime diff summary, "
        "checklist with sign-offs, MLflow sync status, benchmark verdicts, gates and the timeline. "
        "The HTML is one file with its charts embedded; it opens with no network. All user text "
        "is escaped and no secret is ever written.",
    )
    parser.add_argument("--format", choices=("html", "markdown"), default="html")
    parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="report the state as of an ISO time (UTC), e.g. 2026-11-02T10:00",
    )
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    from cockpit.document.render import to_html, to_markdown
    from cockpit.reporting.walkthrough import build_report

    as_of = parse_as_of(ctx.args.as_of)
    with ctx.open_store(readonly=True, create=False) as store:
        doc = build_report(store, ctx.config, as_of=as_of)
    text = to_html(doc) if ctx.args.format == "html" else to_markdown(doc)
    write_output(text, ctx.args.output)
    if ctx.args.output:
        import sys

        print(f"wrote {ctx.args.output}", file=sys.stderr)
    return EXIT_OK
