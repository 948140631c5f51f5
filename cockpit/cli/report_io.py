"""``--as-of TIME`` and ``-o FILE``, as the commands that write or evaluate the state at a moment
(report, playbook, gates) all take them. Light imports: these run while ``--help`` is built."""

from __future__ import annotations

from cockpit.errors import CockpitError


def parse_as_of(text: str | None) -> float | None:
    if not text:
        return None
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CockpitError(f"--as-of {text!r} is not an ISO time like 2026-11-02T10:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def write_output(text: str, output: str | None) -> None:
    if not output:
        import sys

        sys.stdout.write(text)
        return
    from pathlib import Path

    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CockpitError(f"cannot write {output}: {exc}") from None
