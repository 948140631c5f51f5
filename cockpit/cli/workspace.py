"""The Databricks workspace options every workspace command takes (``--profile``, ``--host``,
``--retry-timeout``), and the adapter they name, built by :class:`cockpit.services.Services`.

Imported while ``--help`` is built: argparse and :mod:`cockpit.errors` only at the top.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext
    from cockpit.databricks.adapter import WorkspaceAdapter


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--profile", help="a profile in ~/.databrickscfg (overrides cockpit.toml)")
    group.add_argument("--host", help="workspace URL (token from DATABRICKS_TOKEN)")
    parser.add_argument(
        "--retry-timeout",
        type=int,
        default=60,
        metavar="S",
        help="how long to keep retrying a rate-limited or failing workspace (default 60)",
    )


def connect(ctx: CliContext) -> WorkspaceAdapter:
    """The adapter for the workspace named by flags, else cockpit.toml, else the environment."""
    args = ctx.args
    if args.retry_timeout < 1:
        raise CockpitError("--retry-timeout must be at least 1 second")
    return ctx.services.workspace(
        host=args.host, profile=args.profile, retry_timeout_s=args.retry_timeout
    )
