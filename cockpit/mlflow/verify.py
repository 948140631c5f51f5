"""Deep verify: every experiment, run, metric point, artifact byte and model version of the old
server, compared object by object with its copy on the new one. Every difference is listed.

Reads only (the old server through its read-only client). Artifacts are compared by size and by
the sha256 of their bytes, streamed through a scratch file so any size works.

With ``history_db`` (the old server's SQLite file) the old side's metric histories are read from
the file as the copy reads them (``backend.py``: the REST call scans every run's points of the
key on a 1.x SQLite backend, which makes a REST verify of a large server take hours); every run
the file cannot vouch for is read over REST. Without it, everything goes through both servers.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.mlflow import compare
from cockpit.mlflow.adapter import NewServer, OldServer
from cockpit.mlflow.bounded import DeadlineExceeded
from cockpit.mlflow.models import (
    TAG_SOURCE_VERSION,
    Run,
    user_tags,
)
from cockpit.mlflow.records import Difference, record_verification

if TYPE_CHECKING:
    from cockpit.mlflow.backend import BackendHistory
    from cockpit.store import StateStore


@dataclass
class VerifyReport:
    differences: list[Difference] = field(default_factory=list)
    experiments: int = 0
    runs: int = 0
    artifacts: int = 0
    models: int = 0
    versions: int = 0
    histories_from_db: int = 0  # runs whose old-side histories came from the backend file
    history_note: str = "metric histories over REST"
    duration_s: float = 0.0

    @property
    def clean(self) -> bool:
        return not self.differences

    def record(self, store: StateStore, *, source: str = "cli") -> int:
        """Keep this verify's figures and differences in the state file (what the gates, the
        MLflow tab and the report read); returns the verification's id."""
        return record_verification(
            store,
            duration_s=self.duration_s,
            experiments=self.experiments,
            runs=self.runs,
            artifacts=self.artifacts,
            models=self.models,
            differences=self.differences,
            source=source,
        )


def verify(
    old: OldServer,
    new: NewServer,
    *,
    experiments: list[str] | None = None,
    workers: int = 4,
    map_stages_to_aliases: bool = True,
    artifacts: bool = True,
    history_db: str | None = None,
    progress: Callable[[int | None, int | None, str | None], None] | None = None,
) -> VerifyReport:
    """Compare old and new object by object. ``progress(done, total, label)`` hears of each
    experiment listed and each run compared (from worker threads)."""
    started = time.monotonic()
    step = progress or (lambda done, total, label: None)
    report = VerifyReport()
    history = _open_history(history_db, report)
    diffs = report.differences
    sources = old.experiments()
    if experiments:
        sources = [e for e in sources if e.name in experiments]
    index = compare.DestExperiments(new.experiments(), old.url)
    run_map: dict[str, str] = {}
    source_runs: dict[str, Run] = {}
    dest_runs: dict[str, Run] = {}
    pairs: list[tuple[str, Run, Run]] = []
    for n, src in enumerate(sources):
        step(n, len(sources), f"listing {src.name}")
        report.experiments += 1
        dest = index.find(src)
        if dest is None:
            diffs.append(Difference("experiment", src.name, "exists", "yes", "no"))
            continue
        for fld in ("name", "lifecycle_stage"):
            if getattr(src, fld) != getattr(dest, fld):
                diffs.append(
                    Difference("experiment", src.name, fld, getattr(src, fld), getattr(dest, fld))
                )
        for key, a, b in compare.dict_diff("tag", user_tags(src.tags), user_tags(dest.tags)):
            diffs.append(Difference("experiment", src.name, key, a, b))
        runs = list(old.search_runs([src.experiment_id]))
        copies: dict[str, list[Run]] = {}
        for run in new.search_runs([dest.experiment_id]):
            copies.setdefault(run.source_run_id or "", []).append(run)
        for run in runs:
            report.runs += 1
            source_runs[run.run_id] = run
            found = copies.pop(run.run_id, [])
            where = f"{src.name} / {run.run_id}"
            if not found:
                diffs.append(Difference("run", where, "copy", "present", "missing"))
                continue
            if len(found) > 1:
                diffs.append(Difference("run", where, "copies", "1", f"{len(found)} (duplicates)"))
            run_map[run.run_id] = found[0].run_id
            dest_runs[run.run_id] = found[0]
            pairs.append((where, run, found[0]))
        for source_id, extra in sorted(copies.items()):
            for run in extra:
                diffs.append(
                    Difference(
                        "run",
                        f"{src.name} / {run.run_id}",
                        "unexpected copy",
                        "(none)",
                        f"source {source_id or '(untagged)'}",
                    )
                )
    step(0, len(pairs), "runs")
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for done, (run_diffs, files) in enumerate(
                pool.map(
                    lambda p: _verify_run(old, new, p[0], p[1], p[2], run_map, artifacts, history),
                    pairs,
                ),
                start=1,
            ):
                diffs.extend(run_diffs)
                report.artifacts += files
                step(done, None, None)
    finally:
        if history is not None:
            report.histories_from_db = history.runs_read
            history.close()
    if old.info.capabilities.registry and new.info.capabilities.registry:
        step(None, None, "registered models")
        _verify_registry(
            old, new, report, source_runs, dest_runs, experiments, map_stages_to_aliases
        )
    report.duration_s = time.monotonic() - started
    return report


def _verify_run(
    old: OldServer,
    new: NewServer,
    where: str,
    src: Run,
    dest: Run,
    run_map: dict[str, str],
    artifacts: bool,
    history: BackendHistory | None,
) -> tuple[list[Difference], int]:
    out = [
        Difference("run", where, f, a, b) for f, a, b in compare.run_differences(src, dest, run_map)
    ]
    from_file = history.histories(src) if history is not None else None
    for key in sorted(set(src.metrics) & set(dest.metrics)):
        points = from_file[key] if from_file is not None else old.metric_history(src.run_id, key)
        for f, a, b in compare.history_differences(
            key, points, new.metric_history(dest.run_id, key)
        ):
            out.append(Difference("metric", where, f, a, b))
    if not artifacts:
        return out, 0
    # A listed path that would leave its run is never fetched: it is a difference for ever.
    refused_old: list[str] = []
    refused_new: list[str] = []
    src_files = {f.path: f.size for f in old.list_artifacts(src, refused_old)}
    dst_files = {f.path: f.size for f in new.list_artifacts(dest, refused_new)}
    out += [Difference("artifact", where, "refused on old", r, "") for r in refused_old]
    out += [Difference("artifact", where, "refused on new", "", r) for r in refused_new]
    for path in sorted(set(src_files) | set(dst_files)):
        if path not in dst_files:
            out.append(Difference("artifact", where, path, f"{src_files[path]} bytes", "missing"))
        elif path not in src_files:
            out.append(Difference("artifact", where, path, "missing", f"{dst_files[path]} bytes"))
        elif src_files[path] != dst_files[path]:
            out.append(
                Difference(
                    "artifact", where, f"{path} size", str(src_files[path]), str(dst_files[path])
                )
            )
    common = sorted(p for p in set(src_files) & set(dst_files) if src_files[p] == dst_files[p])
    if common:
        with tempfile.TemporaryDirectory(prefix="cockpit-verify-") as tmp:
            scratch = Path(tmp) / "blob"
            for path in common:
                try:
                    a = old.artifact_checksum(src, path, scratch, src_files[path])
                except DeadlineExceeded:
                    raise
                except CockpitError as exc:  # refused, too large: a difference, not the end
                    out.append(Difference("artifact", where, f"{path} unreadable", exc.message, ""))
                    continue
                b = new.artifact_checksum(dest, path, scratch, dst_files[path])
                if a != b:
                    out.append(Difference("artifact", where, f"{path} sha256", a[:16], b[:16]))
    return out, len(src_files)


def _open_history(history_db: str | None, report: VerifyReport) -> BackendHistory | None:
    if history_db is None:
        return None
    from cockpit.mlflow.backend import BackendHistory

    try:
        history = BackendHistory.open(history_db)
    except CockpitError as exc:
        report.history_note = f"metric histories over REST ({exc.message})"
        return None
    report.history_note = f"old metric histories from {history.path} (read-only)"
    return history


def _verify_registry(
    old: OldServer,
    new: NewServer,
    report: VerifyReport,
    source_runs: dict[str, Run],
    dest_runs: dict[str, Run],
    experiments: list[str] | None,
    map_stages: bool,
) -> None:
    diffs = report.differences
    for model in old.registered_models():
        versions = old.model_versions(model.name)
        if experiments and not any(v.run_id in source_runs for v in versions):
            continue
        report.models += 1
        dest = new.registered_model(model.name)
        if dest is None:
            diffs.append(Difference("model", model.name, "exists", "yes", "no"))
            continue
        if dest.description != model.description:
            diffs.append(
                Difference("model", model.name, "description", model.description, dest.description)
            )
        for key, a, b in compare.dict_diff("tag", user_tags(model.tags), user_tags(dest.tags)):
            diffs.append(Difference("model", model.name, key, a, b))
        copies: dict[str, list] = {}
        for copy in new.model_versions(model.name):
            copies.setdefault(copy.tags.get(TAG_SOURCE_VERSION, ""), []).append(copy)
        version_map: dict[str, str] = {}
        for version in versions:
            report.versions += 1
            where = f"{model.name} v{version.version}"
            found = copies.pop(version.version, [])
            if not found:
                diffs.append(Difference("model_version", where, "copy", "present", "missing"))
                continue
            if len(found) > 1:
                diffs.append(Difference("model_version", where, "copies", "1", str(len(found))))
            copy = found[0]
            version_map[version.version] = copy.version
            if copy.description != version.description:
                diffs.append(
                    Difference(
                        "model_version", where, "description", version.description, copy.description
                    )
                )
            for key, a, b in compare.dict_diff(
                "tag", user_tags(version.tags), user_tags(copy.tags)
            ):
                diffs.append(Difference("model_version", where, key, a, b))
            if new.info.capabilities.stages and copy.stage != version.stage:
                diffs.append(Difference("model_version", where, "stage", version.stage, copy.stage))
            src_run, dest_run = source_runs.get(version.run_id), dest_runs.get(version.run_id)
            if version.run_id:
                expected_run = dest_run.run_id if dest_run else "(run not copied)"
                if copy.run_id != expected_run:
                    diffs.append(
                        Difference("model_version", where, "run_id", expected_run, copy.run_id)
                    )
            expected_source = compare.remap_source(version.source, src_run, dest_run)
            if copy.source != expected_source:
                diffs.append(
                    Difference("model_version", where, "source", expected_source, copy.source)
                )
        for tag, extra in copies.items():
            for copy in extra:
                diffs.append(
                    Difference(
                        "model_version",
                        f"{model.name} v{copy.version}",
                        "unexpected copy",
                        "(none)",
                        f"source version {tag or '(untagged)'}",
                    )
                )
        if new.info.capabilities.aliases:
            wanted = compare.expected_aliases(model, versions, version_map, map_stages=map_stages)
            for key, a, b in compare.dict_diff("alias", wanted, dest.aliases):
                diffs.append(Difference("model", model.name, key, a, b))
