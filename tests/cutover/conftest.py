"""Real servers for the cutover tests: an old (1.30.1) and a new (2.22.5) MLflow server, the old
one seeded with Kyros' history by MLflow 1.x's own client (the demo's pipelines script)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.mlflow import servers
from cockpit.mlflow.servers import ServerHandle

PIPELINES = (
    Path(__file__).resolve().parents[2] / "cockpit" / "demo" / "scripts" / "kyros_pipelines.py"
)


@dataclass
class KyrosServers:
    old: ServerHandle
    new: ServerHandle


@pytest.fixture(scope="module")
def kyros_servers(tmp_path_factory) -> Iterator[KyrosServers]:
    for version in (servers.MLFLOW_V1, servers.MLFLOW_V2):
        if servers.installed(version) is None:
            servers.install(version)
    root = tmp_path_factory.mktemp("kyros-servers")
    old = servers.start_server(servers.MLFLOW_V1, root / "old")
    new = servers.start_server(servers.MLFLOW_V2, root / "new")
    try:
        seeded = subprocess.run(
            [str(servers.venv_python(servers.MLFLOW_V1)), str(PIPELINES), "seed", old.url],
            env={**servers.server_env(servers.MLFLOW_V1)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        yield KyrosServers(old, new)
    finally:
        old.stop()
        new.stop()


@pytest.fixture
def kyros_config():
    """Writes a cockpit.toml pointing at the Kyros servers."""
    return write_config


def write_config(
    path: Path, kyros: KyrosServers, *, state: str = "state.db", interval: float = 1.0
) -> Path:
    path.write_text(
        f"""
[migration]
name = "Kyros recorder test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[mlflow.old]
tracking_uri = "{kyros.old.url}"
db_uri = "{kyros.old.backend_uri}"
poll_interval_s = {interval}

[mlflow.new]
tracking_uri = "{kyros.new.url}"
poll_interval_s = {interval}

[state]
path = "{state}"
""",
        encoding="utf-8",
    )
    return path
