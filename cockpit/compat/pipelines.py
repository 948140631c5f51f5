"""Pipelines: what the checklist tracks, and which findings belong to each.

* a job from a bundle or a Jobs API export: its own config findings, the files its tasks run,
  the notebooks those ``%run``, and requirements files next to them;
* a folder named in ``cockpit.toml`` (``[[pipelines.folders]]``): every finding under it;
* otherwise, a file no job claims belongs to the folder it sits in under the scanned root.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from cockpit.compat.findings import Finding
from cockpit.compat.scan import ScanResult
from cockpit.compat.uses import Use

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig


@dataclass
class Pipeline:
    pipeline_id: str
    name: str
    kind: str  # "bundle-job", "job", "folder"
    origin: str
    owner: str | None = None
    tracking_uri: str | None = None
    findings: list[Finding] = field(default_factory=list)
    # What its code imports and its requirements pin, routed to it as its findings are.
    uses: list[Use] = field(default_factory=list)
    # The pipelines its bundle's targets deployed under other names ("job:[dev alice] train"),
    # which a workspace-only scan recorded on their own: the checklist carries what people
    # decided on them to this pipeline.
    deployed_as: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> int:
        return sum(1 for f in self.findings if f.severity == "blocking")


def _norm(path: str) -> str:
    return os.path.normpath(path).replace(os.sep, "/")


def _under(path: str, folder: str) -> bool:
    folder = _norm(folder).rstrip("/")
    return folder in (".", "") or path == folder or path.startswith(folder + "/")


def rollup(
    result: ScanResult, roots: list[str], config: CockpitConfig | None = None
) -> list[Pipeline]:
    """Group ``result``'s findings into pipelines (sorted by id)."""
    pipelines: dict[str, Pipeline] = {}
    claimed: set[str] = set()  # files that belong to some job
    by_path: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_path.setdefault(finding.path, []).append(finding)
    uses_by_path: dict[str, list[Use]] = {}
    for use in result.uses:
        uses_by_path.setdefault(use.path, []).append(use)
    owners = {}
    if config is not None:
        owners = {p.job: p.owner for p in config.pipelines.folders if p.job and p.owner}

    repository_jobs = [j for j in result.jobs if not j.path.startswith("workspace:")]
    named = {j.name for j in repository_jobs}
    for job in result.jobs:
        name = job.name
        deployed_as = []
        if job.path.startswith("workspace:"):
            kind = "workspace-job"
            if name not in named:
                # A bundle target deployed it under another name ("[dev alice] train" for a
                # development target's "train"): the same pipeline as the bundle's job.
                name = next((j.name for j in repository_jobs if j.deployed(job.name)), name)
                if name != job.name:
                    deployed_as.append(f"job:{job.name}")
        else:
            kind = "job" if job.path.endswith(".json") else "bundle-job"
        files = list(dict.fromkeys(job.files))
        for file in list(files):
            files += result.runs.get(file, [])
        for file in list(files):
            folder = str(PurePosixPath(file).parent)
            files += [
                p
                for p in by_path
                if str(PurePosixPath(p).parent) == folder
                and PurePosixPath(p).name.startswith("requirements")
            ]
        files = list(dict.fromkeys(files))
        claimed.update(files)
        own = [f for f in result.findings if f.job == job.key]
        linked = [f for path in files for f in by_path.get(path, []) if f.job is None]
        pipeline = Pipeline(
            # By name: the workspace inventory knows jobs by name, so both sources meet here.
            pipeline_id=f"job:{name}",
            name=name,
            kind=kind,
            origin=job.path,
            owner=owners.get(name) or owners.get(job.name) or owners.get(job.key),
            tracking_uri=job.tracking_uris[0] if job.tracking_uris else None,
            findings=own + linked,
            uses=[u for u in result.uses if u.job == job.key]
            + [u for path in files for u in uses_by_path.get(path, []) if u.job is None],
            deployed_as=deployed_as,
        )
        known = pipelines.get(pipeline.pipeline_id)
        if known is None:
            pipelines[pipeline.pipeline_id] = pipeline
        else:
            # The same job from a bundle and from the workspace: one pipeline, the repository
            # side first (it has the files), both sides' findings.
            if known.kind == "workspace-job":
                known.kind, known.origin = pipeline.kind, pipeline.origin
            known.findings += pipeline.findings
            known.uses += pipeline.uses
            known.tracking_uri = known.tracking_uri or pipeline.tracking_uri
            known.owner = known.owner or pipeline.owner
            known.deployed_as += pipeline.deployed_as
    # A job file's findings belong to its jobs; only job-less ones (a parse error) stay loose.
    job_files = {p for p in result.job_files if all(f.job is not None for f in by_path.get(p, []))}

    folders = config.pipelines.folders if config is not None else []
    for spec in folders:
        if not spec.path:
            continue
        folder = _norm(str(config.resolve(spec.path))) if config is not None else spec.path
        pipeline = Pipeline(
            pipeline_id=f"folder:{spec.name}",
            name=spec.name,
            kind="folder",
            origin=folder,
            owner=spec.owner,
            findings=[f for f in result.findings if f.job is None and _under(f.path, folder)],
            uses=[u for u in result.uses if u.job is None and _under(u.path, folder)],
        )
        pipelines[pipeline.pipeline_id] = pipeline
        claimed.update(p for p in result.files if _under(p, folder))

    # Everything else: by the folder it is in, one level under the scanned root.
    for path in result.files:
        if path in claimed or path in job_files:
            continue
        root = next((r for r in roots if _under(path, r)), None)
        if root is None:
            continue
        rel = (
            PurePosixPath(path).relative_to(_norm(root))
            if _norm(root) not in (".", "")
            else PurePosixPath(path)
        )
        top = rel.parts[0] if len(rel.parts) > 1 else PurePosixPath(_norm(root)).name or "."
        pipeline_id = f"folder:{top}"
        if pipeline_id not in pipelines:
            origin = (
                _norm(str(PurePosixPath(_norm(root)) / top)) if len(rel.parts) > 1 else _norm(root)
            )
            pipelines[pipeline_id] = Pipeline(
                pipeline_id=pipeline_id, name=top, kind="folder", origin=origin
            )
        folder_pipeline = pipelines[pipeline_id]
        folder_pipeline.findings += [f for f in by_path.get(path, []) if f.job is None]
        folder_pipeline.uses += [u for u in uses_by_path.get(path, []) if u.job is None]
    return [pipelines[k] for k in sorted(pipelines)]
