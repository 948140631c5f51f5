"""Every generated rule (stdlib from typeshed, libraries from wheel diffs) finds its API in a
synthesized positive sample, and stays silent on a look-alike of the same name."""

from __future__ import annotations

import pytest

from cockpit.compat.rules import Crossing, catalog
from cockpit.compat.scan import Scanner, ScanResult

GENERATED = [rule for rule in catalog().values() if rule.family != "catalog"]


def _crossing(rule) -> Crossing:
    package, introduced = rule.applies.package, rule.applies.introduced
    return Crossing("a", "b", versions={package: ("0.1", introduced)})


def _split(symbol: str, owner: str | None) -> tuple[str, str]:
    """(importable parent, last name); for a class member the parent is the class."""
    return symbol.rsplit(".", 1)[0], symbol.rsplit(".", 1)[1]


def positive(rule) -> tuple[str, int]:
    """Code that uses the rule's API, and the line the finding must be on."""
    match = rule.match
    if "modules" in match:
        return f"import {match['modules'][0]}\n", 1
    classes = set(match.get("classes", ()))
    if "positional" in match:
        spec = match["positional"][0]
        owner, name = _split(spec["call"], None)
        args = ", ".join(str(i) for i in range(spec["max"] + 1))
        if owner in classes:
            module, cls = owner.rsplit(".", 1)
            receiver = f"{cls}()" if spec["bound"] == "self" else cls
            return f"from {module} import {cls}\n{receiver}.{name}({args})\n", 2
        return f"import {owner}\n{spec['call']}({args})\n", 2
    if "kwargs" in match:
        call, keyword = match["kwargs"][0]["call"], match["kwargs"][0]["keyword"]
        owner, name = _split(call, None)
        if owner in classes:
            module, cls = owner.rsplit(".", 1)
            return f"from {module} import {cls}\n{cls}().{name}(1, {keyword}=2)\n", 2
        return f"import {owner}\n{call}(1, {keyword}=2)\n", 2
    symbol = match["symbols"][0]
    owner, name = _split(symbol, None)
    if owner in classes:
        module, cls = owner.rsplit(".", 1)
        return f"from {module} import {cls}\nobj = {cls}()\nprint(obj.{name})\n", 3
    return f"import {owner}\nprint({symbol})\n", 2


def negative(rule) -> str:
    """The same last name on the user's own objects, in a comment and in a string."""
    match = rule.match
    if "modules" in match:
        last = match["modules"][0].rsplit(".", 1)[-1]
        return f"import {last}_utils\n# import {match['modules'][0]}\nx = 'import {match['modules'][0]}'\n"
    if "positional" in match:
        # The user's own method of that name, and the real API with a *splat (count unknown).
        spec = match["positional"][0]
        owner, name = _split(spec["call"], None)
        args = ", ".join(str(i) for i in range(spec["max"] + 1))
        real = f"import {owner}\n{spec['call']}(*[{args}])\n"
        if owner in set(match.get("classes", ())):
            module, cls = owner.rsplit(".", 1)
            receiver = f"{cls}()" if spec["bound"] == "self" else cls
            real = f"from {module} import {cls}\n{receiver}.{name}(*[{args}])\n"
        return (
            f"class Mine:\n    def {name}(self, *a):\n        return a\n\n"
            f"Mine().{name}({args})\n{real}"
        )
    if "kwargs" in match:
        call, keyword = match["kwargs"][0]["call"], match["kwargs"][0]["keyword"]
        name = call.rsplit(".", 1)[1]
        return (
            f"class Mine:\n    def {name}(self, *a, **k):\n        return k\n\n"
            f"Mine().{name}(1, {keyword}=2)\n"
        )
    name = match["symbols"][0].rsplit(".", 1)[1]
    return (
        f"class Mine:\n    def {name}(self):\n        return 1\n\n"
        f"Mine().{name}()\nobj = object()\nprint(getattr(obj, '{name}', None))  # obj.{name}\n"
    )


def _scan(rule, text: str) -> ScanResult:
    scanner = Scanner(_crossing(rule), rules={rule.code: rule})
    result = ScanResult(scanner.crossing)
    scanner.scan_text("sample.py", text, "python", result)
    return result


def test_generated_rules_exist():
    families = {rule.family for rule in GENERATED}
    assert "stdlib" in families
    assert len(GENERATED) >= 100


@pytest.mark.parametrize("rule", GENERATED, ids=[r.code for r in GENERATED])
def test_generated_rule_finds_its_api_and_ignores_look_alikes(rule):
    text, line = positive(rule)
    found = [(f.line, f.code) for f in _scan(rule, text).findings]
    assert (line, rule.code) in found, (text, found)
    assert _scan(rule, negative(rule)).findings == []
