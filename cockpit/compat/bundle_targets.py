"""Asset Bundle ``targets:``, merged over the top-level resources as the Databricks CLI does, so a
bundle is checked as each target deploys it.

The CLI's rules (https://docs.databricks.com/dev-tools/bundles/cluster-override.html,
https://docs.databricks.com/dev-tools/bundles/job-task-override.html): a target's
``resources.jobs.<key>`` is joined with the top-level job of the same key; mappings are joined
key by key and the target's value wins; ``job_clusters`` are joined by ``job_cluster_key`` and
``tasks`` by ``task_key`` (an entry only the target has is added); other lists are replaced by
the target's. A target's ``variables`` override the defaults
(https://docs.databricks.com/dev-tools/bundles/variables.html), its ``cluster_id`` (or the
deprecated ``compute_id``) runs every task on that all-purpose cluster, and its
``presets.name_prefix`` prefixes job names
(https://docs.databricks.com/dev-tools/bundles/deployment-modes.html). ``mode: development``'s
implicit ``[dev <user>]`` prefix needs the deploying user, which a file does not say: names are
left as written then.

Every merged mapping remembers which YAML mapping (and file) each key came from, so a finding
points into the target block that sets the value and ``cockpit fix`` rewrites it there.
"""

from __future__ import annotations

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
    prefix = (
        (target.spec.get("presets") or {}).get("name_prefix")
        if isinstance(target.spec.get("presets"), dict)
        else None
    )
    if isinstance(cluster, str) or isinstance(prefix, str):
        for key, (settings, job_path) in list(out.items()):
            out[key] = (_apply(settings, job_path, cluster, prefix), job_path)
    return out


def _apply(settings: Any, path: str, cluster: Any, prefix: Any) -> Any:
    """A target's cluster_id (every task on that cluster) and name prefix, on one job."""
    joined = merge(settings, path, {}, path)
    if isinstance(prefix, str) and isinstance(joined.get("name"), str):
        joined["name"] = prefix + joined["name"]
    if isinstance(cluster, str):
        tasks = []
        for task in joined.get("tasks") or []:
            if isinstance(task, dict):
                task = {
                    k: v for k, v in task.items() if k not in ("new_cluster", "job_cluster_key")
                }
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
