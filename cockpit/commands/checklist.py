"""``cockpit checklist``: the per-pipeline checklist recorded by ``cockpit check --record``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 22


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "checklist",
        help="show the pipelines checklist, set an item, sign a pipeline off",
        description="The checklist per pipeline: automatic items from `cockpit check --record` "
        "and manual items from the [checklist] template. Every change is recorded with who "
        "made it.",
    )
    csub = parser.add_subparsers(dest="checklist_command", metavar="ACTION", required=True)
    show = csub.add_parser("show", help="pipelines, items and progress")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=run_show)

    item = csub.add_parser("set", help="set an item's status, note or owner")
    item.add_argument("pipeline", metavar="PIPELINE", help="e.g. job:forecast_daily")
    item.add_argument("item", metavar="ITEM", help="e.g. rule:MLF101 or manual:owner-signed-off")
    item.add_argument("--status", choices=("todo", "pass", "fail", "waived"))
    item.add_argument("--note")
    item.add_argument("--owner")
    item.add_argument(
        "--by",
        default=None,
        help="who makes the change (default: $COCKPIT_USER, else your login name)",
    )
    add_text_or_json(item, "the item after the change")
    item.set_defaults(handler=run_set)

    sign = csub.add_parser("sign-off", help="sign a pipeline off (all items passed or waived)")
    sign.add_argument("pipeline", metavar="PIPELINE")
    sign.add_argument(
        "--by", default=None, help="who signs (default: $COCKPIT_USER, else your login name)"
    )
    sign.add_argument("--note", default="")
    add_text_or_json(sign, "the pipeline after the sign-off")
    sign.set_defaults(handler=run_sign_off)


def run_show(ctx: CliContext) -> int:
    from cockpit.compat.checklist import load_checklist, progress

    store = ctx.open_store(readonly=True, create=False)
    try:
        views = load_checklist(store)
    finally:
        store.close()
    ready, total = progress(views)
    if ctx.args.format == "json":
        ctx.print_json(
            {
                "ready": ready,
                "total": total,
                "pipelines": [
                    {
                        "id": v.pipeline_id,
                        "name": v.name,
                        "kind": v.kind,
                        "owner": v.owner,
                        "tracking_uri": v.tracking_uri,
                        "signed_off_by": v.signed_off_by,
                        "ready": v.ready,
                        "items": [
                            {
                                "key": i.item_key,
                                "title": i.title,
                                "status": i.status,
                                "severity": i.severity,
                                "findings": i.finding_count,
                                "owner": i.owner,
                                "note": i.note,
                            }
                            for i in v.items
                        ],
                    }
                    for v in views
                ],
            }
        )
        return EXIT_OK
    from rich.table import Table

    from cockpit.textsafe import markup as m

    ctx.console.print(f"[bold]{ready} of {total} pipelines ready[/]")
    table = Table(header_style="bold")
    for column in ("pipeline", "item", "status", "findings", "owner", "note"):
        table.add_column(column, overflow="fold")
    style = {"pass": "green", "fail": "bold red", "todo": "yellow", "waived": "cyan"}
    for v in views:
        # Pipeline names, titles, owners and notes come from scans and people: never markup.
        signed = f" [green](signed off by {m(v.signed_off_by)})[/]" if v.signed_off_by else ""
        for n, i in enumerate(v.items):
            table.add_row(
                f"{m(v.pipeline_id)}{signed}" if n == 0 else "",
                m(i.title),
                f"[{style[i.status]}]{i.status}[/]",
                str(i.finding_count) if i.kind == "auto" else "",
                m(i.owner or ""),
                m(i.note, multiline=True),
            )
    ctx.console.print(table)
    return EXIT_OK


def run_set(ctx: CliContext) -> int:
    from cockpit.compat.checklist import set_item

    args = ctx.args
    store = ctx.open_store(create=False)
    try:
        set_item(
            store,
            args.pipeline,
            args.item,
            by=args.by or ctx.services.user(),
            status=args.status,
            note=args.note,
            owner=args.owner,
        )
        if ctx.wants_json:
            ctx.print_json({"pipeline": args.pipeline, "item": _item_json(store, args)})
    finally:
        store.close()
    return EXIT_OK


def _item_json(store, args) -> dict:
    from cockpit.compat.checklist import item_record

    return item_record(store, args.pipeline, args.item) or {}


def run_sign_off(ctx: CliContext) -> int:
    from cockpit.compat.checklist import sign_off

    store = ctx.open_store(create=False)
    try:
        sign_off(
            store, ctx.args.pipeline, by=ctx.args.by or ctx.services.user(), note=ctx.args.note
        )
        if ctx.wants_json:
            from cockpit.compat.checklist import sign_off_record

            ctx.print_json({"pipeline": sign_off_record(store, ctx.args.pipeline)})
    finally:
        store.close()
    return EXIT_OK
