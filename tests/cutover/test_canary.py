"""A canary token, placed where tokens really go (the environment, named by cockpit.toml, and
credentials embedded in a tracking URI), never reaches the state file, a report, the playbook
or any log — through a real recorder, status poll and sync against real servers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CANARY = "canary-tok-7c1e5b29d04a"


def test_canary_never_leaks(tmp_path: Path, kyros_servers):
    old, new = kyros_servers.old, kyros_servers.new
    host = old.url.removeprefix("http://")
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[migration]
name = "canary"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "http://kyros:{CANARY}@{host}"   # credentials in a URI: must be stripped everywhere
token_env = "MLFLOW_OLD_TOKEN"
db_uri = "{old.backend_uri}"
poll_interval_s = 0.5
[mlflow.new]
tracking_uri = "{new.url}"
token_env = "MLFLOW_NEW_TOKEN"
poll_interval_s = 0.5
[state]
path = "state.db"
""",
        encoding="utf-8",
    )
    env = {**os.environ, "MLFLOW_OLD_TOKEN": CANARY, "MLFLOW_NEW_TOKEN": CANARY + "-new"}
    outputs: list[str] = []

    def cockpit(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "cockpit", "--config", str(config), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs.extend([result.stdout, result.stderr])
        return result

    assert cockpit("record", "--duration", "4").returncode == 0
    assert cockpit("mlflow", "status").returncode == 0
    assert cockpit("mlflow", "sync", "--experiment", "kyros/fraud-score", "--yes").returncode == 0
    cockpit("mlflow", "verify", "--experiment", "kyros/fraud-score")
    cockpit(
        "check", str(Path(__file__).resolve().parents[2] / "sample_state" / "pipelines"), "--record"
    )
    assert cockpit("report", "-o", "report.html").returncode == 0
    assert cockpit("report", "--format", "markdown", "-o", "report.md").returncode == 0
    assert cockpit("playbook", "-o", "playbook.md").returncode == 0
    assert cockpit("gates", "--record", "--format", "json").returncode in (0, 1)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != config]  # all but the input
    assert any(p.name == "state.db" for p in written)
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), f"token in {path.name}"
    for text in outputs:
        assert CANARY not in text
    # The servers' own logs (what a log collector would ship) never saw it in a URL either.
    for server in (old, new):
        for log in (server.access_log, server.stdout_log, server.stderr_log):
            if log.exists():
                assert CANARY not in log.read_text(errors="replace"), log.name
