"""`cockpit inventory` and `cockpit sim workspace` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

from ws_helpers import ADMIN, KYROS_SCENARIO, REPO, connect

from cockpit.store import StateStore


def _env(token: str | None = ADMIN, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env["DATABRICKS_CONFIG_FILE"] = os.devnull  # never the developer's own profiles
    if token:
        env["DATABRICKS_TOKEN"] = token
    return {**env, **extra}


def _run(*args: str, env: dict[str, str], cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_inventory_json_writes_the_state_file(sim, tmp_path):
    state = tmp_path / "c.db"
    result = _run(
        "--state", str(state), "inventory", "--host", sim.url, "--format", "json", env=_env()
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["jobs_per_runtime"]["14.3-lts-ml"] == 9
    assert data["new_runs"] == 140
    churn = next(j for j in data["jobs"] if j["name"] == "kyros-churn-train")
    assert churn["runs_per_runtime"] == {"14.3-lts-ml": 12, "16.4-lts-ml": 10}
    with StateStore.open(state, readonly=True) as store:
        assert store.events(kinds=["databricks.inventory"])
    assert ADMIN.encode() not in state.read_bytes()

    stored = _run(
        "--state", str(state), "inventory", "--stored", "--format", "json", env=_env(None)
    )
    assert stored.returncode == 0, stored.stderr
    assert json.loads(stored.stdout)["jobs_per_runtime"] == data["jobs_per_runtime"]


def test_inventory_from_cockpit_toml_prints_tables(sim, tmp_path):
    (tmp_path / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[databricks]\nhost = "{sim.url}"\n',
        encoding="utf-8",
    )
    result = _run("inventory", "--no-history", env=_env(COLUMNS="200"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Jobs per runtime" in result.stdout
    assert "kyros-recsys-train" in result.stdout
    assert (tmp_path / "cockpit.db").exists()


def test_inventory_errors_are_one_line_with_exit_codes(sim, tmp_path):
    state = str(tmp_path / "c.db")
    bad = _run("--state", state, "inventory", "--host", sim.url, env=_env("dapi-wrong-token-0000"))
    assert bad.returncode == 3
    assert bad.stderr.count("\n") == 1 and "refused the token (401)" in bad.stderr
    assert "Traceback" not in bad.stderr and "dapi-wrong-token-0000" not in bad.stderr

    down = _run("--state", state, "inventory", "--host", "http://127.0.0.1:9", env=_env())
    assert down.returncode == 3 and "cannot reach" in down.stderr

    nocreds = _run("--state", state, "inventory", env=_env(None))
    assert nocreds.returncode == 2 and "cannot set up Databricks auth" in nocreds.stderr

    noprofile = _run("--state", state, "inventory", "--profile", "ghost", env=_env(None))
    assert noprofile.returncode == 2 and "no profile [ghost]" in noprofile.stderr


def test_sim_workspace_serves_until_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "sim",
            "workspace",
            "--scenario",
            str(KYROS_SCENARIO),
            "--port",
            "0",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()
        assert "serving Kyros Insights production workspace (14 jobs, 140 runs)" in line
        url = line.split(" on ")[1].split(" ")[0]

        assert len(connect(SimpleNamespace(url=url)).list_jobs()) == 14
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_sim_workspace_bad_scenario_is_one_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "nope"}', encoding="utf-8")
    result = _run("sim", "workspace", "--scenario", str(bad), "--port", "0", env=_env(None))
    assert result.returncode == 2
    assert "format must be" in result.stderr and "Traceback" not in result.stderr


def test_cockpit_record_polls_the_workspace(sim, tmp_path):
    (tmp_path / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[databricks]\nhost = "{sim.url}"\npoll_interval_s = 30\n',
        encoding="utf-8",
    )
    result = _run("record", "--duration", "3", env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "databricks: ok" in result.stderr
    with StateStore.open(tmp_path / "cockpit.db", readonly=True) as store:
        assert store.events(kinds=["databricks.inventory"])
        assert store.query_one("SELECT COUNT(*) AS n FROM workspace_runs")["n"] == 140


def test_cockpit_record_reports_a_poll_that_ends_while_it_stops(sim, tmp_path):
    """A first poll longer than --duration ends while the recorder stops; its outcome is
    printed too, not only written (CI once ran the 3 s recording above past its poll so)."""
    (tmp_path / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        f'[databricks]\nhost = "{sim.url}"\npoll_interval_s = 30\n',
        encoding="utf-8",
    )
    sim.faults.set(delay_s=0.5)  # per request: the poll (about 12 requests) outlasts 1.5 s
    result = _run("record", "--duration", "1.5", env=_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "databricks: ok", result.stderr
    with StateStore.open(tmp_path / "cockpit.db", readonly=True) as store:
        assert store.query_one("SELECT COUNT(*) AS n FROM workspace_runs")["n"] == 140


def _run_with_stderr_tty(*args: str, env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run with stdout piped and stderr on a pseudo-terminal (what a person at a shell has
    when they pipe the answer into a file); returns (exit code, stdout, stderr bytes)."""
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", *args],
        cwd=REPO,
        env={**env, "TERM": "xterm-256color", "COLUMNS": "120"},
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process is done with stderr
            break
        if not chunk:
            break
        chunks.append(chunk)
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    return proc.returncode, out.decode(), b"".join(chunks)


def test_inventory_progress_on_a_terminal_only(sim, tmp_path):
    args = ("inventory", "--host", sim.url, "--format", "json", "--state", str(tmp_path / "p.db"))
    code, out, err = _run_with_stderr_tty(*args, env=_env())
    assert code == 0, err
    assert json.loads(out)["new_runs"] == 140  # stdout is the answer, untouched
    assert b"reading jobs" in err or b"reading runs" in err  # the progress line was drawn
    piped = _run(*args, env=_env())  # stderr not a terminal: quiet
    assert piped.returncode == 0 and piped.stderr == ""


def test_check_workspace_progress_on_a_terminal_only(sim, tmp_path):
    state = str(tmp_path / "w.db")
    inventory = _run("inventory", "--host", sim.url, "--state", state, env=_env())
    assert inventory.returncode == 0, inventory.stderr
    args = ("check", "--workspace", "--host", sim.url, "--format", "json", "--state", state)
    code, out, err = _run_with_stderr_tty(*args, env=_env())
    assert code in (0, 1), err  # 1: blocking findings; either way the answer is on stdout
    assert "findings" in json.loads(out)
    assert b"workspace code" in err  # the fetch's progress line was drawn on the terminal
    piped = _run(*args, env=_env())  # stderr not a terminal: no bar, only the one summary line
    assert piped.returncode == code
    assert "workspace code" not in piped.stderr.replace("workspace code:", "")
