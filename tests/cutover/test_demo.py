"""`cockpit demo`, driven from a real terminal (tmux) as a person would: it shows live data from
both MLflow servers, quits on `q`, and leaves no process it started running."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screens.app import discover_tabs

REPO = Path(__file__).resolve().parents[2]
SESSION = f"cockpit-demo-test-{os.getpid()}"


def tmux(*args: str) -> str:
    # A server of its own (-L): a tmux server already running on the machine would give the
    # session that server's environment (HOME, the servers' cache), not this test's.
    return subprocess.run(
        ["tmux", "-L", SESSION, *args], capture_output=True, text=True, check=False
    ).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(predicate, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen()
        if predicate(text):
            return text
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; screen:\n{text}")


# The demo polls the workspace simulator, both MLflow servers, and the old server's backend schema.
DEMO_SOURCES = ("databricks", "mlflow", "mlflow.old-schema")
HEADER_SOURCE = re.compile(r"([a-z][\w.-]*):(ok|degraded|down|unknown|internal-error)\b")


def header_sources(text: str) -> dict[str, str]:
    """``name:status`` pairs of the header line (the one that says LIVE)."""
    line = next((line for line in text.splitlines() if " LIVE " in line), "")
    return dict(HEADER_SOURCE.findall(line))


def processes_mentioning(needle: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # Not this test, nor the terminal wrapping the demo (tmux and its shell name the workdir).
        wrapper = "DEMO-EXITED" in cmdline or cmdline.startswith("tmux")
        if needle in cmdline and int(proc.name) != os.getpid() and not wrapper:
            found.append(f"{proc.name}: {cmdline.strip()}")
    return found


def test_demo_shows_both_servers_live_and_cleans_up(tmp_path: Path):
    assert shutil.which("tmux"), "tmux drives the demo like a person would; ./dev test installs it"
    workdir = tmp_path / "demo"
    mlflow_key = str(next(i for i, t in enumerate(discover_tabs(), 1) if t.TAB_ID == "mlflow"))
    # pytest exports COLUMNS/LINES (80x24), which Textual would obey over the real window size.
    command = f"env -u COLUMNS -u LINES {sys.executable} -m cockpit demo --workdir {workdir} --live-writes 3; echo DEMO-EXITED $?; sleep 600"
    tmux("new-session", "-d", "-s", SESSION, "-x", "200", "-y", "50", "-c", str(REPO), command)
    # A fresh tmux server sizes a detached window 80x24 whatever -x/-y said: fix it, as a person
    # would widen their terminal.
    tmux("set-option", "-t", SESSION, "window-size", "manual")
    tmux("resize-window", "-t", SESSION, "-x", "200", "-y", "50")
    try:
        wait_for(lambda t: "Runtime diff" in t and "LIVE" in t, 90, "the cockpit to open")
        tmux("send-keys", "-t", SESSION, mlflow_key)
        text = wait_for(
            lambda t: "kyros/churn-train" in t and "MLflow 1.x" in t and "MLflow 2.22.5" in t,
            120,
            "both servers' experiments and versions in the MLflow sync tab",
        )
        assert "kyros/demand-forecast" in text
        # The recorder's polls show up as source health in the header: every source, not only
        # MLflow's (issue 20: the Databricks poller stayed down for a whole session).
        text = wait_for(
            lambda t: header_sources(t) == dict.fromkeys(DEMO_SOURCES, "ok"),
            120,
            f"every source ({', '.join(DEMO_SOURCES)}) ok in the header",
        )
        assert "internal-error" not in text and "down" not in header_sources(text).values()
        assert processes_mentioning(str(workdir)), "the demo's servers should be running now"
        # Production keeps writing to the old server: its run count grows while we watch.
        before = text
        wait_for(lambda t: t != before and "kyros/churn-train" in t, 60, "the next live poll")
        tmux("send-keys", "-t", SESSION, "q")
        wait_for(lambda t: "DEMO-EXITED 0" in t, 120, "the demo to exit")
        deadline = time.monotonic() + 30
        while processes_mentioning(str(workdir)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes_mentioning(str(workdir)) == []
        assert not workdir.exists(), "the demo's workdir should be removed on exit"
    finally:
        tmux("kill-session", "-t", SESSION)


def test_the_simulator_address_is_read_from_this_start_only(tmp_path: Path):
    """A kept workdir's log still holds the last start's address: only what this start wrote
    counts, and a simulator that exits is an error, not a 30 s wait."""
    from cockpit.demo.orchestrator import _served_url
    from cockpit.errors import CockpitError

    log = tmp_path / "workspace.log"
    log.write_text("serving k (14 jobs, 140 runs) on http://127.0.0.1:1 (Ctrl-C to stop)\n")
    offset = log.stat().st_size
    line = "serving k (14 jobs, 140 runs) on http://127.0.0.1:4242 (Ctrl-C to stop)\n"
    writer = (
        f"import time; time.sleep(0.3); open({str(log)!r}, 'a').write({line!r}); time.sleep(30)"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer])
    try:
        assert _served_url(proc, log, offset) == "http://127.0.0.1:4242"
    finally:
        proc.kill()
        proc.wait()
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait()
    with pytest.raises(CockpitError, match=r"exited \(3\)"):
        _served_url(dead, log, log.stat().st_size)
