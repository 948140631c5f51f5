"""Runtime manifests: what a Databricks Runtime (or a custom image) has installed.

The bundled LTS manifests are package data copied from public release notes; every one keeps its
``sources`` and ``notes`` (some values are single-sourced or unknown, and say so). Manifests that
are imported (``cockpit runtimes import``) or probed live on a cluster live in the state file.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from cockpit.errors import UnknownRuntimeError

if TYPE_CHECKING:
    from cockpit.store import StateStore

SYSTEM_COMPONENTS = ("os", "python", "java", "scala", "spark", "delta_lake", "r")
_PEP503_SEPARATORS = re.compile(r"[-_.]+")


def canonicalize_name(name: str) -> str:
    """PEP 503 normalised name (what ``packaging.utils.canonicalize_name`` returns).

    Written out because importing ``packaging.utils`` pulls in ``packaging.tags`` (subprocess,
    sysconfig, ...) and costs ~9 ms on the `cockpit runtimes diff` path;
    ``tests/test_runtime_diff.py`` checks the two agree.
    """
    return _PEP503_SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True)
class BehaviorChange:
    title: str
    detail: str
    source: str
    release: str = ""  # the runtime version whose manifest carries it, e.g. "16.4"


@dataclass(frozen=True)
class RuntimeManifest:
    id: str  # e.g. "14.3-lts-ml", or a custom name
    name: str
    version: str | None  # "14.3"; None for custom images
    lts: bool
    ml: bool
    origin: str  # "bundled", "import" or "probe"
    system: dict[str, str | None]
    python_libraries: dict[str, str]  # PEP 503 name -> version string
    behavior_changes: tuple[BehaviorChange, ...] = ()
    spark_version_keys: tuple[str, ...] = ()
    release_date: str | None = None
    end_of_support: str | None = None
    sources: tuple[str, ...] = ()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(p) for p in (self.version or "0").split(".") if p.isdigit())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "lts": self.lts,
            "ml": self.ml,
            "origin": self.origin,
            "system": self.system,
            "python_libraries": self.python_libraries,
            "behavior_changes": [
                {"title": b.title, "detail": b.detail, "source": b.source}
                for b in self.behavior_changes
            ],
            "spark_version_keys": list(self.spark_version_keys),
            "release_date": self.release_date,
            "end_of_support": self.end_of_support,
            "sources": list(self.sources),
            "notes": self.notes,
        }


def manifest_from_json(data: dict[str, Any], *, id: str, origin: str) -> RuntimeManifest:
    """Build a manifest from the bundled JSON shape (also the shape imports and probes store)."""
    version = data.get("version")
    return RuntimeManifest(
        id=id,
        name=str(data.get("name") or id),
        version=str(version) if version else None,
        lts=bool(data.get("lts", False)),
        ml=bool(data.get("ml", False)),
        origin=origin,
        system={
            k: (str(v) if v is not None else None) for k, v in (data.get("system") or {}).items()
        },
        python_libraries={
            canonicalize_name(k): str(v) for k, v in (data.get("python_libraries") or {}).items()
        },
        behavior_changes=tuple(
            BehaviorChange(
                title=str(b.get("title", "")),
                detail=str(b.get("detail", "")),
                source=str(b.get("source", "")),
                release=str(version or ""),
            )
            for b in data.get("behavior_changes") or []
        ),
        spark_version_keys=tuple(data.get("spark_version_keys") or ()),
        release_date=data.get("release_date"),
        end_of_support=data.get("end_of_support"),
        sources=tuple(data.get("sources") or ()),
        notes=str(data.get("notes") or ""),
    )


def _data_dir():
    return resources.files("cockpit.runtimes").joinpath("data")


@cache
def bundled_ids() -> tuple[str, ...]:
    ids = [
        entry.name.removesuffix(".json")
        for entry in _data_dir().iterdir()
        if entry.name.endswith(".json") and re.match(r"^\d", entry.name)
    ]
    return tuple(sorted(ids, key=_id_sort_key))


def _id_sort_key(runtime_id: str) -> tuple[tuple[int, ...], str]:
    version = runtime_id.split("-", 1)[0]
    return (tuple(int(p) for p in version.split(".") if p.isdigit()), runtime_id)


@cache
def load_bundled(runtime_id: str) -> RuntimeManifest:
    if runtime_id not in bundled_ids():
        raise UnknownRuntimeError(_unknown_message(runtime_id, bundled_ids()))
    text = _data_dir().joinpath(f"{runtime_id}.json").read_text(encoding="utf-8")
    return manifest_from_json(json.loads(text), id=runtime_id, origin="bundled")


@cache
def lifecycle() -> dict[str, Any]:
    return json.loads(_data_dir().joinpath("lifecycle.json").read_text(encoding="utf-8"))


def stored_ids(store: StateStore | None) -> tuple[str, ...]:
    if store is None:
        return ()
    return tuple(
        r["runtime_id"]
        for r in store.query("SELECT runtime_id FROM runtime_manifests ORDER BY runtime_id")
    )


def load_runtime(runtime_id: str, store: StateStore | None = None) -> RuntimeManifest:
    """A bundled manifest, else one imported or probed into ``store``; else a did-you-mean error."""
    if runtime_id in bundled_ids():
        return load_bundled(runtime_id)
    if store is not None:
        row = store.query_one(
            "SELECT origin, manifest FROM runtime_manifests WHERE runtime_id = ?", (runtime_id,)
        )
        if row is not None:
            return manifest_from_json(
                json.loads(row["manifest"]), id=runtime_id, origin=row["origin"]
            )
    raise UnknownRuntimeError(_unknown_message(runtime_id, bundled_ids() + stored_ids(store)))


def all_runtime_ids(store: StateStore | None = None) -> tuple[str, ...]:
    return bundled_ids() + tuple(i for i in stored_ids(store) if i not in bundled_ids())


def _unknown_message(runtime_id: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(runtime_id, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return f"unknown runtime {runtime_id!r}{hint} (`cockpit runtimes list` shows all)"


def releases_between(from_m: RuntimeManifest, to_m: RuntimeManifest) -> list[RuntimeManifest]:
    """Bundled manifests of the target's flavour (ML or not) with from < version <= to."""
    if from_m.version is None or to_m.version is None:
        return []
    lo, hi = from_m.version_tuple, to_m.version_tuple
    suffix = "-lts-ml" if to_m.ml else "-lts"
    found = []
    for runtime_id in bundled_ids():
        if runtime_id.endswith(suffix) and (suffix == "-lts-ml" or not runtime_id.endswith("-ml")):
            manifest = load_bundled(runtime_id)
            if lo < manifest.version_tuple <= hi:
                found.append(manifest)
    return sorted(found, key=lambda m: m.version_tuple)


RUNTIME_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
