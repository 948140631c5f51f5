"""Turn ``pip freeze`` output, ``pip list --format json`` or a manifest JSON into a manifest.

So a custom image, a non-LTS runtime or a live cluster can be diffed like the bundled LTS ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from cockpit.errors import CockpitError
from cockpit.runtimes.manifest import canonicalize_name

_FREEZE_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")
_AT_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*@\s*\S+")


def parse_runtime_text(text: str, *, name: str) -> dict[str, Any]:
    """Detect the format and return a manifest dict (the bundled JSON shape)."""
    stripped = text.strip()
    if not stripped:
        raise CockpitError(
            "the file is empty: expected pip freeze output, pip list JSON or a manifest"
        )
    if stripped[0] in "[{":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise CockpitError(f"looks like JSON but is not valid: {exc}") from None
        if isinstance(data, list):
            return _from_pip_list(data, name=name)
        if isinstance(data, dict) and "python_libraries" in data:
            return _from_manifest(data, name=name)
        raise CockpitError("JSON is neither `pip list --format json` output nor a runtime manifest")
    return _from_freeze(text, name=name)


def _from_pip_list(items: list[Any], *, name: str) -> dict[str, Any]:
    libraries = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item or "version" not in item:
            raise CockpitError(f"pip list JSON entry {i} has no name/version")
        libraries[canonicalize_name(str(item["name"]))] = str(item["version"])
    return _manifest(name, libraries, origin_note="imported from pip list --format json")


def _from_manifest(data: dict[str, Any], *, name: str) -> dict[str, Any]:
    libs = data.get("python_libraries")
    if not isinstance(libs, dict):
        raise CockpitError("manifest's python_libraries must be an object of name -> version")
    out = dict(data)
    out["python_libraries"] = {canonicalize_name(str(k)): str(v) for k, v in libs.items()}
    out.setdefault("name", name)
    return out


def _from_freeze(text: str, *, name: str) -> dict[str, Any]:
    libraries: dict[str, str] = {}
    skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")):
            continue
        match = _FREEZE_LINE.match(line)
        if match:
            libraries[canonicalize_name(match.group(1))] = match.group(2)
            continue
        if _AT_LINE.match(line):
            # `pkg @ file:///...`: installed from a path/URL, version unknown.
            try:
                req = Requirement(line)
            except InvalidRequirement:
                skipped += 1
                continue
            libraries[canonicalize_name(req.name)] = "unknown"
            continue
        skipped += 1
    if not libraries:
        raise CockpitError("no `name==version` lines found: is this pip freeze output?")
    note = "imported from pip freeze"
    if skipped:
        note += f"; {skipped} line(s) were not name==version and were skipped"
    return _manifest(name, libraries, origin_note=note)


def _manifest(name: str, libraries: dict[str, str], *, origin_note: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": None,
        "lts": False,
        "ml": False,
        "system": {},
        "python_libraries": libraries,
        "behavior_changes": [],
        "sources": [],
        "notes": origin_note,
    }


def store_manifest(store, runtime_id: str, manifest: dict[str, Any], *, origin: str) -> None:
    """Insert or replace a manifest in the state file and record the event, in one transaction."""
    with store.write() as tx:
        tx.execute(
            "INSERT INTO runtime_manifests (runtime_id, origin, name, manifest, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(runtime_id) DO UPDATE SET origin = excluded.origin, "
            "name = excluded.name, manifest = excluded.manifest, created_at = excluded.created_at",
            (
                runtime_id,
                origin,
                manifest.get("name", runtime_id),
                json.dumps(manifest),
                store.clock(),
            ),
        )
        store.append_event(
            {"import": "runtime.imported", "probe": "runtime.probed"}.get(origin, "runtime.stored"),
            {"runtime_id": runtime_id, "libraries": len(manifest.get("python_libraries", {}))},
            conn=tx,
        )


def inherit_base(manifest: dict[str, Any], base) -> dict[str, Any]:
    """Fill what pip cannot tell (system, version, dates, behaviour changes) from a base runtime.

    ``base`` is a :class:`~cockpit.runtimes.manifest.RuntimeManifest`; facts the import itself
    carries win. The note records the inheritance so nobody mistakes it for a measurement.
    """
    base_json = base.to_json()
    out = dict(manifest)
    out["system"] = {**base_json["system"], **(manifest.get("system") or {})}
    for key in ("version", "lts", "ml", "release_date", "end_of_support"):
        if not out.get(key):
            out[key] = base_json[key]
    out["behavior_changes"] = manifest.get("behavior_changes") or base_json["behavior_changes"]
    out["sources"] = list(dict.fromkeys([*(manifest.get("sources") or []), *base_json["sources"]]))
    out["notes"] = (
        f"{manifest.get('notes', '')}; system facts, version and dates inherited from {base.id}"
    ).lstrip("; ")
    return out
