"""Version comparison for rule applicability and pins, without importing ``packaging``.

Versions here are release numbers ("2.21.3", "3.12", "16.4", "2.0.1", "1.x"); local tags
("2.6.0+cpu") and pre-release suffixes are dropped because a rule is about a release line.
"""

from __future__ import annotations

import re

_NUMBER = re.compile(r"\d+")


def vtuple(version: str | None) -> tuple[int, ...] | None:
    """``"2.21.3+cpu"`` -> ``(2, 21, 3)``; trailing zeros dropped so 2.0.0 == 2.0 == 2."""
    if not version:
        return None
    head = version.strip().split("+", 1)[0]
    parts: list[int] = []
    for piece in head.split("."):
        match = _NUMBER.match(piece)
        if not match:
            break
        parts.append(int(match.group()))
    if not parts:
        return None
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def crosses(from_version: str | None, to_version: str | None, introduced: str) -> bool:
    """from < introduced <= to. An unknown side counts as crossing: better a finding to review
    than a silent gap when a manifest lacks the package."""
    intro = vtuple(introduced)
    if intro is None:
        return True
    low, high = vtuple(from_version), vtuple(to_version)
    if low is not None and not low < intro:
        return False
    return not (high is not None and not intro <= high)


def reached(version: str | None, introduced: str) -> bool:
    """introduced <= version: the package at ``version`` has the change. Unknown counts as
    reached, for the same reason as in :func:`crosses`."""
    intro, have = vtuple(introduced), vtuple(version)
    if intro is None or have is None:
        return True
    return intro <= have


def major(version: str | None) -> int | None:
    parsed = vtuple(version)
    return parsed[0] if parsed else None
