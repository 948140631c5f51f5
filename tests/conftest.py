"""Shared test helpers. Feature folders (tests/compat, tests/mlflow, ...) add their own conftest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_STATE = REPO / "sample_state" / "kyros.cockpit.db"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, stdin: str | None = None
):
    """Run the real `cockpit` entry point in a subprocess (what a user runs)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("COCKPIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def sample_state() -> Path:
    return SAMPLE_STATE
