"""``cockpit bench report|collect|rerun``: is each pipeline slower or worse on the new runtime?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_FINDINGS, EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 40

REPORT_EPILOG = """\
Per pipeline and metric: medians per runtime, ratio new/old with a 95% bootstrap CI, a
Mann-Whitney U p-value and a verdict. A regression needs both: the ratio worse than the threshold
([benchmarks] threshold, default 1.10) AND p < alpha (default 0.05); fewer than min_runs runs on
either runtime gives "insufficient data".

exit code: 0 no regression, 1 at least one regression, 2 usage or input error.

examples:
  cockpit bench report
  cockpit bench report --format json
  cockpit bench report --format html -o benchmarks.html    (opens offline: plotly.js embedded)
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "bench",
        help="regression benchmarks: old vs new runtime per pipeline, shadow re-runs",
        description="Regression benchmarks from the run history and shadow re-runs in the "
        "state file: medians, ratio with confidence interval, significance, verdict.",
    )
    bsub = parser.add_subparsers(dest="bench_command", metavar="ACTION", required=True)

    report = bsub.add_parser(
        "report",
        help="the verdict per pipeline and metric (table, JSON or offline HTML)",
        epilog=REPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("--format", choices=("table", "json", "html"), default="table")
    report.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here instead of stdout (the table format is written as CSV)",
    )
    report.set_defaults(handler=run_report)

    collect = bsub.add_parser(
        "collect",
        help="read each pipeline's configured MLflow metrics from the old and new servers",
        description="For every [benchmarks.pipelines.<name>] with an experiment and metrics: "
        "read the experiment's finished runs on the old server (old runtime) and the new server "
        "(new runtime) and store each run's metric values as benchmark samples. Runs already "
        "stored are skipped. The old server is only read.",
    )
    collect.add_argument(
        "pipelines", nargs="*", metavar="PIPELINE", help="only these (default: all configured)"
    )
    add_text_or_json(collect, "the samples added and the notes")
    collect.set_defaults(handler=run_collect)

    _register_rerun(bsub)


def _open_for_reading(ctx: CliContext):
    store = ctx.maybe_store()
    if store is None:
        raise CockpitError(
            f"no state file at {ctx.state_path()} (run `cockpit init` or pass --state)"
        )
    return store


def run_report(ctx: CliContext) -> int:
    from cockpit.bench.report import (
        COLUMNS,
        VERDICT_STYLE,
        build_report,
        table_rows,
        to_html,
        to_json,
    )

    store = _open_for_reading(ctx)
    try:
        report = build_report(store, ctx.config)
    finally:
        store.close()
    fmt = ctx.args.format
    if fmt == "json" and not ctx.args.output:
        ctx.print_json(to_json(report))  # the JSON envelope, written when the command returns
        text = None
    elif fmt == "json":
        import json

        text = json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    elif fmt == "html":
        text = to_html(report)
    else:
        text = None
    if ctx.args.output:
        if text is None:
            from cockpit.output import csv_text

            # A table written to a file is more useful as CSV than as box-drawing characters.
            text = csv_text(COLUMNS, table_rows(report))
        _write_file(Path(ctx.args.output), text)
        ctx.say(f"wrote {ctx.args.output} ({len(report.comparisons)} comparisons)")
    elif fmt == "json":
        pass
    elif text is not None:
        import sys

        sys.stdout.write(text)
    else:
        from cockpit.output import rich_table

        counts = ", ".join(f"{n} {v}" for v, n in report.counts.items() if n) or "no samples"
        title = f"Benchmarks {report.old_runtime} → {report.new_runtime}: {counts}"
        styles = [VERDICT_STYLE[c.verdict] or None for c in report.comparisons]
        ctx.console.print(rich_table(title, COLUMNS, table_rows(report), styles))
    regressions = report.counts["regression"]
    return EXIT_FINDINGS if regressions else EXIT_OK


def _write_file(path: Path, text: str) -> None:
    # Write next to the target and rename, so an interrupted export never leaves half a file.
    tmp = path.with_name(path.name + ".partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CockpitError(f"cannot write {path}: {exc.strerror or exc}") from None


def run_collect(ctx: CliContext) -> int:
    from cockpit.bench.mlflow_metrics import import_mlflow_metrics

    config = ctx.require_config()
    unknown = [p for p in ctx.args.pipelines if p not in config.benchmarks.pipelines]
    if unknown:
        raise CockpitError(
            f"{unknown[0]!r} is not under [benchmarks.pipelines] in the config "
            f"(configured: {', '.join(sorted(config.benchmarks.pipelines)) or 'none'})"
        )
    from cockpit.cli.progress import Activity

    with ctx.open_store() as store, Activity("collect") as step:

        def said(line: str) -> None:
            step(None, None, line)
            ctx.say(line)

        result = import_mlflow_metrics(
            store, config, pipelines=ctx.args.pipelines or None, progress=said
        )
    for note in result.notes:
        ctx.say(f"note: {note}")
    ctx.say(f"{result.added} new samples")
    if ctx.wants_json:
        ctx.print_json(
            {"added": result.added, "runs_seen": result.runs_seen, "notes": list(result.notes)}
        )
    return EXIT_OK


def _register_rerun(bsub) -> None:
    rerun = bsub.add_parser(
        "rerun",
        help="re-run a pipeline's job on the target runtime as tagged shadow runs",
        description="Submit the job's tasks with spark_version overridden to the target runtime "
        "(run name prefixed [cockpit-shadow], tag cockpit_shadow=true), follow them to completion "
        "and add their durations to the benchmark samples.",
    )
    rerun.add_argument(
        "pipeline", metavar="PIPELINE", help="the job's name, e.g. kyros-churn-train"
    )
    rerun.add_argument(
        "--runtime", help="target runtime id (default: [migration] to, e.g. 16.4-lts-ml)"
    )
    rerun.add_argument(
        "-n", dest="count", type=int, default=3, metavar="K", help="how many runs (default 3)"
    )
    rerun.add_argument(
        "--poll-interval",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds between status checks (default 10)",
    )
    add_text_or_json(rerun, "the shadow runs and the pipeline's verdicts")
    rerun.set_defaults(handler=run_rerun)


def run_rerun(ctx: CliContext) -> int:
    """`cockpit bench rerun PIPELINE [--runtime R] [-n K]`: submit, follow, record, summarise."""
    from cockpit.bench.data import compare_store
    from cockpit.bench.rerun import AdapterRunClient, shadow_rerun
    from cockpit.errors import CockpitError

    args = ctx.args
    if not 1 <= args.count <= 50:
        raise CockpitError(f"-n must be between 1 and 50 (got {args.count})")
    if args.poll_interval <= 0:
        raise CockpitError("--poll-interval must be positive")
    config = ctx.config
    runtime = args.runtime or (config.migration.to_runtime if config else None)
    profile = getattr(args, "profile", None)
    with ctx.open_store() as store:
        runtime = runtime or store.get_meta("migration.to")
        if not runtime:
            raise CockpitError("no target runtime: pass --runtime (e.g. 16.4-lts-ml)")
        client = AdapterRunClient(ctx.services.workspace(profile=profile))
        result = shadow_rerun(
            store,
            client,
            args.pipeline,
            runtime=runtime,
            count=args.count,
            poll_interval_s=args.poll_interval,
            progress=ctx.say,
        )
        ctx.say(
            f"{result.succeeded}/{len(result.runs)} shadow runs of {result.pipeline} succeeded on "
            f"{result.spark_version}; {result.samples_added} durations added"
        )
        note = None
        try:
            verdicts = [c for c in compare_store(store, config) if c.pipeline == result.pipeline]
        except CockpitError as exc:  # e.g. no migration route recorded: the runs still count
            note = f"no verdict: {exc.message}"
            ctx.say(note)
            verdicts = []
        for c in verdicts:
            ratio = f"{c.ratio:.3f}" if c.ratio is not None else "–"
            ctx.say(f"{c.pipeline} {c.metric}: {c.verdict} (n {c.n_old}/{c.n_new}, ratio {ratio})")
    if ctx.wants_json:
        from dataclasses import asdict

        ctx.print_json(
            {
                **asdict(result),
                "succeeded": result.succeeded,
                "verdicts": [c.to_json() for c in verdicts],
                "note": note,
            }
        )
    return 0 if result.succeeded == len(result.runs) else 1
