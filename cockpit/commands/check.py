"""``cockpit check PATH...``: scan pipeline sources, notebooks, requirements, jobs and bundles."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

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
  cockpit inventory && cockpit check --workspace --format json     (the code jobs really run)

--workspace: for every job of the state file's inventory, the notebooks, workspace files,
Repos files and dbfs:/ files its tasks run, and the notebooks they %run, are fetched through
databricks-sdk (connection as for `cockpit inventory`), kept in the state file, and scanned at
the path the job names. A re-scan exports only what changed.
"""


def register(sub: argparse._SubParsersAction) -> None:
    from cockpit.cli.crossing_args import add_crossing_options, add_scan_limit_option

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
    add_scan_limit_option(parser)
    parser.add_argument("--format", choices=("table", "json", "sarif", "markdown"), default="table")
    parser.add_argument(
        "--record",
        action="store_true",
        help="also store the findings as the pipelines checklist in the state file "
        "(manual statuses, notes and sign-offs are kept)",
    )
    parser.add_argument(
        "--target",
        action="append",
        metavar="NAME",
        help="bundles: check only this target (repeatable; default: every target, each merged "
        "over the top-level resources as the Databricks CLI deploys it)",
    )
    parser.add_argument(
        "--workspace",
        action="store_true",
        help="also scan the code the inventory's workspace jobs run (run `cockpit inventory` "
        "first); combinable with PATH",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--profile", help="with --workspace: a profile in ~/.databrickscfg")
    group.add_argument(
        "--host", help="with --workspace: workspace URL (token from DATABRICKS_TOKEN)"
    )
    parser.add_argument(
        "--retry-timeout",
        type=int,
        default=60,
        metavar="S",
        help="with --workspace: how long to keep retrying a rate-limited workspace (default 60)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="with --workspace: scan the code stored by an earlier --workspace; no workspace call",
    )
    parser.set_defaults(handler=run_check)


def run_check(ctx: CliContext) -> int:
    from cockpit.cli.crossing_args import crossing_from_args, max_file_bytes
    from cockpit.compat.scan import Scanner

    if not ctx.args.paths and not ctx.args.workspace:
        config = ctx.config
        sources = [*config.pipelines.sources, *config.pipelines.bundles] if config else []
        if config is None or not sources:
            raise CockpitError(
                "nothing to scan: give PATH, or list [pipelines] sources in cockpit.toml",
                exit_code=EXIT_USAGE,
            )
        ctx.args.paths = [str(config.resolve(p)) for p in sources]
    crossing = crossing_from_args(ctx)
    scanner = Scanner(crossing, max_file_bytes=max_file_bytes(ctx))
    scanner.jobs.targets = tuple(ctx.args.target) if ctx.args.target else None
    # Each file's own evidence (%pip, requirements next to it) decides its MLflow client,
    # unless the user said which client the pipelines use.
    scanner.infer_mlflow = not (
        ctx.args.mlflow_from or (ctx.config.pipelines.mlflow_from if ctx.config else None)
    )
    result = scanner.scan_paths(ctx.args.paths)
    if ctx.args.workspace:
        result = _scan_workspace(ctx, scanner, result)
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


def _scan_workspace(ctx: CliContext, scanner, result):
    """Fetch (unless --offline) and scan the code of the inventory's jobs; the findings join
    ``result`` with the jobs themselves (their config findings, owners, pipelines)."""
    from cockpit.compat.workspace_code import locations, scan_workspace_code
    from cockpit.compat.workspace_jobs import add_workspace_jobs
    from cockpit.databricks.inventory import read_jobs
    from cockpit.databricks.workspace_code import fetch_code, read_code, record_code

    store = ctx.open_store(readonly=True, create=False) if ctx.args.offline else ctx.open_store()
    try:
        jobs = read_jobs(store)
        if not jobs:
            raise CockpitError(
                f"no workspace jobs in {ctx.state_path()}: run `cockpit inventory` first",
                exit_code=EXIT_USAGE,
            )
        objects = read_code(store)
        if not ctx.args.offline:
            from cockpit.cli.workspace import connect

            adapter = connect(ctx)
            from cockpit.cli.progress import Activity

            with Activity("workspace code") as step:
                objects, summary = fetch_code(
                    adapter, locations(jobs), known=objects, progress=step
                )
            record_code(store, objects, summary)
            print(
                f"workspace code: {summary.objects} objects, {summary.exported} exported, "
                f"{summary.unchanged} unchanged, {summary.missing} missing, "
                f"{summary.forbidden} forbidden",
                file=sys.stderr,
            )
        override = ctx.args.mlflow_from or (
            ctx.config.pipelines.mlflow_from if ctx.config is not None else None
        )
        mlflow = scanner.crossing.versions.get("mlflow", (None, None))[0]
        if override:
            default = f"MLflow {override} from --mlflow-from / [pipelines] mlflow_from"
        else:
            default = f"MLflow {mlflow}, preinstalled in {scanner.crossing.from_runtime}"
        from cockpit.databricks.clusters import cluster_libraries

        files = scan_workspace_code(
            scanner,
            result,
            jobs,
            objects,
            infer=not override,
            default_evidence=default,
            cluster_libraries=cluster_libraries(jobs),
        )
        result = add_workspace_jobs(store, result, files=files)
    finally:
        store.close()
    from cockpit.compat.findings import sort_key

    result.findings.sort(key=sort_key)
    return result
