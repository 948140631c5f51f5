"""``cockpit inventory``: the workspace's jobs, runtimes and tracking servers, headless."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.cli.workspace import add_connection_args, connect
from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 30

EPILOG = """\
Connection: [databricks] profile or host in cockpit.toml, or --profile / --host; the token comes
from DATABRICKS_TOKEN or the profile in ~/.databrickscfg (DATABRICKS_CONFIG_FILE), never from
cockpit.toml. Every run writes the inventory and the new runs into the state file.

exit codes: 0 ok, 2 bad input (unknown profile, no credentials), 3 the workspace could not be
reached or refused (bad token, missing permission, rate-limited past the retry budget).

examples:
  cockpit inventory
  cockpit inventory --format json --no-history
  cockpit inventory --host http://127.0.0.1:8765      (with `cockpit sim workspace`)
  cockpit inventory --stored                            (what the state file holds, offline)
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "inventory",
        help="jobs per runtime and per MLflow server, from the workspace (writes the state file)",
        description="Read every job of the Databricks workspace (tasks, clusters, spark_version "
        "per task, libraries, MLFLOW_TRACKING_URI, owner, schedule) and the runs newer than the "
        "last inventory; store them and print the summary.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_args(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--no-history", action="store_true", help="skip the run history")
    parser.add_argument(
        "--stored", action="store_true", help="print what the state file holds; no workspace call"
    )
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    from cockpit.databricks.inventory import read_jobs, summarize

    if ctx.args.stored:
        store = ctx.maybe_store()
        if store is None:
            from cockpit.errors import StateError

            raise StateError(f"no state file at {ctx.state_path()}")
        with store:
            jobs = read_jobs(store)
            runs = _runs_per_job(store)
        _print(ctx, jobs, summarize(jobs), runs, host=None, new_runs=None)
        return EXIT_OK
    from cockpit.cli.progress import Activity
    from cockpit.databricks.sources import sync_workspace

    adapter = connect(ctx)
    with ctx.open_store() as store, Activity("inventory") as step:
        summary = sync_workspace(adapter, store, history=not ctx.args.no_history, progress=step)
        jobs = read_jobs(store)
        runs = _runs_per_job(store)
    _print(ctx, jobs, summary, runs, host=adapter.host, new_runs=summary.get("new_runs"))
    return EXIT_OK


def _runs_per_job(store) -> dict[str, dict[str, int]]:
    from cockpit.databricks.history import runs_per_job_and_runtime

    return runs_per_job_and_runtime(store)


def _print(ctx: CliContext, jobs, summary, runs, *, host, new_runs) -> None:
    if ctx.args.format == "json":
        ctx.print_json(
            {
                "host": host,
                "jobs": [
                    {
                        **j.to_json(),
                        "runtime": j.runtime,
                        "spark_versions": list(j.spark_versions),
                        "tracking_uri": j.tracking_uri,
                        "runs_per_runtime": runs.get(j.name, {}),
                    }
                    for j in jobs
                ],
                "jobs_per_runtime": summary["jobs_per_runtime"],
                "jobs_per_tracking_server": summary["jobs_per_tracking_server"],
                "new_runs": new_runs,
            }
        )
        return
    from cockpit.output import rich_table

    c = ctx.console
    rows = []
    for j in jobs:
        notes = [lib.split(":", 1)[1] for lib in j.libraries]
        notes += [f"init {s.split(':', 1)[1]}" for s in j.init_scripts]
        per = runs.get(j.name, {})
        rows.append(
            [
                j.name,
                j.runtime,
                len(j.tasks),
                j.tracking_uri or "",
                j.owner,
                j.schedule or "(manual)",
                ", ".join(f"{n} on {rt}" for rt, n in sorted(per.items())),
                "; ".join(notes),
            ]
        )
    where = f" in {host}" if host else ""
    columns = ["job", "runtime", "tasks", "MLflow server", "owner", "schedule", "runs", "notes"]
    c.print(rich_table(f"Jobs{where} ({len(jobs)})", columns, rows))
    c.print(
        rich_table(
            "Jobs per runtime", ["runtime", "jobs"], list(summary["jobs_per_runtime"].items())
        )
    )
    c.print(
        rich_table(
            "Jobs per MLflow server",
            ["tracking server", "jobs"],
            list(summary["jobs_per_tracking_server"].items()),
        )
    )
    if new_runs is not None:
        c.print(f"{new_runs} new completed runs stored")
