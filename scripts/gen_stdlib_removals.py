"""Generate the standard-library removal rules from typeshed: everything Python 3.10 (DBR 14.3 LTS)
has and Python 3.12 (DBR 16.4 and 17.3 LTS) lacks.

    .venv-maint/bin/python scripts/gen_stdlib_removals.py   # writes cockpit/compat/data/stdlib_removals.json

Modules come from ``stdlib/VERSIONS``; names, class members and keyword parameters from the stubs
with their ``sys.version_info`` guards evaluated per version (Linux). A removal's version is the
first of 3.11 / 3.12 that lacks it. Names a hand-written rule in rules.yaml already matches are
left to that rule. Codes are stable: an existing file's codes are kept for the same symbol, new
symbols take the next free number. The scan reads only the JSON (no typeshed at run time).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stdlib_api as sa
from hand_rules import hand_written

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "cockpit" / "compat" / "data"
OUT = DATA / "stdlib_removals.json"
FROM, MIDDLE, TO = "3.10", "3.11", "3.12"
PREFIX = "PYS"
WHATSNEW = "https://docs.python.org/{v}/whatsnew/{v}.html#removed"


def public(name: str) -> bool:
    return not name.startswith("_")


def public_module(module: str) -> bool:
    return all(public(part) for part in module.split(".")) and module not in ("typing_extensions",)


def exported(table: dict | None) -> dict:
    return {k: v for k, v in (table or {}).items() if public(k) and v.is_exported}


def covered(name: str, keyword: str | None, hand: set) -> bool:
    if (name, keyword) in hand:
        return True
    parts = name.split(".")
    # A module rule covers everything under it.
    return any((".".join(parts[:i]), None) in hand for i in range(1, len(parts)))


def catalog_entries() -> dict[str, dict]:
    """Symbol -> reference entry (python-3.10-to-3.12.yaml), for sources and replacements."""
    entries = YAML(typ="safe", pure=True).load(
        (DATA / "reference" / "python-3.10-to-3.12.yaml").read_text("utf-8")
    )
    out: dict[str, dict] = {}
    for entry in entries:
        if entry.get("retracted"):
            continue
        for symbol in entry.get("symbols") or ():
            text = str(symbol)
            m = re.match(r"^([A-Za-z_][\w.]*)(?:\((\w+)=[^)]*\))?", text)
            if m:
                out.setdefault(m.group(1) + (f"({m.group(2)}=)" if m.group(2) else ""), entry)
    return out


def removed_in(symbol: str) -> str:
    return MIDDLE if not sa.present(MIDDLE, symbol) else TO


def kw_removed_in(name: str, keyword: str) -> str:
    params = sa.parameters(MIDDLE, name)
    return MIDDLE if params is None or keyword not in params[0] else TO


def walk() -> list[dict]:
    found: list[dict] = []
    old_modules, new_modules = sa.modules(FROM), sa.modules(TO)
    for module in sorted(m for m in old_modules if public_module(m)):
        if module not in new_modules:
            parent = module.rpartition(".")[0]
            if parent and parent not in new_modules and parent in old_modules:
                continue  # the parent's removal covers it
            when = MIDDLE if module not in sa.modules(MIDDLE) else TO
            found.append({"kind": "module", "symbol": module, "keyword": None, "introduced": when})
            continue
        old, new = exported(sa.names(FROM, module)), exported(sa.names(TO, module))
        for name, info in sorted(old.items()):
            symbol = f"{module}.{name}"
            if name not in new:
                found.append(
                    {
                        "kind": "attribute",
                        "symbol": symbol,
                        "keyword": None,
                        "introduced": removed_in(symbol),
                    }
                )
                continue
            found += _keywords(symbol)
            if isinstance(info.ast, ast.ClassDef) and isinstance(new[name].ast, ast.ClassDef):
                old_members = sa.class_members(FROM, module, name)
                new_members = sa.class_members(TO, module, name)
                for member, defined_in in sorted(old_members.items()):
                    msym = f"{symbol}.{member}"
                    if member not in new_members:
                        # One rule per removed definition, matching every class that had it.
                        origin = f"{defined_in}.{member}"
                        found.append(
                            {"kind": "attribute", "symbol": origin, "keyword": None,
                             "introduced": removed_in(msym), "owner": defined_in, "also": msym}
                        )  # fmt: skip
                    elif new_members[member] == defined_in == symbol:
                        found += _keywords(msym, owner=symbol)
    return found


# Where the stubs and the interpreter disagree (checked by hand; each says why it is left out).
KNOWN_STUB_GAPS = {
    "sqlite3.version": "3.12 still serves it from a module __getattr__ with a DeprecationWarning "
    "(removed in 3.14: https://docs.python.org/3.12/library/sqlite3.html#sqlite3.version)",
    "pdb.Pdb.execRcLines": "the real Python 3.11 still defines it (internal method)",
}


def present_in_running_python(row: dict) -> bool:
    """When the script runs on a Python at or past the removal (the maint venv is 3.11): does the
    running interpreter still have it? Then the stub is wrong and the row is dropped."""
    import importlib
    import inspect

    if tuple(int(x) for x in row["introduced"].split(".")) > sys.version_info[:2]:
        return False
    for symbol in row["symbols"] or [row["symbol"]]:
        parts = symbol.split(".")
        obj, rest = None, parts
        for cut in range(len(parts), 0, -1):
            try:
                obj, rest = importlib.import_module(".".join(parts[:cut])), parts[cut:]
                break
            except Exception:
                continue
        if obj is None or (row["kind"] == "module" and rest):
            continue
        try:
            for part in rest:
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if row["kind"] == "keyword":
            try:
                if row["keyword"] not in inspect.signature(obj).parameters:
                    continue
            except (TypeError, ValueError):
                continue
        return True
    return False


def reexports() -> dict[str, set[str]]:
    """Class path -> other public spellings of it (``unittest.case.TestCase`` is also
    ``unittest.TestCase``), from the stubs' re-exports in Python 3.10."""
    out: dict[str, set[str]] = {}
    for module in sorted(m for m in sa.modules(FROM) if public_module(m)):
        for name, info in exported(sa.names(FROM, module)).items():
            node = info.ast
            if isinstance(node, sa.tc.ImportedName) and node.name:
                origin = ".".join(node.module_name)
                if sa.is_class(FROM, f"{origin}.{node.name}"):
                    out.setdefault(f"{origin}.{node.name}", set()).add(f"{module}.{name}")
    return out


def _keywords(symbol: str, owner: str | None = None) -> list[dict]:
    old, new = sa.parameters(FROM, symbol), sa.parameters(TO, symbol)
    if old is None or new is None or new[1]:
        return []  # not callable on both sides, or **kwargs swallows any keyword on the target
    out = []
    for keyword in sorted(old[0] - new[0]):
        row = {"kind": "keyword", "symbol": symbol, "keyword": keyword,
               "introduced": kw_removed_in(symbol, keyword)}  # fmt: skip
        if owner:
            row["owner"] = owner
        out.append(row)
    return out


def main() -> int:
    hand = hand_written()
    entries = catalog_entries()
    previous = {}
    if OUT.exists():
        for rule in json.loads(OUT.read_text("utf-8"))["rules"]:
            previous[(rule["symbol"], rule["keyword"])] = rule["code"]
    used = {int(code[len(PREFIX) :]) for code in previous.values()}
    aliases = reexports()
    rows: dict[tuple[str, str | None], dict] = {}
    for row in walk():
        for spelling in list((row.get("also") and [row["also"]]) or []):
            owner, _, member = spelling.rpartition(".")
            for alias in aliases.get(owner, ()):
                extra = {**row, "also": f"{alias}.{member}"}
                key = (row["symbol"], row["keyword"])
                merged = rows.setdefault(key, {**row, "symbols": []})
                merged["symbols"] = sorted({*merged["symbols"], extra["also"]})
        key = (row["symbol"], row["keyword"])
        merged = rows.setdefault(key, {**row, "symbols": []})
        merged["symbols"] = sorted({*merged["symbols"], row.get("also") or row["symbol"]})
    rules = []
    for row in rows.values():
        symbol, keyword = row["symbol"], row["keyword"]
        if any(covered(s, keyword, hand) for s in {symbol, *row["symbols"]}):
            continue
        if symbol in KNOWN_STUB_GAPS or present_in_running_python(row):
            print(
                f"left out {symbol}: {KNOWN_STUB_GAPS.get(symbol, 'present in this interpreter')}"
            )
            continue
        key = (symbol, keyword)
        code = previous.get(key)
        if code is None:
            number = max(used, default=0) + 1
            used.add(number)
            code = f"{PREFIX}{number:03d}"
        entry = entries.get(f"{symbol}({keyword}=)" if keyword else symbol)
        if entry is None and not keyword:
            # A member of a module or class the catalog lists as a whole.
            parts = symbol.split(".")
            entry = next(
                (entries[".".join(parts[:i])] for i in range(len(parts) - 1, 0, -1)
                 if ".".join(parts[:i]) in entries and entries[".".join(parts[:i])].get("applies", {}).get("removed_in")),
                None,
            )  # fmt: skip
        label = f"{symbol}({keyword}=…)" if keyword else symbol
        slug = re.sub(r"[^a-z0-9]+", "-", (symbol + ("-" + keyword if keyword else "")).lower())
        what = {
            "module": f"The {symbol} module is not in the Python {row['introduced']} standard library.",
            "attribute": f"{symbol} does not exist in Python {row['introduced']}.",
            "keyword": f"{symbol}() no longer takes the {keyword} keyword argument in Python {row['introduced']}.",
        }[row["kind"]]
        rule = {
            "code": code,
            "name": f"python-{row['introduced']}-removed-{slug}".replace(".", "-"),
            "kind": row["kind"],
            "symbol": symbol,
            "keyword": keyword,
            "owner": row.get("owner"),
            # Every public spelling that reached it (subclasses that inherited it), when attribute.
            "symbols": row["symbols"],
            "introduced": row["introduced"],
            "what": what + (f" {entry['what']}" if entry else ""),
            "fix": (entry or {}).get("replacement")
            or f"See What's New in Python {row['introduced']} for the replacement of {label}.",
            "source": (entry or {}).get("source") or WHATSNEW.format(v=row["introduced"]),
            "ref": (entry or {}).get("id"),
            "evidence": {
                "present": f"typeshed stub for Python {FROM}",
                "absent": sorted({row["introduced"], TO}),
            },
        }
        rules.append(rule)
    rules.sort(key=lambda r: int(r["code"][len(PREFIX) :]))
    document = {
        "about": f"Standard-library APIs that Python {FROM} has and Python {TO} lacks, from typeshed.",
        "generated_by": "scripts/gen_stdlib_removals.py",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provenance": {
            **sa.typeshed_provenance(),
            "method": "stdlib/VERSIONS for modules; stub names, class members and keyword "
            "parameters with sys.version_info and sys.platform (linux) guards evaluated per version",
            "versions": [FROM, MIDDLE, TO],
            "checked_against_interpreter": f"the {MIDDLE} removals were also checked absent from "
            f"the running CPython {sys.version.split()[0]}",
            "left_out": KNOWN_STUB_GAPS,
        },
        "rules": rules,
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rules:
        counts[r["kind"]] = counts.get(r["kind"], 0) + 1
    print(f"wrote {OUT.relative_to(ROOT)}: {len(rules)} rules {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
