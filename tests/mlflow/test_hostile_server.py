"""The real CLI against a hostile old server (``hostile_server.py``), with a real MLflow 2.x server
as the new one: nothing it answers steers a write outside its run, hangs a command or fills
memory, and each case ends in a one-line error with its exit code."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import seed
from hostile_server import FakeRun, HostileServer

from cockpit.mlflow.servers import MLFLOW_V2
from cockpit.mlflow.sync import TAG_INCOMPLETE

pytestmark = pytest.mark.servers

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float  # the command's own peak resident memory


def _config(tmp_path: Path, old_url: str, new_url: str, old_extra: str = "") -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
[migration]
name = "hostile"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{old_url}"
{old_extra}
[mlflow.new]
tracking_uri = "{new_url}"
""",
        encoding="utf-8",
    )
    return path


def _cli(config: Path, *args: str, timeout: float = 180) -> Ran:
    """``cockpit --config CONFIG ARGS`` in a subprocess, with its peak memory (wait4's rusage)."""
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_DEBUG"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cockpit", "--config", str(config), *args],
            cwd=config.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
        )
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"cockpit {' '.join(args)} still running after {timeout} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        return Ran(
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            seconds,
            usage.ru_maxrss / 1024,
        )


def _one_line_error(ran: Ran) -> str:
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("cockpit: error: ") and "Traceback" not in ran.stderr
    return lines[0]


# ------------------------------------------------------------------------------ snapshots
def _listing(url: str, root: str, folder: str = "") -> list[str]:
    where = f"{root}/{folder}" if folder else root
    page = requests.get(url + ARTIFACTS, params={"path": where}, timeout=30).json()
    out = []
    for item in page.get("files", []):
        path = f"{folder}/{item['path']}" if folder else item["path"]
        out += _listing(url, root, path) if item.get("is_dir") else [path]
    return out


def _server_snapshot(url: str) -> dict[str, Any]:
    """Every run of every experiment on a server, through its own REST API (not the cockpit's
    adapter): the run as a search shows it, every metric's history, every artifact's bytes."""
    snap: dict[str, Any] = {}
    experiments = requests.post(
        url + API + "/experiments/search",
        json={"max_results": 1000, "view_type": "ALL"},
        timeout=30,
    ).json()["experiments"]
    for exp in experiments:
        runs = requests.post(
            url + API + "/runs/search",
            json={
                "experiment_ids": [exp["experiment_id"]],
                "run_view_type": "ALL",
                "max_results": 1000,
            },
            timeout=30,
        ).json()
        for run in runs.get("runs", []):
            run_id = run["info"]["run_id"]
            histories = {
                m["key"]: requests.get(
                    url + API + "/metrics/get-history",
                    params={"run_id": run_id, "metric_key": m["key"]},
                    timeout=30,
                ).json()
                for m in run["data"].get("metrics", [])
            }
            root = run["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
            artifacts = {
                path: hashlib.sha256(
                    requests.get(f"{url}{ARTIFACTS}/{root}/{path}", timeout=30).content
                ).hexdigest()
                for path in _listing(url, root)
            }
            snap[run_id] = {"run": run, "histories": histories, "artifacts": artifacts}
    return snap


def _disk_snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _victims(url: str) -> list[tuple[str, str]]:
    """Pre-existing runs on the new server, in two experiments, with a model file each."""
    w = seed.Writer(url)
    out = []
    for e in range(2):
        exp = w.experiment(f"victims-{e}-{uuid.uuid4().hex[:6]}", {"team": "prod"})
        for r in range(2):
            info = w.run(exp, f"production model {e}.{r}", start=seed.T0 + r)
            w.log(
                info["run_id"],
                params={"lr": "0.1"},
                tags={"stage": "prod"},
                metrics=[("auc", 0.9, seed.T0 + s, s) for s in range(5)],
            )
            w.artifact(info, "model/model.pkl", f"GOOD MODEL {e}.{r}".encode())
            w.artifact(info, "model/MLmodel", b"flavors: {}\n")
            w.finish(info["run_id"], "FINISHED", seed.T0 + 1000)
            out.append((exp, info["run_id"]))
    return out


def _hostile_run(**kw: Any) -> FakeRun:
    return FakeRun(
        uuid.uuid4().hex,
        "hostile run",
        params={"alpha": "0.5"},
        tags={"team": "attacker"},
        metrics=[("loss", 1.0 / (s + 1), seed.T0 + s, s) for s in range(10)],
        **kw,
    )


def _copy_of(new_url: str, experiment: str) -> dict[str, Any]:
    exp = requests.get(
        new_url + API + "/experiments/get-by-name",
        params={"experiment_name": experiment},
        timeout=30,
    ).json()["experiment"]
    runs = requests.post(
        new_url + API + "/runs/search",
        json={"experiment_ids": [exp["experiment_id"]], "run_view_type": "ALL"},
        timeout=30,
    ).json()["runs"]
    assert len(runs) == 1
    return runs[0]


# ------------------------------------------------------------------------------ item 1
def test_traversal_paths_are_refused_and_every_existing_run_stays_byte_identical(
    mlflow_server_factory, tmp_path
):
    new = mlflow_server_factory(MLFLOW_V2)
    victims = _victims(new.url)
    (exp, victim) = victims[0]
    before = _server_snapshot(new.url)
    disk_before = _disk_snapshot(new.artifact_root)
    assert len(before) == 4 and len(disk_before) == 8

    name = f"hostile-{uuid.uuid4().hex[:6]}"
    run = _hostile_run(artifacts={"ok.txt": b"fine", "model/MLmodel": b"flavors: {}\n"})
    bad = [
        f"../../../{exp}/{victim}/artifacts/model/model.pkl",  # another run's model
        "../" * 12 + "tmp/cockpit-escaped.txt",  # out of the artifact store
        f"/{exp}/{victims[1][1]}/artifacts/model/model.pkl",  # absolute
        f"..\\..\\..\\{exp}\\{victim}\\artifacts\\model\\model.pkl",  # backslashes
        "model//model.pkl",  # empty segment
        "model/./model.pkl",
        "evil\x1b]52;c;aGk=\x07name.txt",  # a terminal escape (OSC 52) in a name
        "nul\x00byte.txt",
    ]
    with HostileServer(name, [run], mode="traversal") as old:
        old.bad_paths = bad
        config = _config(tmp_path, old.url, new.url)
        synced = _cli(config, "mlflow", "sync", "--yes")
        downloads = [p for m, p in old.requests if m == "GET" and p.startswith(ARTIFACTS + "/")]
        verified = _cli(config, "mlflow", "verify")

    # A refused object is a listed error and exit 1, never a silent success.
    assert synced.returncode == 1, synced.stderr
    errors = [line for line in synced.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(bad), synced.stderr
    assert all("refused" in line for line in errors)
    assert "Traceback" not in synced.stderr and "\x1b" not in synced.stderr + synced.stdout
    # The refused paths were not even asked for on the old server; the good files were.
    assert sorted(p.split("/artifacts/", 2)[-1] for p in downloads) == ["model/MLmodel", "ok.txt"]

    # Every run that was on the new server is byte-identical: data, histories, artifacts...
    after = _server_snapshot(new.url)
    assert {k: v for k, v in after.items() if k in before} == before
    # ... and so is every file of its artifact store; new files only under the copy's own root.
    copy = _copy_of(new.url, name)
    copy_root = copy["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
    disk_after = _disk_snapshot(new.artifact_root)
    assert {k: disk_after.get(k) for k in disk_before} == disk_before
    assert sorted(set(disk_after) - set(disk_before)) == [
        f"{copy_root}/model/MLmodel",
        f"{copy_root}/ok.txt",
    ]
    assert not Path("/tmp/cockpit-escaped.txt").exists()
    # The copy has its data but is not finished: it is tagged with why.
    tags = {t["key"]: t["value"] for t in copy["data"]["tags"]}
    assert copy["info"]["status"] == "RUNNING" and "refused" in tags[TAG_INCOMPLETE]
    assert {p["key"]: p["value"] for p in copy["data"]["params"]} == {"alpha": "0.5"}

    # Verify reads the same listing and reports each refused path, for ever.
    assert verified.returncode == 1, verified.stderr
    assert verified.stdout.count("refused on old") == len(bad)


# ------------------------------------------------------------------------------ item 5
def test_a_refused_artifact_leaves_the_data_copied_and_a_resync_completes_the_run(
    mlflow_v2, tmp_path
):
    name = f"refused-{uuid.uuid4().hex[:6]}"
    run = _hostile_run(artifacts={"model/weights.bin": os.urandom(50_000), "notes.txt": b"ok"})
    with HostileServer(name, [run], mode="refuse_artifact") as old:
        old.refused = {"model/weights.bin"}
        config = _config(tmp_path, old.url, mlflow_v2.url)
        first = _cli(config, "mlflow", "sync", "--yes")
        assert first.returncode == 1, first.stderr
        (error,) = [line for line in first.stderr.splitlines() if line.startswith("error: ")]
        assert "'model/weights.bin' not read" in error and "403" in error
        copy = _copy_of(mlflow_v2.url, name)
        # Metadata first: params, metrics (whole history) and tags are all there ...
        assert {p["key"] for p in copy["data"]["params"]} == {"alpha"}
        tags = {t["key"]: t["value"] for t in copy["data"]["tags"]}
        assert tags["team"] == "attacker" and "weights.bin" in tags[TAG_INCOMPLETE]
        history = requests.get(
            mlflow_v2.url + API + "/metrics/get-history",
            params={"run_id": copy["info"]["run_id"], "metric_key": "loss"},
            timeout=30,
        ).json()["metrics"]
        assert len(history) == 10
        # ... the readable artifact too, but the run is not finished until every one is.
        root = copy["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
        assert _listing(mlflow_v2.url, root) == ["notes.txt"]
        assert copy["info"]["status"] == "RUNNING"
        status = _cli(config, "mlflow", "status", "--format", "json", "--no-record")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["experiments"][0]["differing"] == 1

        # The retry path: once the old server gives the file, the next sync completes the run.
        old.mode = "normal"
        second = _cli(config, "mlflow", "sync", "--yes")
        assert second.returncode == 0, second.stderr
        assert "0 new and 1 changed runs" in second.stdout
        copy = _copy_of(mlflow_v2.url, name)
        assert copy["info"]["status"] == "FINISHED"
        assert TAG_INCOMPLETE not in {t["key"] for t in copy["data"]["tags"]}
        assert sorted(_listing(mlflow_v2.url, root)) == ["model/weights.bin", "notes.txt"]
        clean = _cli(config, "mlflow", "verify")
        assert clean.returncode == 0, clean.stdout + clean.stderr


# ------------------------------------------------------------------------------ item 4
def test_endless_paging_and_a_folder_listing_itself_end_with_one_line_errors(mlflow_v2, tmp_path):
    name = f"paging-{uuid.uuid4().hex[:6]}"
    with HostileServer(name, [_hostile_run()], mode="paging") as old:
        config = _config(tmp_path, old.url, mlflow_v2.url)
        paged = _cli(config, "mlflow", "status", "--no-record")
        searches = sum(1 for _, p in old.requests if p.endswith("/runs/search"))
    assert paged.returncode == 3
    assert "page token it had already given" in _one_line_error(paged)
    assert searches == 2  # the repeat is seen on the second page

    name = f"loop-{uuid.uuid4().hex[:6]}"
    run = _hostile_run(artifacts={"ok.txt": b"fine"})
    with HostileServer(name, [run], mode="self_listing") as old:
        config = _config(tmp_path, old.url, mlflow_v2.url)
        looped = _cli(config, "mlflow", "sync", "--yes")
        listings = sum(1 for _, p in old.requests if p.startswith(ARTIFACTS + "?"))
    assert looped.returncode == 1, looped.stderr
    (error,) = [line for line in looped.stderr.splitlines() if line.startswith("error: ")]
    assert "artifact folders nested deeper than 64" in error
    assert listings <= 66


def test_endless_bodies_are_refused_with_memory_bounded(mlflow_v2, tmp_path):
    name = f"endless-{uuid.uuid4().hex[:6]}"
    with HostileServer(name, [_hostile_run()], mode="endless_body") as old:
        config = _config(tmp_path, old.url, mlflow_v2.url, "max_response_mb = 8")
        endless = _cli(config, "mlflow", "status", "--no-record")
        # The same command on a well-behaved answer: the baseline of the process's memory.
        old.mode = "normal"
        baseline = _cli(config, "mlflow", "status", "--no-record")
    assert endless.returncode == 3
    assert "answer larger than 8 MiB" in _one_line_error(endless)
    assert baseline.returncode == 0, baseline.stderr
    # Never read whole: the peak stays within the cap (8 MiB) plus a few of slack.
    assert endless.max_rss_mb < baseline.max_rss_mb + 40, (endless, baseline)

    name = f"endless-artifact-{uuid.uuid4().hex[:6]}"
    run = _hostile_run(artifacts={"model.bin": b"x" * 1000})
    with HostileServer(name, [run], mode="endless_artifact") as old:
        config = _config(tmp_path, old.url, mlflow_v2.url)
        synced = _cli(config, "mlflow", "sync", "--yes")
    assert synced.returncode == 1, synced.stderr
    (error,) = [line for line in synced.stderr.splitlines() if line.startswith("error: ")]
    assert "sent more than its listed 1000 bytes" in error


def test_a_drip_feed_ends_by_the_request_and_command_deadlines(mlflow_v2, tmp_path):
    name = f"drip-{uuid.uuid4().hex[:6]}"
    with HostileServer(name, [_hostile_run()], mode="drip") as old:
        old.drip_s = 0.5  # headers included: a byte every half second, for ever
        per_request = _config(tmp_path, old.url, mlflow_v2.url, "timeout_s = 1\n")
        by_request = _cli(per_request, "mlflow", "status", "--no-record")
        per_command = _config(tmp_path, old.url, mlflow_v2.url, "timeout_s = 2\ndeadline_s = 3")
        by_command = _cli(per_command, "mlflow", "status", "--no-record")
    # Each message is only given when that deadline is what ended the request. Unbounded, one
    # dripped answer alone would take 20 minutes; the bound below leaves room for a loaded host.
    assert by_request.returncode == 3
    assert "no complete answer within 1 s (timeout_s)" in _one_line_error(by_request)
    assert by_request.seconds < 90
    assert by_command.returncode == 3
    assert "deadline of 3 s (deadline_s) passed" in _one_line_error(by_command)
    assert by_command.seconds < 90


# ------------------------------------------------------------------------------ item 9
def test_401_is_authentication_failed_and_a_pasted_token_is_never_echoed(mlflow_v2, tmp_path):
    token = "dapi" + uuid.uuid4().hex + uuid.uuid4().hex
    with HostileServer("auth", [], mode="unauthorized") as old:
        host = old.url.removeprefix("http://")
        for uri in (
            f"http://user:{token}@{host}",  # as a password
            f"http://{token}@{host}",  # as the user
            f"http://{host}/?token={token}",  # as a query
        ):
            config = _config(tmp_path, uri, mlflow_v2.url)
            ran = _cli(config, "mlflow", "status", "--no-record")
            assert ran.returncode == 3, ran.stderr
            line = _one_line_error(ran)
            assert "authentication failed (HTTP 401" in line
            assert "does not look like an MLflow server" not in line
            assert token not in ran.stdout + ran.stderr
    # Pasted as the whole tracking_uri: a config error that does not show it.
    config = _config(tmp_path, token, mlflow_v2.url)
    ran = _cli(config, "mlflow", "status", "--no-record")
    assert ran.returncode == 2 and token not in ran.stdout + ran.stderr
    assert "tracking_uri" in _one_line_error(ran)


def test_a_run_without_experiment_id_is_a_one_line_error(mlflow_v2, tmp_path):
    name = f"noexp-{uuid.uuid4().hex[:6]}"
    with HostileServer(name, [_hostile_run()], mode="no_experiment_id") as old:
        config = _config(tmp_path, old.url, mlflow_v2.url)
        status = _cli(config, "mlflow", "status", "--no-record")
        synced = _cli(config, "mlflow", "sync", "--yes")
    for ran in (status, synced):
        assert ran.returncode == 3, ran.stderr
        assert "answered a run without 'experiment_id'" in _one_line_error(ran)
