"""``cockpit init``: write a commented cockpit.toml template."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "init",
        help="write a commented cockpit.toml template",
        description="Write a commented cockpit.toml to start from. Tokens never go in it.",
    )
    parser.add_argument("path", nargs="?", default="cockpit.toml", help="default: ./cockpit.toml")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_text_or_json(parser, "the path written")
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    from cockpit.config import TEMPLATE

    path = Path(ctx.args.path)
    if path.exists() and not ctx.args.force:
        raise CockpitError(f"{path} exists; use --force to overwrite it")
    try:
        path.write_text(TEMPLATE, encoding="utf-8")
    except OSError as exc:
        raise CockpitError(f"cannot write {path}: {exc}") from None
    ctx.say(f"wrote {path}; edit it, then run `cockpit open`")
    if ctx.wants_json:
        ctx.print_json({"path": str(path)})
    return EXIT_OK
