"""Options that every command takes, before or after its name.

`cockpit --state F gates` and `cockpit gates --state F` mean the same. The top-level parser owns
the real defaults; every sub-parser (at any depth) gets a copy of the options whose default is
``argparse.SUPPRESS``, because argparse copies a sub-parser's defaults over what the top level
already parsed: a copy with a default would erase a value given before the command.

``--format`` is per command (each has its own choices): given before the command it is checked
against the chosen command's choices after parsing.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from cockpit.errors import EXIT_USAGE, CockpitError


@dataclass(frozen=True)
class GlobalOption:
    flag: str
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


GLOBAL_OPTIONS = (
    GlobalOption("--config", "PATH", "cockpit.toml to use (default: ./cockpit.toml if present)"),
    GlobalOption("--state", "PATH", "state file (default: [state] path of the config)"),
    GlobalOption(
        "--profile",
        "NAME",
        "Databricks profile in ~/.databrickscfg (default: [databricks] profile of the config)",
    ),
)
GROUP_TITLE = "global options (before or after the command)"

# Kept in the namespace by the leaf parser that owns a --format, so a --format given before the
# command can be checked against that command's own choices.
_FORMAT_CHOICES = "_cli_format_choices"
_FORMAT_DEFAULT = "_cli_format_default"


def add_top_level(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(GROUP_TITLE)
    for option in GLOBAL_OPTIONS:
        group.add_argument(option.flag, metavar=option.metavar, help=option.help)
    group.add_argument(
        "--format",
        metavar="FMT",
        default=argparse.SUPPRESS,
        help="output format of the command (its --format choices; json everywhere a command "
        "reports something)",
    )


def subparsers_of(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    children: list[tuple[str, argparse.ArgumentParser]] = []
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if id(child) not in seen:  # aliases map to the same parser
                    seen.add(id(child))
                    children.append((name, child))
    return children


def spread(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> None:
    """Give every sub-parser under ``parser`` the global options (defaults suppressed), and
    remember the command words (``args.cli_command``, e.g. "mlflow sync") for the JSON envelope."""
    for name, child in subparsers_of(parser):
        words = (*path, name)
        child.set_defaults(cli_command=" ".join(words))
        _add_copies(child)
        spread(child, words)


def _add_copies(parser: argparse.ArgumentParser) -> None:
    group = None
    for option in GLOBAL_OPTIONS:
        own = parser._option_string_actions.get(option.flag)
        if own is not None:
            # The command defines it itself (e.g. with its own help): keep that, but let a
            # value given before the command survive.
            own.default = argparse.SUPPRESS
            continue
        if group is None:
            group = parser.add_argument_group(GROUP_TITLE)
        group.add_argument(
            option.flag, metavar=option.metavar, help=option.help, default=argparse.SUPPRESS
        )
    fmt = parser._option_string_actions.get("--format")
    if fmt is not None and fmt.default is not argparse.SUPPRESS:
        parser.set_defaults(**{_FORMAT_CHOICES: fmt.choices, _FORMAT_DEFAULT: fmt.default})
        fmt.default = argparse.SUPPRESS


def settle(args: argparse.Namespace, prog: str) -> None:
    """After parsing: give ``args.format`` its value (after the command > before it > default)."""
    choices = getattr(args, _FORMAT_CHOICES, None)
    default = getattr(args, _FORMAT_DEFAULT, None)
    given = getattr(args, "format", None)
    if choices is None and default is None:
        if given is not None and getattr(args, "handler", None) is not None:
            command = getattr(args, "cli_command", None) or "this command"
            raise CockpitError(
                f"`{prog} {command}` has no --format (see `{prog} {command} --help`)",
                exit_code=EXIT_USAGE,
            )
        return
    if given is None:
        args.format = default
    elif choices is not None and given not in choices:
        wanted = ", ".join(map(str, choices))
        raise CockpitError(
            f"argument --format: invalid choice: {given!r} (choose from {wanted})",
            exit_code=EXIT_USAGE,
        )
    for key in (_FORMAT_CHOICES, _FORMAT_DEFAULT):
        if hasattr(args, key):
            delattr(args, key)
