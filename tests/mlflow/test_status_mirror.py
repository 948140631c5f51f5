"""Status polls (recorded per poll), the mirror loop, and the CLI's errors, on real servers."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import seed
from cockpit_cli import run_cockpit

from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.mirror import Mirror
from cockpit.mlflow.records import (
    drift_series,
    latest_poll,
    poll_experiments,
    record_poll,
)
from cockpit.mlflow.status import poll_status
from cockpit.mlflow.sync import Syncer, SyncOptions
from cockpit.store import StateStore

pytestmark = pytest.mark.servers


def _config(tmp_path: Path, old_url: str, new_url: str, extra: str = "") -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
[migration]
name = "status test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old_url}"
[mlflow.new]
tracking_uri = "{new_url}"
{extra}
""",
        encoding="utf-8",
    )
    return path


def test_polls_are_recorded_and_track_drift(mlflow_v1, mlflow_v2, tmp_path):
    name = f"status-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 4, steps=5)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    store = StateStore.open(tmp_path / "state.db", create=True)
    seen = []
    first = poll_status(old, new, experiments=[name], on_experiment=seen.append)
    assert [e.name for e in seen] == [name]
    (row,) = first.experiments
    assert (row.old_active, row.new_active, row.missing, row.dest_id) == (4, 0, 4, None)
    poll_id = record_poll(store, first)
    assert latest_poll(store).missing == 4
    assert poll_experiments(store, poll_id)[0].missing == 4
    assert store.events(kinds=["mlflow.poll"])[-1].payload["missing"] == 4

    Syncer(old, new, options=SyncOptions(experiments=[name])).run()
    second = poll_status(old, new, experiments=[name])
    assert (second.missing, second.differing, second.experiments[0].new_active) == (0, 0, 4)
    record_poll(store, second)

    # Someone edits a copy on the new server: the poll sees it as differing.
    copy = next(iter(new.search_runs([second.experiments[0].dest_id])))
    new.set_tag(copy.run_id, "tag_0", "edited by hand")
    third = poll_status(old, new, experiments=[name])
    assert third.differing == 1 and third.experiments[0].differing_ids == [copy.source_run_id]
    record_poll(store, third)
    assert drift_series(store) == [4, 0, 1]
    store.close()


def test_mirror_copies_new_runs_each_cycle(mlflow_v1, mlflow_v2, tmp_path):
    name = f"mirror-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 2, steps=3, artifact=False)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    store = StateStore.open(tmp_path / "state.db", create=True)
    cycles = []
    mirror = Mirror(
        old,
        new,
        store,
        interval_s=0.05,
        options=SyncOptions(experiments=[name], registry=False),
        on_cycle=cycles.append,
    )
    assert mirror.run(max_cycles=1) == 1
    assert cycles[-1].result.runs_created == 2 and cycles[-1].poll.drift == 0

    # A pipeline keeps writing to the old server; the next cycle brings it over.
    w = seed.Writer(mlflow_v1.url)
    exp = old.experiment_by_name(name).experiment_id
    info = w.run(exp, "late run", start=seed.T0)
    w.finish(info["run_id"], "FINISHED", seed.T0 + 5)
    mirror.pause()
    assert mirror.paused
    mirror.resume()
    mirror.run(max_cycles=1)
    assert cycles[-1].result.runs_created == 1 and cycles[-1].poll.drift == 0
    kinds = [e.kind for e in store.events(kind_prefix="mlflow.mirror")]
    assert kinds.count("mlflow.mirror.cycle") == 2
    assert {"mlflow.mirror.started", "mlflow.mirror.paused", "mlflow.mirror.resumed"} <= set(kinds)
    assert kinds[-1] == "mlflow.mirror.stopped"
    store.close()


def test_a_stop_just_before_a_cycle_builds_its_syncer_is_not_lost(mlflow_v1, mlflow_v2, tmp_path):
    """stop() between run()'s look at the flag and the cycle's syncer: the cycle copies nothing
    (the TUI's mirror stop and SIGTERM waited for a whole sync before)."""
    name = f"mirror-stop-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 2, steps=3, artifact=False)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    store = StateStore.open(tmp_path / "state.db", create=True)
    mirror = Mirror(old, new, store, options=SyncOptions(experiments=[name], registry=False))
    mirror.stop()
    cycle = mirror.run_once()  # what run() does when stop() lands right after its check
    assert cycle.result is not None and cycle.result.runs_created == 0
    assert new.experiment_by_name(name) is None or not list(
        new.search_runs([new.experiment_by_name(name).experiment_id])
    )
    store.close()


def test_cli_status_verify_and_token_never_stored(mlflow_v1, mlflow_v2, tmp_path):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 3, steps=3)
    token = "s3cr3t-token-" + uuid.uuid4().hex
    config = _config(tmp_path, mlflow_v1.url, mlflow_v2.url, extra="")
    text = config.read_text().replace(
        f'tracking_uri = "{mlflow_v2.url}"',
        f'tracking_uri = "{mlflow_v2.url}"\ntoken_env = "NEW_TOKEN"',
    )
    config.write_text(text)
    env = {"NEW_TOKEN": token}
    status = run_cockpit(
        config, "mlflow", "status", "--experiment", name, "--format", "json", env=env
    )
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert body["experiments"][0]["missing"] == 3 and body["drift"] == 3
    dry = run_cockpit(config, "mlflow", "sync", "--experiment", name, "--dry-run", env=env)
    assert dry.returncode == 0 and connect_new(mlflow_v2.url).experiment_by_name(name) is None
    asked = run_cockpit(config, "mlflow", "sync", "--experiment", name, env=env)
    assert asked.returncode == 2 and "--yes" in asked.stderr
    done = run_cockpit(config, "mlflow", "sync", "--experiment", name, "--yes", env=env)
    assert done.returncode == 0, done.stderr
    clean = run_cockpit(config, "mlflow", "verify", "--experiment", name, env=env)
    assert clean.returncode == 0 and "0 differences" in clean.stdout

    new = connect_new(mlflow_v2.url)
    copy = next(iter(new.search_runs([new.experiment_by_name(name).experiment_id])))
    new.delete_tag(copy.run_id, "tag_1")
    dirty = run_cockpit(config, "mlflow", "verify", "--experiment", name, env=env)
    assert dirty.returncode == 1
    assert "tag[tag_1]" in dirty.stdout and "1 differences" in dirty.stdout
    store = StateStore.open(tmp_path / "cockpit.db", readonly=True)
    assert [r["differences"] for r in store.query("SELECT * FROM mlflow_verifications")] == [0, 1]
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("cockpit.db*"))
    assert token.encode() not in raw


def test_sync_and_mirror_answer_in_json_with_options_after_the_command(
    mlflow_v1, mlflow_v2, tmp_path
):
    import os

    name = f"json-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 2, steps=2)
    config = _config(tmp_path, mlflow_v1.url, mlflow_v2.url)

    def run(*args: str):
        return subprocess.run(
            [sys.executable, "-m", "cockpit", *args, "--config", str(config), "--format", "json"],
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            env=os.environ,
        )

    unasked = run("mlflow", "sync", "--experiment", name)
    assert unasked.returncode == 2 and "--yes" in json.loads(unasked.stdout)["cockpit"]["error"]
    plan = json.loads(run("mlflow", "sync", "--experiment", name, "--dry-run").stdout)
    assert plan["cockpit"]["command"] == "mlflow sync" and plan["result"] is None
    assert plan["plan"]["runs_to_write"] == 2 and plan["plan"]["experiments"][0]["name"] == name
    done = run("mlflow", "sync", "--experiment", name, "--yes")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["copied"] is True and body["result"]["runs_created"] == 2
    assert body["result"]["errors"] == [] and "copied 2 new" in done.stderr
    mirror = run("mlflow", "mirror", "--experiment", name, "--cycles", "1", "--interval", "0.1")
    assert mirror.returncode == 0, mirror.stderr
    cycles = json.loads(mirror.stdout)["cycles"]
    assert [(c["number"], c["error"], c["drift"]) for c in cycles] == [(1, None, 0)]


def test_cli_errors_are_one_line(tmp_path):
    no_servers = tmp_path / "a"
    no_servers.mkdir()
    (no_servers / "cockpit.toml").write_text(
        '[migration]\nname = "x"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n', encoding="utf-8"
    )
    result = run_cockpit(no_servers / "cockpit.toml", "mlflow", "status")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "[mlflow.old]" in result.stderr
    down = tmp_path / "b"
    down.mkdir()
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _config(down, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    result = run_cockpit(config, "mlflow", "sync", "--dry-run")
    assert result.returncode == 3
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    bad = run_cockpit(config, "mlflow", "sync", "--workers", "0")
    assert bad.returncode == 2


def test_poll_source_records_a_poll_for_the_app(mlflow_v1, mlflow_v2, tmp_path):
    from cockpit.config import parse_config
    from cockpit.mlflow.sources import poll_sources

    config = parse_config(_config(tmp_path, mlflow_v1.url, mlflow_v2.url).read_text())
    (source,) = poll_sources(config)
    assert source.name == "mlflow" and source.interval_s == 30.0
    store = StateStore.open(tmp_path / "poll.db", create=True)
    summary = source.poll(store)
    assert summary["poll_id"] == latest_poll(store).id
    assert store.events(kinds=["mlflow.poll"])[-1].source == "poller:mlflow"
    store.close()
    no_new = parse_config('[migration]\nname = "x"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n')
    assert poll_sources(no_new) == []
