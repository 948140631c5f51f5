"""Requirement pins (requirements*.txt, pyproject.toml, setup.cfg, ``%pip install``) against the
target runtime: loose ``mlflow``, pins that move a preinstalled library across a major version,
pins that predate Python 3.12 support, and libraries the target no longer ships (horovod)."""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass
from typing import Any

from cockpit.compat.findings import Finding, make
from cockpit.compat.rules import Crossing, Rule
from cockpit.compat.uses import PIN, Use
from cockpit.compat.versions import major, vtuple
from cockpit.runtimes.manifest import canonicalize_name

MLFLOW_NAMES = ("mlflow", "mlflow-skinny")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_SPEC = re.compile(r"(===|==|~=|!=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)")


@dataclass(frozen=True)
class Requirement:
    name: str  # PEP 503 normalised
    specs: tuple[tuple[str, str], ...]  # (operator, version)
    text: str
    marker: str = ""  # the PEP 508 environment marker after ';', if any

    @property
    def exact(self) -> str | None:
        for op, version in self.specs:
            if op in ("==", "===") and "*" not in version:
                return version
        return None

    @property
    def upper_bounded(self) -> bool:
        return any(op in ("==", "===", "~=", "<", "<=") for op, _ in self.specs)


def parse_requirement(text: str) -> Requirement | None:
    """A PEP 508 requirement's name and version specifiers; None for anything else (options,
    paths, URLs, ``-r`` includes), which pins nothing we can check."""
    head, _, marker = text.split(" #", 1)[0].partition(";")
    # Per-requirement options (``--hash=...``, ``--config-settings``) follow the requirement.
    body = re.split(r"\s--?[A-Za-z]", head, maxsplit=1)[0].strip()
    if not body or body.startswith(("-", ".", "/", "#")) or "://" in body or " @ " in body:
        return None
    match = _NAME.match(body)
    if not match:
        return None
    rest = match.group(3).strip()
    if rest and rest[0] not in "=<>!~(,":
        return None
    specs = tuple((op, version) for op, version in _SPEC.findall(rest))
    return Requirement(canonicalize_name(match.group(1)), specs, body, marker.strip())


class RequirementChecker:
    def __init__(self, crossing: Crossing, rules: dict[str, Rule]) -> None:
        self.crossing = crossing
        self.rules = rules  # applicable rules by code
        self.horovod = rules.get("DBR101")
        self.pins: list[Use] = []  # every requirement checked; the scanner drains it per file

    def _installs_on_target(self, req: Requirement) -> bool:
        """False when the requirement's marker excludes the target (``; python_version < "3.11"``
        on a 3.12 runtime): pip skips it there, so it cannot conflict."""
        if not req.marker:
            return True
        from packaging.markers import InvalidMarker, Marker

        python = self.crossing.versions.get("python", (None, None))[1] or "3.12"
        short = ".".join(python.split(".")[:2])
        env = {
            "python_version": short,
            "python_full_version": python,
            "sys_platform": "linux",
            "platform_system": "Linux",
            "os_name": "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
        }
        try:
            return Marker(req.marker).evaluate(env)
        except (InvalidMarker, ValueError, TypeError):
            return True  # a marker we cannot read: check the pin anyway

    def check(
        self, req: Requirement, path: str, line: int, column: int, *, job: str | None = None
    ) -> list[Finding]:
        # Every pin is a use, whatever the marker says: the pipeline depends on the package.
        self.pins.append(Use(req.name, PIN, path, line, job))
        found: list[Finding] = []
        if not self._installs_on_target(req):
            return found
        target = self.crossing.target_libraries
        rule = self.rules.get("REQ101")
        if rule and req.name in MLFLOW_NAMES and not req.upper_bounded:
            how = "unpinned" if not req.specs else f"only loosely pinned ({req.text})"
            found.append(make(rule, path, line, column, f"{req.name} is {how}: {rule.what}"))
        pinned = req.exact
        preinstalled = target.get(req.name)
        if req.name in MLFLOW_NAMES and preinstalled is None:
            preinstalled = target.get("mlflow") or target.get("mlflow-skinny")
        rule = self.rules.get("REQ102")
        if rule and pinned and preinstalled and major(pinned) != major(preinstalled):
            found.append(
                make(
                    rule,
                    path,
                    line,
                    column,
                    f"{req.name}=={pinned} while {self.crossing.to_runtime} preinstalls "
                    f"{preinstalled}: {rule.what}",
                )
            )
        rule = self.rules.get("REQ103")
        if rule and req.name in rule.minimums:
            minimum = rule.minimums[req.name]["version"]
            too_old = self._below(req, minimum)
            if too_old and not (pinned and preinstalled and vtuple(pinned) == vtuple(preinstalled)):
                found.append(
                    make(
                        rule,
                        path,
                        line,
                        column,
                        f"{req.text}: {req.name} supports Python 3.12 from {minimum} "
                        f"({rule.minimums[req.name]['source']})",
                    )
                )
        if self.horovod and req.name in self.horovod.match.get("packages", ()):
            found.append(make(self.horovod, path, line, column, f"{req.text}: {self.horovod.what}"))
        return found

    @staticmethod
    def _below(req: Requirement, minimum: str) -> bool:
        low = vtuple(minimum)
        if low is None:
            return False
        for op, version in req.specs:
            v = vtuple(version.replace("*", "0"))
            if v is None:
                continue
            if op in ("==", "===", "~=") and v < low:
                return True
            # An upper bound at or below the first supporting release excludes every 3.12 wheel.
            if (op == "<" and v <= low) or (op == "<=" and v < low):
                return True
        return False


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line, text) of each logical line of a requirements file: a line ending
    in a backslash continues on the next, as pip joins them (pip's ``join_lines``); a comment
    line ends a continuation. Physical lines as pip splits them (``str.splitlines``)."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        comment = re.match(r"^\s*#", line) is not None
        if line.endswith("\\") and not comment:
            if not pending:
                first = number
            pending.append(line[:-1])
            continue
        if pending:
            pending.append(" " + line if comment else line)
            out.append((first, "".join(pending)))
            pending = []
        else:
            out.append((number, line))
    if pending:  # a backslash on the last line: pip keeps what it has
        out.append((first, "".join(pending)))
    return out


def scan_requirements_txt(path: str, text: str, checker: RequirementChecker) -> list[Finding]:
    found: list[Finding] = []
    for number, raw in logical_lines(text):
        req = parse_requirement(raw)
        if req is not None:
            column = len(raw) - len(raw.lstrip()) + 1
            found += checker.check(req, path, number, column)
    return found


def scan_pip_args(
    path: str, line: int, args: str, checker: RequirementChecker, column_base: int = 1
) -> list[Finding]:
    """The arguments of one ``%pip install`` line (options skipped, quotes removed)."""
    found: list[Finding] = []
    skip_next = False
    for match in re.finditer(r"\S+", args):
        token = match.group().strip("'\"")
        if skip_next:
            skip_next = False
            continue
        if token.startswith("-"):
            # Options that take a value: the value is not a requirement.
            skip_next = token in ("-r", "-c", "-i", "--index-url", "--extra-index-url", "-e")
            continue
        req = parse_requirement(token)
        if req is not None:
            found += checker.check(req, path, line, column_base + match.start())
    return found


def _line_of(text: str, needle: str) -> tuple[int, int]:
    index = text.find(needle)
    if index < 0:
        return 1, 1
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def scan_pyproject(
    path: str, text: str, checker: RequirementChecker, parse_error: Rule | None
) -> list[Finding]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        if parse_error is None:
            return []
        line = getattr(exc, "lineno", None) or 1
        return [make(parse_error, path, line, 1, f"cannot parse as TOML: {exc}")]
    except RecursionError:  # arrays nested deeper than tomllib's recursive parser follows
        if parse_error is None:
            return []
        return [make(parse_error, path, 1, 1, "cannot parse as TOML: nested too deeply")]
    table = data.get("project")
    project: dict[str, Any] = table if isinstance(table, dict) else {}
    lists = [project.get("dependencies")]
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        lists += list(optional.values())
    found: list[Finding] = []
    for entries in lists:
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, str):
                continue
            req = parse_requirement(entry)
            if req is not None:
                line, column = _line_of(text, entry)
                found += checker.check(req, path, line, column)
    return found


def scan_setup_cfg(
    path: str, text: str, checker: RequirementChecker, parse_error: Rule | None
) -> list[Finding]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        if parse_error is None:
            return []
        line = getattr(exc, "lineno", None) or 1
        return [make(parse_error, path, line, 1, f"cannot parse as setup.cfg: {exc.message}")]
    if not parser.has_option("options", "install_requires"):
        return []
    found: list[Finding] = []
    lines = text.splitlines()
    start = next((i for i, t in enumerate(lines) if t.strip().startswith("install_requires")), 0)
    for entry in parser.get("options", "install_requires").splitlines():
        req = parse_requirement(entry)
        if req is None:
            continue
        number = next(
            (i + 1 for i in range(start, len(lines)) if entry.strip() in lines[i]), start + 1
        )
        column = lines[number - 1].find(entry.strip()) + 1 if lines else 1
        found += checker.check(req, path, number, max(column, 1))
    return found
