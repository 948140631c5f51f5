"""Re-scan from the TUI: the same `cockpit check --record` a user would run, in a subprocess.

A subprocess because scan paths are relative to a folder (the config's, or the one the last scan
ran in) and changing the working directory of a process that runs UI threads is not safe; the
state file takes the subprocess's commit like any other writer's (WAL), and the app notices it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore


@dataclass(frozen=True)
class RescanPlan:
    cwd: Path
    argv: list[str]


def plan_rescan(store: StateStore, config: CockpitConfig | None) -> RescanPlan:
    """What to scan and how: the config's [pipelines] sources and bundles, else the last scan."""
    state = str(Path(store.path).resolve())
    if config is not None and (config.pipelines.sources or config.pipelines.bundles):
        paths = [*config.pipelines.sources, *config.pipelines.bundles]
        args = ["--from", config.migration.from_runtime, "--to", config.migration.to_runtime]
        if config.pipelines.mlflow_from:
            args += ["--mlflow-from", config.pipelines.mlflow_from]
        if config.mlflow.old is not None:
            args += ["--old-server", config.mlflow.old.tracking_uri]
        cwd = Path(config.base_dir).resolve()
    else:
        from cockpit.compat.checklist import latest_scan_record

        scan = latest_scan_record(store)
        if scan is None:
            raise CockpitError(
                "nothing to re-scan: no [pipelines] sources in the config and no earlier scan"
            )
        paths = scan.paths
        args = ["--from", scan.from_runtime, "--to", scan.to_runtime]
        if scan.mlflow_from:
            args += ["--mlflow-from", scan.mlflow_from]
        if scan.old_tracking_uri:
            args += ["--old-server", scan.old_tracking_uri]
        # An empty base_dir means "next to the state file" (the shipped sample is built so).
        cwd = Path(scan.base_dir or Path(state).parent)
    from cockpit.databricks.workspace_code import has_code

    if has_code(store):
        # The checklist holds workspace findings: re-scan the stored exports with the files, so
        # a re-scan never drops them (and needs no workspace connection: offline review too).
        args += ["--workspace", "--offline"]
    argv = [
        sys.executable,
        "-m",
        "cockpit",
        "--state",
        state,
        "check",
        *paths,
        *args,
        "--record",
        "--format",
        "json",
    ]
    return RescanPlan(cwd=cwd, argv=argv)


def run_rescan(store: StateStore, config: CockpitConfig | None, timeout_s: float = 300) -> str:
    """Run the re-scan; returns its one-line summary or raises CockpitError."""
    if store.readonly:
        raise CockpitError(f"{store.path} is open read-only: re-scanning would write to it")
    plan = plan_rescan(store, config)
    if not plan.cwd.is_dir():
        raise CockpitError(f"cannot re-scan: folder {plan.cwd} does not exist here")
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_DEBUG"}
    try:
        proc = subprocess.run(
            plan.argv, cwd=plan.cwd, capture_output=True, text=True, timeout=timeout_s, env=env
        )
    except subprocess.TimeoutExpired:
        raise CockpitError(f"re-scan took longer than {timeout_s:.0f} s and was stopped") from None
    if proc.returncode not in (0, 1):
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        raise CockpitError(f"re-scan failed: {last}")
    summary = next(
        (line for line in proc.stderr.splitlines() if line.startswith("recorded scan")), ""
    )
    return summary.split(" in ", 1)[0] or "re-scan recorded"
