"""``cockpit check PATH...``: scan pipeline sources, notebooks, requirements, jobs and bundles."""

from __future__ import annotations

import argparse
import os
import sys

from cockpit.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CockpitError

ORDER = 20

EPILOG = """\
exit codes: 0 nothing blocking, 1 blocking findings, 2 usage or input error.

The JSON shape (--format json) is documented in the README: findings[] with code, name,
severity, path, line, column, message, fix, source (plus autofix and job), counts, suppressed[].
Suppress one finding in place with a comment on its line (or the line above):
  # cockpit: ignore[MLF101] reason why

examples:
  cockpit check pipelines/
  cockpit check pipelines/ --mlflow-from 1.30.1 --format markdown > report.md
  cockpit check databricks.yml --from 16.4-lts-ml --to 17.3-lts-ml --format sarif > out.sarif
"""


def register(sub: argparse._SubParsersAction) -> None:
    from cockpit.compat.crossing_args import add_crossing_options

    parser = sub.add_parser(
        "check",
        help="scan pipelines for what breaks on the target runtime and MLflow",
        description="Scan Python, notebooks, requirements, job JSON and Asset Bundles for "
        "breaking changes between two runtimes (and MLflow versions), rule by rule.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        metavar="PATH",
        nargs="*",
        help="files or folders to scan (default: [pipelines] sources and bundles of the config)",
    )
    add_crossing_options(parser)
    parser.add_argument("--format", choices=("table", "json", "sarif", "markdown"), default="table")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also store the findings as the pipelines checklist in the state file "
        "(manual statuses, notes and sign-offs are kept)",
    )
    parser.set_defaults(handler=run_check)


def run_check(ctx) -> int:
    from cockpit.compat.crossing_args import crossing_from_args
    from cockpit.compat.scan import Scanner

    if not ctx.args.paths:
        config = ctx.config
        sources = [*config.pipelines.sources, *config.pipelines.bundles] if config else []
        if not sources:
            raise CockpitError(
                "nothing to scan: give PATH, or list [pipelines] sources in cockpit.toml",
                exit_code=EXIT_USAGE,
            )
        ctx.args.paths = [str(config.resolve(p)) for p in sources]
    crossing = crossing_from_args(ctx)
    result = Scanner(crossing).scan_paths(ctx.args.paths)
    fmt = ctx.args.format
    if fmt == "json":
        from cockpit.compat.report import to_json

        ctx.print_json(to_json(result))
    elif fmt == "sarif":
        from cockpit.compat.sarif import to_sarif

        ctx.print_json(to_sarif(result))
    elif fmt == "markdown":
        from cockpit.compat.report import to_markdown

        sys.stdout.write(to_markdown(result))
    else:
        from cockpit.compat.report import render_table

        render_table(result, ctx.console)
    if ctx.args.record:
        from cockpit.compat.checklist import record_scan

        store = ctx.open_store()
        try:
            summary = record_scan(
                store, result, ctx.config, roots=list(ctx.args.paths), base_dir=os.getcwd()
            )
        finally:
            store.close()
        print(
            f"recorded scan {summary.scan_id}: {summary.pipelines} pipelines, "
            f"{summary.findings} findings in {ctx.state_path()}",
            file=sys.stderr,
        )
    return EXIT_FINDINGS if result.blocking else EXIT_OK
