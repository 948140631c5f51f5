"""Inline suppression: ``# cockpit: ignore[CODE]`` or ``# cockpit: ignore[CODE1,CODE2] reason``.

It applies to findings on its own line, or, when the comment stands alone on a line, to the line
below. Rule names work as well as codes (``ignore[mlflow-list-experiments-removed]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cockpit.compat.findings import Finding

_IGNORE = re.compile(r"#\s*cockpit:\s*ignore\[([^\]]*)\]\s*([^\"\n\\]*)")


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    reason: str


def _directives(line: str) -> tuple[set[str], str] | None:
    match = _IGNORE.search(line)
    if not match:
        return None
    names = {part.strip().upper() for part in match.group(1).split(",") if part.strip()}
    return names, match.group(2).strip()


def apply(
    findings: list[Finding],
    lines: list[str],
    names: dict[str, str],
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> tuple[list[Finding], list[Suppressed]]:
    """Split ``findings`` (all in one file whose text is ``lines``) into kept and suppressed.

    ``names`` maps a rule code to its kebab-case name, so either spelling matches. ``aliases``
    maps a retired code or name (upper case) to the codes of the rules it was folded into, so a
    suppression written for a folded rule keeps suppressing its findings.
    """
    if not findings or not any("cockpit:" in line for line in lines):
        return findings, []
    kept: list[Finding] = []
    dropped: list[Suppressed] = []
    for finding in findings:
        hit = None
        for index in (finding.line - 1, finding.line - 2):
            if not 0 <= index < len(lines):
                continue
            text = lines[index]
            if index == finding.line - 2 and not _standalone(text):
                continue
            directive = _directives(text)
            if directive and aliases:
                wanted = set(directive[0])
                for n in directive[0]:
                    wanted.update(aliases.get(n, ()))
                directive = (wanted, directive[1])
            if directive and (
                finding.code.upper() in directive[0]
                or names.get(finding.code, "").upper() in directive[0]
            ):
                hit = directive[1]
                break
        if hit is None:
            kept.append(finding)
        else:
            dropped.append(Suppressed(finding, hit))
    return kept, dropped


def _standalone(text: str) -> bool:
    stripped = text.strip().lstrip('"').lstrip()
    return stripped.startswith("#")
