"""The packaging audit: every job's library sources, the sources that will not work on the
target runtime, and the ``[packaging] policy`` check.

Rules (each with its source):

* PKG101 ``dbfs-library``: a library installed from DBFS. Storing libraries in the DBFS root is
  disabled by default from Databricks Runtime 15.0 and installing libraries from DBFS is fully
  disabled from 16.0 (the switch ``spark.databricks.driver.dbfsLibraryInstallationAllowed`` can
  no longer be set). Applies when the migration crosses 16.0.
* PKG102 ``runtime-library-removed``: a task imports a library the current runtime preinstalls
  and the target does not (Horovod on 14.3 LTS ML -> 16.4 LTS ML), and no library of the job
  installs it.
* PKG201 ``source-not-allowed``: a library from a source ``[packaging] policy`` does not allow
  (``runtime`` is always allowed: nothing installs it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.compat.rules import Rule
from cockpit.errors import CockpitError
from cockpit.packaging.readers import (
    BUNDLE_NAMES,
    dist_name,
    imported_modules,
    read_bundle,
    read_job_json,
    read_workspace_jobs,
)
from cockpit.packaging.sources import SOURCES, JobPackaging, LibraryUse

if TYPE_CHECKING:
    from cockpit.runtimes.manifest import RuntimeManifest
    from cockpit.store import StateStore

DBFS_16_SOURCE = "https://docs.databricks.com/gcp/pt/release-notes/runtime/16.0"
DBFS_15_SOURCE = "https://docs.databricks.com/gcp/en/archive/runtime-release-notes/15.0"
POLICY_SOURCE = "cockpit.toml [packaging] policy"
MAX_FILES = 5_000  # files walked per audited folder
DBR_NOTES = "https://docs.databricks.com/aws/en/release-notes/runtime/"
LIBRARIES_DOCS = "https://docs.databricks.com/aws/en/libraries/"

# The audit's rules, listed by `cockpit rules list|show` with the scanner's. They live here, not
# in the rule catalog, because they are about how a job installs its libraries, not about an API
# of a release. PKG102's finding names the target manifest's own release notes as its source.
RULES = {
    "PKG101": Rule(
        code="PKG101",
        name="dbfs-library",
        severity="blocking",
        what="A job installs a library from DBFS. Databricks Runtime 15.0 disables library "
        "storage in the DBFS root by default and 16.0 disables installing libraries from DBFS "
        "altogether (spark.databricks.driver.dbfsLibraryInstallationAllowed can no longer be "
        "set). Applies when the migration crosses 16.0.",
        fix="Install the library from a Unity Catalog volume, workspace files or a package "
        "index instead (`cockpit packaging` prints where each job's libraries come from).",
        autofix=False,
        family="packaging",
        source=DBFS_16_SOURCE,
    ),
    "PKG102": Rule(
        code="PKG102",
        name="runtime-library-removed",
        severity="blocking",
        what="A task imports a library the current runtime preinstalls and the target does not "
        "(Horovod on 14.3 LTS ML -> 16.4 LTS ML), and no library of the job installs it.",
        fix="Add the library to the job's libraries (pinned), or move off it (for Horovod the "
        "Databricks docs name TorchDistributor, its DeepSpeed distributor, or "
        "tf.distribute.Strategy).",
        autofix=False,
        family="packaging",
        source=DBR_NOTES,
    ),
    "PKG201": Rule(
        code="PKG201",
        name="source-not-allowed",
        severity="blocking",
        what="A library comes from a source the `[packaging] policy` of cockpit.toml does not "
        "allow (`runtime` is always allowed: nothing installs it).",
        fix="Install it from an allowed source, or widen the policy deliberately.",
        autofix=False,
        family="packaging",
        # The finding names the policy itself; the rule names where library sources are explained.
        source=LIBRARIES_DOCS,
    ),
}


@dataclass(frozen=True)
class PackagingFinding:
    code: str
    name: str
    severity: str  # blocking, warning
    job: str
    origin: str
    message: str
    source: str
    path: str
    line: int

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "job": self.job,
            "origin": self.origin,
            "message": self.message,
            "source": self.source,
            "path": self.path,
            "line": self.line,
        }


@dataclass
class AuditResult:
    from_runtime: str
    to_runtime: str
    policy: tuple[str, ...]
    index_url: str | None
    jobs: list[JobPackaging] = field(default_factory=list)
    findings: list[PackagingFinding] = field(default_factory=list)

    @property
    def blocking(self) -> int:
        return sum(1 for f in self.findings if f.severity == "blocking")

    def findings_of(self, job: JobPackaging) -> list[PackagingFinding]:
        return [f for f in self.findings if f.job == job.name and f.origin == job.origin]

    def to_json(self) -> dict[str, Any]:
        totals: dict[str, int] = {}
        for job in self.jobs:
            for source, n in job.counts().items():
                totals[source] = totals.get(source, 0) + n
        return {
            "from": self.from_runtime,
            "to": self.to_runtime,
            "policy": list(self.policy),
            "index_url": self.index_url,
            "sources": totals,
            "jobs": [
                {
                    "name": job.name,
                    "origin": job.origin,
                    "path": job.path,
                    "sources": job.counts(),
                    "index_urls": job.index_urls,
                    "libraries": [lib.to_json() for lib in job.libraries],
                    "notes": [n for n in job.notes if not n.startswith("task-file:")],
                    "findings": [f.to_json() for f in self.findings_of(job)],
                }
                for job in self.jobs
            ],
            "findings": [f.to_json() for f in self.findings],
            "counts": {
                "jobs": len(self.jobs),
                "libraries": sum(len(j.libraries) for j in self.jobs),
                "blocking": self.blocking,
                "findings": len(self.findings),
            },
        }


def check_policy(policy: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [p for p in policy if p not in SOURCES]
    if unknown:
        raise CockpitError(
            f"[packaging] policy: unknown source {unknown[0]!r} (one of {', '.join(SOURCES)})"
        )
    return tuple(policy)


def _files(paths: list[Path]) -> list[tuple[Path, str, Path]]:
    """(file, kind, audited root) for bundles and job JSON under ``paths``."""
    out: list[tuple[Path, str, Path]] = []
    for raw in paths:
        if raw.is_file():
            kind = "bundle" if raw.name in BUNDLE_NAMES else "json"
            out.append((raw, kind, raw.parent))
            continue
        if not raw.is_dir():
            raise CockpitError(f"{raw}: no such file or folder")
        count = 0
        for folder, dirs, names in _walk(raw):
            for name in sorted(names):
                count += 1
                if count > MAX_FILES:
                    raise CockpitError(
                        f"{raw}: more than {MAX_FILES} files; audit a smaller folder"
                    )
                if name in BUNDLE_NAMES:
                    out.append((Path(folder) / name, "bundle", raw))
                elif name.endswith(".json"):
                    out.append((Path(folder) / name, "json", raw))
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
    return out


def _walk(root: Path):
    import os

    return os.walk(root, followlinks=False)


def audit(
    paths: list[str | Path],
    *,
    from_runtime: str,
    to_runtime: str,
    policy: list[str] | tuple[str, ...] = (),
    index_url: str | None = None,
    store: StateStore | None = None,
) -> AuditResult:
    """Audit the bundles and job JSON under ``paths`` and the workspace jobs in ``store``."""
    from cockpit.runtimes.manifest import load_runtime

    result = AuditResult(from_runtime, to_runtime, check_policy(policy), index_url)
    low, high = load_runtime(from_runtime, store), load_runtime(to_runtime, store)
    bundle_files: set[str] = set()
    files = _files([Path(p) for p in paths])
    for path, kind, _root in files:
        if kind == "bundle":
            jobs, read = read_bundle(path, index_url)
            bundle_files.update(read)
            result.jobs += jobs
    for path, kind, root in files:
        if kind == "json" and str(path).replace("\\", "/") not in bundle_files:
            result.jobs += read_job_json(path, index_url, root)
    if store is not None:
        from cockpit.databricks.inventory import read_jobs

        result.jobs += read_workspace_jobs(read_jobs(store), index_url)
    for job in result.jobs:
        _runtime_libraries(job, low, high)
        result.findings += _rules(job, low, high, result)
    result.jobs.sort(key=lambda j: (j.name, j.origin))
    return result


def _runtime_libraries(job: JobPackaging, low: RuntimeManifest, high: RuntimeManifest) -> None:
    """What the job's task files import from the current runtime (declared by nobody)."""
    declared = {dist_name(_requirement_name(lib.spec)) for lib in job.libraries}
    seen: set[str] = set()
    for note in job.notes:
        if not note.startswith("task-file:"):
            continue
        path = note.removeprefix("task-file:")
        for module, line in imported_modules(Path(path)):
            name = dist_name(module)
            if name in seen or name in declared or name not in low.python_libraries:
                continue
            seen.add(name)
            job.libraries.append(
                LibraryUse(
                    job.name,
                    "",
                    "import",
                    f"{module} ({name} {low.python_libraries[name]} on {low.id})",
                    "runtime",
                    f"import {module}",
                    path,
                    line,
                    target_version=high.python_libraries.get(name),
                )
            )


def _requirement_name(spec: str) -> str:
    import re

    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return match.group(1) if match else spec


def _rules(
    job: JobPackaging, low: RuntimeManifest, high: RuntimeManifest, result: AuditResult
) -> list[PackagingFinding]:
    from cockpit.compat.versions import crosses

    out = []

    def add(code, lib: LibraryUse, message, source) -> None:
        rule = RULES[code]
        out.append(
            PackagingFinding(
                code,
                rule.name,
                rule.severity,
                job.name,
                job.origin,
                message,
                source,
                lib.path,
                lib.line,
            )
        )

    dbfs_gone = crosses(low.version, high.version, "16.0")
    for lib in job.libraries:
        if lib.source == "dbfs" and dbfs_gone:
            add(
                "PKG101",
                lib,
                f"{job.name}: {lib.kind} {lib.spec} is installed from DBFS; Databricks Runtime "
                f"15.0 disables library storage in the DBFS root by default ({DBFS_15_SOURCE}) "
                f"and 16.0 disables installing libraries from DBFS altogether",
                DBFS_16_SOURCE,
            )
        if lib.source == "runtime" and lib.target_version is None:
            add(
                "PKG102",
                lib,
                f"{job.name}: imports {lib.spec}, which {high.id} does not preinstall "
                "and the job does not install",
                (high.sources or (DBFS_16_SOURCE,))[0],
            )
        if result.policy and lib.source != "runtime" and lib.source not in result.policy:
            add(
                "PKG201",
                lib,
                f"{job.name}: {lib.kind} {lib.spec} comes from {lib.source} ({lib.via}); the "
                f"policy allows only {', '.join(result.policy)}",
                POLICY_SOURCE,
            )
    return out
