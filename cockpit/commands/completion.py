"""``cockpit completion bash|zsh|fish``: the shell hook for TAB completion."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 95

EPILOG = """\
install:
  bash  echo 'eval "$(cockpit completion bash)"' >> ~/.bashrc
  zsh   echo 'eval "$(cockpit completion zsh)"' >> ~/.zshrc   (after compinit)
  fish  cockpit completion fish > ~/.config/fish/completions/cockpit.fish

Completes every command, action and option, option values (formats...), runtime ids (bundled
and those in the state file) and rule codes.
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "completion",
        help="print the shell hook for TAB completion (bash, zsh, fish)",
        description="Print the code that makes your shell complete cockpit's commands, options, "
        "runtime ids and rule codes; the completions come from cockpit's own parser.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=("bash", "zsh", "fish"))
    parser.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    from cockpit.cli.completion import shell_code

    print(shell_code(ctx.args.shell), end="")
    return EXIT_OK
