"""The crossing a command scans for, from its options, the config, or the project's default."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.compat.rules import Crossing, build_crossing

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

# Without a config: the migration this cockpit was built for.
DEFAULT_FROM, DEFAULT_TO = "14.3-lts-ml", "16.4-lts-ml"


def add_crossing_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from",
        dest="from_runtime",
        metavar="RUNTIME",
        help=f"runtime migrated from (default: [migration] from, else {DEFAULT_FROM})",
    )
    parser.add_argument(
        "--to",
        dest="to_runtime",
        metavar="RUNTIME",
        help=f"runtime migrated to (default: [migration] to, else {DEFAULT_TO})",
    )
    parser.add_argument(
        "--mlflow-from",
        metavar="VERSION",
        help="MLflow client the pipelines use today (default: [pipelines] mlflow_from, else the "
        "from-runtime's preinstalled MLflow)",
    )
    parser.add_argument(
        "--old-server",
        metavar="URI",
        help="the old MLflow tracking server, to flag jobs still writing to it "
        "(default: [mlflow.old] tracking_uri)",
    )
    parser.add_argument(
        "--mlflow-to",
        metavar="VERSION",
        help="MLflow client after the migration (default: the to-runtime's preinstalled MLflow)",
    )


def add_scan_limit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-file-bytes",
        metavar="N",
        type=int,
        help="files larger than this are not read, and reported as CPT002 "
        "(default: [pipelines] max_file_bytes, else 16 MiB)",
    )


def max_file_bytes(ctx: CliContext) -> int:
    from cockpit.compat.sourcefiles import DEFAULT_MAX_BYTES
    from cockpit.errors import CockpitError

    chosen = getattr(ctx.args, "max_file_bytes", None)
    if chosen is None and ctx.config is not None:
        chosen = ctx.config.pipelines.max_file_bytes
    if chosen is not None and chosen < 1:
        raise CockpitError(f"--max-file-bytes must be at least 1, not {chosen}")
    return DEFAULT_MAX_BYTES if chosen is None else chosen


def crossing_from_args(ctx: CliContext) -> Crossing:
    args = ctx.args
    config = ctx.config
    from_rt = args.from_runtime or (config.migration.from_runtime if config else DEFAULT_FROM)
    to_rt = args.to_runtime or (config.migration.to_runtime if config else DEFAULT_TO)
    mlflow_from = args.mlflow_from or (config.pipelines.mlflow_from if config else None)
    overrides = {}
    if mlflow_from or args.mlflow_to:
        overrides["mlflow"] = (mlflow_from, args.mlflow_to)
    old_uri = args.old_server or (
        config.mlflow.old.tracking_uri if config and config.mlflow.old else None
    )
    store = ctx.maybe_store()
    try:
        return build_crossing(
            from_rt, to_rt, store=store, overrides=overrides, old_tracking_uri=old_uri
        )
    finally:
        if store is not None:
            store.close()
