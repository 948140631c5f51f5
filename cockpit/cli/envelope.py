"""The one shape of every ``--format json`` answer.

A command's JSON is one object on stdout: the command's own fields at the top level, plus the key
``"cockpit"`` holding what every answer has::

    {"cockpit": {"command": "gates", "version": "0.1.0", "exit_code": 1}, "go": false, ...}

A result that is a list sits under a key named for what it lists (``"runtimes"``, ``"rules"``;
``"items"`` when a command does not name it). When the command fails, ``cockpit.error`` holds the
same one-line message as stderr and the exit code is the same as without ``--format json``
(0 ok, 1 findings, 2 usage or input, 3 source unreachable): scripts can branch on either.
"""

from __future__ import annotations

import sys
from typing import Any

from cockpit import __version__

ENVELOPE_KEY = "cockpit"


def envelope(
    command: str | None, exit_code: int, payload: Any = None, error: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"command": command, "version": __version__, "exit_code": exit_code}
    if error is not None:
        meta["error"] = error
    body: dict[str, Any] = {ENVELOPE_KEY: meta}
    if isinstance(payload, dict):
        body.update((k, v) for k, v in payload.items() if k != ENVELOPE_KEY)
    elif payload is not None:
        body["items"] = payload
    return body


def write_json(data: Any) -> None:
    """Indented for a person at a terminal; compact (the C encoder, several times faster) when
    piped into a script or a file. Registered secrets are scrubbed on the way out."""
    from cockpit.secrets import scrub
    from cockpit.textsafe import json_text  # exact values; no control or bidi character raw

    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json_text(scrub(data), indent=indent))
    sys.stdout.write("\n")
    sys.stdout.flush()


def argv_wants_json(argv: list[str]) -> bool:
    """``--format json`` in argv, for errors raised before the arguments are parsed."""
    for i, token in enumerate(argv):
        if token == "--format=json" or (token == "--format" and argv[i + 1 : i + 2] == ["json"]):
            return True
    return False
