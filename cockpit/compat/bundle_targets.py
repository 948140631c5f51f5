"""Asset Bundle ``targets:``, merged over the top-level resources as the Databricks CLI does, so a
bundle is checked as each target deploys it.

The CLI's rules (https://docs.databricks.com/dev-tools/bundles/cluster-override.html,
https://docs.databricks.com/dev-tools/bundles/job-task-override.html): a target's
``resources.jobs.<key>`` is joined with the top-level job of the same key; mappings are joined
key by key and the target's value wins; ``job_clusters`` are joined by ``job_cluster_key`` and
``tasks`` by ``task_key`` (an entry only the target has is added); other lists are replaced by
the target's. A target's ``variables`` override the defaults
(https://docs.databricks.com/dev-tools/bundles/variables.html), its ``cluster_id`` (or the
deprecated ``compute_id``) runs every task on that all-purpose cluster.

Deployed names (https://docs.databricks.com/aws/en/dev-tools/bundles/deployment-modes): a
``mode: development`` target prefixes every job's name with
``[dev ${workspace.current_user.short_name}] `` ("Prepends all resources that are not deployed
as files or notebooks with the prefix [dev ${workspace.current_user.short_name}]"), and a
target's ``presets.name_prefix`` replaces that prefix ("if both mode and presets are set,
presets override the default mode behavior"). The deploying user is not in the files (each
developer deploys a copy of their own), so :func:`name_pattern` matches any user there.

Every merged mapping remembers which YAML mapping (and file) each key came from, so a finding
points into the target block that sets the value and ``cockpit fix`` rewrites it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

KEYED_LISTS = {
    "job_clusters": "job_cluster_key",
    "tasks": "task_key",
    "environments": "environment_key",
    "parameters": "name",
}


class Merged(dict):
    """A mapping joined from several YAML mappings; ``origins[key]`` = (mapping, file) that set
    ``key``. ``lc`` answers positions as ruamel's does, from that mapping."""

    def __init__(self) -> None:
        super().__init__()
        self.origins: dict[Any, tuple[Any, str]] = {}

    @property
    def lc(self) -> _MergedPositions:
        return _MergedPositions(self)


class _MergedPositions:
    def __init__(self, merged: Merged) -> None:
        self._merged = merged
        first = next(iter(merged.origins.values()), (None, ""))[0]
        lc = getattr(first, "lc", None)
        self.line = getattr(lc, "line", None)
        self.col = getattr(lc, "col", None)

    def value(self, key: Any) -> tuple[int, int]:
        container = self._merged.origins[key][0]
        return container.lc.value(key)

    def key(self, key: Any) -> tuple[int, int]:
        container = self._merged.origins[key][0]
        return container.lc.key(key)


def path_of(container: Any, key: Any, default: str) -> str:
    """The file that set ``container[key]`` (a merged mapping), else ``default``."""
    origins = getattr(container, "origins", None)
    if isinstance(origins, dict) and key in origins:
        return origins[key][1]
    return default


def merge(base: Any, base_path: str, over: Any, over_path: str, key: str | None = None) -> Any:
    """``over`` (a target's value) joined onto ``base`` (the top-level value)."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = Merged()
        for source, path in ((base, base_path), (over, over_path)):
            for k, v in source.items():
                if k in out and source is over:
                    out[k] = merge(out[k], _origin_path(out, k, base_path), v, over_path, str(k))
                else:
                    out[k] = v
                out.origins[k] = (source, path)
        return out
    if isinstance(base, list) and isinstance(over, list) and key in KEYED_LISTS:
        ident = KEYED_LISTS[key]
        out_list: list[Any] = list(base)
        index = {
            item.get(ident): i
            for i, item in enumerate(out_list)
            if isinstance(item, dict) and item.get(ident) is not None
        }
        for item in over:
            at = index.get(item.get(ident)) if isinstance(item, dict) else None
            if at is None:
                out_list.append(item)
            else:
                out_list[at] = merge(out_list[at], base_path, item, over_path)
        return out_list
    return over


def _origin_path(merged: Merged, key: Any, default: str) -> str:
    return merged.origins.get(key, (None, default))[1]


@dataclass(frozen=True)
class Target:
    name: str
    path: str  # the file that defines it
    spec: Any  # its mapping


def targets(root: Any, path: str) -> list[Target]:
    spec = root.get("targets") if isinstance(root, dict) else None
    if not isinstance(spec, dict):
        return []
    return [
        Target(str(name), path, value if isinstance(value, dict) else {})
        for name, value in spec.items()
    ]


def target_jobs(target: Target, jobs: dict[str, tuple[Any, str]]) -> dict[str, tuple[Any, str]]:
    """Top-level jobs (key -> (settings, file)) as ``target`` deploys them."""
    out = dict(jobs)
    resources = target.spec.get("resources")
    overrides = resources.get("jobs") if isinstance(resources, dict) else None
    for key, settings in (overrides or {}).items() if isinstance(overrides, dict) else []:
        if not isinstance(settings, dict):
            continue
        if key in out:
            base, base_path = out[key]
            out[key] = (merge(base, base_path, settings, target.path), base_path)
        else:
            out[key] = (settings, target.path)
    cluster = target.spec.get("cluster_id") or target.spec.get("compute_id")
    if isinstance(cluster, str):
        for key, (settings, job_path) in list(out.items()):
            out[key] = (_apply(settings, job_path, cluster), job_path)
    return out


DEV_PREFIX = "[dev ${workspace.current_user.short_name}] "


def name_prefix(target: Target) -> str:
    """What ``target`` puts before every job's name when it deploys it (may hold
    ``${...}`` references the deploying user's details fill in)."""
    presets = target.spec.get("presets")
    prefix = presets.get("name_prefix") if isinstance(presets, dict) else None
    if isinstance(prefix, str):
        return prefix  # presets override the mode's default
    return DEV_PREFIX if target.spec.get("mode") == "development" else ""


_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.\[\]-]+)\}")


@dataclass(frozen=True)
class NamePattern:
    """A deployed job name whose ``${...}`` references are unknown here: literal ``pieces``
    with one unknown (non-empty) text between each two."""

    pieces: tuple[str, ...]

    def matches(self, name: str) -> bool:
        # Glob matching without a regex: each unknown takes the shortest text that lets the
        # next piece follow (leftmost find), linear in the name whatever the name holds.
        first, *middle = self.pieces
        if not middle:
            return name == first
        *middle, last = middle
        if not name.startswith(first) or len(name) < len(first) + len(last) + len(middle) + 1:
            return False
        at, stop = len(first), len(name) - len(last)
        for piece in middle:
            found = name.find(piece, at + 1, stop)
            if found < 0:
                return False
            at = found + len(piece)
        return name.endswith(last) and stop > at


def name_pattern(deployed: str, target: str) -> NamePattern:
    """``deployed`` (a job's name with its target's prefix) as workspace job names show it:
    ``${bundle.target}`` is the target's name, any other reference (the deploying user's
    ``short_name``...) stands for text the files do not say."""
    deployed = deployed.replace("${bundle.target}", target)
    return NamePattern(tuple(_REFERENCE.split(deployed)[::2]))


def _apply(settings: Any, path: str, cluster: str) -> Any:
    """A target's cluster_id (every task on that cluster), on one job."""
    joined = merge(settings, path, {}, path)
    tasks = []
    for task in joined.get("tasks") or []:
        if isinstance(task, dict):
            task = {k: v for k, v in task.items() if k not in ("new_cluster", "job_cluster_key")}
            task["existing_cluster_id"] = cluster
        tasks.append(task)
    joined["tasks"] = tasks
    joined.pop("job_clusters", None)
    return joined


def target_variables(target: Target, variables: dict[str, Any], located) -> dict[str, Any]:
    """The bundle's variables with ``target``'s values (``located(container, key, path)``
    builds the position record the job checker reads)."""
    out = dict(variables)
    spec = target.spec.get("variables")
    for name, value in spec.items() if isinstance(spec, dict) else []:
        if isinstance(value, dict) and "default" in value:
            out[str(name)] = located(value, "default", target.path)
        elif not isinstance(value, dict | list):
            out[str(name)] = located(spec, name, target.path)
    return out
