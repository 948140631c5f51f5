"""Walk paths and run the right scanner on each file; apply suppressions; collect jobs.

Which files are read: ``*.py`` (Databricks notebook source when it starts with the header),
``*.ipynb``, ``requirements*.txt``, ``pyproject.toml``, ``setup.cfg``, ``databricks.yml`` /
``databricks.yaml`` (with their ``include:`` files) and ``*.json`` that look like Jobs API
exports. Other files are ignored; a file that cannot be read or parsed is a CPT001 finding.
Only regular files are read, up to a size cap; anything else (a FIFO, a device, a link loop, a
file over the cap) is a CPT002 finding instead (:mod:`cockpit.compat.sourcefiles`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from cockpit.compat import jobs as jobs_mod
from cockpit.compat import notebooks, requirements, sourcefiles, suppress
from cockpit.compat.findings import Finding, make, sort_key
from cockpit.compat.jobs import JobChecker, JobInfo
from cockpit.compat.mlflow_evidence import MlflowEvidence, pip_evidence, requirements_pin
from cockpit.compat.python_scan import Matchers, PythonSource, scan_python
from cockpit.compat.requirements import RequirementChecker
from cockpit.compat.rules import Crossing, Rule, aliases, catalog, folded_names
from cockpit.compat.uses import Use
from cockpit.errors import CockpitError

SKIP_DIRS = frozenset(
    {".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".databricks"}
)


@dataclass(frozen=True)
class Note:
    """Something a scan could not check and says so without it being a finding (a SQL
    notebook, a task whose code lives in Git)."""

    path: str
    kind: str  # "not-python", "git", "not-workspace", "not-fetched"
    message: str
    job: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"path": self.path, "kind": self.kind, "message": self.message, "job": self.job}


@dataclass
class ScanResult:
    crossing: Crossing
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[suppress.Suppressed] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    jobs: list[JobInfo] = field(default_factory=list)
    # %run targets per notebook, so a job's pipeline can include what its notebook runs.
    runs: dict[str, list[str]] = field(default_factory=dict)
    # Bundle and job JSON files: their findings belong to the jobs they define.
    job_files: set[str] = field(default_factory=set)
    notes: list[Note] = field(default_factory=list)
    # What was asked to be scanned, plus each bundle's folder: `fix` writes nowhere else.
    roots: list[str] = field(default_factory=list)
    # What the code imports and the requirements pin (for the runtime diff's "used by").
    uses: list[Use] = field(default_factory=list)

    @property
    def blocking(self) -> int:
        return sum(1 for f in self.findings if f.severity == "blocking")

    def counts(self) -> dict[str, int]:
        out = {"blocking": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out


class Scanner:
    """Scans files for one crossing. Build once, scan many files (the matchers are reused)."""

    def __init__(
        self,
        crossing: Crossing,
        rules: dict[str, Rule] | None = None,
        *,
        max_file_bytes: int = sourcefiles.DEFAULT_MAX_BYTES,
    ) -> None:
        every = rules if rules is not None else catalog()
        self.crossing = crossing
        self.rules = {code: rule for code, rule in every.items() if crossing.applies(rule)}
        self.names = {code: rule.name for code, rule in every.items()}
        # What a suppression may name besides a rule's code and name: a folded rule's code or
        # name, standing for the code(s) it went into.
        self.aliases: dict[str, frozenset[str]] = {
            **folded_names(),
            **{old: frozenset({now}) for old, (now, _why) in aliases().items()},
        }
        # The source side's versions: an autofix naming positional arguments is offered only
        # when the pipeline's release gives argument k the name the rule knows.
        sources = {name: low for name, (low, _) in crossing.versions.items() if low}
        self.matchers = Matchers.build(self.rules.values(), sources=sources)
        self.parse_error = self.rules.get("CPT001")
        self.not_read = self.rules.get("CPT002")
        self.max_file_bytes = max_file_bytes
        # Judge each notebook or Python file with the MLflow client its own %pip or a
        # requirements file next to it pins (off when the user said which client: an override).
        self.infer_mlflow = False
        self._every = every
        self._by_mlflow: dict[str, Scanner] = {}
        self._next_to_cache: dict[str, MlflowEvidence | None] = {}
        self.requirements = RequirementChecker(crossing, self.rules)
        self.jobs = JobChecker(crossing, self.rules, max_file_bytes=max_file_bytes)
        # Removal rules say whether the break is new in this migration or was already there.
        self.notes = {
            code: note
            for code, rule in self.rules.items()
            if (note := crossing.removal_note(rule)) is not None
        }

    # ----------------------------------------------------------------- kinds
    @staticmethod
    def kind(path: Path) -> str | None:
        name = path.name.lower()
        if name.endswith(".py"):
            return "python"
        if name.endswith(".ipynb"):
            return "ipynb"
        if name.startswith("requirements") and name.endswith(".txt"):
            return "requirements"
        if name == "pyproject.toml":
            return "pyproject"
        if name == "setup.cfg":
            return "setup.cfg"
        if name in jobs_mod.BUNDLE_NAMES:
            return "bundle"
        if name.endswith(".json"):
            return "json"
        return None

    def scan_text(self, path: str, text: str, kind: str, result: ScanResult) -> None:
        """Scan one file's text; findings (after suppression) go into ``result``."""
        found: list[Finding] = []
        extra_files: list[str] = []
        if kind == "python":
            if notebooks.is_databricks_source(text):
                parts = notebooks.split_databricks_source(text)
                found += self._notebook(path, parts, result)
            else:
                found += scan_python(
                    path, [PythonSource(text)], self.matchers, self.parse_error, result.uses
                )
        elif kind == "ipynb":
            try:
                parts = notebooks.split_ipynb(text)
            except notebooks.NotebookError as exc:
                if self.parse_error is not None:
                    found.append(make(self.parse_error, path, exc.line, 1, str(exc)))
            else:
                found += self._notebook(path, parts, result)
        elif kind == "requirements":
            found += requirements.scan_requirements_txt(path, text, self.requirements)
        elif kind == "pyproject":
            found += requirements.scan_pyproject(path, text, self.requirements, self.parse_error)
        elif kind == "setup.cfg":
            found += requirements.scan_setup_cfg(path, text, self.requirements, self.parse_error)
        elif kind == "bundle":
            scan = jobs_mod.scan_bundle(path, text, self.jobs, self.parse_error)
            found += scan.findings
            result.jobs += scan.jobs
            result.job_files.update(scan.files)
            result.roots.append(os.path.abspath(Path(path).parent))
            extra_files = scan.files[1:]
        elif kind == "json":
            if not jobs_mod.looks_like_job_json(text):
                return
            scan = jobs_mod.scan_job_json(path, text, self.jobs, self.parse_error)
            found += scan.findings
            result.jobs += scan.jobs
            result.job_files.update(scan.files)
        result.files.append(path)
        result.files += [f for f in extra_files if f not in result.files]
        for checker in (self.requirements, self.jobs.requirements):
            result.uses += checker.pins
            checker.pins.clear()
        if self.notes:
            found = [self._noted(f) for f in found]
        self._suppress(path, text, found, result, kind)

    def _noted(self, finding: Finding) -> Finding:
        note = self.notes.get(finding.code)
        if note is None:
            return finding
        return replace(finding, message=f"{finding.message} {note}")

    def _notebook(self, path: str, parts: notebooks.NotebookParts, result: ScanResult):
        found = scan_python(path, parts.units, self.matchers, self.parse_error, result.uses)
        for pip in parts.pip:
            found += requirements.scan_pip_args(path, pip.line, pip.args, self.requirements)
        if parts.runs:
            base = Path(path).parent
            targets = []
            for _line, target in parts.runs:
                targets += jobs_mod._existing(base, target)
            result.runs[path] = targets
        return found

    def _suppress(
        self, path: str, text: str, found: list[Finding], result: ScanResult, kind: str
    ) -> None:
        by_path: dict[str, list[Finding]] = {}
        for finding in found:
            by_path.setdefault(finding.path, []).append(finding)
        for file_path, items in by_path.items():
            if file_path == path:
                file_text = text
            else:  # findings in a bundle's include files
                try:
                    file_text = sourcefiles.read_text(
                        file_path, python=False, max_bytes=self.max_file_bytes
                    )
                except (OSError, UnicodeDecodeError, sourcefiles.NotRead):
                    file_text = ""
            # Lines as the file's own format counts them: Python (and JSON, TOML) end lines at
            # \n, \r\n, \r only; YAML also at U+0085/U+2028/U+2029, as ruamel.yaml counts.
            # (requirements files: pip's own str.splitlines, as their scanner counts).
            pip_or_yaml = kind in ("bundle", "requirements") or file_path != path
            lines = file_text.splitlines() if pip_or_yaml else sourcefiles.python_lines(file_text)
            kept, dropped = suppress.apply(items, lines, self.names, self.aliases)
            result.findings += kept
            result.suppressed += dropped

    # ----------------------------------------------------------------- files
    def scan_file(self, path: Path, result: ScanResult, kind: str | None = None) -> None:
        kind = kind or self.kind(path)
        if kind is None:
            return
        shown = _display(path)
        try:
            text = sourcefiles.read_text(
                path, python=kind == "python", max_bytes=self.max_file_bytes
            )
        except sourcefiles.NotRead as exc:
            if self.not_read is not None:
                result.findings.append(make(self.not_read, shown, 1, 1, exc.reason))
            result.files.append(shown)
            return
        except (OSError, UnicodeDecodeError, SyntaxError) as exc:
            # SyntaxError: a coding cookie naming an unknown encoding (as Python says it).
            if self.parse_error is not None:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                result.findings.append(
                    make(self.parse_error, shown, 1, 1, f"cannot read the file: {reason}")
                )
            result.files.append(shown)
            return
        evidence = None
        if self.infer_mlflow and kind in ("python", "ipynb"):
            evidence = self._own_pip(shown, text, kind) or self._next_to(path)
        if evidence is None:
            self.scan_text(shown, text, kind, result)
            return
        scanner = self.for_mlflow(evidence.version)
        before = len(result.findings)
        scanner.scan_text(shown, text, kind, result)
        for index in range(before, len(result.findings)):
            finding = result.findings[index]
            rule = scanner.rules.get(finding.code)
            if rule is not None and rule.applies is not None and rule.applies.package == "mlflow":
                message = f"{finding.message} ({evidence.label()})"
                result.findings[index] = replace(finding, message=message)

    # ----------------------------------------------------------------- MLflow client
    def for_mlflow(self, version: str) -> Scanner:
        """A scanner for the same crossing with pipelines on MLflow ``version``."""
        if version not in self._by_mlflow:
            versions = dict(self.crossing.versions)
            versions["mlflow"] = (version, versions.get("mlflow", (None, None))[1])
            crossing = replace(self.crossing, versions=versions)
            self._by_mlflow[version] = Scanner(
                crossing, self._every, max_file_bytes=self.max_file_bytes
            )
        return self._by_mlflow[version]

    @staticmethod
    def _own_pip(shown: str, text: str, kind: str) -> MlflowEvidence | None:
        """A notebook's own ``%pip install mlflow==X``: it replaces what else is installed."""
        try:
            if kind == "ipynb":
                parts = notebooks.split_ipynb(text)
            elif notebooks.is_databricks_source(text):
                parts = notebooks.split_databricks_source(text)
            else:
                return None
        except notebooks.NotebookError:
            return None  # the scan reports it
        return pip_evidence(parts.pip, shown)

    def _next_to(self, path: Path) -> MlflowEvidence | None:
        """An exact MLflow pin in a ``requirements*.txt`` in the file's own folder
        (``requirements.txt`` first, then by name). Only regular files inside that folder (a
        link out of it is not followed), read within the size cap; once per folder."""
        folder = os.path.abspath(path.parent)
        if folder in self._next_to_cache:
            return self._next_to_cache[folder]
        found = None
        try:
            with os.scandir(folder) as entries:
                names = sorted(
                    (e.name for e in entries if self.kind(Path(e.name)) == "requirements"),
                    key=lambda name: (name != "requirements.txt", name),
                )
        except OSError:
            names = []
        for name in names:
            candidate = path.parent / name
            if not sourcefiles.inside(candidate, [folder]):
                continue
            try:
                text = sourcefiles.read_text(candidate, python=False, max_bytes=self.max_file_bytes)
            except (OSError, UnicodeDecodeError, sourcefiles.NotRead):
                continue  # the scan of that file says why
            pin = requirements_pin(text)
            if pin is not None:
                found = MlflowEvidence(pin[1], f"{_display(candidate)}:{pin[0]}")
                break
        self._next_to_cache[folder] = found
        return found

    def scan_paths(self, paths: list[str | os.PathLike[str]]) -> ScanResult:
        result = ScanResult(self.crossing)
        files: list[tuple[Path, str]] = []
        for raw in paths:
            path = Path(raw)
            result.roots.append(os.path.abspath(path))
            if path.is_dir():
                files += _walk(path)
            elif path.is_file():
                kind = self.kind(path)
                if kind is None:
                    raise CockpitError(
                        f"{path}: not a file `cockpit check` reads (Python, notebook, "
                        "requirements, pyproject.toml, setup.cfg, databricks.yml, job JSON)"
                    )
                files.append((path, kind))
            else:
                raise CockpitError(f"{path}: no such file or folder")
        for path, kind in files:
            self.scan_file(path, result, kind)
        result.findings.sort(key=sort_key)
        return result


def _display(path: Path) -> str:
    """Paths as the user wrote them (relative stays relative), always with forward slashes."""
    return os.path.normpath(path).replace(os.sep, "/")


def _walk(root: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    bundle_yaml: list[tuple[Path, str]] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(names):
            path = Path(folder) / name
            kind = Scanner.kind(path)
            if kind == "bundle":
                bundle_yaml.append((path, kind))
            elif kind is not None:
                out.append((path, kind))
    # Bundles first, so their include files are known before anything else is scanned.
    return bundle_yaml + out
