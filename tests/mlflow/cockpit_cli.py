"""``cockpit --config CONFIG ARGS`` in a subprocess, as a user runs it: the one helper the MLflow
tests share (no stdin, so a prompt can never hang a test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cockpit(
    config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(config), *args],
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
