"""Diff two runtime manifests: system stack, Python libraries, behaviour changes, support runway.

Pure functions over :class:`RuntimeManifest`; no I/O beyond the bundled lifecycle table.

Library severity (documented in the README):

* ``removed``, a major-version bump, or a minor bump of a 0.x package (semver gives 0.x minors no
  compatibility promise) -> ``breaking`` (a breaking *risk*: code using it must be checked);
* a minor bump of a package whose own policy allows breaking minor releases (``versioning.json``,
  e.g. torch) -> ``breaking``;
* a minor bump, any downgrade, or a version that cannot be ordered -> ``notable``;
* a patch bump, a local-tag change (``+cpu`` -> ``+cu118``), or an added package -> ``info``;
* unchanged -> ``none``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from packaging.version import InvalidVersion, Version

from cockpit.runtimes.manifest import (
    SYSTEM_COMPONENTS,
    BehaviorChange,
    RuntimeManifest,
    lifecycle,
    releases_between,
)

CHANGE_KINDS = ("added", "removed", "upgraded", "downgraded", "changed", "unchanged")
SEVERITIES = ("breaking", "notable", "info", "none")


@dataclass(frozen=True)
class SystemChange:
    component: str
    old: str | None
    new: str | None
    old_short: str | None  # "8" for "Zulu 8.74.0.17-CA-linux64", "22.04" for Ubuntu
    new_short: str | None
    changed: bool


@dataclass(frozen=True)
class LibraryChange:
    name: str
    kind: str  # one of CHANGE_KINDS
    old: str | None
    new: str | None
    severity: str  # one of SEVERITIES
    bump: str | None = None  # "major", "minor", "patch", "local", or None
    reason: str = ""  # why the severity is what it is, with a source where it is a policy


@dataclass(frozen=True)
class Runway:
    runtime_id: str
    end_of_support: str | None
    days_left: int | None  # from `today`; negative once support has ended


@dataclass(frozen=True)
class RuntimeDiff:
    from_id: str
    to_id: str
    system: tuple[SystemChange, ...]
    libraries: tuple[LibraryChange, ...]
    behavior_changes: tuple[BehaviorChange, ...]
    runway: tuple[Runway, Runway]
    sources: tuple[str, ...]
    notes: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        out = {kind: 0 for kind in CHANGE_KINDS}
        for lib in self.libraries:
            out[lib.kind] += 1
        for sev in ("breaking", "notable", "info"):
            out[sev] = sum(1 for lib in self.libraries if lib.severity == sev)
        return out

    def filtered(self, only: str | None) -> tuple[LibraryChange, ...]:
        """``only="breaking"``: breaking-risk changes; ``"changed"``: everything but unchanged."""
        if only == "breaking":
            return tuple(lib for lib in self.libraries if lib.severity == "breaking")
        if only == "changed":
            return tuple(lib for lib in self.libraries if lib.kind != "unchanged")
        return self.libraries

    def to_json(self, only: str | None = None) -> dict[str, Any]:
        return {
            "from": self.from_id,
            "to": self.to_id,
            "system": [asdict(s) for s in self.system],
            # Field by field rather than dataclasses.asdict (deep-copies; 3x slower on 400 rows).
            "libraries": [
                {
                    "name": x.name,
                    "kind": x.kind,
                    "old": x.old,
                    "new": x.new,
                    "severity": x.severity,
                    "bump": x.bump,
                    "reason": x.reason,
                }
                for x in self.filtered(only)
            ],
            "counts": self.counts(),
            "behavior_changes": [asdict(b) for b in self.behavior_changes],
            "support": [asdict(r) for r in self.runway],
            "sources": list(self.sources),
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------- system
def short_system_value(component: str, value: str | None) -> str | None:
    """The part of a system value people talk about: Java 8, Ubuntu 22.04, Python 3.10.12."""
    if value is None:
        return None
    if component == "java":
        match = re.search(r"(?:Zulu|JDK|jdk)?\s*(\d+)[.+]", value)
        return match.group(1) if match else value
    if component == "os":
        match = re.search(r"(\d+\.\d+)", value)
        name = value.split()[0] if value.split() else value
        return f"{name} {match.group(1)}" if match else value
    return value


def diff_system(old: RuntimeManifest, new: RuntimeManifest) -> tuple[SystemChange, ...]:
    keys = [k for k in SYSTEM_COMPONENTS if k in old.system or k in new.system]
    keys += sorted((set(old.system) | set(new.system)) - set(keys))
    out = []
    for key in keys:
        a, b = old.system.get(key), new.system.get(key)
        out.append(
            SystemChange(
                component=key,
                old=a,
                new=b,
                old_short=short_system_value(key, a),
                new_short=short_system_value(key, b),
                # Unknown on one side (a custom image without system facts) is not a change.
                changed=a != b and a is not None and b is not None,
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------ libraries
def _parse(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def classify(old: str | None, new: str | None, name: str = "") -> tuple[str, str, str | None, str]:
    """(kind, severity, bump, reason) for one library's old and new version (either may be None).

    ``name`` lets packages with a published "minor releases may break" policy (``versioning.json``)
    rate a minor bump as a breaking risk.
    """
    if old is None and new is None:
        raise ValueError("a library must exist on at least one side")
    if old is None:
        return "added", "info", None, "new in the target"
    if new is None:
        return "removed", "breaking", None, "not preinstalled on the target"
    if old == new:
        return "unchanged", "none", None, ""
    a, b = _parse(old), _parse(new)
    if a is None or b is None:
        return "changed", "notable", None, "versions are not PEP 440; cannot order them"
    if a == b:  # e.g. "1.0" vs "1.0.0": equal under PEP 440
        return "unchanged", "none", None, ""
    if a.public == b.public:
        return ("upgraded" if b > a else "downgraded"), "info", "local", "local build tag only"
    kind = "upgraded" if b > a else "downgraded"
    lo, hi = (a, b) if b > a else (b, a)
    if lo.major != hi.major:
        bump = "major"
    elif lo.minor != hi.minor:
        bump = "minor"
    else:
        bump = "patch"
    policy = minor_breaks_policy().get(name)
    if bump == "major":
        severity, reason = "breaking", "major version bump"
    elif bump == "minor" and lo.major == 0:
        severity, reason = "breaking", "0.x minor bump (SemVer makes no compatibility promise)"
    elif bump == "minor" and policy:
        severity, reason = "breaking", f"{policy['policy']} ({policy['source']})"
    elif bump == "minor":
        severity, reason = "notable", "minor version bump"
    elif kind == "downgraded":
        severity, reason = "notable", "patch-level downgrade"
    else:
        severity, reason = "info", "patch bump"
    return kind, severity, bump, reason


@cache
def minor_breaks_policy() -> dict[str, dict[str, str]]:
    text = resources.files("cockpit.runtimes").joinpath("data", "versioning.json").read_text()
    return json.loads(text)["packages"]


def diff_libraries(old: RuntimeManifest, new: RuntimeManifest) -> tuple[LibraryChange, ...]:
    # Names are already PEP 503-normalised when manifests are built.
    names = sorted(set(old.python_libraries) | set(new.python_libraries))
    out = []
    for name in names:
        a, b = old.python_libraries.get(name), new.python_libraries.get(name)
        kind, severity, bump, reason = classify(a, b, name)
        out.append(
            LibraryChange(
                name=name, kind=kind, old=a, new=b, severity=severity, bump=bump, reason=reason
            )
        )
    return tuple(out)


# -------------------------------------------------------------------------- behaviour, runway
def behavior_changes_between(
    old: RuntimeManifest, new: RuntimeManifest
) -> tuple[BehaviorChange, ...]:
    """Behaviour changes of every release in (old, new], deduplicated, oldest release first."""
    manifests = releases_between(old, new)
    if new.origin != "bundled":
        manifests.append(new)
    seen: set[tuple[str, str]] = set()
    out = []
    for manifest in manifests:
        for change in manifest.behavior_changes:
            key = (change.title, change.source)
            if key not in seen:
                seen.add(key)
                out.append(change)
    return tuple(out)


def runway_of(manifest: RuntimeManifest, today: dt.date) -> Runway:
    end = manifest.end_of_support
    if end is None and manifest.version:
        for release in lifecycle()["releases"]:
            if release["version"].split()[0] == manifest.version:
                end = release["end_of_support"]
    days = (dt.date.fromisoformat(end) - today).days if end else None
    return Runway(runtime_id=manifest.id, end_of_support=end, days_left=days)


def diff_runtimes(
    old: RuntimeManifest, new: RuntimeManifest, *, today: dt.date | None = None
) -> RuntimeDiff:
    if today is None:
        from cockpit.timefmt import utc_day

        today = utc_day()
    sources = tuple(dict.fromkeys((*old.sources, *new.sources)))
    notes = tuple(f"{m.id}: {m.notes}" for m in (old, new) if m.notes)
    return RuntimeDiff(
        from_id=old.id,
        to_id=new.id,
        system=diff_system(old, new),
        libraries=diff_libraries(old, new),
        behavior_changes=behavior_changes_between(old, new),
        runway=(runway_of(old, today), runway_of(new, today)),
        sources=sources,
        notes=notes,
    )
