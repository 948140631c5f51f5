"""The code workspace jobs run, scanned with the same rules as local code.

Input: the jobs of the state file's inventory and the objects
:mod:`cockpit.databricks.workspace_code` fetched (or stored earlier). Each task's notebook or
file is scanned at the path *the job names* (``/Workspace/Repos/...``, ``/Users/...``,
``dbfs:/...``), lines as in the exported source; the notebooks it ``%run``s (recursively, each
once) are scanned at their paths written the same way, and belong to the job's pipeline.

What cannot be scanned is said, never skipped: a missing notebook or ``%run`` target is a
WSP001 finding, one the cockpit may not read (403, too big, not text) a WSP002 finding; a SQL,
Scala or R notebook and a ``source: GIT`` task are *notes* (nothing for the Python rules; a Git
task's code is scanned from a local checkout given as PATH).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.compat.findings import make
from cockpit.compat.mlflow_evidence import (
    MlflowEvidence,
    mlflow_pin,
    pip_evidence,
    requirement_pin,
    requirements_pin,
)
from cockpit.compat.rules import Rule
from cockpit.compat.scan import Note, Scanner, ScanResult
from cockpit.databricks.workspace_code import (
    DIRECTORY,
    MISSING,
    OK,
    CodeObject,
    display_of,
    location_of,
    requirement_include,
    requirements_location,
)

if TYPE_CHECKING:
    from cockpit.databricks.models import JobDefinition, TaskDefinition

_API = "https://docs.databricks.com/api/workspace"
# Findings about the workspace itself rather than the code in it. They live here, not in the
# rule catalog, because they are about what the cockpit could read, not about a release.
RULES = {
    "WSP001": Rule(
        code="WSP001",
        name="workspace-code-missing",
        severity="blocking",
        what="A job runs (or a notebook %runs) a notebook or file that does not exist: the run "
        "fails before any of its code executes.",
        fix="Restore the notebook or file, or point the task (or the %run) where it lives now.",
        autofix=False,
        family="workspace",
        source=f"{_API}/workspace/getstatus",
    ),
    "WSP002": Rule(
        code="WSP002",
        name="workspace-code-unreadable",
        severity="warning",
        what="The cockpit could not read this code (no permission, over the export size limit, "
        "or not text), so nothing in it was checked.",
        fix="Give the cockpit's identity CAN READ on it, or scan a local copy with "
        "`cockpit check PATH`.",
        autofix=False,
        family="workspace",
        source=f"{_API}/workspace/export",
    ),
    "WSP003": Rule(
        code="WSP003",
        name="job-cluster-gone",
        severity="blocking",
        what="The job runs on an all-purpose cluster that no longer exists (permanently deleted "
        "clusters cannot be used by any API): its next run fails.",
        fix="Run the task on a job cluster (new_cluster) on the target runtime, or on an "
        "existing all-purpose cluster.",
        autofix=False,
        family="workspace",
        source=f"{_API}/clusters/permanentdelete",
    ),
}
LANGUAGES = {"SQL": "SQL", "SCALA": "Scala", "R": "R", "PYTHON": "Python"}
CODE_KINDS = ("notebook", "python")  # task kinds whose code is a notebook or a Python file


@dataclass(frozen=True)
class TaskCode:
    job: str  # job name
    task_key: str
    entry: str  # the path as the job names it
    location: str | None  # the object it is, None when not in the workspace or DBFS
    git: bool


def task_code(jobs: list[JobDefinition]) -> list[TaskCode]:
    """Every task of ``jobs`` that runs a notebook or a Python file."""
    out = []
    for job in jobs:
        for task in job.tasks:
            if task.kind not in CODE_KINDS or not task.entry:
                continue
            git = task.source == "GIT"
            location = None if git else location_of(task.entry)
            out.append(TaskCode(job.name, task.task_key, task.entry, location, git))
    return out


def environment_files(task: TaskDefinition) -> list[tuple[str, str]]:
    """``(path as written, location)`` of the requirements files a serverless task's
    environment includes (``-r /Workspace/.../requirements.txt``)."""
    out = []
    for dependency in task.dependencies:
        path = requirement_include(dependency)
        location = requirements_location(path) if path else None
        if path and location:
            out.append((path, location))
    return out


def locations(jobs: list[JobDefinition]) -> list[str]:
    """What to fetch for ``jobs`` (the notebooks they %run and the files their requirements
    files include are found while fetching)."""
    found = {t.location for t in task_code(jobs) if t.location}
    found.update(loc for job in jobs for t in job.tasks for _p, loc in environment_files(t))
    return sorted(found)


class _Walker:
    def __init__(self, scanner: Scanner, result: ScanResult, objects: dict[str, CodeObject]):
        self.scanner, self.result, self.objects = scanner, result, objects
        self.scanned: dict[str, str] = {}  # location -> display path it was scanned at
        self.closure: dict[str, list[str]] = {}  # location -> display paths it %runs (deep)
        self.reported: set[tuple[str, str, int]] = set()  # two jobs, one missing notebook

    def finding(self, code: str, path: str, line: int, message: str) -> None:
        if (code, path, line) not in self.reported:
            self.reported.add((code, path, line))
            self.result.findings.append(make(RULES[code], path, line, 1, message))

    def problem(self, obj: CodeObject | None, display: str, at: tuple[str, int]) -> bool:
        """Report an object that cannot be scanned at ``at`` (path, line); True if reported."""
        if obj is None:
            self.result.notes.append(
                Note(display, "not-fetched", "not fetched yet: run cockpit check --workspace")
            )
            return True
        if obj.status == OK:
            return False
        if obj.status in (MISSING, DIRECTORY):
            what = (
                "is a folder, not a notebook or file"
                if obj.status == DIRECTORY
                else ("does not exist in the workspace")
            )
            self.finding("WSP001", at[0], at[1], f"{display} {what}")
        else:
            self.finding("WSP002", at[0], at[1], f"{display} could not be read: {obj.message}")
        return True

    def requirements(self, location: str, display: str) -> list[str]:
        """Scan a requirements file a serverless environment includes, and the files it
        includes (each once); the display paths the job owns. One that is missing fails the
        environment's install: reported at itself (the environment's) or at the ``-r`` line."""
        owned: list[str] = []
        seen: set[str] = set()  # this call's walk: a cycle of -r includes ends
        queue = [(location, display, (display, 1))]
        while queue:
            current, shown, where = queue.pop(0)
            if current in seen:
                continue
            seen.add(current)
            if current in self.scanned:
                # Scanned for another job: owned under the path it was scanned as, and its
                # includes are this job's too.
                shown = self.scanned[current]
                obj = self.objects.get(current)
            else:
                obj = self.objects.get(current)
                if self.problem(obj, shown, where):
                    continue
                assert obj is not None
                self.scanned[current] = shown
                self.scanner.scan_text(shown, obj.text, "requirements", self.result)
            owned.append(shown)
            if obj is not None:
                queue += [
                    (child, display_of(child, shown), (shown, line))
                    for line, child in obj.includes()
                ]
        return owned

    def visit(self, location: str, display: str) -> list[str]:
        """Scan ``location`` (once) and what it %runs; the display paths of its %run closure."""
        if location in self.closure:
            return self.closure[location]
        self.closure[location] = []  # a cycle back here ends with what is known so far
        obj = self.objects[location]
        self.scanned[location] = display
        if not obj.is_python:
            language = LANGUAGES.get(obj.language, obj.language or "Non-Python")
            self.result.notes.append(
                Note(
                    display,
                    "not-python",
                    f"{language} {obj.kind or 'file'}: the Python rules do not apply",
                )
            )
            self.result.files.append(display)
            return []
        self.scanner.scan_text(display, obj.text, "python", self.result)
        deep: list[str] = []
        for line, target in obj.run_targets():
            child = display_of(target, display)
            found = self.objects.get(target)
            if found is not None and target in self.scanned:
                child = self.scanned[target]
            if self.problem(found, child, (display, line)):
                continue
            deep.append(child)
            deep += self.visit(target, child)
        deep = list(dict.fromkeys(d for d in deep if d != display))
        self.closure[location] = deep
        self.result.runs[display] = deep
        return deep


def _pip_evidence(obj: CodeObject, display: str) -> MlflowEvidence | None:
    from cockpit.compat import notebooks

    if not obj.is_python or not notebooks.is_databricks_source(obj.text):
        return None
    return pip_evidence(notebooks.split_databricks_source(obj.text).pip, display)


def infer_mlflow(
    job: JobDefinition, objects: dict[str, CodeObject], libraries: dict[str, tuple[str, ...]]
) -> MlflowEvidence | None:
    """The MLflow client a job's code runs with: a notebook's own ``%pip install mlflow==X``
    (it replaces whatever the cluster installed), else one in a notebook it %runs, else the
    task's PyPI libraries, else its all-purpose cluster's (``libraries``: by cluster id)."""
    notebook_pins: list[MlflowEvidence] = []
    library_pins: list[MlflowEvidence] = []
    for task in job.tasks:
        location = location_of(task.entry) if task.kind in CODE_KINDS else None
        seen: set[str] = set()
        queue = [location] if location else []
        while queue:  # the entry first, then what it %runs, breadth first
            current = queue.pop(0)
            obj = objects.get(current)
            if current in seen or obj is None:
                continue
            seen.add(current)
            evidence = _pip_evidence(obj, display_of(current, task.entry))
            if evidence is not None:
                notebook_pins.append(evidence)
            queue += [target for _line, target in obj.run_targets()]
        for lib in task.libraries:
            if lib.startswith("pypi:"):
                version = mlflow_pin(lib.removeprefix("pypi:"))
                if version:
                    library_pins.append(MlflowEvidence(version, f"task library {lib}"))
        # A serverless task's environment installs its dependencies as a task's libraries.
        library_pins += _environment_evidence(task, objects)
        for lib in libraries.get(task.cluster, ()):
            if lib.startswith("pypi:"):
                version = mlflow_pin(lib.removeprefix("pypi:"))
                if version:
                    library_pins.append(MlflowEvidence(version, f"cluster library {lib}"))
    pins = notebook_pins or library_pins
    return pins[0] if pins else None


def _environment_evidence(
    task: TaskDefinition, objects: dict[str, CodeObject]
) -> list[MlflowEvidence]:
    """MLflow pins in a serverless task's environment: its dependencies in order, a ``-r``
    file (then the files it includes, breadth first, each once) where it stands."""
    where = f"serverless environment {task.environment}"
    out: list[MlflowEvidence] = []
    seen: set[str] = set()

    def in_file(location: str, display: str) -> None:
        queue = [(location, display)]  # a loop, not recursion: a chain of includes can be long
        while queue:
            current, shown = queue.pop(0)
            obj = objects.get(current)
            if obj is None or current in seen or obj.status != OK:
                continue
            seen.add(current)
            pin = requirements_pin(obj.text)
            if pin is not None:
                out.append(MlflowEvidence(pin[1], f"{shown}:{pin[0]} ({where})"))
            queue += [(child, display_of(child, shown)) for _line, child in obj.includes()]

    for dependency in task.dependencies:
        path = requirement_include(dependency)
        if path is not None:
            location = requirements_location(path)
            if location:
                in_file(location, path)
            continue
        version = requirement_pin(dependency)
        if version is not None:
            out.append(MlflowEvidence(version, f"{where} dependency {dependency.strip()}"))
    return out


def scan_workspace_code(
    scanner: Scanner,
    result: ScanResult,
    jobs: list[JobDefinition],
    objects: dict[str, CodeObject],
    *,
    infer: bool = True,
    default_evidence: str = "",
    cluster_libraries: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, list[str]]:
    """Scan the code of ``jobs`` into ``result``; the display paths each job's pipeline owns
    (by job name): its tasks' code and everything it %runs.

    With ``infer``, each job's MLflow client comes from its own evidence (:func:`infer_mlflow`)
    and its code is scanned for that client; every MLflow finding says which evidence decided
    (``default_evidence`` for jobs without any: the runtime's client or the user's override).
    """
    evidence_of: dict[str, MlflowEvidence | None] = {}
    groups: dict[str, list[JobDefinition]] = {}
    for job in jobs:
        evidence = infer_mlflow(job, objects, cluster_libraries or {}) if infer else None
        evidence_of[job.name] = evidence
        groups.setdefault(evidence.version if evidence else "", []).append(job)
    files: dict[str, list[str]] = {}
    seen: set[tuple[str, int, int, str]] = set()
    findings_before = list(result.findings)
    collected: list = []
    # Jobs with evidence of their own client first: a helper that jobs of both kinds run keeps
    # the finding that names real evidence, not the runtime's default (removals now fire
    # against the target whatever the source client, so both groups report it).
    for version in sorted(groups, key=lambda v: (v == "", v)):
        members = groups[version]
        group_scanner = scanner
        if version:
            versions = dict(scanner.crossing.versions)
            versions["mlflow"] = (version, versions.get("mlflow", (None, None))[1])
            group_scanner = Scanner(dataclasses.replace(scanner.crossing, versions=versions))
        result.findings = []
        files.update(_walk_jobs(group_scanner, result, members, objects))
        decided_by: dict[str, str] = {}  # display path -> the evidence of a job that runs it
        for job in members:
            evidence = evidence_of[job.name]
            for path in files.get(job.name, []):
                decided_by.setdefault(path, evidence.label() if evidence else default_evidence)
        for finding in result.findings:
            ident = (finding.path, finding.line, finding.column, finding.code)
            if ident in seen:
                continue  # a helper shared by pipelines of two MLflow clients
            seen.add(ident)
            rule = group_scanner.rules.get(finding.code)
            decided = decided_by.get(finding.path)
            if rule is not None and rule.applies and rule.applies.package == "mlflow" and decided:
                finding = dataclasses.replace(finding, message=f"{finding.message} ({decided})")
            collected.append(finding)
    result.findings = findings_before + collected
    result.files = list(dict.fromkeys(result.files))
    result.notes = list(dict.fromkeys(result.notes))
    return files


def _walk_jobs(
    scanner: Scanner, result: ScanResult, jobs: list[JobDefinition], objects: dict[str, CodeObject]
) -> dict[str, list[str]]:
    walker = _Walker(scanner, result, objects)
    files: dict[str, list[str]] = {}
    for task in task_code(jobs):
        owned = files.setdefault(task.job, [])
        if task.git:
            result.notes.append(
                Note(
                    task.entry,
                    "git",
                    f"task {task.task_key} runs {task.entry} from the job's Git repository, not "
                    "the workspace: scan a local checkout with `cockpit check PATH`",
                    job=task.job,
                )
            )
            continue
        if task.location is None:
            result.notes.append(
                Note(
                    task.entry,
                    "not-workspace",
                    f"task {task.task_key} runs {task.entry}, not a workspace or dbfs:/ path: "
                    "scan a local copy with `cockpit check PATH`",
                    job=task.job,
                )
            )
            continue
        display = walker.scanned.get(task.location, task.entry)
        owned.append(display)
        if walker.problem(objects.get(task.location), display, (display, 1)):
            continue
        owned += walker.visit(task.location, display)
    for job in jobs:
        for definition in job.tasks:
            for dependency in definition.dependencies:
                path = requirement_include(dependency)
                location = requirements_location(path) if path else None
                if path and location:
                    shown = display_of(location, path)
                    files.setdefault(job.name, []).extend(walker.requirements(location, shown))
                elif path:
                    result.notes.append(
                        Note(
                            path,
                            "not-workspace",
                            f"task {definition.task_key}'s environment installs {path}, not a "
                            "workspace or dbfs:/ file: scan a local copy with `cockpit check PATH`",
                            job=job.name,
                        )
                    )
    return {job: list(dict.fromkeys(paths)) for job, paths in files.items()}
