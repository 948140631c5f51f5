"""Which MLflow client a pipeline's code really runs with, and the evidence that says so: an
exact ``mlflow==X`` pin in a ``%pip install`` line, a library, a serverless environment's
dependencies or a requirements file. Shared by local scans (:mod:`cockpit.compat.scan`) and
workspace scans (:mod:`cockpit.compat.workspace_code`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cockpit.compat.requirements import MLFLOW_NAMES, logical_lines, parse_requirement

# `mlflow==1.30.1`, `mlflow[extras]==1.30.1`, `"mlflow==1.30.1"` in a %pip line or a library.
_MLFLOW_PIN = re.compile(r"""(?:^|[\s"'])mlflow(?:\[[^\]]*\])?\s*==\s*([0-9][0-9A-Za-z.+!-]*)""")


@dataclass(frozen=True)
class MlflowEvidence:
    """Which MLflow client a pipeline really runs, and what says so."""

    version: str
    where: str  # "%pip install in /Repos/x/train:2", "task library pypi:mlflow==1.30.1", ...

    def label(self) -> str:
        return f"MLflow {self.version} from {self.where}"


def mlflow_pin(text: str) -> str | None:
    match = _MLFLOW_PIN.search(text)
    return match.group(1) if match else None


def requirement_pin(line: str) -> str | None:
    """The version one requirement line pins ``mlflow``/``mlflow-skinny`` to exactly, with no
    environment marker that could exclude it; None otherwise."""
    req = parse_requirement(line)
    if req is not None and req.name in MLFLOW_NAMES and req.exact and not req.marker:
        return req.exact
    return None


def requirements_pin(text: str) -> tuple[int, str] | None:
    """(line, version) of the first exact MLflow pin in a requirements file."""
    for number, line in logical_lines(text):
        version = requirement_pin(line)
        if version is not None:
            return number, version
    return None


def pip_evidence(pips: Iterable[Any], display: str) -> MlflowEvidence | None:
    """The first ``%pip install`` cell of a notebook (``notebooks`` parts' ``pip``: each with
    ``args`` and ``line``) that pins MLflow exactly; it replaces what else is installed."""
    for pip in pips:
        version = mlflow_pin(pip.args)
        if version:
            return MlflowEvidence(version, f"%pip install in {display}:{pip.line}")
    return None
