"""The rule catalog (package data ``data/rules.yaml``) and which rules a migration crosses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cockpit.compat.versions import crosses, reached
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.runtimes.manifest import RuntimeManifest
    from cockpit.store import StateStore

SEVERITIES = ("blocking", "warning", "info")


@dataclass(frozen=True)
class Applies:
    package: str  # "runtime", "python" or a library name
    introduced: str


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    what: str
    fix: str
    autofix: bool
    source: str
    applies: Applies | None = None
    ref: str | None = None
    match: dict[str, Any] = field(default_factory=dict)
    minimums: dict[str, dict[str, str]] = field(default_factory=dict)
    # An API the package no longer has from `applies.introduced` on: it breaks code on any target
    # at or past that version, whatever the source had (see Crossing.applies).
    removal: bool = False
    restored: str | None = None  # a removed API that came back in this version (np.bool in 2.0)
    family: str = (
        "catalog"  # where the rule comes from: catalog, stdlib (typeshed), library API diff
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "applies": (
                {"package": self.applies.package, "introduced": self.applies.introduced}
                if self.applies
                else None
            ),
            "what": self.what,
            "fix": self.fix,
            "autofix": self.autofix,
            "source": self.source,
            "ref": self.ref,
            "removal": self.removal,
            "family": self.family,
        }


@dataclass(frozen=True)
class Crossing:
    """The migration a scan is for: versions of each package on both sides.

    ``versions`` maps a package ("runtime", "python", "mlflow", "pandas", ...) to
    (from, to); a package missing from it is unknown and every rule about it applies.
    """

    from_runtime: str
    to_runtime: str
    versions: dict[str, tuple[str | None, str | None]]
    target_spark_versions: tuple[str, ...] = ()
    target_libraries: dict[str, str] = field(default_factory=dict)
    old_tracking_uri: str | None = None

    def applies(self, rule: Rule) -> bool:
        """A rule applies when the migration crosses its version; a removal applies whenever the
        target lacks the API (introduced <= to), because such code cannot run on the target even
        if the source runtime's version already lacked it."""
        if rule.applies is None:
            return True
        low, high = self.versions.get(rule.applies.package, (None, None))
        if rule.removal:
            if rule.restored and reached(high, rule.restored) and high is not None:
                return False
            return reached(high, rule.applies.introduced)
        return crosses(low, high, rule.applies.introduced)

    def removal_note(self, rule: Rule) -> str | None:
        """For a removal rule that applies: whether the break is new in this migration or was
        already there on the source side (and then where the older package must come from)."""
        if not rule.removal or rule.applies is None:
            return None
        package, introduced = rule.applies.package, rule.applies.introduced
        low, high = self.versions.get(package, (None, None))
        name = "Python" if package == "python" else package
        if not reached(low, introduced):
            was = (
                f"{name} {low} on {self.from_runtime}"
                if low
                else f"the {name} of {self.from_runtime}"
            )
            now = f"{name} {high}" if high else name
            return f"New in this migration: {was} has it, {now} on {self.to_runtime} does not."
        if package == "python":
            return (
                f"Already broken before this migration: Python {low} on {self.from_runtime} lacks "
                f"it too (gone since {introduced}), so this code cannot run there either: dead "
                "code, or it runs on another interpreter (check which jobs really call it)."
            )
        return (
            f"Already broken before this migration: {package} {low}, preinstalled on "
            f"{self.from_runtime}, lacks it too (gone since {introduced}), so wherever this "
            f"runs today an older {package} is installed: look for a {package} pin in "
            "requirements*.txt / pyproject.toml / setup.cfg, a %pip install in the notebook, "
            "the job's cluster libraries or an init script"
            + (
                " (`cockpit check --mlflow-from` takes that version)."
                if package == "mlflow"
                else "."
            )
        )

    def label(self) -> str:
        mlflow = self.versions.get("mlflow", (None, None))
        text = f"{self.from_runtime} -> {self.to_runtime}"
        if mlflow[0] or mlflow[1]:
            text += f" (MLflow {mlflow[0] or '?'} -> {mlflow[1] or '?'})"
        return text


def _manifest_versions(manifest: RuntimeManifest) -> dict[str, str | None]:
    libs = manifest.python_libraries
    versions: dict[str, str | None] = dict(libs)
    versions["runtime"] = manifest.version
    versions["python"] = manifest.system.get("python")
    # ML runtimes list the client as mlflow-skinny; the rules speak of mlflow.
    versions["mlflow"] = libs.get("mlflow") or libs.get("mlflow-skinny")
    return versions


def build_crossing(
    from_runtime: str,
    to_runtime: str,
    *,
    store: StateStore | None = None,
    overrides: dict[str, tuple[str | None, str | None]] | None = None,
    old_tracking_uri: str | None = None,
) -> Crossing:
    """A crossing from two runtime ids (bundled or imported), with per-package overrides.

    ``overrides`` exists because a pipeline's MLflow client is often not the runtime's: Kyros
    pins mlflow 1.30 on 14.3 LTS ML, so ``{"mlflow": ("1.30.1", None)}`` keeps the 1.x -> 2.x
    rules in play while the target side still comes from the manifest.
    """
    from cockpit.runtimes.manifest import load_runtime

    low_m, high_m = load_runtime(from_runtime, store), load_runtime(to_runtime, store)
    low, high = _manifest_versions(low_m), _manifest_versions(high_m)
    versions = {name: (low.get(name), high.get(name)) for name in set(low) | set(high)}
    for name, (o_low, o_high) in (overrides or {}).items():
        cur_low, cur_high = versions.get(name, (None, None))
        versions[name] = (o_low or cur_low, o_high or cur_high)
    target_libs = dict(high_m.python_libraries)
    if "mlflow" not in target_libs and high.get("mlflow"):
        target_libs["mlflow"] = str(high["mlflow"])
    return Crossing(
        from_runtime=from_runtime,
        to_runtime=to_runtime,
        versions=versions,
        target_spark_versions=tuple(high_m.spark_version_keys),
        target_libraries=target_libs,
        old_tracking_uri=old_tracking_uri,
    )


@cache
def catalog() -> dict[str, Rule]:
    """Every rule by code, in catalog order."""
    from ruamel.yaml import YAML

    text = resources.files("cockpit.compat").joinpath("data", "rules.yaml").read_text("utf-8")
    rules: dict[str, Rule] = {}
    for raw in YAML(typ="safe", pure=True).load(text):
        applies = raw.get("applies")
        rule = Rule(
            code=raw["code"],
            name=raw["name"],
            severity=raw["severity"],
            what=raw["what"],
            fix=raw["fix"],
            autofix=bool(raw.get("autofix", False)),
            source=raw["source"],
            applies=Applies(str(applies["package"]), str(applies["introduced"]))
            if applies
            else None,
            ref=raw.get("ref"),
            match=dict(raw.get("match") or {}),
            minimums={k: dict(v) for k, v in (raw.get("minimums") or {}).items()},
            removal=bool(raw.get("removal", False)),
        )
        if rule.code in rules:
            raise RuntimeError(f"rule code {rule.code} is defined twice")
        if rule.severity not in SEVERITIES:
            raise RuntimeError(f"rule {rule.code}: unknown severity {rule.severity}")
        rules[rule.code] = rule
    for name in GENERATED:
        for rule in _generated_rules(name):
            if rule.code in rules:
                raise RuntimeError(f"rule code {rule.code} is defined twice")
            rules[rule.code] = rule
    for name in GENERATED:
        _add_spellings(rules, generated_file(name).get("hand_spellings") or {})
    return rules


def _add_spellings(rules: dict[str, Rule], spellings: dict[str, Any]) -> None:
    """Other imports of a hand-written rule's API that the generator found in the wheels
    (``mlflow.sklearn.MlflowClient`` is ``mlflow.tracking.MlflowClient``): matched under the
    hand-written rule's code rather than under codes of their own."""
    for code, extra in spellings.items():
        rule = rules.get(code)
        if rule is None:
            raise RuntimeError(f"spellings for unknown rule {code}")
        match = dict(rule.match)
        symbols = list(match.get("symbols", ()))
        symbols += [s for s in extra.get("symbols", ()) if s not in symbols]
        kwargs = list(match.get("kwargs", ()))
        kwargs += [k for k in extra.get("kwargs", ()) if k not in kwargs]
        classes = sorted({*match.get("classes", ()), *extra.get("classes", ())})
        match.update(
            {k: v for k, v in (("symbols", symbols), ("kwargs", kwargs), ("classes", classes)) if v}
        )
        rules[code] = replace(rule, match=match)


# Rule files written by the maintainer scripts (each with its provenance), by family.
GENERATED = {"stdlib_removals.json": "stdlib", "library_removals.json": "library"}


@cache
def generated_file(name: str) -> dict[str, Any]:
    import json

    folder = resources.files("cockpit.compat").joinpath("data")
    entry = folder.joinpath(name)
    if not entry.is_file():
        return {"rules": []}
    return json.loads(entry.read_text("utf-8"))


def _generated_rules(name: str) -> list[Rule]:
    """Rules from a generated file: one per removed module, attribute or keyword argument, or
    per function that takes fewer arguments by position."""
    out = []
    for raw in generated_file(name)["rules"]:
        symbols = raw.get("symbols") or [raw["symbol"]]
        match: dict[str, Any]
        if raw["kind"] == "module":
            match = {"modules": symbols}
        elif raw["kind"] == "keyword":
            match = {"kwargs": [{"call": s, "keyword": raw["keyword"]} for s in symbols]}
        elif raw["kind"] == "positional":
            # Arguments that became keyword-only: a call passing more than ``max`` by position.
            match = {
                "positional": [
                    {
                        "call": s,
                        "max": int(raw["max_positional"]),
                        "bound": raw.get("bound"),
                        "moved": list(raw.get("moved") or ()),
                        "keywords": list(raw.get("keywords") or ()),
                        "names_in": list(raw.get("names_in") or ()),
                        "reordered": bool(raw.get("reordered")),
                    }
                    for s in symbols
                ]
            }
        else:
            match = {"symbols": symbols}
        if raw.get("owner"):
            # Members of a class: calling the class (or deriving from it) gives an instance.
            match["classes"] = sorted({s.rsplit(".", 1)[0] for s in symbols})
        out.append(
            Rule(
                code=raw["code"],
                name=raw["name"],
                severity="blocking",
                what=raw["what"],
                fix=raw["fix"],
                # Arguments that became keyword-only: ``name=value`` where the call's target is
                # certain (the scanner decides per occurrence); never for a rule whose moved
                # arguments the newer release no longer takes at all (nothing to name).
                autofix=raw["kind"] == "positional"
                and bool(raw.get("names_in"))
                and bool(raw.get("keywords")),
                source=raw["source"],
                applies=Applies(raw.get("package", "python"), str(raw["introduced"])),
                ref=raw.get("ref"),
                match=match,
                removal=True,
                restored=raw.get("restored"),
                family=GENERATED[name],
            )
        )
    return out


def generated_evidence(code: str) -> dict[str, Any] | None:
    """A generated rule's evidence and its file's provenance."""
    for name in GENERATED:
        data = generated_file(name)
        for raw in data["rules"]:
            if raw["code"] == code:
                return {
                    "evidence": raw.get("evidence"),
                    "generated_by": data.get("generated_by"),
                    "generated_at": data.get("generated_at"),
                    "provenance": data.get("provenance"),
                }
    return None


# Codes never reused, with why they went (shown when someone asks for one).
RETIRED = {
    "MLF104": "retired: MlflowClient.download_artifacts was never removed (the released 2.0.1, "
    "2.21.3 and 3.0.1 packages define it; the catalog entry it came from is retracted)",
}


@cache
def aliases() -> dict[str, tuple[str, str]]:
    """Codes folded into another rule: retired code -> (the code that replaces it, why). The
    generators fold rules about one object under several spellings into one rule; a suppression
    or a `rules show` naming a folded code still reaches the rule it went into."""
    out: dict[str, tuple[str, str]] = {}
    for name in GENERATED:
        for code, entry in (generated_file(name).get("retired") or {}).items():
            out[code] = (entry["now"], entry["why"])
    return out


@cache
def folded_names() -> dict[str, frozenset[str]]:
    """Folded rules' names (upper case) -> the codes they stand for today. A suppression may
    name a rule rather than its code (``ignore[pandas-keyword-only-...]``), and a folded rule's
    name went with it; a few names were carried by several folded rules (one per spelling), so
    a name may stand for more than one code."""
    out: dict[str, set[str]] = {}
    for name in GENERATED:
        for entry in (generated_file(name).get("retired") or {}).values():
            if entry.get("name"):
                out.setdefault(entry["name"].upper(), set()).add(entry["now"])
    return {name: frozenset(codes) for name, codes in out.items()}


def current_code(code: str) -> str:
    """The code a (possibly retired) code stands for today."""
    wanted = code.strip().upper()
    found = aliases().get(wanted)
    return found[0] if found else wanted


def rule_for(code: str) -> Rule | None:
    """The rule a stored code names today (a folded code reaches the rule it went into), or
    None: for readers of findings and items recorded before a fold."""
    return catalog().get(current_code(code))


def get_rule(code: str) -> Rule:
    rules = catalog()
    wanted = code.strip()
    if wanted.upper() in RETIRED:
        raise CockpitError(f"rule {wanted.upper()} is {RETIRED[wanted.upper()]}")
    if wanted.upper() in rules:
        return rules[wanted.upper()]
    if wanted.upper() in aliases():
        return rules[current_code(wanted)]
    for rule in rules.values():
        if rule.name == wanted.lower():
            return rule
    codes = sorted(folded_names().get(wanted.upper(), ()))
    if len(codes) == 1:
        return rules[codes[0]]
    if codes:
        raise CockpitError(
            f"{wanted} named rules since folded into {', '.join(codes)}: show one of those"
        )
    raise CockpitError(f"no rule {code!r} (`cockpit rules list` shows them)")


@cache
def reference_entry(ref: str) -> dict[str, Any] | None:
    """The gathered source entry a rule was built from (data/reference/*.yaml), if any."""
    from ruamel.yaml import YAML

    folder = resources.files("cockpit.compat").joinpath("data", "reference")
    loader = YAML(typ="safe", pure=True)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        for item in loader.load(entry.read_text("utf-8")) or []:
            if isinstance(item, dict) and item.get("id") == ref:
                return item
    return None


@cache
def _verification_file() -> dict[str, Any]:
    import json

    text = (
        resources.files("cockpit.compat").joinpath("data", "verification.json").read_text("utf-8")
    )
    return json.loads(text)


def verification(code: str) -> dict[str, Any] | None:
    """How and when a catalog removal rule was checked against the released packages
    (``scripts/verify_rules.py``): the record, with the file's date and method added."""
    data = _verification_file()
    record = data["rules"].get(code)
    if record is None:
        return None
    applies = catalog()[code].applies if code in catalog() else None
    return {
        **record,
        "package": applies.package if applies is not None else None,
        "generated_at": data["generated_at"],
        "generated_by": data["generated_by"],
        "method": data["method"],
        "packages": data["packages"],
    }
