"""What a generated rule is about, as the wheel defines it: the object behind each spelling.

Maintainer tooling only (used by gen_library_removals.py). A library serves one function, class
member or keyword under several public paths (``pandas.read_csv`` is also
``pandas.io.api.read_csv``; ``mlflow.sklearn.MlflowClient`` is ``mlflow.tracking.MlflowClient``
imported there; a method is inherited by a family of classes). The API diff finds the removal once
per path, so without this step one removal got one code per spelling, and a user suppressing the
code they saw was still flagged under another spelling. Here every spelling is resolved with griffe
to the object the older release defines (``target``), rules about the same object, keyword and
release range are folded into one rule listing every spelling (``symbols``), and the codes that
fold away are kept as aliases of the one that stays (``retired``), so suppressions naming them keep
working and ``cockpit rules show`` explains them.
"""

from __future__ import annotations

import ast
from functools import cache

import wheelapi


@cache
def target(dist: str, version: str, dotted: str) -> str | None:
    """The path where ``version`` defines the object ``dotted`` names (aliases followed, an
    inherited member at its defining class), or None when griffe cannot tell."""
    pkg = wheelapi.package(dist, version)
    obj = wheelapi.lookup(pkg, dotted)
    found = wheelapi.resolved(obj) if obj is not None else None
    if found is None:
        return None
    try:
        return str(found.path)
    except Exception:  # griffe raises a few kinds on odd objects
        return None


def shadowing_function(dist: str, version: str, dotted: str) -> str | None:
    """For ``a.m.m`` (function ``m`` of module ``a.m``): ``a.m`` when the package ``a`` binds the
    name ``m`` to that function (``from .m import m`` in ``a/__init__.py``), so that
    ``a.m(...)`` calls the function, not the module: torch.autograd.gradcheck."""
    parts = dotted.split(".")
    if len(parts) < 3 or parts[-1] != parts[-2]:
        return None
    package, name = ".".join(parts[:-2]), parts[-1]
    path = wheelapi.module_file(dist, version, package)
    if path is None:
        return None
    tree = ast.parse(path.read_text("utf-8", "replace"))
    for node in tree.body:
        if not isinstance(node, ast.ImportFrom):
            continue
        relative = node.level == 1 and node.module == name
        absolute = node.level == 0 and node.module == f"{package}.{name}"
        if (relative or absolute) and any(
            a.name == name and (a.asname or a.name) == name for a in node.names
        ):
            return f"{package}.{name}"
    return None


def identity(rule: dict, dist: str) -> list[tuple]:
    """The keys that say two rules are one: same package, kind, object, keyword, limit and the
    same last release before the removal (a spelling that went at another release, like
    ``mlflow.keras.autolog`` in 2.21 or a module that stopped importing ``experimental`` in 3.0,
    is another removal). The first release without it may differ: a reference-catalog rule is
    dated by an intermediate release (pandas 2.0.0) that the API diff of 1.5.3 -> 2.2.3 does not
    read. One key per resolvable spelling."""
    present = rule["evidence"]["present"].rsplit(" ", 1)[-1]
    keys = []
    for spelling in rule.get("symbols") or [rule["symbol"]]:
        found = target(dist, present, spelling)
        if found is not None:
            keys.append(
                (
                    rule["package"],
                    rule["kind"],
                    found,
                    rule["keyword"],
                    rule.get("max_positional"),
                    present,
                )
            )
    return keys


def _canonical_order(rule: dict) -> tuple:
    """The rule that stays: one confirmed from a reference-catalog entry first (its text and
    source are curated), then the one dated by the earliest release, then the shortest spelling
    (what users write), then the oldest code."""
    return (
        rule.get("ref") is None,
        -len(rule["evidence"]["absent"]),
        len(rule["symbol"]),
        rule["symbol"],
        rule["code"][:3],
        int(rule["code"][3:]),
    )


def fold(rules: list[dict], dist_of: dict[str, str]) -> tuple[list[dict], dict[str, str]]:
    """(rules with one rule per object, {folded code: code that stays})."""
    parent = {r["code"]: r["code"] for r in rules}

    def root(code: str) -> str:
        while parent[code] != code:
            parent[code] = parent[parent[code]]
            code = parent[code]
        return code

    first: dict[tuple, str] = {}
    targets: dict[str, set[str]] = {}
    for rule in rules:
        keys = identity(rule, dist_of[rule["package"]])
        targets[rule["code"]] = {k[2] for k in keys}
        for key in keys:
            if key in first:
                parent[root(rule["code"])] = root(first[key])
            else:
                first[key] = rule["code"]
    groups: dict[str, list[dict]] = {}
    for rule in rules:
        groups.setdefault(root(rule["code"]), []).append(rule)
    out: list[dict] = []
    aliases: dict[str, str] = {}
    for members in groups.values():
        members.sort(key=_canonical_order)
        keep = dict(members[0])
        spellings: list[str] = []
        for member in members:
            for spelling in member.get("symbols") or [member["symbol"]]:
                if spelling not in spellings:
                    spellings.append(spelling)
        rest = sorted(spellings[1:], key=lambda s: (len(s), s))
        keep["symbols"] = [keep["symbol"], *(s for s in rest if s != keep["symbol"])]
        if len(keep["symbols"]) == 1:
            keep["symbols"] = None
        keep["targets"] = sorted(set().union(*(targets[m["code"]] for m in members)))
        for member in members[1:]:
            if member["code"] != keep["code"]:
                aliases[member["code"]] = keep["code"]
        out.append(keep)
    return out, aliases


def _vt(v: str) -> tuple[int, ...]:
    out = [int("".join(c for c in p if c.isdigit()) or 0) for p in str(v).split(".")]
    while len(out) > 1 and out[-1] == 0:
        out.pop()
    return tuple(out)


def fold_into_hand(
    rules: list[dict], hand_rules: list[dict], libs: dict[str, dict]
) -> tuple[list[dict], dict[str, str], dict[str, dict]]:
    """Generated rules about an object a hand-written rule (data/rules.yaml) already names under
    its canonical spelling: ``mlflow.sklearn.MlflowClient.list_experiments`` is MLF101's
    ``mlflow.MlflowClient.list_experiments`` reached through an incidental import. They go, their
    codes become aliases of the hand-written one, and their spellings are listed for it
    (``hand_spellings``: {code: {"symbols": [...], "kwargs": [{"call", "keyword"}]}}), so the
    scanner still finds every spelling under the one code. Only for the same removal: the
    generated rule's older release is the last one before the hand rule's version."""
    known: dict[tuple, str] = {}
    for hand in hand_rules:
        applies = hand.get("applies") or {}
        package = applies.get("package")
        if not hand.get("removal") or package not in libs:
            continue
        spec = libs[package]
        before = [v for v in spec["versions"] if _vt(v) < _vt(applies["introduced"])]
        if not before:
            continue
        match = hand.get("match") or {}
        claims = [("attribute", s, None) for s in match.get("symbols", ())]
        claims += [("keyword", k["call"], k["keyword"]) for k in match.get("kwargs", ())]
        for kind, name, keyword in claims:
            found = target(spec["dist"], before[-1], name)
            if found is not None:
                known[(package, kind, found, keyword, before[-1])] = hand["code"]
    kept: list[dict] = []
    aliases: dict[str, str] = {}
    spellings: dict[str, dict] = {}
    for rule in rules:
        present = rule["evidence"]["present"].rsplit(" ", 1)[-1]
        hits = {
            known.get((rule["package"], rule["kind"], t, rule["keyword"], present))
            for t in rule.get("targets") or ()
        } - {None}
        if len(hits) != 1:
            kept.append(rule)
            continue
        code = hits.pop()
        aliases[rule["code"]] = code
        entry = spellings.setdefault(
            code,
            {
                "package": rule["package"],
                "symbols": [],
                "kwargs": [],
                "classes": [],
                "evidence": {},
            },
        )
        for spelling in rule.get("symbols") or [rule["symbol"]]:
            if rule["kind"] == "keyword":
                entry["kwargs"].append({"call": spelling, "keyword": rule["keyword"]})
            else:
                entry["symbols"].append(spelling)
            owner = spelling.rsplit(".", 1)[0]
            # An instance of the class under this spelling has the member too.
            if rule.get("owner") and owner not in entry["classes"]:
                entry["classes"].append(owner)
        entry["evidence"][rule["code"]] = rule["evidence"]
    return kept, aliases, spellings


@cache
def _classes_with_mro(
    dist: str, version: str, module: str
) -> list[tuple[str, frozenset[str], object]]:
    """(public path, paths of its MRO, class) for each class the public ``module`` exposes."""
    pkg = wheelapi.package(dist, version)
    mod = wheelapi.lookup(pkg, module)
    mod = wheelapi.resolved(mod) if mod is not None else None
    if mod is None or not mod.is_module:
        return []
    out = []
    for name, member in mod.members.items():
        if name.startswith("_"):
            continue
        cls = wheelapi.resolved(member)
        if cls is None or not cls.is_class:
            continue
        try:
            mro = frozenset(str(c.path) for c in cls.mro())
        except Exception:  # unresolvable bases: not evidence either way
            continue
        out.append((f"{module}.{name}", mro, cls))
    return out


def subclasses_keeping(dist: str, version: str, owner: str, name: str) -> list[str]:
    """Public classes of ``owner``'s module that derive from ``owner`` in ``version`` and still
    have ``name``: SciPy 1.11 made ``spmatrix`` a mixin, so ``spmatrix.toarray`` is gone from the
    class while every ``csr_matrix`` (an ``spmatrix``) keeps it."""
    found = target(dist, version, owner)
    if found is None:
        return []
    out = []
    for path, mro, cls in _classes_with_mro(dist, version, owner.rsplit(".", 1)[0]):
        if path == owner or found not in mro:
            continue
        try:
            has = name in cls.all_members
        except Exception:
            continue
        if has:
            out.append(path)
    return sorted(out)
