"""SIGKILL the sync at random points, run it again: nothing missing, nothing doubled, verify clean."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import seed

from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.models import TAG_SOURCE_RUN
from cockpit.mlflow.verify import verify

pytestmark = pytest.mark.servers
REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, old_url: str, new_url: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
[migration]
name = "kill test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[mlflow.old]
tracking_uri = "{old_url}"

[mlflow.new]
tracking_uri = "{new_url}"
""",
        encoding="utf-8",
    )
    return path


def _sync_cmd(config: Path, names: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "cockpit", "--config", str(config), "mlflow", "sync", "--yes"]
    for name in names:
        cmd += ["--experiment", name]
    return [*cmd, "--workers", "4"]


def _copies(new, names: list[str]) -> list:
    ids = [e.experiment_id for e in new.experiments() if e.name in names]
    return list(new.search_runs(ids)) if ids else []


def test_sigkill_at_random_points_then_rerun_is_clean(mlflow_v1, mlflow_v2, tmp_path):
    prefix = f"kill-{uuid.uuid4().hex[:6]}"
    seeded = seed.rich(mlflow_v1.url, prefix, history_steps=1500)
    bulk_name = f"{prefix} bulk"
    bulk_ids = seed.bulk(mlflow_v1.url, bulk_name, 40, steps=150)
    names = [*seeded.experiments, bulk_name]
    total = len(seeded.runs) + len(bulk_ids)
    config = _config(tmp_path, mlflow_v1.url, mlflow_v2.url)
    new = connect_new(mlflow_v2.url)
    rng = random.Random(5)
    killed_mid_copy = 0
    # Kill once some copies exist, at random depths; the third kill also loses the state file.
    for attempt, fraction in enumerate(sorted(rng.uniform(0.05, 0.9) for _ in range(3))):
        proc = subprocess.Popen(
            _sync_cmd(config, names),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        target = max(1, int(total * fraction))
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if len(_copies(new, names)) >= target:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed_mid_copy += 1
        proc.wait(timeout=30)
        if attempt == 2:
            for leftover in tmp_path.glob("cockpit.db*"):
                leftover.unlink()
    assert killed_mid_copy >= 2, "the sync finished before it could be killed; data too small"

    done = subprocess.run(
        _sync_cmd(config, names),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    copies = _copies(new, names)
    sources = [c.tags.get(TAG_SOURCE_RUN) for c in copies]
    assert len(copies) == total, "a copy is missing or doubled"
    assert len(set(sources)) == total
    report = verify(connect_old(mlflow_v1.url), new, experiments=names)
    assert [d.line() for d in report.differences] == []
    versions = new.model_versions(seeded.models[0])
    assert len(versions) == 5
