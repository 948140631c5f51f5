"""The DDP smoke probe: the script runs real PyTorch DDP in 2 processes (gloo, CPU); its real
output, served by the workspace simulator as the run's stdout, is recorded and closes (or
fails) the checklist item of the pipelines that used Horovod."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from filelock import FileLock
from ws_helpers import ADMIN, REPO

from cockpit.compat.checklist import load_checklist, record_scan, set_item, sign_off
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.ddp.checklist import ITEM_KEY, ITEM_TITLE
from cockpit.ddp.probe import (
    TASK_PATH,
    DdpProbeCancelled,
    DdpProbeOptions,
    parse_output,
    probe_tasks,
    run_ddp_probe,
    script_source,
)
from cockpit.ddp.records import read_ddp_probes
from cockpit.errors import CockpitError
from cockpit.store import StateStore

SCRIPT = REPO / "cockpit" / "ddp" / "data" / "ddp_probe.py"
NEW = "16.4.x-cpu-ml-scala2.12"
FAST = DdpProbeOptions(poll_interval_s=0.1, timeout_s=30)
RECSYS = "job:kyros-recsys-train"


PROBE_COMMAND = (sys.executable, str(SCRIPT), "--launcher", "torchrun", "--backend", "gloo")
PROBE_COMMAND += ("--processes", "2")
RUNS = {"good": (), "bad": ("--inject", "ranks-disagree"), "abort": ("--inject", "teardown-abort")}


def _run_real_probes() -> dict[str, list]:
    procs = {
        name: subprocess.Popen(
            [*PROBE_COMMAND, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, extra in RUNS.items()
    }
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        out[name] = [proc.returncode, stdout, stderr]
    return out


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """The probe script for real: torch.distributed.run, 2 processes, gloo on CPU; as is, with
    the last rank corrupting its gradients, and with the last rank aborting after its checks.
    Started at once, and once per test session: the xdist workers share the outcome through a
    file under the session's temp root (each worker running its own copy put 4-6 DDP jobs on
    2 cores at once)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    cache = shared / "ddp_real_runs.json"
    with FileLock(str(cache) + ".lock"):
        if not cache.exists():
            cache.write_text(json.dumps(_run_real_probes()), encoding="utf-8")
        return json.loads(cache.read_text(encoding="utf-8"))


def test_the_script_runs_real_ddp_in_two_processes(real_runs):
    code, stdout, stderr = real_runs["good"]
    assert code == 0, stderr[-2000:]
    result = parse_output(stdout)
    assert result is not None and result["ok"] is True and result["error"] == ""
    assert (result["world_size"], result["backend"], result["device"]) == (2, "gloo", "cpu")
    assert result["torch"].startswith("2.13.0")
    checks = {c["name"]: c for c in result["checks"]}
    assert set(checks) == {
        "process_group",
        "all_reduce",
        "gradients_equal",
        "shards_differ",
        "parameters_equal",
    }
    assert all(c["ok"] for c in checks.values())
    assert checks["all_reduce"]["detail"] == "sum = 3 (expected 3)"
    assert len(result["losses"]) == result["steps"] == 5
    assert set(result["timings_s"]) == {"init_process_group", "all_reduce", "train_steps", "total"}
    assert all(v >= 0 for v in result["timings_s"].values())


def test_ranks_that_disagree_fail_the_script(real_runs):
    code, stdout, stderr = real_runs["bad"]
    assert code == 1, stderr[-3000:]
    result = parse_output(stdout)
    assert result["ok"] is False and result["inject"] == "ranks-disagree"
    checks = {c["name"]: c["ok"] for c in result["checks"]}
    assert checks["gradients_equal"] is False and checks["parameters_equal"] is False
    assert checks["all_reduce"] is True and checks["process_group"] is True
    assert result["error"] == "checks failed: gradients_equal, parameters_equal", stderr[-3000:]


def test_a_rank_that_dies_in_teardown_fails_the_script_beside_its_checks(real_runs):
    """Every rank reported, then one aborted (as gloo's teardown can under load): the checks
    stand, the probe fails, and the error names the signal instead of torchrun's boilerplate."""
    code, stdout, stderr = real_runs["abort"]
    assert code == 1, stderr[-3000:]
    result = parse_output(stdout)
    assert result is not None and result["ok"] is False
    assert all(c["ok"] for c in result["checks"]) and len(result["checks"]) == 5
    assert result["error"].startswith(
        "torch.distributed.run exited 1 after every rank reported: "
    ), result["error"]
    assert "SIGABRT" in result["error"] and len(result["error"]) < 1700
    assert "traceback" not in result  # a finding, not a crash of the script itself


def test_the_script_starts_torchdistributor_as_databricks_documents_it(tmp_path):
    """The Spark side without Spark: a stand-in ``pyspark.ml.torch.distributor`` records how the
    script builds and runs TorchDistributor (init(num_processes, local_mode, use_gpu),
    run(main, *args): the documented signature) and returns what rank 0 would."""
    package = tmp_path / "pyspark" / "ml" / "torch"
    package.mkdir(parents=True)
    for folder in (tmp_path / "pyspark", tmp_path / "pyspark" / "ml", package):
        (folder / "__init__.py").write_text("", encoding="utf-8")
    record = tmp_path / "calls.json"
    (package / "distributor.py").write_text(
        "import json\n"
        "class TorchDistributor:\n"
        "    def __init__(self, num_processes=1, local_mode=True, use_gpu=True):\n"
        "        self.init = {'num_processes': num_processes, 'local_mode': local_mode,"
        " 'use_gpu': use_gpu}\n"
        "    def run(self, main, *args):\n"
        f"        with open({str(record)!r}, 'w') as fh:\n"
        "            json.dump({'init': self.init, 'main': main.__name__, 'args': list(args)}, fh)\n"
        "        return {'rank': 0, 'world_size': args[0]['processes'], 'backend': 'gloo',\n"
        "                'device': 'cpu', 'torch': 'n/a', 'steps': 1, 'losses': [1.0],\n"
        "                'checks': [{'name': 'all_reduce', 'ok': True, 'detail': 'x'}],\n"
        "                'timings_s': {'total': 0.1}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--processes", "3", "--backend", "gloo", "--steps", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(tmp_path)),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    calls = json.loads(record.read_text(encoding="utf-8"))
    assert calls["init"] == {"num_processes": 3, "local_mode": True, "use_gpu": False}
    assert calls["main"] == "train"
    assert calls["args"] == [
        {"processes": 3, "backend": "gloo", "steps": 2, "inject": None, "timeout_s": 300.0}
    ]
    result = parse_output(done.stdout)
    assert result["launcher"] == "distributor" and result["ok"] is True


def test_the_probe_task_is_a_single_node_run_of_the_script():
    gpu = probe_tasks(NEW, DdpProbeOptions(processes=4, gpu=True, inject="ranks-disagree"))
    [task] = gpu
    assert task["new_cluster"]["num_workers"] == 0
    assert task["new_cluster"]["spark_conf"]["spark.master"] == "local[*]"
    assert task["new_cluster"]["node_type_id"] == "g4dn.12xlarge"
    params = task["spark_python_task"]["parameters"]
    assert params[:4] == ["--processes", "4", "--backend", "nccl"]
    assert params[-2:] == ["--inject", "ranks-disagree"]
    assert task["spark_python_task"]["python_file"] == TASK_PATH


# ------------------------------------------------------------------ through the simulator
@pytest.fixture
def horovod_store(monkeypatch):
    """A state file whose checklist has the sample's pipelines (recsys uses Horovod)."""
    monkeypatch.chdir(REPO / "sample_state")
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    store = StateStore.create_in_memory()
    record_scan(store, Scanner(crossing).scan_paths(["pipelines"]), None, roots=["pipelines"])
    yield store
    store.close()


@pytest.fixture
def ddp_output(sim):
    """Set what the probe script prints on 16.4 in the simulator; restored afterwards."""
    output = sim.scenario.outputs[NEW]

    def serve(logs: str, result_state: str = "SUCCESS", error: str = "") -> None:
        entry = {"logs": logs, "result_state": result_state}
        if error:
            entry["error"] = error
        output["files"] = {TASK_PATH: entry}

    yield serve
    output.pop("files", None)


def item(store, pipeline_id=RECSYS):
    view = next(v for v in load_checklist(store) if v.pipeline_id == pipeline_id)
    return next((i for i in view.items if i.item_key == ITEM_KEY), None)


def test_horovod_pipelines_get_the_item_at_scan_time(horovod_store):
    it = item(horovod_store)
    assert it is not None and it.status == "todo" and it.title == ITEM_TITLE
    assert it.kind == "manual" and it.severity is None
    others = [v for v in load_checklist(horovod_store) if v.pipeline_id != RECSYS]
    assert others and all(ITEM_KEY not in {i.item_key for i in v.items} for v in others)
    with pytest.raises(CockpitError, match=ITEM_KEY):
        sign_off(horovod_store, RECSYS, by="li.wen")


def test_a_passing_probe_in_the_simulator_closes_the_item(
    sim, adapter, horovod_store, ddp_output, real_runs
):
    ddp_output(real_runs["good"][1])
    seen = []
    record = run_ddp_probe(
        adapter, horovod_store, "16.4-lts-ml", options=FAST, on_progress=seen.append
    )
    assert sim.files[TASK_PATH] == script_source()
    assert seen[-1].life_cycle_state == "TERMINATED"
    assert record.state == "passed" and record.passed
    assert record.spark_version == NEW and record.processes == 2 and record.backend == "gloo"
    assert "gradients equal across ranks over 5 steps" in record.message
    assert {c["name"] for c in record.checks} >= {"all_reduce", "gradients_equal"}
    # What the simulator was sent: the script with the probe's parameters on one node.
    run = adapter.client.jobs.get_run(record.run_id).as_dict()
    task = run["tasks"][0]
    assert task["spark_python_task"]["parameters"][:4] == ["--processes", "2", "--backend", "gloo"]
    assert task["new_cluster"]["spark_version"] == NEW

    it = item(horovod_store)
    assert it.status == "pass" and it.updated_by == "ddp-probe"
    assert it.note.startswith(f"DDP probe #{record.id} (run {record.run_id} on {NEW})")
    [stored] = read_ddp_probes(horovod_store)
    assert stored == record
    kinds = [e.kind for e in horovod_store.events(kind_prefix="ddp.")]
    assert kinds == ["ddp.probe_submitted", "ddp.probe_finished"]
    item_events = [
        e.payload
        for e in horovod_store.events(kind_prefix="compat.item.")
        if e.payload["item"] == ITEM_KEY
    ]
    assert item_events[-2]["new"] == "pass" and item_events[-2]["by"] == "ddp-probe"


def test_a_failing_probe_is_recorded_with_its_output_and_fails_the_item(
    sim, adapter, horovod_store, ddp_output, real_runs
):
    code, stdout, _ = real_runs["bad"]
    ddp_output(stdout, "FAILED", f"Python script exited with code {code}")
    record = run_ddp_probe(
        adapter,
        horovod_store,
        "16.4-lts-ml",
        options=DdpProbeOptions(poll_interval_s=0.1, timeout_s=30, inject="ranks-disagree"),
    )
    assert record.state == "failed" and not record.passed
    assert "FAILED gradients_equal, parameters_equal" in record.message
    assert record.message.startswith(f"run {record.run_id} FAILED:")
    assert '"gradients_equal", "ok": false' in record.output
    assert "[error] Python script exited with code 1" in record.output
    it = item(horovod_store)
    assert it.status == "fail" and "FAILED gradients_equal" in it.note
    # A person's waiver stands against a later failing probe; a passing one closes it.
    set_item(horovod_store, RECSYS, ITEM_KEY, by="li.wen", status="waived", note="GPU only")
    run_ddp_probe(adapter, horovod_store, "16.4-lts-ml", options=FAST)
    assert item(horovod_store).status == "waived"
    ddp_output(real_runs["good"][1])
    run_ddp_probe(adapter, horovod_store, "16.4-lts-ml", options=FAST)
    assert item(horovod_store).status == "pass"
    states = [p.state for p in read_ddp_probes(horovod_store)]
    assert states == ["passed", "failed", "failed"]


def test_a_probe_on_another_runtime_leaves_the_checklist_alone(
    adapter, horovod_store, ddp_output, real_runs
):
    ddp_output(real_runs["good"][1])
    # 17.3 has no output in the scenario: its run fails, and 17.3 is not the target.
    other = run_ddp_probe(adapter, horovod_store, "17.3-lts-ml", options=FAST)
    assert other.state == "failed" and "defines no output" in other.message
    assert item(horovod_store).status == "todo"
    with pytest.raises(CockpitError, match="no CPU ML spark_version"):
        run_ddp_probe(adapter, horovod_store, "13.3-lts", options=FAST)
    with pytest.raises(CockpitError, match="no runtime"):
        run_ddp_probe(adapter, horovod_store, "9.9-nope", options=FAST)
    assert [p.runtime_id for p in read_ddp_probes(horovod_store)] == ["17.3-lts-ml"]


def test_a_run_that_prints_nothing_is_a_failure(adapter, horovod_store, ddp_output):
    ddp_output("ImportError: no module named torch\n")
    record = run_ddp_probe(adapter, horovod_store, "16.4-lts-ml", options=FAST)
    assert record.state == "failed"
    assert "printed no DDP probe JSON" in record.message
    assert "ImportError" in record.output


def test_cancel_and_read_only(adapter, horovod_store, ddp_output, real_runs, tmp_path):
    ddp_output(real_runs["good"][1])
    cancel = threading.Event()
    with pytest.raises(DdpProbeCancelled):
        run_ddp_probe(
            adapter,
            horovod_store,
            "16.4-lts-ml",
            options=FAST,
            cancel=cancel,
            on_progress=lambda s: cancel.set(),
        )
    [probe] = read_ddp_probes(horovod_store)
    assert probe.state == "cancelled" and item(horovod_store).status == "todo"
    path = tmp_path / "ro.db"
    StateStore.open(path, create=True).close()
    with StateStore.open(path, readonly=True) as ro, pytest.raises(CockpitError, match="read-only"):
        run_ddp_probe(adapter, ro, "16.4-lts-ml", options=FAST)
    with pytest.raises(CockpitError, match="--processes"):
        run_ddp_probe(adapter, horovod_store, "16.4-lts-ml", options=DdpProbeOptions(processes=0))


def test_probe_ddp_cli(sim, tmp_path, ddp_output, real_runs):
    ddp_output(real_runs["good"][1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_TOKEN=ADMIN, DATABRICKS_CONFIG_FILE=os.devnull)
    state = str(tmp_path / "state.db")

    def cockpit(*args):
        return subprocess.run(
            [sys.executable, "-m", "cockpit", "--state", state, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    done = cockpit(
        "probe", "ddp", "--runtime", "16.4-lts-ml", "--host", sim.url, "--poll-interval", "0.1"
    )
    assert done.returncode == 0, done.stderr
    assert "DDP probe #1 on 16.4-lts-ml" in done.stdout and "PASSED" in done.stdout
    assert "ok   gradients_equal" in done.stdout
    shown = cockpit("probe", "ddp", "--show", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["state"] == "passed" and data["result"]["world_size"] == 2
    assert '"cockpit_ddp_probe": 1' in data["output"]
    ddp_output(real_runs["bad"][1], "FAILED", "Python script exited with code 1")
    failed = cockpit(
        "probe", "ddp", "--runtime", "16.4-lts-ml", "--host", sim.url, "--poll-interval", "0.1"
    )
    assert failed.returncode == 1
    assert "FAIL gradients_equal" in failed.stdout and "output (tail):" in failed.stdout
    no_runtime = cockpit("probe", "ddp", "--runtime", "9.9-nope", "--host", sim.url)
    assert no_runtime.returncode == 2 and "no runtime '9.9-nope'" in no_runtime.stderr
    assert "Traceback" not in no_runtime.stderr


async def test_the_checklist_tab_runs_the_probe_on_a_horovod_pipeline(
    sim, tmp_path, monkeypatch, ddp_output, real_runs
):
    from textual.widgets import Tree

    from cockpit.config import parse_config
    from screens.app import CockpitApp
    from screens.tabs.checklist import ChecklistTab

    ddp_output(real_runs["good"][1])
    monkeypatch.setenv("DATABRICKS_TOKEN", ADMIN)
    monkeypatch.setattr("screens.tabs.checklist.DDP_POLL_S", 0.1)
    monkeypatch.chdir(REPO / "sample_state")
    config = parse_config(
        f"""
[migration]
name = "ddp test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[databricks]
host = "{sim.url}"
poll_interval_s = 600
"""
    )
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    store = StateStore.open(tmp_path / "t.db", create=True)
    record_scan(store, Scanner(crossing).scan_paths(["pipelines"]), None, roots=["pipelines"])
    app = CockpitApp(
        store=store, config=config, offline=False, tab_classes=[ChecklistTab], sources=[]
    )
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        tree = app.query_one("#cl-tree", Tree)
        # Not on a pipeline without Horovod: nothing is submitted.
        other = next(n for n in tree.root.children if n.data == ("job:kyros-churn-train", None))
        tree.move_cursor(other)
        await pilot.pause()
        await pilot.press("D")
        await pilot.pause()
        assert read_ddp_probes(store) == []
        recsys = next(n for n in tree.root.children if n.data == (RECSYS, None))
        tree.move_cursor(recsys)
        tree.focus()
        await pilot.pause()
        await pilot.press("D")
        for _ in range(1200):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.1)
            if item(store).status == "pass" and not app.query_one(ChecklistTab).ddp_running:
                break
        assert item(store).status == "pass"
        [probe] = read_ddp_probes(store)
        assert probe.passed
        labels = [str(c.label) for n in tree.root.children for c in n.children]
        assert any(ITEM_TITLE in label and "pass" in label for label in labels)
    store.close()
