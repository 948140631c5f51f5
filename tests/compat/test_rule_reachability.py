"""Every generated rule can be reached by the scanner from code spelled the way pipelines spell
it: ``from <module> import <name>`` (or ``import <module> as m``), an instance of a class made by
calling it, a method called on that instance, a keyword passed to that call. A rule that only a
synthesized ``import a.b.Class`` could reach would be dead: it would never fire on real code."""

from __future__ import annotations

import pytest

from cockpit.compat.python_scan import _canon
from cockpit.compat.rules import Crossing, catalog, generated_file
from cockpit.compat.scan import Scanner, ScanResult

RAW = {
    raw["code"]: raw
    for name in ("library_removals.json", "stdlib_removals.json")
    for raw in generated_file(name)["rules"]
}
RULES = [rule for rule in catalog().values() if rule.code in RAW]


def _spellings(raw: dict) -> list[tuple[str, int]]:
    """Realistic uses of the rule's API, each with the line its finding must be on."""
    kind, keyword, owner = raw["kind"], raw.get("keyword"), raw.get("owner")
    out = []
    for symbol in raw.get("symbols") or [raw["symbol"]]:
        if kind == "module":
            parent, _, last = symbol.rpartition(".")
            out.append((f"import {symbol}\n", 1))
            if parent:
                out.append((f"from {parent} import {last}\n", 1))
            continue
        parent, _, last = symbol.rpartition(".")
        # The class a member belongs to, spelled as the scanner folds it (mlflow.MlflowClient).
        cls = _canon(owner) if owner else None
        if kind == "positional":
            args = ", ".join(str(i) for i in range(raw["max_positional"] + 1))
            if owner:
                # A method (one rule for the classes that share it): on an instance of each.
                module, _, name = _canon(parent).rpartition(".")
                if raw.get("bound") == "self":
                    out.append(
                        (f"from {module} import {name}\nobj = {name}()\nobj.{last}({args})\n", 3)
                    )
                    out.append((f"import {module} as m\nobj = m.{name}()\nobj.{last}({args})\n", 3))
                    # Through the class, the instance is the first argument.
                    out.append((f"import {module} as m\nm.{name}.{last}(m.{name}(), {args})\n", 2))
                else:
                    out.append((f"from {module} import {name}\n{name}.{last}({args})\n", 2))
                continue
            out.append((f"from {parent} import {last}\n{last}({args})\n", 2))
            out.append((f"import {parent} as m\nm.{last}({args})\n", 2))
            continue
        if cls is not None and parent == cls:
            module, _, name = cls.rpartition(".")
            use = f"obj.{last}(1, {keyword}=2)" if kind == "keyword" else f"print(obj.{last})"
            out.append((f"from {module} import {name}\nobj = {name}()\n{use}\n", 3))
            out.append((f"import {module} as m\nobj = m.{name}()\n{use}\n", 3))
            continue
        if kind == "keyword":
            out.append((f"from {parent} import {last}\n{last}(1, {keyword}=2)\n", 2))
            out.append((f"import {parent} as m\nm.{last}(1, {keyword}=2)\n", 2))
        else:
            out.append((f"from {parent} import {last}\n", 1))
            out.append((f"import {parent} as m\nprint(m.{last})\n", 2))
    return out


def _scan(rule, text: str) -> ScanResult:
    crossing = Crossing("a", "b", versions={rule.applies.package: ("0.1", rule.applies.introduced)})
    scanner = Scanner(crossing, rules={rule.code: rule})
    result = ScanResult(scanner.crossing)
    scanner.scan_text("pipeline.py", text, "python", result)
    return result


def test_every_generated_rule_is_checked_here():
    # 1,446 since rules about one API under several import paths were folded into one each.
    assert len(RULES) == len(RAW) > 1400


@pytest.mark.parametrize("rule", RULES, ids=[r.code for r in RULES])
def test_generated_rule_is_reachable_from_realistic_code(rule):
    for text, line in _spellings(RAW[rule.code]):
        found = {(f.line, f.code) for f in _scan(rule, text).findings}
        assert (line, rule.code) in found, text


def test_every_rule_applies_to_some_migration_between_the_bundled_runtimes():
    """A rule no bundled migration applies (its removal before the oldest target, its return
    before the newest) never fires either: numpy.long once claimed to be back in 1.26.4, which
    only warns before raising AttributeError."""
    from itertools import combinations

    from cockpit.compat.rules import build_crossing

    runtimes = ["13.3-lts-ml", "14.3-lts-ml", "15.4-lts-ml", "16.4-lts-ml", "17.3-lts-ml"]
    crossings = [
        build_crossing(low, high, overrides=overrides)
        for low, high in combinations(runtimes, 2)
        for overrides in ({}, {"mlflow": ("1.30.1", None)})
    ]
    never = [
        code for code, rule in catalog().items() if not any(c.applies(rule) for c in crossings)
    ]
    assert never == []
