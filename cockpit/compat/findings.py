"""What every scanner reports: one :class:`Finding` per problem, located in a file."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cockpit.compat.rules import Rule


@dataclass(frozen=True)
class Finding:
    path: str
    line: int  # 1-based
    column: int  # 1-based, in characters
    code: str
    name: str
    severity: str
    message: str
    fix: str
    source: str
    autofix: bool = False  # this occurrence can be rewritten by `cockpit fix`
    # Where the finding sits inside a job: "job:<key>" for bundle / job JSON findings, so the
    # pipelines rollup can give each job its own findings.
    job: str | None = None
    data: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "fix": self.fix,
            "source": self.source,
            "autofix": self.autofix,
            "job": self.job,
        }

    def with_path(self, path: str) -> Finding:
        return replace(self, path=path)


def make(
    rule: Rule,
    path: str,
    line: int,
    column: int,
    message: str | None = None,
    *,
    autofix: bool = False,
    job: str | None = None,
    data: dict[str, Any] | None = None,
) -> Finding:
    return Finding(
        path=path,
        line=max(1, line),
        column=max(1, column),
        code=rule.code,
        name=rule.name,
        severity=rule.severity,
        message=message or rule.what,
        fix=rule.fix,
        source=rule.source,
        autofix=autofix and rule.autofix,
        job=job,
        data=data or {},
    )


SEVERITY_ORDER = {"blocking": 0, "warning": 1, "info": 2}


def sort_key(f: Finding) -> tuple[Any, ...]:
    return (f.path, f.line, f.column, f.code)
