"""The ``cockpit`` command line.

Sub-commands live one module each in :mod:`cockpit.commands` and are found at start-up, so a
feature adds a command by adding a module (with ``register(subparsers)``) and never edits this
file. Command modules must keep heavy imports (mlflow, pandas, plotly, databricks.sdk, textual)
inside their handlers: ``cockpit runtimes diff`` is timed against ``python -c pass``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from cockpit import __version__
from cockpit.cli.completion import complete_if_asked
from cockpit.cli.context import CliContext
from cockpit.cli.envelope import argv_wants_json
from cockpit.cli.globals import GLOBAL_OPTIONS, add_top_level, settle, spread
from cockpit.errors import EXIT_USAGE, CockpitError
from cockpit.textsafe import terminal

EPILOG = """\
examples:
  cockpit init                                 write a commented cockpit.toml here
  cockpit runtimes diff 14.3-lts-ml 16.4-lts-ml what changes between two runtimes
  cockpit open sample_state/kyros.cockpit.db --offline
                                               review a saved state file, read-only

exit codes: 0 ok, 1 findings (where a command defines them), 2 usage or input error,
            3 a remote source could not be reached.
Tokens are never read from cockpit.toml: they come from the environment or ~/.databrickscfg.
"""


# Engine commands, then the UI's (open, demo). The UI package is found by name, never imported
# statically, so the engine runs without it and never pulls Textual in.
COMMAND_PACKAGES = ("cockpit.commands", "screens.commands")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 (as everywhere else)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CockpitError(f"{message} (see `{self.prog} --help`)", exit_code=EXIT_USAGE)


def _command_modules(wanted: str | None) -> list:
    """Import the command modules; only the one named ``wanted`` when a file has that name.

    Convention: a module ``foo_bar.py`` registers the command ``foo-bar``; so `cockpit runtimes
    ...` imports only ``runtimes.py`` (start-up time), while `cockpit --help` imports them all.
    """
    found: list[tuple[str, str]] = []
    for package_name in COMMAND_PACKAGES:
        try:
            package = importlib.import_module(package_name)
        except ModuleNotFoundError:
            continue  # the UI package is optional for the engine
        found += [
            (package_name, info.name)
            for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_")
        ]
    if wanted:
        match = [(p, n) for p, n in found if n.replace("_", "-") == wanted]
        if match:
            found = match
    return [importlib.import_module(f"{p}.{n}") for p, n in found]


def _first_command(argv: Sequence[str]) -> str | None:
    """The sub-command word in argv (skipping global options and their values)."""
    takes_value = {o.flag for o in GLOBAL_OPTIONS} | {"--format"}
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token in takes_value:
            skip = True
            continue
        if token.startswith("-"):
            continue
        return token
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cockpit",
        description="Migration Cockpit: move an ML platform between Databricks Runtime and "
        "MLflow generations without losing a run.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cockpit {__version__}")
    add_top_level(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    modules = _command_modules(_first_command(argv) if argv is not None else None)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), m.__name__)):
        module.register(sub)
    spread(parser)  # --config/--state/--profile after the command too, in every command's help
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ctx: CliContext | None = None
    try:
        complete_if_asked(build_parser)  # a shell asking for TAB completions: answer, exit
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        settle(args, parser.prog)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_USAGE if not argv else 0
        ctx = CliContext(args)
        code = int(handler(ctx) or 0)
        if ctx.wants_json:
            ctx.flush_json(code)
        return code
    except CockpitError as exc:
        from cockpit.secrets import scrub_text  # a token must not reach stderr either

        print(f"cockpit: error: {terminal(scrub_text(exc.message))}", file=sys.stderr)
        _json_error(ctx, argv, exc.exit_code, scrub_text(exc.message))
        return exc.exit_code
    except KeyboardInterrupt:
        print("cockpit: interrupted", file=sys.stderr)
        _json_error(ctx, argv, 130, "interrupted")
        return 130
    except BrokenPipeError:
        # `cockpit ... | head`: the reader went away; not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # last resort: one line, never a traceback (unless asked for)
        if os.environ.get("COCKPIT_DEBUG"):
            raise
        from cockpit.secrets import scrub_text

        message = (
            f"internal error: {type(exc).__name__}: {scrub_text(str(exc))} "
            "(set COCKPIT_DEBUG=1 for the traceback)"
        )
        print(f"cockpit: {terminal(message)}", file=sys.stderr)
        _json_error(ctx, argv, 70, message)
        return 70


def _json_error(ctx: CliContext | None, argv: list[str], code: int, message: str) -> None:
    """Under --format json a failure is an envelope on stdout too (same exit code)."""
    try:
        if ctx is not None:
            if ctx.wants_json:
                ctx.flush_json(code, error=message)
        elif argv_wants_json(argv):
            from cockpit.cli.envelope import envelope, write_json

            write_json(envelope(None, code, None, message))
    except (BrokenPipeError, OSError):
        pass  # stdout is gone; stderr already has the line
