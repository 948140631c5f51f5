"""The old server's own access log proves the cockpit never wrote to it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import seed

from cockpit.mlflow.schema import file_sha256
from cockpit.mlflow.servers import MLFLOW_V1

pytestmark = pytest.mark.servers


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cockpit", "--config", str(config), "mlflow", *args],
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_sync_verify_status_mirror_send_no_write_to_the_old_server(
    mlflow_server_factory, mlflow_v2, tmp_path
):
    old = mlflow_server_factory(MLFLOW_V1)
    seeded = seed.rich(old.url, f"ro-{uuid.uuid4().hex[:6]}", history_steps=300)
    # The server writes its access log after answering: every seed write is counted before
    # the cockpit starts.
    before = old.access_mark()
    assert before > 20 and old.write_requests(), "the seed's own writes must show in the log"
    config = tmp_path / "cockpit.toml"
    config.write_text(
        f"""
[migration]
name = "read-only proof"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old.url}"
db_uri = "{old.backend_uri}"
[mlflow.new]
tracking_uri = "{mlflow_v2.url}"
""",
        encoding="utf-8",
    )
    db_before = file_sha256(old.backend_db_path)
    only = [a for name in seeded.experiments for a in ("--experiment", name)]
    planned = _cli(config, "sync", "--dry-run", *only)
    assert planned.returncode == 0, planned.stderr
    assert f"metric histories from {old.backend_db_path} (read-only)" in planned.stdout
    done = _cli(config, "sync", "--yes", *only)
    assert done.returncode == 0, done.stderr
    assert (
        f"metric histories: {len(seeded.runs)} runs from the old backend database, 0 over REST"
        in (done.stdout)
    )
    old.access_mark()  # the sync's last requests logged too
    synced = old.access_records()[before:]
    assert not [r for r in synced if "get-history" in r.path], "histories came from the file"
    checked = _cli(config, "verify", *only)
    assert checked.returncode == 0, checked.stdout[-2000:]
    assert _cli(config, "status", *only).returncode == 0
    assert _cli(config, "mirror", "--cycles", "1", "--interval", "0.1", *only).returncode == 0

    old.access_mark()
    after = old.access_records()[before:]
    assert len(after) > 50
    assert any(r.method == "POST" for r in after), "read-only search POSTs should be logged"
    writes = [f"{r.method} {r.path}" for r in after if r.is_write]
    assert writes == []
    # Reading histories from the backend file (and the schema watch) left it byte for byte as is.
    assert file_sha256(old.backend_db_path) == db_before
