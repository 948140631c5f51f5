"""The live runtime probe: submitted, polled, read back, stored as a manifest that diffs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from ws_helpers import ADMIN, REPO

from cockpit.databricks.errors import WorkspaceError, WorkspaceInputError
from cockpit.databricks.probe import (
    TASK_PATH,
    ProbeCancelled,
    ProbeOptions,
    parse_probe_output,
    probe_runtime,
    probe_task_source,
    read_probes,
)
from cockpit.runtimes.diff import diff_runtimes
from cockpit.runtimes.manifest import load_bundled, load_runtime
from cockpit.store import StateStore

NEW = "16.4.x-cpu-ml-scala2.12"
FAST = ProbeOptions(poll_interval_s=0.1, timeout_s=30)


def test_probe_becomes_a_manifest_that_diffs_against_the_lts_manifest(sim, adapter):
    store = StateStore.create_in_memory()
    seen: list[str] = []
    result = probe_runtime(
        adapter, store, NEW, options=FAST, on_progress=lambda s: seen.append(s.life_cycle_state)
    )
    assert seen[0] == "PENDING" and "RUNNING" in seen and seen[-1] == "TERMINATED"
    assert sim.files[TASK_PATH] == probe_task_source()

    probed = load_runtime(result.runtime_id, store)
    assert probed.origin == "probe"
    assert probed.version == "16.4"
    assert probed.spark_version_keys == (NEW,)
    same = diff_runtimes(load_bundled("16.4-lts-ml"), probed)
    assert same.counts()["unchanged"] == len(probed.python_libraries) == result.libraries
    assert not same.filtered("changed")
    assert not [s for s in same.system if s.changed]

    from_old = diff_runtimes(load_bundled("14.3-lts-ml"), probed)
    removed = {lib.name for lib in from_old.libraries if lib.kind == "removed"}
    assert "horovod" in removed
    assert from_old.behavior_changes  # 15.x and 16.x release notes apply to the probed runtime

    kinds = [e.kind for e in store.events()]
    assert kinds.index("databricks.probe_submitted") < kinds.index("runtime.probed")
    assert kinds.index("runtime.probed") < kinds.index("databricks.probe_finished")
    [probe] = read_probes(store)
    assert (probe.state, probe.run_id, probe.runtime_id) == (
        "succeeded",
        result.run_id,
        result.runtime_id,
    )
    assert probe.finished_at is not None and probe.message == f"{result.libraries} libraries"


def test_probe_that_outlives_its_timeout_is_cancelled_and_recorded_failed(sim, adapter):
    store = StateStore.create_in_memory()
    with pytest.raises(WorkspaceError, match="did not finish within 0s; it was cancelled"):
        probe_runtime(adapter, store, NEW, options=ProbeOptions(poll_interval_s=0.1, timeout_s=0))
    row = store.query_one("SELECT state, message, run_id FROM workspace_probes")
    assert (row["state"], row["message"]) == ("failed", "timed out after 0s")
    status = adapter.get_run(row["run_id"])
    assert (status.life_cycle_state, status.result_state) == ("TERMINATED", "CANCELED")


def test_probe_can_be_cancelled_while_pending(sim, adapter):
    store = StateStore.create_in_memory()
    cancel = threading.Event()
    with pytest.raises(ProbeCancelled) as err:
        probe_runtime(
            adapter, store, NEW, options=FAST, cancel=cancel, on_progress=lambda s: cancel.set()
        )
    assert err.value.exit_code == 130
    row = store.query_one("SELECT state, run_id FROM workspace_probes")
    assert row["state"] == "cancelled"
    status = adapter.get_run(row["run_id"])
    assert (status.life_cycle_state, status.result_state) == ("TERMINATED", "CANCELED")
    assert not store.query("SELECT * FROM runtime_manifests")


def test_a_failed_probe_run_is_reported_and_recorded(adapter):
    store = StateStore.create_in_memory()
    # The Kyros scenario has no probe output for 15.4: the run fails, as on a broken cluster.
    with pytest.raises(WorkspaceError) as err:
        probe_runtime(adapter, store, "15.4.x-cpu-ml-scala2.12", options=FAST)
    assert "ended FAILED" in err.value.message
    assert store.query_one("SELECT state FROM workspace_probes")["state"] == "failed"


def test_unknown_spark_version_suggests_close_ones(adapter):
    with pytest.raises(WorkspaceInputError) as err:
        probe_runtime(
            adapter, StateStore.create_in_memory(), "16.4.x-cpu-ml-scala2.11", options=FAST
        )
    assert "did you mean" in err.value.message
    assert "16.4.x-cpu-ml-scala2.12" in err.value.message


def test_the_probe_task_really_prints_what_the_parser_reads():
    out = subprocess.run(
        [sys.executable, str(REPO / "cockpit" / "databricks" / "data" / "probe_task.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    measured = parse_probe_output("some cluster noise\n" + out.stdout)
    assert measured["system"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert "pytest" in measured["python_libraries"]


def test_probe_cli_then_runtimes_diff(sim, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_TOKEN=ADMIN, DATABRICKS_CONFIG_FILE=os.devnull)
    state = str(tmp_path / "c.db")

    def cockpit(*args):
        return subprocess.run(
            [sys.executable, "-m", "cockpit", "--state", state, *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    probe = cockpit("probe", NEW, "--host", sim.url, "--poll-interval", "0.1", "--format", "json")
    assert probe.returncode == 0, probe.stderr
    assert "PENDING" in probe.stderr and "TERMINATED" in probe.stderr
    assert json.loads(probe.stdout)["runtime_id"] == f"probe-{NEW}"
    diff = cockpit(
        "runtimes", "diff", "16.4-lts-ml", f"probe-{NEW}", "--only", "changed", "--format", "json"
    )
    assert diff.returncode == 0, diff.stderr
    assert json.loads(diff.stdout)["libraries"] == []


def test_run_watch_prints_each_state_once_with_server_text_made_safe(capsys):
    from cockpit.cli.progress import RunWatch
    from cockpit.databricks.models import RunStatus

    def status(state: str, message: str) -> RunStatus:
        return RunStatus(7, state, "", message, None, None, None)

    with RunWatch() as watch:
        watch.progress(status("PENDING", "waiting \x1b]52;c;ZXZpbA==\x07 for a cluster"))
        watch.progress(status("PENDING", "still waiting"))
        watch.progress(status("RUNNING", ""))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines] == ["PENDING", "RUNNING"]
    assert "\x1b" not in lines[0] and "\x07" not in lines[0] and "for a cluster" in lines[0]
