"""How the cockpit writes a moment for people: UTC, one format everywhere (CLI, reports, TUI)."""

from __future__ import annotations

import datetime as dt


def fmt_ts(ts: float | None, *, seconds: bool = True, missing: str = "-") -> str:
    if ts is None:
        return missing
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime(pattern)
