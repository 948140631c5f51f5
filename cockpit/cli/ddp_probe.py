"""``cockpit probe ddp``: the DDP smoke probe from the command line (light top-level imports:
this module is imported to build ``--help``). CLI code, so it lives in the CLI layer; the probe
itself is :mod:`cockpit.ddp.probe`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext


def add_ddp_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("DDP smoke probe (`cockpit probe ddp`)")
    group.add_argument(
        "--runtime", metavar="RUNTIME", help="runtime id to probe (default: [migration] to)"
    )
    group.add_argument("--processes", type=int, default=2, metavar="N", help="ranks (default 2)")
    group.add_argument("--gpu", action="store_true", help="nccl on a GPU node instead of gloo")
    group.add_argument("--steps", type=int, default=5, metavar="K", help="training steps")
    group.add_argument(
        "--inject",
        choices=("ranks-disagree",),
        help="make the last rank corrupt its gradients (shows a failure is caught)",
    )
    group.add_argument(
        "--show", action="store_true", help="show the last recorded DDP probe; submit nothing"
    )


def run_ddp(ctx: CliContext) -> int:
    from cockpit.ddp.probe import DdpProbeOptions, check_options, run_ddp_probe

    args = ctx.args
    if args.show:
        return _show(ctx)
    options = DdpProbeOptions(
        processes=args.processes,
        gpu=args.gpu,
        steps=args.steps,
        node_type_id=args.node_type,
        poll_interval_s=args.poll_interval,
        timeout_s=args.timeout,
        inject=args.inject,
    )
    check_options(options)
    runtime_id = args.runtime or _target(ctx)
    from cockpit.cli.workspace import connect

    adapter = connect(ctx)
    from cockpit.cli.progress import RunWatch

    with RunWatch() as watch, ctx.open_store() as store:
        record = run_ddp_probe(
            adapter,
            store,
            runtime_id,
            options=options,
            on_progress=watch.progress,
            cancel=watch.cancel,
        )
        closed = _closed_items(store, record)
    _print(ctx, record, closed)
    return EXIT_OK if record.passed else EXIT_FINDINGS


def _target(ctx: CliContext) -> str:
    from cockpit.errors import CockpitError

    if ctx.config is not None:
        return ctx.config.migration.to_runtime
    store = ctx.maybe_store()
    if store is not None:
        with store:
            target = store.get_meta("migration.to")
        if target:
            return target
    raise CockpitError("say which runtime to probe: --runtime 16.4-lts-ml (no cockpit.toml here)")


def _closed_items(store, record) -> list[str]:
    from cockpit.compat.checklist import items_noted
    from cockpit.ddp.checklist import ITEM_KEY, note_prefix

    return [
        f"{pipeline} -> {status}"
        for pipeline, status in items_noted(store, ITEM_KEY, note_prefix(record.id))
    ]


def _show(ctx: CliContext) -> int:
    from cockpit.ddp.records import read_ddp_probes
    from cockpit.errors import CockpitError

    with ctx.open_store(readonly=True) as store:
        probes = read_ddp_probes(store, runtime_id=ctx.args.runtime)
        if not probes:
            raise CockpitError("no DDP probe recorded yet (`cockpit probe ddp` runs one)")
        record = probes[0]
        closed = _closed_items(store, record)
    _print(ctx, record, closed, output=True)
    return EXIT_OK if record.passed else EXIT_FINDINGS


def _print(ctx: CliContext, record, closed: list[str], *, output: bool = False) -> None:
    from cockpit.textsafe import terminal

    if ctx.args.format == "json":
        ctx.print_json(
            {
                "id": record.id,
                "runtime_id": record.runtime_id,
                "spark_version": record.spark_version,
                "run_id": record.run_id,
                "processes": record.processes,
                "backend": record.backend,
                "state": record.state,
                "message": record.message,
                "result": record.result,
                "checklist": closed,
                **({"output": record.output} if output or not record.passed else {}),
            }
        )
        return
    print(
        terminal(
            f"DDP probe #{record.id} on {record.runtime_id} ({record.spark_version}, run "
            f"{record.run_id}): {record.state.upper()}"
        )
    )
    print(terminal(f"  {record.message}"))
    for check in record.checks:
        mark = "ok  " if check.get("ok") else "FAIL"
        print(terminal(f"  {mark} {check.get('name')}: {check.get('detail')}"))
    timings = record.result.get("timings_s")
    if isinstance(timings, dict) and timings:
        print(
            terminal("  timings: " + ", ".join(f"{k} {float(v):.3f}s" for k, v in timings.items()))
        )
    for line in closed:
        print(terminal(f"  checklist: {line} (distributed training runs on the target)"))
    if not closed:
        print("  checklist: no Horovod pipeline closed (none recorded, or not the target runtime)")
    if (output or not record.passed) and record.output:
        print("  output (tail):")
        for line in record.output.splitlines()[-20:]:
            print(terminal(f"    {line}"))
