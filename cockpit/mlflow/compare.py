"""What "the copy equals its source" means, shared by sync (is this run done?), status (cheap,
from search results) and verify (deep: full histories and artifact bytes).

Allowed differences, all forced by the destination server and documented in the README:
ids and artifact locations differ; the copy carries ``cockpit.*`` tags; a ``mlflow.parentRunId``
tag names the *copied* parent; ±inf metric values read back as ±max-float on every server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from cockpit.mlflow.models import (
    PARENT_TAG,
    TAG_FINGERPRINT,
    TAG_SOURCE_EXPERIMENT,
    TAG_SOURCE_SERVER,
    Experiment,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
    float_key,
    user_tags,
)

# Stages that become aliases on servers that have aliases (Archived/None name no single version).
STAGE_ALIASES = {"Production": "production", "Staging": "staging"}


def fingerprint(run: Run) -> str:
    """Hash of everything a run search returns about a source run (lifecycle aside).

    It changes whenever the run does (new metric values, status, end time, tags), which is how a
    RUNNING run is copied again once it finishes.
    """
    body = {
        "status": run.status,
        "start": run.start_time,
        "end": run.end_time,
        "name": run.run_name,
        "user": run.user_id,
        "params": sorted(run.params.items()),
        "tags": sorted(user_tags(run.tags).items()),
        "metrics": sorted(p.identity() for p in run.metrics.values()),
    }
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def expected_tags(source: Run, run_map: Mapping[str, str]) -> dict[str, str]:
    """The user tags a copy must carry: the source's, with the parent link pointing at the copy."""
    tags = user_tags(source.tags)
    parent = tags.get(PARENT_TAG)
    if parent and parent in run_map:
        tags[PARENT_TAG] = run_map[parent]
    return tags


def comparable_dest_tags(source: Run, dest: Run) -> dict[str, str]:
    tags = user_tags(dest.tags)
    # 1.x runs logged without a name have none; newer servers name every run themselves and do
    # not let the name be cleared.
    # Names are compared as run_name; the tag mirrors it on some generations and not others.
    if "mlflow.runName" not in source.tags:
        tags.pop("mlflow.runName", None)
    return tags


def run_differences(
    source: Run, dest: Run, run_map: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(field, old, new) for everything a search shows that differs between a run and its copy."""
    out: list[tuple[str, str, str]] = []
    for field in ("status", "start_time", "end_time", "lifecycle_stage", "user_id"):
        a, b = getattr(source, field), getattr(dest, field)
        if a != b:
            out.append((field, str(a), str(b)))
    if source.run_name and source.run_name != dest.run_name:
        out.append(("run_name", source.run_name, dest.run_name))
    out += dict_diff("param", source.params, dest.params)
    out += dict_diff("tag", expected_tags(source, run_map), comparable_dest_tags(source, dest))
    src_metrics = {k: _point(p) for k, p in source.metrics.items()}
    dst_metrics = {k: _point(p) for k, p in dest.metrics.items()}
    out += dict_diff("latest_metric", src_metrics, dst_metrics)
    return out


def is_complete(source: Run, dest: Run) -> bool:
    """The copy was finished for the source as it is now: its marker (written after all data)
    matches, and so do the status, end time and name (written after the marker)."""
    return (
        dest.tags.get(TAG_FINGERPRINT) == fingerprint(source)
        and dest.status == source.status
        and dest.end_time == source.end_time
        and (not source.run_name or dest.run_name == source.run_name)
    )


def history_differences(
    key: str, source: list[MetricPoint], dest: list[MetricPoint]
) -> list[tuple[str, str, str]]:
    a = sorted(p.identity() for p in source)
    b = sorted(p.identity() for p in dest)
    if a == b:
        return []
    missing = len(set(a) - set(b))
    extra = len(set(b) - set(a))
    return [
        (
            f"metric_history[{key}]",
            f"{len(a)} points",
            f"{len(b)} points ({missing} missing, {extra} extra)",
        )
    ]


def remap_source(version_source: str, source_run: Run | None, dest_run: Run | None) -> str:
    """A model version's source, pointed at the copied run's artifacts."""
    if source_run is None or dest_run is None:
        return version_source
    if source_run.artifact_uri and version_source.startswith(source_run.artifact_uri):
        return dest_run.artifact_uri + version_source[len(source_run.artifact_uri) :]
    prefix = f"runs:/{source_run.run_id}"
    if version_source.startswith(prefix):
        return f"runs:/{dest_run.run_id}" + version_source[len(prefix) :]
    return version_source


def expected_aliases(
    model: RegisteredModel,
    versions: list[ModelVersion],
    version_map: Mapping[str, str],
    *,
    map_stages: bool,
) -> dict[str, str]:
    """alias -> destination version number the copy must have."""
    want = {a: version_map[v] for a, v in model.aliases.items() if v in version_map}
    if map_stages:
        for stage, alias in STAGE_ALIASES.items():
            in_stage = [v for v in versions if v.stage == stage and v.version in version_map]
            if in_stage and alias not in want:
                newest = max(in_stage, key=lambda v: v.number)
                want[alias] = version_map[newest.version]
    return want


def _point(p: MetricPoint) -> str:
    return f"{float_key(p.value)}@{p.step}/{p.timestamp}"


def dict_diff(what: str, a: Mapping[str, str], b: Mapping[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            out.append((f"{what}[{key}]", _show(a.get(key)), _show(b.get(key))))
    return out


def _show(value: str | None) -> str:
    return "(absent)" if value is None else value


class DestExperiments:
    """The new server's experiments, found for a source experiment by the cockpit's tags (so a
    renamed source still finds its copy) and otherwise by name. A copy tagged from another
    source server never matches: experiment ids repeat across servers."""

    def __init__(self, experiments: list[Experiment], source_url: str) -> None:
        self.source_url = source_url.rstrip("/")
        self.by_source: dict[str, Experiment] = {}
        self.by_name: dict[str, Experiment] = {}
        for exp in experiments:
            self.by_name[exp.name] = exp
            src = exp.tags.get(TAG_SOURCE_EXPERIMENT)
            server = exp.tags.get(TAG_SOURCE_SERVER, self.source_url).rstrip("/")
            if src and server == self.source_url:
                self.by_source[src] = exp

    def find(self, source: Experiment) -> Experiment | None:
        return self.by_source.get(source.experiment_id) or self.by_name.get(source.name)
