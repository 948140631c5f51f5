"""``cockpit probe SPARK_VERSION``: measure what a runtime really has installed, on a cluster."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 35

EPILOG = """\
Submits a one-time single-node run (a write call: it starts a cluster and is billed) that prints
the Python libraries and system facts as JSON, waits for it, and stores the result as runtime
PROBE-ID (default probe-SPARK_VERSION) in the state file. Ctrl-C cancels the run.

`cockpit probe ddp` instead runs the DDP smoke probe: a small PyTorch DDP job through
TorchDistributor (local mode, --processes ranks, gloo on CPU or nccl with --gpu) on RUNTIME's
spark_version; it checks the process group, an all-reduce and gradients equal across ranks, is
recorded in the state file, and on the migration's target passes or fails the checklist item
"distributed training runs on the target" of every pipeline that used Horovod. Exit 1 when the
probe failed (its output is kept: `cockpit probe ddp --show`).

examples:
  cockpit probe 16.4.x-cpu-ml-scala2.12
  cockpit runtimes diff 16.4-lts-ml probe-16.4.x-cpu-ml-scala2.12   (what the docs missed)
  cockpit probe ddp --runtime 16.4-lts-ml --processes 2
  cockpit probe ddp --show                                           (the last DDP probe)
"""


def register(sub: argparse._SubParsersAction) -> None:
    from cockpit.cli.workspace import add_connection_args

    parser = sub.add_parser(
        "probe",
        help="run a one-time probe on a spark_version and store what it has installed",
        description="Live runtime probe: submit a single-node run on SPARK_VERSION that prints its "
        "libraries and system facts, and store them as a runtime manifest you can diff.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "spark_version",
        metavar="SPARK_VERSION",
        help="e.g. 16.4.x-cpu-ml-scala2.12, or `ddp` for the DDP smoke probe",
    )
    parser.add_argument("--name", metavar="PROBE-ID", help="runtime id to store it under")
    parser.add_argument(
        "--node-type", help="node type of the single node (default i3.xlarge; GPU g4dn.12xlarge)"
    )
    from cockpit.cli.ddp_probe import add_ddp_args

    add_ddp_args(parser)
    parser.add_argument(
        "--timeout", type=float, default=1800.0, metavar="S", help="cancel the run after S seconds"
    )
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, metavar="S", help="seconds between polls"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_connection_args(parser)
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    from cockpit.cli.workspace import connect
    from cockpit.databricks.probe import ProbeOptions, probe_runtime
    from cockpit.errors import CockpitError

    args = ctx.args
    if args.spark_version == "ddp":  # no spark_version is called that
        from cockpit.cli.ddp_probe import run_ddp

        return run_ddp(ctx)
    if args.timeout <= 0 or args.poll_interval <= 0:
        raise CockpitError("--timeout and --poll-interval must be positive")
    adapter = connect(ctx)
    from cockpit.cli.progress import RunWatch

    with RunWatch() as watch, ctx.open_store() as store:
        result = probe_runtime(
            adapter,
            store,
            args.spark_version,
            runtime_id=args.name,
            options=ProbeOptions(
                node_type_id=args.node_type or "i3.xlarge",
                poll_interval_s=args.poll_interval,
                timeout_s=args.timeout,
            ),
            on_progress=watch.progress,
            cancel=watch.cancel,
        )
        where = store.path
    if args.format == "json":
        ctx.print_json(
            {
                "runtime_id": result.runtime_id,
                "spark_version": result.spark_version,
                "run_id": result.run_id,
                "libraries": result.libraries,
                "system": result.manifest["system"],
            }
        )
        return EXIT_OK
    print(
        f"probed {result.spark_version} in run {result.run_id}: {result.libraries} libraries, "
        f"python {result.manifest['system'].get('python')}; stored as {result.runtime_id} in {where}"
    )
    print(f"next: cockpit runtimes diff <runtime> {result.runtime_id}")
    return EXIT_OK
