"""Managed MLflow servers: install cache, start/stop, each generation's own request log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.mlflow import servers
from cockpit.mlflow.servers import AccessRecord

pytestmark = pytest.mark.servers


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.parametrize(
    ("fixture", "version", "serves_version"),
    [("mlflow_v1", "1.30.1", False), ("mlflow_v2", "2.22.5", True), ("mlflow_v3", "3.17.2", True)],
)
def test_each_generation_runs_from_its_own_venv(request, fixture, version, serves_version):
    server = request.getfixturevalue(fixture)
    assert server.version == version
    assert server.url.startswith("http://127.0.0.1:")
    assert server.is_running()
    assert _get(f"{server.url}/health")[0] == 200
    status, body = _get(f"{server.url}/version")
    if serves_version:
        assert (status, body.decode().strip()) == (200, version)
    else:
        assert status == 404  # 1.x has no /version route
    # The process really is that venv's mlflow, not the project's own.
    cmdline = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert any(str(servers.venv_dir(version)).encode() in part for part in cmdline)
    assert server.backend_db_path.is_file()
    assert server.backend_uri == f"sqlite:///{server.backend_db_path}"


@pytest.mark.parametrize("fixture", ["mlflow_v1", "mlflow_v2", "mlflow_v3"])
def test_access_log_records_reads_and_writes_by_the_server_itself(request, fixture):
    server = request.getfixturevalue(fixture)
    name = f"access-log-{fixture}-{time.time_ns()}"
    status, created = _post(f"{server.url}/api/2.0/mlflow/experiments/create", {"name": name})
    assert status == 200, created
    status, found = _post(f"{server.url}/api/2.0/mlflow/experiments/search", {"max_results": 50})
    assert status == 200 and name in {e["name"] for e in found["experiments"]}
    server.access_mark()  # both answered requests logged (by the server's own workers)
    writes = server.write_requests()
    assert AccessRecord("POST", "/api/2.0/mlflow/experiments/create", 200) in writes
    assert not any(r.path.endswith("/experiments/search") for r in writes)
    assert any(r.path.endswith("/experiments/search") for r in server.access_records())


@pytest.mark.parametrize("version", ["1.30.1", "2.22.5"])
def test_gunicorn_workers_get_minutes_not_30_s(version, tmp_path):
    """gunicorn's default 30 s worker timeout killed 1.x workers while they booted on a busy
    machine (boot, kill, boot again, until the start gave up): the command raises it."""
    from cockpit.mlflow.servers import WORKER_TIMEOUT_S, server_command

    cmd = server_command(
        version,
        port=5000,
        db_path=tmp_path / "m.db",
        artifact_root=tmp_path / "a",
        access_log=tmp_path / "access.log",
        workers=2,
    )
    opts = cmd[cmd.index("--gunicorn-opts") + 1].split()
    assert opts[opts.index("--timeout") + 1] == str(WORKER_TIMEOUT_S) and WORKER_TIMEOUT_S >= 300


def test_write_classification():
    assert AccessRecord("POST", "/api/2.0/mlflow/runs/log-batch", 200).is_write
    assert AccessRecord("DELETE", "/api/2.0/mlflow-artifacts/artifacts/1/a", 200).is_write
    assert AccessRecord("PUT", "/api/2.0/mlflow-artifacts/artifacts/1/a.bin", 200).is_write
    assert AccessRecord("PATCH", "/api/2.0/mlflow/registered-models/update", 200).is_write
    assert not AccessRecord("POST", "/api/2.0/mlflow/runs/search", 200).is_write
    assert not AccessRecord("POST", "/api/2.0/mlflow/registered-models/search?x=1", 200).is_write
    assert not AccessRecord("GET", "/api/2.0/mlflow/runs/get?run_id=1", 200).is_write


def test_bad_version_is_a_one_line_error():
    for bad in ("latest", "0.9.1", "4.0.0", "2.22", "1.30.1; rm -rf /"):
        with pytest.raises(CockpitError) as err:
            servers.parse_version(bad)
        assert "\n" not in err.value.message


def test_pins_per_generation():
    assert "sqlalchemy<2.1" in servers.extra_pins("2.22.5")
    assert servers.extra_pins("3.17.2") == ()
    assert all("mlflow" not in pin for pin in servers.extra_pins("1.30.1"))


def test_stop_ends_the_whole_process_group_and_frees_the_port(mlflow_server_factory, tmp_path):
    server = mlflow_server_factory("1.30.1", tmp_path / "own")
    pgid = os.getpgid(server.pid)
    assert pgid == server.pid  # its own group, so Ctrl-C in a terminal never reaches it
    members = _group_members(pgid)
    assert len(members) >= 2  # the mlflow CLI plus gunicorn master and workers
    assert set(_listeners(server.port)) & set(members)  # the probe sees the live server's
    server.stop()
    assert not server.is_running()
    assert _group_members(pgid) == []
    held = _listeners(server.port)
    assert not set(held) & set(members), held  # no process of the stopped server holds it
    # The same data folder starts again and still holds what was written before.
    again = mlflow_server_factory("1.30.1", tmp_path / "own")
    assert again.backend_db_path == server.backend_db_path
    assert _get(f"{again.url}/health")[0] == 200


def test_a_server_dies_with_the_process_that_started_it(tmp_path):
    """kill -9 of the owner (a crashed test run, a closed terminal) leaves no orphan server."""
    script = (
        "import sys, time; from pathlib import Path; from cockpit.mlflow import servers; "
        "h = servers.start_server('1.30.1', Path(sys.argv[1])); "
        "print(h.pid, h.port, flush=True); time.sleep(600)"
    )
    owner = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "d")], stdout=subprocess.PIPE, text=True
    )
    try:
        pgid, port = map(int, owner.stdout.readline().split())
        members = _group_members(pgid)
        assert members and _get(f"http://127.0.0.1:{port}/health")[0] == 200
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 30
    while _group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_members(pgid) == []
    held = _listeners(port)
    assert not set(held) & set(members), held  # no process of the orphaned server holds it


def test_a_server_without_a_data_folder_cleans_up_after_itself():
    server = servers.start_server(servers.MLFLOW_V1)
    try:
        assert server.data_dir.is_dir() and (server.data_dir / servers.STATE_FILE).is_file()
    finally:
        server.stop()
    assert not server.data_dir.exists()


def _listeners(port: int) -> dict[int, str]:
    """Every process with a socket listening on PORT: pid -> its command line.

    Read from /proc/net/tcp{,6} (the listening sockets' inodes) and /proc/*/fd (who holds
    them). Why not try to bind the port: during a parallel run any outgoing connection may hold
    it as its ephemeral source port, and another test's server may take it once it is free, so
    a failed bind says nothing about the server under test (CI saw both kinds of doubt).
    """
    listen = "0A"
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == listen and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    holders: dict[int, str] = {}
    if not inodes:
        return holders
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
            if any(os.readlink(fd) in inodes for fd in fds):
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                holders[int(entry.name)] = cmdline[:200]
        except OSError:
            continue
    return holders


def _group_members(pgid: int) -> list[int]:
    """Processes of the group not yet gone: a zombie main thread counts while any of its
    threads still runs, since those hold its sockets (servers.process_alive_in_group)."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if servers.process_alive_in_group(entry, pgid)
    ]


def test_killed_install_is_redone_and_concurrent_installs_build_once(tmp_path):
    """A SIGKILLed install leaves no usable venv; two racing installs then build it once."""
    root = tmp_path / "cache"
    env = {**os.environ, servers.CACHE_ENV: str(root)}
    script = (
        "import sys; from cockpit.mlflow import servers; "
        "s = servers.install('1.30.1', progress=lambda m: print(m, flush=True)); print('PATH', s.path)"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    venv = root / "mlflow-1.30.1"
    deadline = time.monotonic() + 60
    while not (venv / "bin" / "python").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert venv.exists() and not (venv / servers.MARKER).exists()
    os.environ[servers.CACHE_ENV] = str(root)
    try:
        assert servers.installed("1.30.1") is None  # unfinished: not taken for an install
    finally:
        del os.environ[servers.CACHE_ENV]

    racers = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=280)[0] for p in racers]
    assert [p.returncode for p in racers] == [0, 0]
    joined = "\n".join(outputs)
    assert joined.count("removing unfinished install") == 1
    assert joined.count("installing mlflow==1.30.1") == 1
    assert all(f"PATH {venv}" in out for out in outputs)
    marker = json.loads((venv / servers.MARKER).read_text())
    assert marker["version"] == "1.30.1"
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.stdout.strip() == "1.30.1"


# ------------------------------------------------------------------------------------ the CLI
def test_cli_install_list_remove(cli, tmp_path):
    listed = cli("servers", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["version"]: r for r in json.loads(listed.stdout)["servers"]}
    assert rows["1.30.1"]["tested"] and rows["1.30.1"]["generation"] == 1
    assert rows["2.22.5"]["pins"] == ["sqlalchemy<2.1"]
    again = cli("servers", "install", "1.30.1")
    assert again.returncode == 0 and "already installed" in again.stdout
    for bad in ("9.9.9", "latest"):
        out = cli("servers", "install", bad)
        assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
        assert "Traceback" not in out.stderr

    # remove, on a cache of its own: an unfinished folder goes; removing twice is an error.
    env = {servers.CACHE_ENV: str(tmp_path / "cache")}
    (tmp_path / "cache" / "mlflow-2.0.1" / "bin").mkdir(parents=True)
    assert cli("servers", "list", env=env).stdout.startswith("no MLflow servers installed")
    removed = cli("servers", "remove", "2.0.1", env=env)
    assert removed.returncode == 0 and not (tmp_path / "cache" / "mlflow-2.0.1").exists()
    twice = cli("servers", "remove", "2.0.1", env=env)
    assert twice.returncode == 2 and "not installed" in twice.stderr

    # A cache folder that cannot be created: one line, exit 2, no traceback.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    unusable = cli("servers", "install", "1.30.1", env={servers.CACHE_ENV: str(blocker / "x")})
    assert unusable.returncode == 2 and unusable.stderr.count("\n") == 1
    assert "cannot install mlflow 1.30.1" in unusable.stderr


def test_failed_pip_install_is_one_line_and_leaves_nothing_behind(cli, tmp_path):
    # No index (offline): pip fails at once, without the network.
    env = {servers.CACHE_ENV: str(tmp_path / "cache"), "PIP_NO_INDEX": "1"}
    out = cli("servers", "install", "2.22.5", env=env)
    assert out.returncode == 2, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("cockpit: error: could not pip install mlflow==2.22.5")
    assert "ERROR" in last and "Traceback" not in out.stderr
    assert not (tmp_path / "cache" / "mlflow-2.22.5").exists()


def test_cli_start_on_a_taken_port_is_a_one_line_error(cli, tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        out = cli("servers", "start", "1.30.1", "--port", str(port), "--data", str(tmp_path / "d"))
    assert out.returncode == 3, out.stderr
    assert "already in use" in out.stderr and out.stderr.count("\n") <= 4
    assert out.stderr.strip().splitlines()[-1].startswith("cockpit: error:")


def test_cli_start_serves_until_ctrl_c_then_stops_every_worker(tmp_path):
    data = tmp_path / "old-server"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "servers", "start", "1.30.1", "--data", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "serving at" in line:
                url = line.split("serving at", 1)[1].strip()
        assert url, proc.stderr.read() if proc.poll() is not None else "no URL printed"
        assert _get(f"{url}/health")[0] == 200
        server_pgid = _listener_pgid(int(url.rsplit(":", 1)[1]))
        assert server_pgid and _group_members(server_pgid)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
    assert _group_members(server_pgid) == []
    assert (data / "mlflow.db").is_file() and (data / "logs" / "access.log").is_file()


def _listener_pgid(port: int) -> int | None:
    """The process group of whatever listens on 127.0.0.1:port (from /proc, no extra tools)."""
    wanted = f"0100007F:{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1] == wanted and cols[3] == "0A":  # 0A = LISTEN
            inodes.add(cols[9])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return os.getpgid(int(entry.name))
        except OSError:
            continue
    return None


def test_cli_detach_stop_and_one_server_per_data_folder(cli, tmp_path):
    data = tmp_path / "detached"
    started = cli("servers", "start", "1.30.1", "--data", str(data), "--detach")
    assert started.returncode == 0, started.stderr
    url = started.stdout.split("serving at", 1)[1].split()[0]
    handle = servers.attach(data)
    assert handle is not None and handle.url == url and handle.is_running()
    assert _get(f"{url}/health")[0] == 200
    # A second server on the same SQLite file would corrupt nothing only by luck: refused.
    twice = cli("servers", "start", "2.22.5", "--data", str(data))
    assert twice.returncode == 2 and "already serves" in twice.stderr

    stopped = cli("servers", "stop", "--data", str(data))
    assert stopped.returncode == 0, stopped.stderr
    assert _group_members(handle.pid) == [] and servers.attach(data) is None
    again = cli("servers", "stop", "--data", str(data))
    assert again.returncode == 2 and "no running server" in again.stderr

    # A state file left by a server that died (or a reused pid) is stale, not a running server.
    (data / servers.STATE_FILE).write_text(
        json.dumps({"version": "1.30.1", "url": url, "port": 1, "pid": os.getpid()})
    )
    assert servers.attach(data) is None and not (data / servers.STATE_FILE).exists()


def test_start_refuses_to_migrate_an_older_backend_in_place(cli, tmp_path):
    data = tmp_path / "prod"
    data.mkdir()
    import sqlite3

    with sqlite3.connect(data / "mlflow.db") as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('97727af70f4d')")
    before = (data / "mlflow.db").read_bytes()
    for version in ("2.22.5", "3.17.2"):
        out = cli("servers", "start", version, "--data", str(data))
        assert out.returncode == 2 and "would migrate it in place" in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1
    assert (data / "mlflow.db").read_bytes() == before
    with pytest.raises(CockpitError, match="does not know"):
        servers.check_backend("1.30.1", _with_revision(tmp_path / "new.db", "0584bdc529eb"))
    servers.check_backend("1.30.1", data / "mlflow.db")  # its own head: fine
    servers.check_backend("2.22.5", data / "mlflow.db", allow_db_upgrade=True)


def _with_revision(path: Path, revision: str) -> Path:
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    return path
