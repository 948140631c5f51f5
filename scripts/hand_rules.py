"""What the hand-written catalog (cockpit/compat/data/rules.yaml) already matches, for the rule
generators: a generated rule for a symbol a hand-written rule covers would fire twice."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

RULES_YAML = Path(__file__).resolve().parent.parent / "cockpit" / "compat" / "data" / "rules.yaml"


def hand_rules() -> list[dict]:
    """The hand-written rules as rules.yaml states them."""
    return list(YAML(typ="safe", pure=True).load(RULES_YAML.read_text("utf-8")) or [])


def hand_written() -> set[tuple[str, str | None]]:
    """(symbol or module, keyword) that rules.yaml already matches."""
    rules = YAML(typ="safe", pure=True).load(RULES_YAML.read_text("utf-8"))
    out: set[tuple[str, str | None]] = set()
    for rule in rules:
        match = rule.get("match") or {}
        out |= {(s, None) for s in match.get("symbols", ())}
        out |= {(m, None) for m in match.get("modules", ())}
        out |= {(k["call"], k["keyword"]) for k in match.get("kwargs", ())}
    return out
