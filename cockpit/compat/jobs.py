"""Job definitions (Jobs API JSON) and Asset Bundles (``databricks.yml`` + its ``include:``
files): runtime versions, libraries, init scripts, JDK and the MLflow server each job writes to.

Both formats are read with ruamel.yaml's round-trip loader (JSON is YAML flow style), because it
keeps the line and column of every value: findings point at the value to change and autofix
edits exactly those characters.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cockpit.compat import bundle_targets, sourcefiles
from cockpit.compat.bundle_targets import path_of
from cockpit.compat.findings import Finding, make
from cockpit.compat.requirements import RequirementChecker, parse_requirement
from cockpit.compat.rules import Crossing, Rule
from cockpit.errors import CockpitError

BUNDLE_NAMES = ("databricks.yml", "databricks.yaml")
_JOB_KEYS = ("tasks", "job_clusters", "new_cluster", "settings", "jobs")


@dataclass
class Located:
    """A value in a job file with the place it was written (1-based)."""

    path: str
    line: int
    column: int
    value: Any


@dataclass
class JobInfo:
    """One job: a pipeline the checklist tracks."""

    key: str  # bundle resource key, or the job's name for Jobs API JSON
    name: str
    path: str  # file that defines it
    line: int
    files: list[str] = field(default_factory=list)  # sources its tasks run (scanned paths)
    tracking_uris: list[str] = field(default_factory=list)
    spark_versions: list[str] = field(default_factory=list)
    # The names a bundle's targets deploy it as (a development target's "[dev <user>] name",
    # a presets.name_prefix): the workspace jobs that are this job.
    deployed_as: list[bundle_targets.NamePattern] = field(default_factory=list)

    def deployed(self, name: str) -> bool:
        """Whether a workspace job called ``name`` is this job as a target deployed it."""
        return any(pattern.matches(name) for pattern in self.deployed_as)


@dataclass
class JobScan:
    findings: list[Finding] = field(default_factory=list)
    jobs: list[JobInfo] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every job/bundle file read


def _load(text: str):
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    return yaml.load(text)


def _pos(container: Any, key: Any, path: str) -> tuple[int, int]:
    """(line, column) of ``container[key]`` when ruamel recorded it; the container's own
    position (or 1, 1) otherwise."""
    lc = getattr(container, "lc", None)
    try:
        if lc is not None:
            line, col = lc.value(key) if isinstance(key, str) else lc.item(key)
            return line + 1, col + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    if lc is not None and getattr(lc, "line", None) is not None:
        return lc.line + 1, (lc.col or 0) + 1
    return 1, 1


def on_target(spark_version: str, crossing: Crossing) -> bool:
    """A key of the target runtime's version: its own keys, or a sibling flavour of the same
    release (a job that needs no ML libraries may run 16.4.x-scala2.12 when the target is
    16.4 LTS ML)."""
    if spark_version in crossing.target_spark_versions:
        return True
    versions = {key.split(".x", 1)[0] for key in crossing.target_spark_versions}
    return spark_version.split(".x", 1)[0] in versions and ".x" in spark_version


def target_spark_version(current: str, crossing: Crossing) -> str | None:
    """The target key with the same flavour (cpu/gpu, ml, scala) as ``current``, if the target
    runtime has exactly that one; None when unsure (then autofix leaves it alone)."""
    if not crossing.target_spark_versions:
        return None
    _, sep, flavour = current.partition(".x")
    if not sep:
        return None
    target_version = crossing.target_spark_versions[0].split(".x", 1)[0]
    candidate = f"{target_version}.x{flavour}"
    return candidate if candidate in crossing.target_spark_versions else None


class JobChecker:
    def __init__(
        self,
        crossing: Crossing,
        rules: dict[str, Rule],
        *,
        max_file_bytes: int = sourcefiles.DEFAULT_MAX_BYTES,
    ) -> None:
        self.crossing = crossing
        self.rules = rules
        self.max_file_bytes = max_file_bytes
        self.requirements = RequirementChecker(crossing, rules)
        # Bundle targets to check (None: every target the bundle defines).
        self.targets: tuple[str, ...] | None = None

    def _add(
        self,
        out: list[Finding],
        code: str,
        where: tuple[str, int, int],
        message: str,
        job: str,
        **extra: Any,
    ) -> None:
        rule = self.rules.get(code)
        if rule is not None:
            path, line, column = where
            out.append(make(rule, path, line, column, message, job=job, **extra))

    # ----------------------------------------------------------------- one job
    def check_job(
        self,
        info: JobInfo,
        settings: Any,
        path: str,
        variables: dict[str, Located],
        base_dir: Path | None,
        out: list[Finding],
    ) -> None:
        job = info.key
        clusters: list[tuple[Any, str]] = []  # (new_cluster mapping, file path)
        if isinstance(settings.get("new_cluster"), dict):
            clusters.append((settings["new_cluster"], path))
        for jc in settings.get("job_clusters") or []:
            if isinstance(jc, dict) and isinstance(jc.get("new_cluster"), dict):
                clusters.append((jc["new_cluster"], path_of(jc, "new_cluster", path)))
        tasks = [t for t in settings.get("tasks") or [] if isinstance(t, dict)]
        for task in tasks:
            if isinstance(task.get("new_cluster"), dict):
                clusters.append((task["new_cluster"], path_of(task, "new_cluster", path)))
            lib_path = path_of(task, "libraries", path)  # a bundle target may set them
            self._check_libraries(task.get("libraries"), lib_path, job, base_dir, info, out)
            self._task_files(task, base_dir, info)
        self._check_libraries(settings.get("libraries"), path, job, base_dir, info, out)
        self._check_environments(settings.get("environments"), path, job, base_dir, info, out)
        for cluster, cpath in clusters:
            self._check_cluster(cluster, cpath, job, variables, info, out)

    def _task_files(self, task: Any, base_dir: Path | None, info: JobInfo) -> None:
        for kind, key in (
            ("notebook_task", "notebook_path"),
            ("spark_python_task", "python_file"),
        ):
            spec = task.get(kind)
            if isinstance(spec, dict) and isinstance(spec.get(key), str):
                ref = spec[key]
                if ref.startswith(("/Workspace", "/Users", "/Repos", "dbfs:", "s3:", "abfss:")):
                    continue  # lives in the workspace, not in this repository
                info.files += _existing(base_dir, ref)

    def _check_cluster(
        self,
        cluster: Any,
        path: str,
        job: str,
        variables: dict[str, Located],
        info: JobInfo,
        out: list[Finding],
    ) -> None:
        version = cluster.get("spark_version")
        if isinstance(version, str):
            where = (path_of(cluster, "spark_version", path), *_pos(cluster, "spark_version", path))
            resolved, via = version, ""
            if version.startswith("${var.") and version.endswith("}"):
                variable = variables.get(version[6:-1])
                if variable is not None and isinstance(variable.value, str):
                    resolved = variable.value
                    where = (variable.path, variable.line, variable.column)
                    via = f" (via {version})"
            info.spark_versions.append(resolved)
            if not on_target(resolved, self.crossing) and "${" not in resolved:
                target = target_spark_version(resolved, self.crossing)
                hint = f"; set {target}" if target else " and no same-flavour target key exists"
                self._add(
                    out,
                    "JOB101",
                    where,
                    f"job {job}: spark_version {resolved}{via} is not "
                    f"{self.crossing.to_runtime}{hint}",
                    job,
                    autofix=target is not None,
                    data={"old": resolved, "new": target} if target else {},
                )
        conf = cluster.get("spark_conf")
        if isinstance(conf, dict):
            key = "spark.databricks.driver.dbfsLibraryInstallationAllowed"
            if key in conf:
                self._add(
                    out,
                    "JOB103",
                    (path, *_pos(conf, key, path)),
                    f"job {job}: sets {key}",
                    job,
                )
        env = cluster.get("spark_env_vars")
        if isinstance(env, dict):
            jname = env.get("JNAME")
            if isinstance(jname, str) and "zulu8" in jname:
                self._add(
                    out,
                    "JOB106",
                    (path, *_pos(env, "JNAME", path)),
                    f"job {job}: JNAME={jname} keeps the cluster on JDK 8",
                    job,
                )
            uri = env.get("MLFLOW_TRACKING_URI")
            if isinstance(uri, str):
                uri = redact_uri(uri)
                info.tracking_uris.append(uri)
                where = (path, *_pos(env, "MLFLOW_TRACKING_URI", path))
                old = self.crossing.old_tracking_uri
                if old and uri.rstrip("/") == old.rstrip("/"):
                    self._add(
                        out,
                        "JOB108",
                        where,
                        f"job {job} writes to the old MLflow server {uri}",
                        job,
                    )
                else:
                    self._add(out, "JOB107", where, f"job {job} writes to MLflow at {uri}", job)
        for script in cluster.get("init_scripts") or []:
            if not isinstance(script, dict):
                continue
            spec = script.get("dbfs")
            destination = spec.get("destination") if isinstance(spec, dict) else None
            if isinstance(destination, str):
                where = (path, *_pos(spec, "destination", path))
                if destination.startswith("dbfs:/databricks/init/"):
                    self._add(
                        out,
                        "JOB104",
                        where,
                        f"job {job}: legacy init script {destination}",
                        job,
                    )
                else:
                    self._add(
                        out, "JOB105", where, f"job {job}: init script on DBFS {destination}", job
                    )

    def _check_libraries(
        self,
        libraries: Any,
        path: str,
        job: str,
        base_dir: Path | None,
        info: JobInfo,
        out: list[Finding],
    ) -> None:
        if not isinstance(libraries, list):
            return
        for library in libraries:
            if not isinstance(library, dict):
                continue
            for kind in ("whl", "jar", "egg", "requirements"):
                value = library.get(kind)
                if not isinstance(value, str):
                    continue
                where = (path, *_pos(library, kind, path))
                # Unity Catalog volumes are reached through dbfs:/Volumes and stay allowed.
                if value.startswith("dbfs:/") and not value.startswith("dbfs:/Volumes/"):
                    self._add(out, "JOB102", where, f"job {job}: {kind} library {value}", job)
                elif kind == "requirements" and not value.startswith(("/", "dbfs:")):
                    info.files += _existing(base_dir, value)
            pypi = library.get("pypi")
            if isinstance(pypi, dict) and isinstance(pypi.get("package"), str):
                req = parse_requirement(pypi["package"])
                if req is not None:
                    line, column = _pos(pypi, "package", path)
                    for finding in self.requirements.check(req, path, line, column, job=job):
                        out.append(_with_job(finding, job))

    def _check_environments(
        self,
        environments: Any,
        path: str,
        job: str,
        base_dir: Path | None,
        info: JobInfo,
        out: list[Finding],
    ) -> None:
        """A serverless job's ``environments[].spec.dependencies``: pip requirement lines,
        checked as a task's PyPI libraries are; a ``-r`` file next to the bundle joins the job's
        files (a workspace one is read by ``check --workspace``)."""
        from cockpit.databricks.workspace_code import requirement_include

        for env in environments if isinstance(environments, list) else []:
            spec = env.get("spec") if isinstance(env, dict) else None
            deps = spec.get("dependencies") if isinstance(spec, dict) else None
            if not isinstance(deps, list):
                continue
            dep_path = path_of(spec, "dependencies", path_of(env, "spec", path))
            for index, dependency in enumerate(deps):
                if not isinstance(dependency, str):
                    continue
                include = requirement_include(dependency)
                if include is not None:
                    if not include.startswith(("/", "dbfs:")):
                        info.files += _existing(base_dir, include)
                    continue
                req = parse_requirement(dependency)
                if req is None:
                    continue
                line, column = _pos(deps, index, dep_path)
                for finding in self.requirements.check(req, dep_path, line, column, job=job):
                    out.append(_with_job(finding, job))


_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@\s]*@", re.IGNORECASE)


def redact_uri(uri: str) -> str:
    """A tracking URI without credentials: ``https://user:token@host`` -> ``https://***@host``.
    Job files sometimes carry them; they must never reach a report or the state file."""
    return _USERINFO.sub(r"\1***@", uri)


def _with_job(finding: Finding, job: str) -> Finding:
    from dataclasses import replace

    return replace(finding, job=job)


def _existing(base_dir: Path | None, ref: str) -> list[str]:
    """Repository files a task reference points at (notebook paths may omit the extension).
    None for a job read from a workspace: its references are workspace paths, and a relative
    one chosen by the server must never probe the local file system."""
    if base_dir is None:
        return []
    candidate = base_dir / ref
    for option in (
        candidate,
        candidate.with_name(candidate.name + ".py"),
        Path(f"{candidate}.ipynb"),
    ):
        if option.is_file():
            return [os.path.normpath(option).replace(os.sep, "/")]
    return []


# --------------------------------------------------------------------------- files
def looks_like_job_json(text: str) -> bool:
    head = text.lstrip()[:1]
    return head in "{[" and any(f'"{key}"' in text for key in _JOB_KEYS)


def scan_job_json(path: str, text: str, checker: JobChecker, parse_error: Rule | None) -> JobScan:
    """A Jobs API export: a job (``{"job_id", "settings"}``), bare settings, or ``{"jobs": [...]}``."""
    scan = JobScan(files=[path])
    try:
        json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        if parse_error is not None:
            line = getattr(exc, "lineno", 1)
            scan.findings.append(make(parse_error, path, line, 1, f"cannot parse as JSON: {exc}"))
        return scan
    try:
        data = _load(text)
    except Exception as exc:  # ruamel has no common base class for its scanner/parser errors
        if parse_error is not None:
            scan.findings.append(make(parse_error, path, 1, 1, f"cannot read as JSON: {exc}"))
        return scan
    base_dir = Path(path).parent
    items: list[Any] = []
    if isinstance(data, dict) and isinstance(data.get("jobs"), list):
        items = list(data["jobs"])
    elif isinstance(data, list):
        items = list(data)
    elif isinstance(data, dict):
        items = [data]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        settings: dict[str, Any] = (
            item["settings"] if isinstance(item.get("settings"), dict) else item
        )
        name = settings.get("name") if isinstance(settings.get("name"), str) else None
        key = name or (Path(path).stem if len(items) == 1 else f"{Path(path).stem}-{index + 1}")
        line, _ = _pos(items if isinstance(data, list) else data, index, path)
        info = JobInfo(key=str(key), name=str(name or key), path=path, line=line)
        checker.check_job(info, settings, path, {}, base_dir, scan.findings)
        scan.jobs.append(info)
    return scan


def scan_bundle(
    path: str, text: str, checker: JobChecker, parse_error: Rule | None, read=None
) -> JobScan:
    """``databricks.yml`` and the files its ``include:`` globs name (relative to it).

    Includes are confined to the bundle's folder (:func:`sourcefiles.confined_glob`: no
    absolute or ``..`` patterns, no match resolving outside, links not walked, a visit budget)
    and read like every scanned file (regular files only, size cap); what is refused is a CPT002
    finding at the include entry."""
    scan = JobScan(files=[path])
    read = read or (
        lambda p: sourcefiles.read_text(p, python=False, max_bytes=checker.max_file_bytes)
    )
    not_read = checker.rules.get("CPT002")
    root = _yaml_or_finding(path, text, parse_error, scan)
    if not isinstance(root, dict):
        return scan
    base_dir = Path(path).parent
    variables: dict[str, Located] = {}
    for name, spec in (
        (root.get("variables") or {}).items() if isinstance(root.get("variables"), dict) else []
    ):
        if isinstance(spec, dict) and "default" in spec:
            line, column = _pos(spec, "default", path)
            variables[str(name)] = Located(path, line, column, spec["default"])
    documents: list[tuple[str, Any]] = [(path, root)]
    includes = root.get("include") or []
    for index, pattern in enumerate(includes if isinstance(includes, list) else []):
        if not isinstance(pattern, str):
            continue
        found = sourcefiles.confined_glob(str(base_dir), pattern)
        if not_read is not None:
            line, column = _pos(includes, index, path)
            for what, why in found.refused:
                scan.findings.append(make(not_read, path, line, column, f"include {what}: {why}"))
        for inc_path in found.matches:
            try:
                inc_text = read(inc_path)
            except sourcefiles.NotRead as exc:
                if not_read is not None:
                    scan.findings.append(make(not_read, inc_path, 1, 1, exc.reason))
                continue
            except (OSError, UnicodeDecodeError) as exc:
                if parse_error is not None:
                    scan.findings.append(make(parse_error, inc_path, 1, 1, f"cannot read: {exc}"))
                continue
            scan.files.append(inc_path)
            document = _yaml_or_finding(inc_path, inc_text, parse_error, scan)
            if isinstance(document, dict):
                documents.append((inc_path, document))
    defined: dict[str, tuple[Any, str]] = {}  # job key -> (settings, file), first wins
    lines: dict[str, int] = {}
    every: list[tuple[str, Any, str, int]] = []  # as written, for a bundle without targets
    for doc_path, document in documents:
        resources = document.get("resources")
        jobs = resources.get("jobs") if isinstance(resources, dict) else None
        if not isinstance(jobs, dict):
            continue
        for key, settings in jobs.items():
            if not isinstance(settings, dict):
                continue
            line = _pos(jobs, key, doc_path)[0]
            every.append((str(key), settings, doc_path, line))
            if str(key) not in defined:
                defined[str(key)] = (settings, doc_path)
                lines[str(key)] = line
    found_targets = bundle_targets.targets(root, path)
    if not found_targets:
        for key, settings, doc_path, line in every:
            _check_bundle_job(checker, scan, key, settings, doc_path, line, variables)
        return scan
    names = [t.name for t in found_targets]
    wanted = checker.targets
    unknown = [t for t in wanted or () if t not in names]
    if unknown:
        raise CockpitError(f"{path}: no target {unknown[0]!r} (targets: {', '.join(names)})")
    per_target: dict[tuple[str, int, int, str], tuple[Finding, list[str]]] = {}
    infos: dict[str, JobInfo] = {}  # one per job whatever the targets: one pipeline
    for target in found_targets:
        if wanted and target.name not in wanted:
            continue
        jobs_of = bundle_targets.target_jobs(target, defined)
        tvars = bundle_targets.target_variables(target, variables, _located)
        for key, (settings, doc_path) in jobs_of.items():
            job_findings: list[Finding] = []
            line = lines.get(key) or _pos(settings, "name", doc_path)[0]
            info = _check_bundle_job(
                checker, scan, key, settings, doc_path, line, tvars, job_findings
            )
            known = infos.setdefault(key, info)
            deployed = bundle_targets.name_prefix(target) + info.name
            if deployed != known.name:
                pattern = bundle_targets.name_pattern(deployed, target.name)
                if pattern not in known.deployed_as:
                    known.deployed_as.append(pattern)
            if known is not info:
                for attr in ("files", "tracking_uris", "spark_versions"):
                    values = getattr(known, attr)
                    values += [v for v in getattr(info, attr) if v not in values]
            for finding in job_findings:
                ident = (finding.path, finding.line, finding.column, finding.code)
                if ident in per_target:
                    per_target[ident][1].append(target.name)
                else:
                    per_target[ident] = (finding, [target.name])
    scan.jobs += infos.values()
    for finding, in_targets in per_target.values():
        label = "target" if len(in_targets) == 1 else "targets"
        message = f"{label} {', '.join(in_targets)}: {finding.message}"
        scan.findings.append(replace(finding, message=message))
    return scan


def _located(container: Any, key: Any, path: str) -> Located:
    line, column = _pos(container, key, path)
    return Located(path, line, column, container[key])


def _check_bundle_job(
    checker: JobChecker,
    scan: JobScan,
    key: str,
    settings: Any,
    doc_path: str,
    line: int,
    variables: dict[str, Located],
    found: list[Finding] | None = None,
) -> JobInfo:
    """One bundle job; findings into ``found`` (a target's, the caller keeps the job) or
    straight into ``scan`` with the job."""
    name = settings.get("name") if isinstance(settings.get("name"), str) else key
    info = JobInfo(key=key, name=name, path=doc_path, line=line)
    checker.check_job(
        info,
        settings,
        doc_path,
        variables,
        Path(doc_path).parent,
        scan.findings if found is None else found,
    )
    if found is None:
        scan.jobs.append(info)
    return info


def _yaml_or_finding(path: str, text: str, parse_error: Rule | None, scan: JobScan) -> Any:
    try:
        return _load(text)
    except Exception as exc:  # ruamel's errors share no base class worth naming here
        if parse_error is not None:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(exc, "problem", None) or type(exc).__name__
            scan.findings.append(
                make(parse_error, path, line, 1, f"cannot parse as YAML: {problem}")
            )
        return None
