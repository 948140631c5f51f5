"""Read every job's libraries: Asset Bundles (``databricks.yml``, its ``include:`` files, its
``artifacts:`` and ``sync:``), Jobs API JSON, and the workspace jobs the inventory stored.

Files are read bounded (a job file over 2 MB, a script over 256 KB is not read) and every path a
job names is only resolved inside the folder of the file that names it or below the bundle's
root: nothing outside is opened.
"""

from __future__ import annotations

import ast
import fnmatch
import glob
import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.compat.jobs import redact_uri
from cockpit.packaging.sources import JobPackaging, LibraryUse, path_source

if TYPE_CHECKING:
    from cockpit.databricks.models import JobDefinition

MAX_FILE = 2_000_000
MAX_SCRIPT = 256_000
BUNDLE_NAMES = ("databricks.yml", "databricks.yaml")
# Import names that differ from their distribution's name.
IMPORT_TO_DIST = {
    "sklearn": "scikit-learn",
    "cv2": "opencv-python",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "sparkdl": "spark-deep-learning",
    "google": "protobuf",
    "dateutil": "python-dateutil",
    "bs4": "beautifulsoup4",
    "tensorflow": "tensorflow",
}
_INDEX_PATTERNS = (
    re.compile(r"pip3?\s+config\s+set\s+\S*index-url\s+['\"]?([^\s'\"]+)"),
    re.compile(r"PIP_(?:EXTRA_)?INDEX_URL\s*=\s*['\"]?([^\s'\"]+)"),
    re.compile(r"^\s*(?:extra-)?index-url\s*=\s*['\"]?([^\s'\"]+)", re.MULTILINE),
    re.compile(r"--(?:extra-)?index-url[\s=]+['\"]?([^\s'\"]+)"),
)


def index_urls_in(text: str) -> list[str]:
    """Package indexes a script or requirement lines point pip at (credentials redacted)."""
    found: list[str] = []
    for pattern in _INDEX_PATTERNS:
        for match in pattern.finditer(text):
            url = redact_uri(match.group(1))
            if url not in found:
                found.append(url)
    return found


def _read(path: Path, limit: int) -> str | None:
    try:
        if path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _inside(root: Path, base: Path, ref: str) -> Path | None:
    """``ref`` relative to ``base``, only if it stays inside ``root`` (the tree being audited):
    a job file cannot make the audit open ``../../etc/...``."""
    try:
        candidate = (base / ref).resolve()
        candidate.relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):
        return None
    return candidate


def _yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


def _line(container: Any, key: Any) -> int:
    lc = getattr(container, "lc", None)
    try:
        if lc is not None:
            line, _ = lc.value(key) if isinstance(key, str) else lc.item(key)
            return int(line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        pass
    return int(getattr(lc, "line", 0) or 0) + 1


def _display(path: Path | str) -> str:
    return os.path.normpath(str(path)).replace(os.sep, "/")


class _Context:
    """What decides a relative path's source in one bundle: its artifacts and sync rules."""

    def __init__(self, root: Path, artifacts: dict[str, Any], sync: dict[str, Any]) -> None:
        self.root = root
        self.artifacts: list[tuple[str, list[str]]] = []
        for name, spec in artifacts.items():
            if not isinstance(spec, dict):
                continue
            patterns = []
            if isinstance(spec.get("path"), str):
                patterns.append(_display(root / spec["path"]) + "/*")
            for item in spec.get("files") or []:
                if isinstance(item, dict) and isinstance(item.get("source"), str):
                    patterns.append(_display(root / item["source"]))
            self.artifacts.append((str(name), patterns))
        self.sync_include = [str(p) for p in sync.get("include") or [] if isinstance(p, str)]
        self.sync_exclude = [str(p) for p in sync.get("exclude") or [] if isinstance(p, str)]

    def relative_source(self, base: Path, ref: str) -> tuple[str, str]:
        target = _display(base / ref)
        for name, patterns in self.artifacts:
            for pattern in patterns:
                if fnmatch.fnmatch(target, pattern) or target.startswith(pattern.rstrip("*")):
                    return "bundle-artifact", f"artifact {name}"
        try:
            rel = _display(os.path.relpath(target, _display(self.root)))
        except ValueError:
            rel = target
        if any(fnmatch.fnmatch(rel, p) for p in self.sync_exclude):
            return "bundle-file", "excluded by sync: (uploaded as a library file at deploy)"
        if any(fnmatch.fnmatch(rel, p) for p in self.sync_include):
            return "bundle-file", "sync: include"
        return "bundle-file", "uploaded by the bundle at deploy"


# ---------------------------------------------------------------------------- one job
def _job(
    name: str,
    origin: str,
    path: str,
    settings: Any,
    base: Path,
    ctx: _Context,
    index_url: str | None,
) -> JobPackaging:
    job = JobPackaging(name=name, origin=origin, path=path)
    clusters: list[Any] = []
    if isinstance(settings.get("new_cluster"), dict):
        clusters.append(settings["new_cluster"])
    for jc in settings.get("job_clusters") or []:
        if isinstance(jc, dict) and isinstance(jc.get("new_cluster"), dict):
            clusters.append(jc["new_cluster"])
    tasks = [t for t in settings.get("tasks") or [] if isinstance(t, dict)]
    clusters += [t["new_cluster"] for t in tasks if isinstance(t.get("new_cluster"), dict)]
    for cluster in clusters:
        _init_scripts(job, cluster, base, ctx.root)
    environments: dict[str, Any] = {}
    for env in settings.get("environments") or []:
        if isinstance(env, dict) and isinstance(env.get("environment_key"), str):
            environments[env["environment_key"]] = env
    env_indexes: dict[str, list[str]] = {}
    for key, env in environments.items():
        spec = env.get("spec") if isinstance(env.get("spec"), dict) else {}
        deps = [d for d in spec.get("dependencies") or [] if isinstance(d, str)]
        env_indexes[key] = index_urls_in("\n".join(deps))
        job.index_urls += [u for u in env_indexes[key] if u not in job.index_urls]
    for task in tasks:
        key = str(task.get("task_key") or "")
        libraries = task.get("libraries")
        if isinstance(libraries, list):
            for library in libraries:
                if isinstance(library, dict):
                    _library(job, key, library, path, base, ctx, index_url)
    if isinstance(settings.get("libraries"), list):
        for library in settings["libraries"]:
            if isinstance(library, dict):
                _library(job, "", library, path, base, ctx, index_url)
    for key, env in environments.items():
        spec = env.get("spec") if isinstance(env.get("spec"), dict) else {}
        deps = spec.get("dependencies") or []
        for i, dep in enumerate(deps):
            if not isinstance(dep, str) or dep.strip().startswith("--"):
                continue
            _dependency(
                job, key, dep.strip(), path, _line(deps, i), base, ctx, env_indexes[key], index_url
            )
    return job


def _init_scripts(job: JobPackaging, cluster: Any, base: Path, root: Path) -> None:
    for script in cluster.get("init_scripts") or []:
        if not isinstance(script, dict):
            continue
        for kind, spec in script.items():
            destination = spec.get("destination") if isinstance(spec, dict) else None
            if not isinstance(destination, str):
                continue
            local = None if path_source(destination) else _inside(root, base, destination)
            text = _read(local, MAX_SCRIPT) if local is not None and local.is_file() else None
            if text is None:
                job.notes.append(f"init script {kind}:{destination} not readable here")
                continue
            for url in index_urls_in(text):
                if url not in job.index_urls:
                    job.index_urls.append(url)
                job.notes.append(f"init script {destination} points pip at {url}")


def _pypi_source(
    repo: str | None, job_indexes: list[str], index_url: str | None
) -> tuple[str, str]:
    if repo:
        return "private-index", f"repo {redact_uri(repo)}"
    if job_indexes:
        return "private-index", f"pip configured for {job_indexes[0]}"
    if index_url:
        return "private-index", f"[packaging] index_url {redact_uri(index_url)}"
    return "pypi", "no index of its own: pypi.org"


def _library(
    job: JobPackaging,
    task: str,
    library: Any,
    path: str,
    base: Path,
    ctx: _Context | None,
    index_url: str | None,
) -> None:
    for kind in ("pypi", "maven", "cran"):
        spec = library.get(kind)
        if not isinstance(spec, dict):
            continue
        name = spec.get("package") or spec.get("coordinates")
        if not isinstance(name, str):
            continue
        line = _line(spec, "package" if "package" in spec else "coordinates")
        repo = spec.get("repo") if isinstance(spec.get("repo"), str) else None
        if kind == "pypi":
            source, via = _pypi_source(repo, job.index_urls, index_url)
        else:
            source, via = kind, f"repo {redact_uri(repo)}" if repo else f"{kind} default repository"
        job.libraries.append(LibraryUse(job.name, task, kind, name, source, via, path, line))
    for kind in ("whl", "jar", "egg", "requirements"):
        value = library.get(kind)
        if isinstance(value, str):
            absolute = path_source(value)
            if absolute is not None:
                source, via = absolute, "absolute path"
            elif ctx is not None:
                source, via = ctx.relative_source(base, value)
            else:
                source, via = "bundle-file", "relative path"
            line = _line(library, kind)
            job.libraries.append(LibraryUse(job.name, task, kind, value, source, via, path, line))
            if kind == "requirements" and ctx is not None and path_source(value) is None:
                _requirements_file(job, task, value, base, ctx, index_url)


def _requirements_file(
    job: JobPackaging, task: str, ref: str, base: Path, ctx: _Context, index_url: str | None
) -> None:
    """The requirements a bundle-local requirements file lists, each with its index."""
    found = _inside(ctx.root, base, ref)
    text = _read(found, MAX_SCRIPT) if found is not None and found.is_file() else None
    if text is None:
        job.notes.append(f"requirements file {ref} not readable here")
        return
    own = index_urls_in(text)
    shown = _display(os.path.relpath(found)) if found is not None else ref
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        source, via = _pypi_source(None, own or job.index_urls, index_url)
        job.libraries.append(
            LibraryUse(
                job.name, task, "requirement", line, source, f"{via} (in {ref})", shown, number
            )
        )


def _dependency(
    job: JobPackaging,
    env_key: str,
    dep: str,
    path: str,
    line: int,
    base: Path,
    ctx: _Context | None,
    env_indexes: list[str],
    index_url: str | None,
) -> None:
    ref = dep[2:].strip() if dep.startswith("-r") else dep
    looks_like_path = ref.startswith(("/", "./", "../", "dbfs:")) or ref.endswith((".whl", ".txt"))
    if looks_like_path:
        source = path_source(ref)
        via = "environment dependency"
        if source is None:
            source, via = (
                ctx.relative_source(base, ref) if ctx is not None else ("bundle-file", "relative")
            )
        kind = "requirements" if dep.startswith("-r") or ref.endswith(".txt") else "whl"
    else:
        source, via = _pypi_source(None, env_indexes, index_url)
        kind = "pypi"
    job.libraries.append(LibraryUse(job.name, f"env:{env_key}", kind, ref, source, via, path, line))


# ---------------------------------------------------------------------------- files
def read_bundle(path: Path, index_url: str | None) -> tuple[list[JobPackaging], list[str]]:
    """A bundle's jobs with their libraries; the files it read (for task file lookups)."""
    root = path.parent
    text = _read(path, MAX_FILE)
    if text is None:
        return [], []
    try:
        data = _yaml(text)
    except Exception:  # ruamel's errors share no useful base class; `cockpit check` reports them
        return [], []
    if not isinstance(data, dict):
        return [], []
    documents = [(path, data)]
    for pattern in data.get("include") or []:
        if not isinstance(pattern, str):
            continue
        for match in sorted(glob.glob(str(root / pattern), recursive=True)):
            inc = Path(match)
            inc_text = _read(inc, MAX_FILE)
            if inc_text is None:
                continue
            try:
                doc = _yaml(inc_text)
            except Exception:  # as above
                continue
            if isinstance(doc, dict):
                documents.append((inc, doc))
    artifacts: dict[str, Any] = {}
    sync: dict[str, Any] = {}
    for _doc_path, doc in documents:
        if isinstance(doc.get("artifacts"), dict):
            artifacts.update(doc["artifacts"])
        if isinstance(doc.get("sync"), dict):
            for key in ("include", "exclude"):
                if isinstance(doc["sync"].get(key), list):
                    sync.setdefault(key, []).extend(doc["sync"][key])
    ctx = _Context(root, artifacts, sync)
    jobs: list[JobPackaging] = []
    for doc_path, doc in documents:
        resources = doc.get("resources")
        specs = resources.get("jobs") if isinstance(resources, dict) else None
        if not isinstance(specs, dict):
            continue
        for key, settings in specs.items():
            if not isinstance(settings, dict):
                continue
            name = settings["name"] if isinstance(settings.get("name"), str) else str(key)
            job = _job(
                name, "bundle", _display(doc_path), settings, doc_path.parent, ctx, index_url
            )
            job.notes += _task_files(settings, doc_path.parent, root)
            jobs.append(job)
    return jobs, [_display(p) for p, _ in documents]


def read_job_json(path: Path, index_url: str | None, root: Path) -> list[JobPackaging]:
    """Jobs API JSON (a job, bare settings, or ``{"jobs": [...]}``); ``root``: the audited tree."""
    text = _read(path, MAX_FILE)
    if text is None:
        return []
    try:
        data = json.loads(text)
        rt = _yaml(text)  # the same document with line numbers
    except Exception:  # not JSON, or not one ruamel reads: `cockpit check` reports it
        return []
    items = rt.get("jobs") if isinstance(data, dict) and isinstance(data.get("jobs"), list) else rt
    items = items if isinstance(items, list) else [items]
    jobs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        settings: dict[str, Any] = (
            item["settings"] if isinstance(item.get("settings"), dict) else item
        )
        if not any(k in settings for k in ("tasks", "job_clusters", "new_cluster", "libraries")):
            continue
        name = settings.get("name") if isinstance(settings.get("name"), str) else None
        name = name or (path.stem if len(items) == 1 else f"{path.stem}-{index + 1}")
        ctx = _Context(root, {}, {})
        job = _job(str(name), "job-json", _display(path), settings, path.parent, ctx, index_url)
        job.notes += _task_files(settings, path.parent, root)
        jobs.append(job)
    return jobs


def _task_files(settings: Any, base: Path, root: Path) -> list[str]:
    """``task-file:<path>`` notes for the job's local task sources (read for runtime imports)."""
    out = []
    for task in settings.get("tasks") or []:
        if not isinstance(task, dict):
            continue
        for kind, key in (("notebook_task", "notebook_path"), ("spark_python_task", "python_file")):
            spec = task.get(kind)
            ref = spec.get(key) if isinstance(spec, dict) else None
            if not isinstance(ref, str) or path_source(ref):
                continue
            for option in (ref, f"{ref}.py", f"{ref}.ipynb"):
                found = _inside(root, base, option)
                if found is not None and found.is_file():
                    out.append(f"task-file:{_display(os.path.relpath(found))}")
                    break
    return out


def read_workspace_jobs(jobs: list[JobDefinition], index_url: str | None) -> list[JobPackaging]:
    """Workspace jobs as the inventory stored them (libraries as ``kind:spec`` strings)."""
    out = []
    for definition in jobs:
        job = JobPackaging(
            name=definition.name, origin="workspace", path=f"workspace:{definition.name}"
        )
        for task in definition.tasks:
            for script in task.init_scripts:
                kind, _, destination = script.partition(":")
                job.notes.append(f"init script {kind}:{destination} not readable here")
        for task in definition.tasks:
            for library in task.libraries:
                kind, _, value = library.partition(":")
                lib: dict[str, Any] = (
                    {kind: {"package" if kind != "maven" else "coordinates": value}}
                    if kind in ("pypi", "maven", "cran")
                    else {kind: value}
                )
                _library(job, task.task_key, lib, job.path, Path("."), None, index_url)
        out.append(job)
    return out


# ---------------------------------------------------------------------------- runtime
def imported_modules(path: Path) -> list[tuple[str, int]]:
    """Top-level modules a task file imports (first line of each), .py or .ipynb."""
    text = _read(path, MAX_FILE)
    if text is None:
        return []
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells") or []
        except (json.JSONDecodeError, AttributeError):
            return []
        lines = []
        for cell in cells:
            if isinstance(cell, dict) and cell.get("cell_type") == "code":
                source = cell.get("source")
                source = "".join(source) if isinstance(source, list) else str(source or "")
                lines += [
                    ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))
                ]
        text = "\n".join(lines)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    seen: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".", 1)[0]
            if top not in seen or node.lineno < seen[top]:
                seen[top] = node.lineno
    return sorted(seen.items(), key=lambda kv: kv[1])


def dist_name(module: str) -> str:
    from cockpit.runtimes.manifest import canonicalize_name

    return canonicalize_name(IMPORT_TO_DIST.get(module, module))
