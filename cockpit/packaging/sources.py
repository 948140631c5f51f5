"""Where a job's library comes from, and what each source means on the target runtime.

Sources (the names ``[packaging] policy`` uses):

* ``runtime``         preinstalled on the Databricks Runtime (the job imports it, declares nothing)
* ``pypi``            a PyPI requirement with no index of its own
* ``private-index``   a requirement installed from a private index: the library's ``repo``, an
                      ``--index-url`` in an environment spec, pip configuration written by an init
                      script, or ``[packaging] index_url`` (the workspace's default repository)
* ``bundle-artifact`` a file an Asset Bundle builds (``artifacts:``) and uploads at deploy
* ``bundle-file``     a local file a bundle uploads at deploy (a relative library path, ``sync:``)
* ``uc-volume``       a file in a Unity Catalog volume (``/Volumes/...``, ``dbfs:/Volumes/...``)
* ``workspace-files`` a file in the workspace (``/Workspace/...``, ``/Users/...``, ``/Repos/...``)
* ``dbfs``            a file on DBFS (``dbfs:/...`` outside volumes)
* ``cloud-storage``   a file in object storage (``s3://``, ``abfss://``, ``gs://``, ``wasbs://``)
* ``maven`` / ``cran`` Maven coordinates / CRAN packages
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCES = (
    "runtime",
    "pypi",
    "private-index",
    "bundle-artifact",
    "bundle-file",
    "uc-volume",
    "workspace-files",
    "dbfs",
    "cloud-storage",
    "maven",
    "cran",
)
CLOUD_PREFIXES = ("s3://", "s3a://", "abfss://", "abfs://", "gs://", "wasbs://", "wasb://")
WORKSPACE_PREFIXES = ("/Workspace/", "/Users/", "/Repos/", "/Shared/")


@dataclass(frozen=True)
class LibraryUse:
    """One library a job installs or relies on, with where it comes from."""

    job: str  # job name
    task: str  # task key ("" for job-level environments)
    kind: str  # whl, jar, egg, requirements, pypi, maven, cran, env, import
    spec: str  # what the job names: a path, a requirement, coordinates, a module
    source: str  # one of SOURCES
    via: str = ""  # how the source was decided ("repo", "init script ...", "artifact x", ...)
    path: str = ""  # file that declares it ("workspace:<job>" for workspace jobs)
    line: int = 1
    target_version: str | None = None  # the target runtime's version of it, when preinstalled

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "task": self.task,
            "kind": self.kind,
            "spec": self.spec,
            "source": self.source,
            "via": self.via,
            "path": self.path,
            "line": self.line,
            "target_version": self.target_version,
        }


@dataclass
class JobPackaging:
    """Every library of one job (a bundle job, a job JSON file or a workspace job)."""

    name: str
    origin: str  # "bundle", "job-json", "workspace"
    path: str
    libraries: list[LibraryUse] = field(default_factory=list)
    index_urls: list[str] = field(default_factory=list)  # private indexes this job installs from
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for lib in self.libraries:
            out[lib.source] = out.get(lib.source, 0) + 1
        return out


def path_source(value: str) -> str | None:
    """The source of a library given by path; None for a relative (bundle-local) path."""
    if value.startswith(("dbfs:/Volumes/", "/Volumes/", "/dbfs/Volumes/")):
        return "uc-volume"
    if value.startswith(("dbfs:/", "/dbfs/")):
        return "dbfs"
    if value.startswith(WORKSPACE_PREFIXES):
        return "workspace-files"
    if value.lower().startswith(CLOUD_PREFIXES):
        return "cloud-storage"
    if value.startswith("/"):
        return "workspace-files"  # an absolute library path is a workspace path
    return None
