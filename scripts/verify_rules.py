"""Check every API-removal rule against the released packages; write the evidence as package data.

    .venv-maint/bin/python scripts/verify_rules.py    # writes cockpit/compat/data/verification.json

A rule marked ``removal: true`` in ``cockpit/compat/data/rules.yaml`` claims that its symbols
(``match.symbols``), modules (``match.modules``) and keyword arguments (``match.kwargs``) exist in
the last checked release before ``applies.introduced`` and are gone from every checked release
from ``introduced`` on. This script checks exactly that claim: libraries in their released wheels
(``pip download --no-deps``, read statically with griffe), the standard library in typeshed's
stubs for each Python version. A rule whose claim fails is listed with the failing symbol and the
script exits 1; the test suite requires a passing record for every removal rule, so a wrong rule
(like the retracted MLF104) cannot ship. Needs the ``maint`` extra (griffe, mypy, typeshed_client).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stdlib_api
import wheelapi

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "cockpit" / "compat" / "data"
OUT = DATA / "verification.json"

# The releases checked per package: the versions the bundled runtimes (14.3/16.4/17.3 LTS ML)
# preinstall, the first release of each removal, and MLflow 1.30.1 (the last 1.x, Kyros' pin).
RELEASES = {
    "mlflow": ("mlflow-skinny", ["1.30.1", "2.0.1", "2.9.2", "2.21.3", "3.0.1"]),
    "pandas": ("pandas", ["1.5.3", "2.0.0", "2.2.3"]),
    "numpy": ("numpy", ["1.23.5", "1.26.4", "2.1.3"]),
    "python": ("python", ["3.10", "3.11", "3.12"]),
}


def _vt(v: str) -> tuple[int, ...]:
    out = []
    for p in v.split("."):
        digits = "".join(c for c in p if c.isdigit())
        out.append(int(digits or 0))
    while len(out) > 1 and out[-1] == 0:
        out.pop()
    return tuple(out)


class Package:
    """One release of a package (or of the standard library) that claims can be checked on."""

    def __init__(self, dist: str, version: str) -> None:
        self.dist, self.version = dist, version
        self._pkg = None if dist == "python" else wheelapi.package(dist, version)

    def label(self) -> str:
        return f"{'Python' if self.dist == 'python' else self.dist} {self.version}"

    def has(self, dotted: str) -> tuple[bool, str]:
        """(present, how): a static member, or a name a module's __getattr__ serves."""
        if self._pkg is None:
            return stdlib_api.present(self.version, dotted), "typeshed stub"
        obj = wheelapi.lookup(self._pkg, dotted)
        if obj is not None:
            return True, "defined"
        mention = wheelapi.dynamic_mention(self._pkg, dotted)
        if mention is None:
            return False, "not defined"
        # numpy >= 1.24 keeps expired names in __former_attrs__ / __expired_functions__ only to
        # raise a helpful AttributeError: named there, the attribute is gone.
        if "former" in mention or "expired" in mention:
            return False, f"raises AttributeError via __getattr__ ({mention})"
        return True, f"served by the module's __getattr__ ({mention})"

    def params(self, dotted: str) -> tuple[set[str], bool] | None:
        if self._pkg is None:
            return stdlib_api.parameters(self.version, dotted)
        obj = wheelapi.lookup(self._pkg, dotted)
        return None if obj is None else wheelapi.parameters(obj)

    def provenance(self) -> dict[str, str]:
        if self.dist == "python":
            return stdlib_api.typeshed_provenance()
        return wheelapi.wheel(self.dist, self.version).provenance()


def claims(rule: dict) -> list[tuple[str, str, str | None]]:
    """(kind, name, keyword) for everything the rule matches on."""
    match = rule.get("match") or {}
    out = [("symbol", s, None) for s in match.get("symbols", ())]
    out += [("module", m, None) for m in match.get("modules", ())]
    out += [("keyword", k["call"], k["keyword"]) for k in match.get("kwargs", ())]
    return out


def check(kind: str, name: str, keyword: str | None, pkg: Package) -> tuple[bool, str]:
    if kind != "keyword":
        return pkg.has(name)
    params = pkg.params(name)
    if params is None:
        return False, f"{name} not found"
    names, var_kw = params
    if keyword in names:
        return True, f"{name} takes {keyword}="
    if var_kw:
        return False, f"{name} has no {keyword} parameter (but takes **kwargs)"
    return False, f"{name} has no {keyword} parameter"


def verify(rule: dict, cache: dict) -> dict:
    package = rule["applies"]["package"]
    introduced = str(rule["applies"]["introduced"])
    dist, versions = RELEASES[package]
    before = [v for v in versions if _vt(v) < _vt(introduced)]
    after = [v for v in versions if _vt(v) >= _vt(introduced)]
    record: dict = {"ok": True, "checked": [], "present_in": None, "absent_in": after}
    if not before or not after:
        record.update(
            ok=False, problem=f"no checked {package} release on both sides of {introduced}"
        )
        return record
    record["present_in"] = before[-1]
    for kind, name, keyword in claims(rule):
        row = {"kind": kind, "name": name, "keyword": keyword, "results": {}}
        for version, want in [(before[-1], True), *((v, False) for v in after)]:
            key = (dist, version)
            if key not in cache:
                cache[key] = Package(dist, version)
            got, how = check(kind, name, keyword, cache[key])
            row["results"][version] = how
            if got != want:
                record["ok"] = False
                label = cache[key].label()
                what = f"{name}({keyword}=)" if keyword else name
                record.setdefault("problems", []).append(
                    f"{what} is {'present' if got else 'absent'} in {label} ({how})"
                )
        record["checked"].append(row)
    return record


def with_spellings(rules: list[dict]) -> None:
    """Add the other spellings of hand-written rules' APIs that gen_library_removals.py found
    (``hand_spellings`` in library_removals.json), as cockpit.compat.rules does: the rule
    matches them, so they are claims to check too."""
    path = DATA / "library_removals.json"
    extra = json.loads(path.read_text("utf-8")).get("hand_spellings") or {} if path.exists() else {}
    for rule in rules:
        more = extra.get(rule["code"])
        if not more:
            continue
        match = rule.setdefault("match", {})
        symbols = list(match.get("symbols", ()))
        symbols += [s for s in more.get("symbols", ()) if s not in symbols]
        kwargs = list(match.get("kwargs", ()))
        kwargs += [k for k in more.get("kwargs", ()) if k not in kwargs]
        if symbols:
            match["symbols"] = symbols
        if kwargs:
            match["kwargs"] = kwargs


def main() -> int:
    yaml = YAML(typ="safe", pure=True)
    rules = yaml.load((DATA / "rules.yaml").read_text("utf-8"))
    with_spellings(rules)
    cache: dict = {}
    out: dict = {}
    failed = []
    for rule in rules:
        if not rule.get("removal"):
            continue
        record = verify(rule, cache)
        out[rule["code"]] = record
        status = "ok" if record["ok"] else "FAILED"
        print(f"{rule['code']}: {status}", *record.get("problems", []), sep="\n  ")
        if not record["ok"]:
            failed.append(rule["code"])
    used = sorted({f"{p.dist}=={p.version}" for p in cache.values()})
    document = {
        "about": "Evidence that each API-removal rule's symbols exist in the release before the "
        "removal and are gone from the releases after it, read from the released packages.",
        "generated_by": "scripts/verify_rules.py",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": {
            "libraries": f"griffe {wheelapi.griffe_version()} reading the released wheels "
            "statically (pip download --no-deps; no import), names served by a module "
            "__getattr__ recognised from the module's source",
            "python": "typeshed stubs with stdlib/VERSIONS and sys.version_info guards applied "
            "per version (" + "; ".join(stdlib_api.typeshed_provenance().values()) + ")",
        },
        "packages": {key: cache[tuple(key.split("=="))].provenance() for key in used},
        "rules": out,
    }
    OUT.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(out)} rules, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
