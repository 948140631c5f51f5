"""`cockpit check --workspace`: the code workspace jobs run, fetched by the real databricks-sdk
from the simulator (1,000+ jobs with planted breakages), scanned at the path the job names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ws_helpers import REPO

from cockpit.compat.checklist import findings_for, load_checklist
from cockpit.databricks.scenario import parse_scenario
from cockpit.databricks.scenario_code import code_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.databricks.workspace_code import location_of, read_code_text, resolve_run
from cockpit.store import StateStore

TOKEN = "dapi-code-canary-7f3a9c21e5b04d18"
N_JOBS = 1000


@pytest.fixture(scope="module")
def code_ws():
    scenario, expected = code_scenario(N_JOBS, token=TOKEN)
    sim = WorkspaceSimulator(parse_scenario(scenario))
    sim.start()
    yield sim, expected
    sim.stop()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=TOKEN, COCKPIT_DEBUG="")
    return {**env, **extra}


def _run(*args: str, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _check(state, sim, *extra: str):
    result = _run("--state", str(state), "check", "--workspace", "--host", sim.url, *extra)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.fixture(scope="module")
def scanned(code_ws, tmp_path_factory):
    """inventory, then check --workspace through a burst of 429s with Retry-After."""
    sim, _expected = code_ws
    state = tmp_path_factory.mktemp("code") / "c.db"
    inventory = _run("--state", str(state), "inventory", "--host", sim.url, "--no-history")
    assert inventory.returncode == 0, inventory.stderr
    sim.faults.set(rate_limit=12, retry_after=1)
    result = _check(state, sim, "--format", "json")
    assert sim.faults.snapshot()["rate_limit"] == 0  # every 429 was met, and retried
    return state, json.loads(result.stdout), result


def test_every_planted_breakage_is_reported_at_its_workspace_path_and_line(code_ws, scanned):
    _sim, expected = code_ws
    _state, data, result = scanned
    assert result.returncode == 1
    found = {(f["code"], f["path"], f["line"]) for f in data["findings"]}
    missing = [e for e in expected if (e.code, e.path, e.line) not in found]
    assert not missing, missing[:5]
    assert len(expected) > 500
    # Nothing anywhere else: every code finding sits in a file a breakage was planted in
    # (the scanner may flag a second line there), every other finding is a job's config.
    planted = {e.path for e in expected}
    stray = [
        f
        for f in data["findings"]
        if f["path"] not in planted and not f["path"].startswith("workspace:")
    ]
    assert not stray, stray[:3]


def test_silent_on_modern_code_comments_and_sql(scanned):
    _state, data, _result = scanned
    paths = {f["path"] for f in data["findings"]}
    for j in (3, 4, 5, 13, 14, 15, 993, 994, 995):
        folder = f"/Repos/etl/pipelines/job_{j:05d}/"
        assert not [p for p in paths if p.startswith(folder)], folder
    notes = {(n["kind"], n["path"]) for n in data["notes"]}
    assert ("not-python", "/Repos/etl/pipelines/job_00004/report") in notes
    assert ("git", "etl/main") in notes
    sql = next(n for n in data["notes"] if n["path"].endswith("job_00004/report"))
    assert sql["message"] == "SQL notebook: the Python rules do not apply"


def test_missing_forbidden_and_run_helpers(scanned):
    _state, data, _result = scanned
    by_key = {(f["code"], f["path"]): f for f in data["findings"]}
    missing = by_key[("WSP001", "/Repos/etl/pipelines/job_00008/deleted_notebook")]
    assert missing["severity"] == "blocking" and "does not exist" in missing["message"]
    forbidden = by_key[("WSP002", "/Users/hr@example.com/salaries")]
    assert "permission" in forbidden["message"].lower()
    # The helper cycle (cycle_a %runs cycle_b %runs cycle_a) is scanned once each; the 1.x API
    # in cycle_a is judged with the MLflow its own %pip installs, and says so.
    mlf = [f for f in data["findings"] if f["code"] == "MLF103"]
    assert len(mlf) == 1 and mlf[0]["path"] == "/Shared/lib/cycle_a"
    assert "MLflow 1.30.1 from %pip install in /Shared/lib/cycle_a:2" in mlf[0]["message"]
    direct = by_key[("MLF101", "/Repos/etl/pipelines/job_00000/train")]
    assert "from %pip install in /Repos/etl/pipelines/job_00000/train:2" in direct["message"]
    assert len([f for f in data["findings"] if f["code"] == "PY306"]) == 1


def test_the_token_reaches_no_output_state_or_event(scanned):
    state, _data, result = scanned
    assert TOKEN not in result.stdout and TOKEN not in result.stderr
    assert TOKEN.encode() not in state.read_bytes()
    with StateStore.open(state, readonly=True) as store:
        events = store.events(kinds=["databricks.code_fetched"])
        assert events and events[-1].payload["objects"] > 900
        assert TOKEN not in json.dumps([e.payload for e in store.events()])


def test_rescan_exports_only_what_changed(code_ws, scanned, tmp_path):
    sim, _expected = code_ws
    state, _data, _result = scanned
    copy = tmp_path / "again.db"
    copy.write_bytes(state.read_bytes())
    before = sim.api_requests("/api/2.0/workspace/export")
    again = _check(copy, sim, "--format", "json")
    assert sim.api_requests("/api/2.0/workspace/export") == before
    assert "0 exported" in again.stderr

    path = "/Repos/etl/pipelines/job_00003/modern"
    sim.put_object(
        path,
        content="# Databricks notebook source\nimport imp\n",
        language="PYTHON",
        object_type="NOTEBOOK",
    )
    try:
        edited = json.loads(_check(copy, sim, "--format", "json").stdout)
    finally:
        sim.put_object(path, content="# Databricks notebook source\nprint(1)\n")
    assert sim.api_requests("/api/2.0/workspace/export") == before + 1
    assert ("PY302", path, 2) in {(f["code"], f["path"], f["line"]) for f in edited["findings"]}


def test_offline_rescan_and_checklist_rollup_with_owners(scanned, tmp_path):
    state, data, _result = scanned
    copy = tmp_path / "rec.db"
    copy.write_bytes(state.read_bytes())
    offline = _run(
        "--state", str(copy), "check", "--workspace", "--offline", "--format", "json", "--record"
    )
    assert offline.returncode == 1, offline.stderr
    assert json.loads(offline.stdout)["findings"] == data["findings"]
    with StateStore.open(copy, readonly=True) as store:
        views = {v.pipeline_id: v for v in load_checklist(store)}
        train = views["job:code-job-00000"]
        assert train.owner == "owner0@example.com"
        codes = {f.code for f in findings_for(store, "job:code-job-00000")}
        assert {"MLF101", "JOB101"} <= codes
        # The %run helper's findings belong to the job that runs it.
        helper = findings_for(store, "job:code-job-00009", "PY306")
        assert [f.path for f in helper] == ["/Shared/lib/cycle_b"]
        # Offline review has the exported source to show the offending line.
        text = read_code_text(store, "/Repos/etl/pipelines/job_00000/train")
        assert text is not None and "list_experiments" in text.splitlines()[7]


def test_sarif_and_markdown_carry_workspace_findings(scanned, tmp_path):
    state, _data, _result = scanned
    copy = tmp_path / "s.db"
    copy.write_bytes(state.read_bytes())
    sarif = json.loads(
        _run("--state", str(copy), "check", "--workspace", "--offline", "--format", "sarif").stdout
    )
    run = sarif["runs"][0]
    assert "WSP001" in {r["id"] for r in run["tool"]["driver"]["rules"]}
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert any("job_00000/train" in u for u in uris)
    markdown = _run(
        "--state", str(copy), "check", "--workspace", "--offline", "--format", "markdown"
    )
    assert "## Not checked" in markdown.stdout


def test_check_workspace_without_inventory_is_one_line(tmp_path):
    result = _run("--state", str(tmp_path / "none.db"), "check", "--workspace", "--offline")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "cockpit: error:" in result.stderr


def test_paths_resolve_like_the_workspace():
    assert location_of("/Workspace/Repos/a/b") == "/Repos/a/b"
    assert location_of("/Users/x@y.com/nb") == "/Users/x@y.com/nb"
    assert location_of("dbfs:/scripts//a.py") == "dbfs:/scripts/a.py"
    assert location_of("/dbfs/scripts/a.py") == "dbfs:/scripts/a.py"
    assert location_of("etl/main.py") is None
    assert resolve_run("/Repos/a/b/nb", "./helpers/x") == "/Repos/a/b/helpers/x"
    assert resolve_run("/Repos/a/b/nb", '"../lib/x"') == "/Repos/a/lib/x"
    assert resolve_run("/Repos/a/b/nb", "/Workspace/Shared/x") == "/Shared/x"
    assert resolve_run("dbfs:/x.py", "./y") is None


def test_jobs_on_all_purpose_clusters_carry_the_clusters_facts(code_ws, scanned):
    sim, _expected = code_ws
    state, data, _result = scanned
    stored = _run("--state", str(state), "inventory", "--stored", "--format", "json")
    assert stored.returncode == 0, stored.stderr
    jobs = {j["name"]: j for j in json.loads(stored.stdout)["jobs"]}
    listed = jobs["code-job-on-shared-cluster"]
    assert listed["runtime"] == "14.3-lts-ml"
    assert listed["tracking_uri"] == "https://mlflow-old.example"
    assert "pypi:mlflow==1.30.1" in listed["tasks"][0]["cluster_libraries"]
    # clusters/list no longer shows it; clusters/get still answers.
    old = jobs["code-job-on-old-cluster"]
    assert old["runtime"] == "16.4-lts-ml" and old["tracking_uri"] == "https://mlflow-new.example"
    assert old["tasks"][0]["cluster_state"] == "TERMINATED"
    gone = jobs["code-job-on-deleted-cluster"]
    assert gone["tasks"][0]["cluster_state"] == "GONE"
    assert sim.api_requests("/api/2.1/clusters/get") >= 3

    by_key = {(f["code"], f["path"]): f for f in data["findings"]}
    lost = by_key[("WSP003", "workspace:code-job-on-deleted-cluster")]
    assert "0101-000000-deleted0" in lost["message"] and lost["severity"] == "blocking"
    # The shared notebook's 1.x call is judged with the cluster's mlflow==1.30.1, and says so;
    # the cluster's Horovod library is the job's too.
    mlf = by_key[("MLF102", "/Repos/etl/shared_cluster/score")]
    assert "cluster library pypi:mlflow==1.30.1" in mlf["message"]
    assert ("DBR101", "workspace:code-job-on-shared-cluster") in by_key


def test_simulator_answers_the_sdks_workspace_dbfs_and_cluster_calls(code_ws):
    from databricks.sdk import errors
    from databricks.sdk.service.workspace import ExportFormat, ObjectType
    from ws_helpers import connect

    sim, _expected = code_ws
    client = connect(sim, token=TOKEN).client
    info = client.workspace.get_status("/Workspace/Repos/etl/pipelines/job_00000/train")
    assert info.object_type == ObjectType.NOTEBOOK and info.language.value == "PYTHON"
    exported = client.workspace.export(
        "/Repos/etl/pipelines/job_00000/train", format=ExportFormat.SOURCE
    )
    assert exported.file_type == "py"
    listed = [o.path for o in client.workspace.list("/Shared/lib")]
    assert "/Shared/lib/cycle_a" in listed
    with pytest.raises(errors.NotFound):
        client.workspace.get_status("/Repos/etl/pipelines/job_00008/deleted_notebook")
    with pytest.raises(errors.PermissionDenied):
        client.workspace.export("/Users/hr@example.com/salaries")
    status = client.dbfs.get_status("/scripts/job_00007.py")
    head = client.dbfs.read("/scripts/job_00007.py", offset=0, length=6)
    assert status.file_size > 6 and head.bytes_read == 6
    assert client.clusters.get("0101-000000-oldclust").state.value == "TERMINATED"
    assert "0101-000000-oldclust" not in {c.cluster_id for c in client.clusters.list()}
    # The SDK maps the real answer (400 INVALID_PARAMETER_VALUE "... does not exist") to NotFound.
    with pytest.raises(errors.NotFound, match="does not exist"):
        client.clusters.get("0101-000000-deleted0")
    libraries = list(client.libraries.cluster_status("0101-000000-shared01"))
    assert libraries[0].library.pypi.package == "mlflow==1.30.1"


def test_checklist_rescan_keeps_the_workspace_findings(scanned, tmp_path):
    """The Checklist tab's re-scan (`r`) runs the recorded scan again: the workspace code it
    stored is scanned again too (offline), so no workspace finding disappears from the checklist."""
    from cockpit.compat.rescan import plan_rescan, run_rescan

    state, _data, _result = scanned
    copy = tmp_path / "r.db"
    copy.write_bytes(state.read_bytes())
    recorded = _run(
        "--state", str(copy), "check", "--workspace", "--offline", "--format", "json", "--record"
    )
    assert recorded.returncode == 1, recorded.stderr
    with StateStore.open(copy) as store:
        before = {f.code for f in findings_for(store, "job:code-job-00000")}
        argv = plan_rescan(store, None).argv
        assert "--workspace" in argv
        # No local path was scanned, so none is re-scanned (it used to record ".", the folder
        # the re-scan would then start from).
        assert argv[argv.index("check") + 1] == "--from" and "." not in argv
        run_rescan(store, None)
    with StateStore.open(copy, readonly=True) as store:
        after = {f.code for f in findings_for(store, "job:code-job-00000")}
    assert "MLF101" in before and after == before
