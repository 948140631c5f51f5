"""Workspace jobs as pipelines: the jobs the Databricks inventory recorded in the state file
(``workspace_jobs``), checked with the same job rules as bundles and job JSON.

A workspace job and a bundle job with the same name are one pipeline: the bundle brings the
source files, the workspace what is actually deployed. Findings are located at
``workspace:<job name>`` (there is no file to point into).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cockpit.compat.findings import make
from cockpit.compat.jobs import JobChecker, JobInfo
from cockpit.compat.scan import Scanner, ScanResult
from cockpit.compat.workspace_code import RULES as WORKSPACE_RULES
from cockpit.databricks.clusters import GONE

if TYPE_CHECKING:
    from cockpit.databricks.models import JobDefinition
    from cockpit.store import StateStore

PREFIX = "workspace:"


def _settings(job: JobDefinition) -> dict[str, Any]:
    """The inventory's normalised job back in Jobs API shape, for :class:`JobChecker`."""
    tasks = []
    environments: dict[str, list[str]] = {}
    for task in job.tasks:
        if task.environment:
            environments.setdefault(task.environment, list(task.dependencies))
        scripts = []
        for script in task.init_scripts:
            kind, _, destination = script.partition(":")
            scripts.append({kind: {"destination": destination}})
        libraries: list[dict[str, Any]] = []
        # An all-purpose cluster's installed libraries are the task's too.
        for library in (*task.libraries, *task.cluster_libraries):
            kind, _, value = library.partition(":")
            libraries.append({"pypi": {"package": value}} if kind == "pypi" else {kind: value})
        cluster: dict[str, Any] = {"spark_env_vars": dict(task.env), "init_scripts": scripts}
        # No runtime to check on serverless compute (nor on a cluster that is gone, reported
        # as WSP003): an empty spark_version is not an old runtime.
        if task.spark_version:
            cluster["spark_version"] = task.spark_version
        tasks.append({"task_key": task.task_key, "new_cluster": cluster, "libraries": libraries})
    return {
        "name": job.name,
        "tasks": tasks,
        "environments": [
            {"environment_key": key, "spec": {"dependencies": deps}}
            for key, deps in environments.items()
        ],
    }


def add_workspace_jobs(
    store: StateStore,
    result: ScanResult,
    as_of: float | None = None,
    *,
    files: dict[str, list[str]] | None = None,
) -> ScanResult:
    """``result`` plus the state file's workspace jobs and their findings (a new result).
    ``files``: the workspace code each job runs (by job name), scanned into ``result``."""
    from cockpit.databricks.inventory import read_jobs

    if any(info.path.startswith(PREFIX) for info in result.jobs):
        return result  # already added (check --workspace, then --record)
    jobs = read_jobs(store, as_of=as_of)
    if not jobs:
        return result
    files = files or {}
    scanner = Scanner(result.crossing)
    checker = JobChecker(result.crossing, scanner.rules)
    findings = list(result.findings)
    infos = list(result.jobs)
    uses = list(result.uses)
    for job in jobs:
        path = f"{PREFIX}{job.name}"
        info = JobInfo(
            key=job.name,
            name=job.name,
            path=path,
            line=1,
            files=list(files.get(job.name, [])),
        )
        found: list = []
        checker.check_job(info, _settings(job), path, {}, None, found)
        for task in job.tasks:
            if task.existing_cluster and task.cluster_state == GONE:
                message = (
                    f"task {task.task_key} runs on all-purpose cluster {task.cluster}, which no "
                    "longer exists"
                )
                found.append(make(WORKSPACE_RULES["WSP003"], path, 1, 1, message))
        # Keyed apart from a bundle job of the same name (whose key is its resource key).
        findings += [dataclasses.replace(f, job=path) for f in found]
        uses += [dataclasses.replace(u, job=path) for u in checker.requirements.pins]
        checker.requirements.pins.clear()
        infos.append(dataclasses.replace(info, key=path))
    return dataclasses.replace(result, findings=findings, jobs=infos, uses=uses)


def workspace_owners(store: StateStore) -> dict[str, str]:
    from cockpit.databricks.inventory import read_jobs

    return {job.name: job.owner for job in read_jobs(store) if job.owner}
