"""``cockpit mlflow status|sync|mirror|verify``: the old MLflow server, copied to the new one.

Servers come from ``[mlflow.old]`` and ``[mlflow.new]`` in cockpit.toml; tokens from the
environment variables those sections name. The old server is only ever read.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import positive_float, positive_int
from cockpit.errors import EXIT_FINDINGS, EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext
    from cockpit.config import CockpitConfig
    from cockpit.mlflow.adapter import NewServer, OldServer
    from cockpit.mlflow.sync import SyncOptions

ORDER = 40

SYNC_EPILOG = """\
The copy is idempotent and resumable: run it again after any interruption and it finishes the job
without duplicates (each copy carries cockpit.source_* tags on the new server). Runs still RUNNING
on the old server are copied as they are and completed by a later sync or by `cockpit mlflow
mirror`. Exit codes: 0 copied, 1 some objects could not be copied (listed), 2 usage, 3 a server
could not be reached.

examples:
  cockpit mlflow sync --dry-run
  cockpit mlflow sync --experiment churn --experiment "fraud v2" --workers 8 --yes
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "mlflow",
        help="copy the old MLflow server to the new one, watch both, verify the copy",
        description="MLflow old -> new: live status of both servers, an idempotent resumable "
        "copy, continuous mirroring and a deep verify. The old server is never written to.",
    )
    msub = parser.add_subparsers(dest="mlflow_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--experiment",
            action="append",
            metavar="NAME",
            help="only this experiment (repeatable; default: all)",
        )
        p.add_argument("--workers", type=positive_int, default=4, help="parallel requests (4)")

    def rest_history(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--rest-history",
            action="store_true",
            help="read metric histories over REST even when [mlflow.old] db_uri names the "
            "old server's backend database (by default they are read from it, read-only: one "
            "query per run instead of one REST call per run and key)",
        )

    status = msub.add_parser("status", help="per-experiment counts and drift on both servers")
    common(status)
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.add_argument(
        "--no-record", action="store_true", help="do not store this poll in the state file"
    )
    status.set_defaults(handler=run_status)

    sync = msub.add_parser(
        "sync",
        help="copy experiments, runs, artifacts and models from old to new",
        epilog=SYNC_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(sync)
    sync.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    sync.add_argument("--yes", action="store_true", help="do not ask before writing")
    sync.add_argument("--no-registry", action="store_true", help="skip registered models")
    sync.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="json: the plan and the result as one JSON object (needs --yes or --dry-run)",
    )
    rest_history(sync)
    sync.set_defaults(handler=run_sync)

    mirror = msub.add_parser("mirror", help="keep copying new and changed runs until stopped")
    common(mirror)
    mirror.add_argument(
        "--interval",
        type=positive_float,
        default=None,
        help="seconds between cycles (default: [mlflow.old] poll_interval_s)",
    )
    mirror.add_argument("--cycles", type=positive_int, default=None, help="stop after N cycles")
    mirror.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: every cycle in one JSON object when the mirror stops (cycle lines on stderr)",
    )
    rest_history(mirror)
    mirror.set_defaults(handler=run_mirror)

    verify = msub.add_parser(
        "verify", help="compare every object old vs new (artifacts by checksum); exit 1 on any"
    )
    common(verify)
    verify.add_argument("--no-artifacts", action="store_true", help="skip artifact checksums")
    rest_history(verify)
    verify.add_argument("--format", choices=("table", "json"), default="table")
    verify.set_defaults(handler=run_verify)

    from cockpit.cli.mlflow_rehearsal import register_rehearse

    register_rehearse(msub)


# ------------------------------------------------------------------------------------ helpers
def _servers(ctx: CliContext) -> tuple[CockpitConfig, OldServer, NewServer]:
    """The config and both servers, validated and connected by the services (as the TUI's)."""
    old, new = ctx.services.mlflow_servers(workers=ctx.args.workers)
    return ctx.require_config(), old, new


def _options(ctx: CliContext) -> SyncOptions:
    return ctx.services.sync_options(
        experiments=ctx.args.experiment,
        workers=ctx.args.workers,
        dry_run=getattr(ctx.args, "dry_run", False),
        registry=not getattr(ctx.args, "no_registry", False),
        rest_history=getattr(ctx.args, "rest_history", False),
    )


# ------------------------------------------------------------------------------------ status
def run_status(ctx: CliContext) -> int:
    from cockpit.mlflow.status import poll_status

    config, old, new = _servers(ctx)
    summary = poll_status(
        old,
        new,
        experiments=ctx.args.experiment,
        workers=ctx.args.workers,
        old_db_uri=config.db_uri("old"),
        new_db_uri=config.db_uri("new"),
    )
    if not ctx.args.no_record:
        from cockpit.mlflow.records import record_poll

        with ctx.open_store() as store:
            record_poll(store, summary)
    if ctx.args.format == "json":
        from dataclasses import asdict

        ctx.print_json({**asdict(summary), "drift": summary.drift})
        return EXIT_OK
    from cockpit.output import rich_table

    c = ctx.console
    from cockpit.textsafe import markup as m

    # Versions and schemas are what the servers said: data, never markup.
    c.print(
        f"[bold]old[/] {m(summary.old_url)} ({m(summary.old_version)}"
        f"{', schema ' + m(summary.old_schema) if summary.old_schema else ''})  "
        f"[bold]new[/] {m(summary.new_url)} ({m(summary.new_version)}"
        f"{', schema ' + m(summary.new_schema) if summary.new_schema else ''})"
    )
    rows = [
        [
            e.name + (" (deleted)" if e.old_deleted_experiment else ""),
            f"{e.old_active}/{e.old_deleted}",
            f"{e.new_active}/{e.new_deleted}",
            e.missing,
            e.differing,
            e.running,
        ]
        for e in summary.experiments
    ]
    c.print(
        rich_table(
            "Experiments (runs active/deleted)",
            ["experiment", "old", "new", "missing", "differing", "running"],
            rows,
        )
    )
    if summary.models:
        c.print(
            rich_table(
                "Registered models",
                ["model", "old versions", "new versions", "missing", "new aliases"],
                [
                    [
                        m.name,
                        m.old_versions,
                        m.new_versions,
                        m.missing,
                        ", ".join(f"{a}→v{v}" for a, v in sorted(m.new_aliases.items())),
                    ]
                    for m in summary.models
                ],
            )
        )
    c.print(
        f"drift: {summary.missing} runs missing, {summary.differing} differing, "
        f"{summary.versions_missing} model versions missing ({summary.duration_s:.2f} s)"
    )
    return EXIT_OK


# ------------------------------------------------------------------------------------ sync
def run_sync(ctx: CliContext) -> int:
    from cockpit.mlflow.sync import Syncer

    if ctx.wants_json and not (ctx.args.yes or ctx.args.dry_run):
        raise CockpitError("--format json does not ask before writing: pass --yes or --dry-run")
    _, old, new = _servers(ctx)
    options = _options(ctx)
    store = None if options.dry_run else ctx.open_store()
    try:
        syncer = Syncer(old, new, store=store, options=options)
        plan = syncer.plan()
        if ctx.args.rest_history:
            syncer.history_note = "metric histories over REST (--rest-history)"
        report = {
            "old": old.url,
            "new": new.url,
            "dry_run": options.dry_run,
            "histories": syncer.history_note,
            "plan": _plan_json(plan),
            "copied": False,
            "result": None,
        }
        if ctx.wants_json:
            ctx.print_json(report)  # filled in below; written when the command returns
        else:
            _print_plan(ctx, plan, old, new, syncer.history_note)
        if options.dry_run:
            return EXIT_OK
        if plan.nothing_to_do:
            ctx.say("nothing to copy: the new server already has everything")
            return EXIT_OK
        if not ctx.args.yes and not _confirm(plan, new.url):
            print("nothing copied (not confirmed)")
            return EXIT_OK
        result = _run_with_progress(ctx, syncer, plan)
    finally:
        if store is not None:
            store.close()
    report.update(copied=True, result={**result.as_dict(), "errors": list(result.errors)})
    ctx.say(
        f"copied {result.runs_created} new and {result.runs_updated} changed runs "
        f"({result.metric_points} metric points, {result.artifacts} artifacts, "
        f"{result.artifact_bytes} bytes), {result.runs_unchanged} already up to date, "
        f"{result.versions_created} model versions, in {result.duration_s:.1f} s"
    )
    if result.histories_from_db:
        ctx.say(
            f"metric histories: {result.histories_from_db} runs from the old backend database, "
            f"{result.histories_over_rest} over REST"
        )
    from cockpit.textsafe import terminal

    for error in result.errors:  # errors quote server messages and names: no controls through
        print(f"error: {terminal(error)}", file=sys.stderr)
    return EXIT_FINDINGS if result.errors else EXIT_OK


def _plan_json(plan) -> dict:
    from dataclasses import asdict

    return {
        "runs_to_write": plan.runs_to_write,
        "versions_to_create": plan.versions_to_create,
        "nothing_to_do": plan.nothing_to_do,
        "experiments": [asdict(e) for e in plan.experiments],
        "models": [asdict(m) for m in plan.models],
    }


def _print_plan(ctx: CliContext, plan, old, new, history_note: str) -> None:
    from cockpit.output import rich_table

    c = ctx.console
    from cockpit.textsafe import markup as m

    c.print(
        f"[bold]plan[/] {m(old.url)} ({m(old.info.label)}) → {m(new.url)} ({m(new.info.label)})"
    )
    c.print(f"      {history_note}", markup=False, soft_wrap=True)
    rows = [
        [
            e.name + (" (deleted)" if e.deleted else ""),
            "create"
            if e.dest_id is None
            else f"rename from {e.renamed_from}"
            if e.renamed_from
            else "exists",
            e.runs_total,
            e.runs_create,
            e.runs_update,
            e.runs_lifecycle,
            e.runs_unchanged,
        ]
        for e in plan.experiments
    ]
    c.print(
        rich_table(
            "Experiments",
            ["experiment", "on new", "runs", "create", "update", "delete/restore", "unchanged"],
            rows,
        )
    )
    if plan.models:
        c.print(
            rich_table(
                "Registered models",
                ["model", "on new", "versions", "create"],
                [
                    [
                        m.name,
                        "create" if m.create_model else "exists",
                        m.versions_total,
                        m.versions_create,
                    ]
                    for m in plan.models
                ],
            )
        )


def _confirm(plan, url: str) -> bool:
    question = (
        f"Write {plan.runs_to_write} runs and {plan.versions_to_create} model versions to "
        f"{url}? [y/N] "
    )
    if not sys.stdin.isatty():
        raise CockpitError("not asking on a non-interactive input: pass --yes to copy")
    return input(question).strip().lower() in ("y", "yes")


def _run_with_progress(ctx: CliContext, syncer, plan):
    from cockpit.cli.progress import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("runs", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label[:40])

        syncer.progress = progress
        return syncer.run(plan)


# ------------------------------------------------------------------------------------ mirror
def run_mirror(ctx: CliContext) -> int:
    import signal

    from cockpit.textsafe import terminal

    _, old, new = _servers(ctx)
    interval = ctx.args.interval or ctx.services.mirror_interval_s()
    cycles: list[dict] = []
    if ctx.wants_json:
        ctx.print_json({"old": old.url, "new": new.url, "interval_s": interval, "cycles": cycles})
    with ctx.open_store() as store:

        def report(cycle) -> None:
            if cycle.error:
                cycles.append({"number": cycle.number, "error": cycle.error})
                print(f"cycle {cycle.number}: error: {terminal(cycle.error)}", file=sys.stderr)
                return
            r, p = cycle.result, cycle.poll
            cycles.append(
                {"number": cycle.number, "error": None, "result": r.as_dict(), "drift": p.drift},
            )
            ctx.say(
                f"cycle {cycle.number}: {r.runs_created} new, {r.runs_updated} changed runs, "
                f"{r.versions_created} model versions; drift {p.drift}"
            )

        mirror = ctx.services.mirror(
            old,
            new,
            store,
            source="cli",
            options=_options(ctx),
            interval_s=interval,
            on_cycle=report,
        )
        previous = signal.signal(signal.SIGTERM, lambda *_: mirror.stop())
        try:
            mirror.run(max_cycles=ctx.args.cycles)
        except KeyboardInterrupt:
            mirror.stop()
            print("mirror stopped", file=sys.stderr)
        finally:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


# ------------------------------------------------------------------------------------ verify
def run_verify(ctx: CliContext) -> int:
    from cockpit.cli.progress import Activity

    _, old, new = _servers(ctx)
    with Activity("verify") as step:  # stderr, only at a terminal
        report = ctx.services.verify(
            old,
            new,
            experiments=ctx.args.experiment,
            workers=ctx.args.workers,
            artifacts=not ctx.args.no_artifacts,
            rest_history=ctx.args.rest_history,
            progress=step,
        )
    with ctx.open_store() as store:
        report.record(store)
    if ctx.args.format == "json":
        from dataclasses import asdict

        ctx.print_json(
            {
                "experiments": report.experiments,
                "runs": report.runs,
                "artifacts": report.artifacts,
                "models": report.models,
                "versions": report.versions,
                "duration_s": round(report.duration_s, 3),
                "histories": report.history_note,
                "differences": [asdict(d) for d in report.differences],
            }
        )
    else:
        from cockpit.textsafe import terminal

        for diff in report.differences:  # names and values from both servers
            print(terminal(diff.line()))
        print(
            f"verified {report.experiments} experiments, {report.runs} runs, "
            f"{report.artifacts} artifacts, {report.models} models ({report.versions} versions): "
            f"{len(report.differences)} differences ({report.duration_s:.1f} s; "
            f"{report.history_note})"
        )
    return EXIT_FINDINGS if report.differences else EXIT_OK
