"""Helpers shared by the workspace tests: tokens, the Kyros scenario, connecting the real SDK."""

from __future__ import annotations

import json
from pathlib import Path

from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter

REPO = Path(__file__).resolve().parents[2]
KYROS_SCENARIO = REPO / "sample_state" / "scenarios" / "kyros_workspace.json"
ADMIN = "dapi-kyros-sim-admin-000000000001"
READER = "dapi-kyros-sim-reader-00000000002"
BIG_TOKEN = "dapi-synthetic-test-token-0000003"


def connect(sim, token: str = ADMIN, **kw) -> WorkspaceAdapter:
    options = {"retry_timeout_s": 20, "http_timeout_s": 10, **kw}
    return WorkspaceAdapter.connect(ConnectOptions(host=sim.url, token=token, **options))


def write_profile(tmp_path: Path, sim, token: str = ADMIN, name: str = "kyros") -> Path:
    path = tmp_path / "databrickscfg"
    path.write_text(f"[{name}]\nhost = {sim.url}\ntoken = {token}\n", encoding="utf-8")
    return path


def scenario_json() -> dict:
    return json.loads(KYROS_SCENARIO.read_text(encoding="utf-8"))
