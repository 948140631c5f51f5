"""How the cockpit writes a moment for people: UTC, one format everywhere (CLI, reports, TUI)."""

from __future__ import annotations

import datetime as dt


def fmt_ts(ts: float | None, *, seconds: bool = True, missing: str = "-") -> str:
    if ts is None:
        return missing
    pattern = "%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC"
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime(pattern)


def utc_day(as_of: float | None = None) -> dt.date:
    """The calendar day of a moment (now when ``None``), in UTC like every time the cockpit shows:
    gates, reports and the TUI count support-runway days from the same day."""
    moment = (
        dt.datetime.now(tz=dt.UTC) if as_of is None else dt.datetime.fromtimestamp(as_of, dt.UTC)
    )
    return moment.date()
