"""The rule catalog (package data ``data/rules.yaml``) and which rules a migration crosses."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cockpit.compat.versions import crosses
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
        if rule.applies is None:
            return True
        low, high = self.versions.get(rule.applies.package, (None, None))
        return crosses(low, high, rule.applies.introduced)

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
        )
        if rule.code in rules:
            raise RuntimeError(f"rule code {rule.code} is defined twice")
        if rule.severity not in SEVERITIES:
            raise RuntimeError(f"rule {rule.code}: unknown severity {rule.severity}")
        rules[rule.code] = rule
    return rules


def get_rule(code: str) -> Rule:
    rules = catalog()
    wanted = code.strip()
    if wanted.upper() in rules:
        return rules[wanted.upper()]
    for rule in rules.values():
        if rule.name == wanted.lower():
            return rule
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
