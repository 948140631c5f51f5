"""``cockpit fix PATH... [--apply]``: safe mechanical rewrites, shown as a diff first."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 23

EPILOG = """\
What is rewritten: renamed MLflow / Python / pandas APIs whose rule is marked autofix
(`cockpit rules list` shows them) and spark_version in bundles and job JSON (to the target's key
of the same flavour). Python keeps its formatting and comments (libcst); YAML keeps comments and
order. Anything not certain is left alone and listed.

examples:
  cockpit fix pipelines/ --mlflow-from 1.30.1          show the diff
  cockpit fix pipelines/ --mlflow-from 1.30.1 --apply  write it
"""


def register(sub: argparse._SubParsersAction) -> None:
    from cockpit.cli.crossing_args import add_crossing_options, add_scan_limit_option

    parser = sub.add_parser(
        "fix",
        help="rewrite what is safe to rewrite (diff by default, --apply writes)",
        description="Apply the mechanical fixes for findings of `cockpit check`.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", metavar="PATH", nargs="+")
    add_crossing_options(parser)
    add_scan_limit_option(parser)
    parser.add_argument("--apply", action="store_true", help="write the changes")
    parser.add_argument(
        "--target",
        action="append",
        metavar="NAME",
        help="only this bundle target (repeatable; default: every target)",
    )
    parser.add_argument(
        "--format",
        choices=("diff", "json"),
        default="diff",
        help="json: each file's fixes (and its diff) as one JSON object",
    )
    parser.set_defaults(handler=run_fix)


def run_fix(ctx: CliContext) -> int:
    from cockpit.cli.crossing_args import crossing_from_args, max_file_bytes
    from cockpit.compat import autofix
    from cockpit.compat.scan import Scanner
    from cockpit.textsafe import terminal

    scanner = Scanner(crossing_from_args(ctx), max_file_bytes=max_file_bytes(ctx))
    scanner.jobs.targets = tuple(ctx.args.target) if ctx.args.target else None
    result = scanner.scan_paths(ctx.args.paths)
    fixes = autofix.plan(result)
    changed = [f for f in fixes if f.changed]
    if not ctx.args.apply and not ctx.wants_json:
        for fix in changed:
            # File names in the headers and the scanned lines themselves are outside text: a
            # control character is shown as \x.. (this diff is for reading; --apply writes).
            sys.stdout.write(terminal(fix.diff(), multiline=True))
    for fix in fixes:
        for finding, why in fix.skipped:
            print(
                terminal(
                    f"left alone: {finding.path}:{finding.line}:{finding.column} "
                    f"{finding.code}: {why}"
                ),
                file=sys.stderr,
            )
    count = sum(len(f.fixed) for f in fixes)
    if ctx.wants_json:
        ctx.print_json(_fix_json(fixes, changed, count, applied=ctx.args.apply))
    if ctx.args.apply:
        written = autofix.apply(changed)
        print(f"fixed {count} findings in {written} files", file=sys.stderr)
    elif changed:
        print(
            f"{count} findings in {len(changed)} files can be fixed: run again with --apply",
            file=sys.stderr,
        )
    else:
        print("nothing to fix", file=sys.stderr)
    return EXIT_OK


def _fix_json(fixes, changed, count: int, *, applied: bool) -> dict:
    return {
        "applied": applied,
        "fixable": count,
        "files": [
            {
                "path": str(f.path),
                "fixed": [{"code": x.code, "line": x.line, "column": x.column} for x in f.fixed],
                "diff": f.diff(),
            }
            for f in changed
        ],
        "left_alone": [
            {"path": str(x.path), "line": x.line, "column": x.column, "code": x.code, "why": why}
            for f in fixes
            for x, why in f.skipped
        ],
    }
