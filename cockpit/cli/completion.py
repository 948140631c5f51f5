"""Shell completion from the parser itself (argcomplete), for bash, zsh and fish.

`cockpit completion SHELL` prints the shell's hook; on TAB the shell runs `cockpit` with
``_ARGCOMPLETE`` set, and :func:`complete_if_asked` answers from the same parser that parses the
command line: every command, action and option, each option's choices, and the values a
parser cannot know on its own: runtime ids (bundled, plus those imported or probed into the
state file) and compatibility rule codes.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

SHELLS = ("bash", "zsh", "fish")
# Argument destinations that hold a runtime id or a rule code, whatever command they are in.
RUNTIME_DESTS = frozenset({"runtime", "from_runtime", "to_runtime", "base"})
RULE_DESTS = frozenset({"code"})


def runtime_ids(prefix: str = "", parsed_args: argparse.Namespace | None = None, **_: object):
    from cockpit.runtimes.manifest import all_runtime_ids, bundled_ids

    ids: Sequence[str] = bundled_ids()
    try:
        from cockpit.cli.context import CliContext

        store = CliContext(parsed_args or argparse.Namespace()).maybe_store()
        if store is not None:
            with store:
                ids = all_runtime_ids(store)
    except Exception:  # a broken state file must not break the shell: bundled ids only
        pass
    return [i for i in ids if i.startswith(prefix)]


def rule_codes(prefix: str = "", **_: object):
    from cockpit.compat.rules import catalog

    rules = catalog().values()
    words = [r.code for r in rules] + [r.name for r in rules]
    return [w for w in words if w.lower().startswith(prefix.lower())]


def attach_completers(parser: argparse.ArgumentParser) -> None:
    from cockpit.cli.globals import subparsers_of

    for action in parser._actions:
        if action.dest in RUNTIME_DESTS:
            action.completer = runtime_ids  # type: ignore[attr-defined]
        elif action.dest in RULE_DESTS:
            action.completer = rule_codes  # type: ignore[attr-defined]
    for _name, child in subparsers_of(parser):
        attach_completers(child)


def complete_if_asked(build_parser) -> None:
    """When a shell asks for completions (``_ARGCOMPLETE`` set), answer and exit."""
    if "_ARGCOMPLETE" not in os.environ:
        return
    import argcomplete

    parser = build_parser(None)  # every command, for the first word too
    attach_completers(parser)
    argcomplete.autocomplete(parser)  # writes the candidates and exits


def shell_code(shell: str) -> str:
    import argcomplete

    return argcomplete.shellcode(["cockpit"], shell=shell)
