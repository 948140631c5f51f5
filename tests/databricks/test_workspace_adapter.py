"""The real databricks-sdk against the simulator: pagination, retries, faults, auth, submit."""

from __future__ import annotations

import time

import pytest
from ws_helpers import ADMIN, BIG_TOKEN, READER, connect, scenario_json, write_profile

from cockpit import secrets
from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter
from cockpit.databricks.errors import WorkspaceError, WorkspaceInputError
from cockpit.errors import CockpitError

PROBE_TASK = {
    "task_key": "probe",
    "new_cluster": {
        "spark_version": "16.4.x-cpu-ml-scala2.12",
        "num_workers": 0,
        "node_type_id": "i3.xlarge",
    },
    "spark_python_task": {"python_file": "/Workspace/Shared/cockpit/probe_task.py"},
}


def test_jobs_and_runs_come_back_from_every_page(big_sim):
    adapter = connect(big_sim, token=BIG_TOKEN)
    before_jobs = big_sim.api_requests("/api/2.2/jobs/list")
    before_runs = big_sim.api_requests("/api/2.2/jobs/runs/list")

    jobs = adapter.list_jobs()
    runs = adapter.list_runs()

    assert len({j.job_id for j in jobs}) == 250
    assert big_sim.api_requests("/api/2.2/jobs/list") - before_jobs == 3  # 100 + 100 + 50
    assert len({r.run_id for r in runs}) == 130
    assert big_sim.api_requests("/api/2.2/jobs/runs/list") - before_runs == 6  # 25 per page
    assert [r.start for r in runs] == sorted((r.start for r in runs), reverse=True)
    assert {r.runtime for r in runs} == {"14.3-lts-ml", "16.4-lts-ml"}


def test_runs_of_one_job_from_a_start_time(adapter):
    jobs = {j.name: j for j in adapter.list_jobs()}
    churn = jobs["kyros-churn-train"]
    runs = adapter.list_runs(job_id=churn.job_id)
    assert len(runs) == 22
    newest_first = sorted(runs, key=lambda r: -r.start)
    recent = adapter.list_runs(job_id=churn.job_id, start_time_from=newest_first[4].start)
    assert [r.run_id for r in recent] == [r.run_id for r in newest_first[:5]]


def test_job_definition_keeps_what_the_checklist_needs(adapter):
    jobs = {j.name: j for j in adapter.list_jobs()}
    recsys = jobs["kyros-recsys-train"]
    assert "pypi:horovod==0.28.1" in recsys.libraries
    assert recsys.runtime == "14.3-lts-ml"
    assert recsys.tracking_uri == "https://mlflow-old.kyros.example"
    assert recsys.schedule == "0 0 4 ? * SUN"
    embed = jobs["kyros-image-embed"]
    assert embed.init_scripts == ("dbfs:dbfs:/databricks/init/kyros/opencv.sh",)
    batch = adapter.get_job(jobs["kyros-batch-score"].job_id)
    assert [t.task_key for t in batch.tasks] == ["prepare", "score"]
    assert [t.kind for t in batch.tasks] == ["notebook", "python"]
    assert jobs["kyros-ltv-model"].runtime == "16.4-lts-ml"


def test_spark_versions_and_clusters(adapter):
    versions = {v.key: v for v in adapter.spark_versions()}
    assert versions["16.4.x-cpu-ml-scala2.12"].runtime == "16.4-lts-ml"
    clusters = {c.name: c for c in adapter.list_clusters()}
    assert clusters["kyros-ds-shared"].runtime == "14.3-lts-ml"
    assert clusters["kyros-ds-shared"].state == "RUNNING"


def test_429_with_retry_after_is_waited_out_and_retried(sim, adapter):
    before = sim.api_requests("/api/2.1/clusters/spark-versions")
    sim.faults.set(rate_limit=2, retry_after=1)
    started = time.monotonic()
    versions = adapter.spark_versions()
    elapsed = time.monotonic() - started
    assert versions
    assert sim.api_requests("/api/2.1/clusters/spark-versions") - before == 3
    assert elapsed >= 2.0  # the SDK honoured Retry-After: 1 twice


def test_a_burst_of_503s_is_survived(sim, adapter):
    sim.faults.set(error_burst=3, error_status=503, retry_after=0)
    assert len(adapter.list_jobs()) == 14


def test_a_500_is_a_one_line_error_and_the_next_call_works(sim, adapter):
    sim.faults.set(error_burst=1, error_status=500)
    with pytest.raises(WorkspaceError) as err:
        adapter.list_jobs()
    assert err.value.exit_code == 3
    assert "failed to list jobs" in err.value.message
    assert "\n" not in err.value.message
    assert len(adapter.list_jobs()) == 14


def test_a_dropped_connection_is_retried(sim, adapter):
    sim.faults.set(drop=1)
    assert len(adapter.list_jobs()) == 14


def test_rate_limited_past_the_retry_budget_says_so(sim):
    adapter = connect(sim, retry_timeout_s=2)
    sim.faults.set(rate_limit=50, retry_after=1)
    with pytest.raises(WorkspaceError) as err:
        adapter.list_jobs()
    assert "rate-limiting" in err.value.message


def test_a_bad_token_is_a_clear_error_without_the_token(sim):
    bad = "dapi-this-token-is-wrong-123456"
    adapter = connect(sim, token=bad)
    with pytest.raises(WorkspaceError) as err:
        adapter.list_jobs()
    assert "refused the token (401)" in err.value.message
    assert bad not in err.value.message
    assert bad in secrets._secrets  # registered, so the store scrubs it


def test_missing_permission_is_named(sim):
    reader = connect(sim, token=READER)
    assert len(reader.list_jobs()) == 14  # reading is allowed
    with pytest.raises(WorkspaceError) as err:
        reader.submit_run("probe", [PROBE_TASK])
    assert "missing permission to submit run" in err.value.message


def test_wrong_host_fails_fast():
    started = time.monotonic()
    with pytest.raises(WorkspaceError) as err:
        WorkspaceAdapter.connect(ConnectOptions(host="http://127.0.0.1:9", token=ADMIN))
    assert time.monotonic() - started < 5
    assert "cannot reach http://127.0.0.1:9" in err.value.message


def test_profile_in_a_config_file(sim, tmp_path, monkeypatch):
    cfg = write_profile(tmp_path, sim)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    adapter = WorkspaceAdapter.connect(ConnectOptions(profile="kyros", retry_timeout_s=10))
    assert adapter.host == sim.url
    assert len(adapter.list_jobs()) == 14


def test_unknown_profile_is_an_input_error(tmp_path, sim, monkeypatch):
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(write_profile(tmp_path, sim)))
    with pytest.raises(WorkspaceInputError) as err:
        WorkspaceAdapter.connect(ConnectOptions(profile="nope"))
    assert "no profile [nope]" in err.value.message


def test_submit_poll_output_and_cancel(sim, adapter):
    run_id = adapter.submit_run("cockpit probe", [PROBE_TASK], idempotency_token="t-1")
    assert adapter.submit_run("cockpit probe", [PROBE_TASK], idempotency_token="t-1") == run_id
    assert adapter.get_run(run_id).life_cycle_state == "PENDING"
    deadline = time.monotonic() + 10
    while not (status := adapter.get_run(run_id)).done and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status.succeeded
    assert status.duration_s is not None and status.duration_s > 0
    output = adapter.get_run_output(run_id)
    assert '"python_libraries"' in output.logs

    other = adapter.submit_run("to cancel", [PROBE_TASK])
    adapter.cancel_run(other)
    cancelled = adapter.get_run(other)
    assert (cancelled.life_cycle_state, cancelled.result_state) == ("TERMINATED", "CANCELED")


def test_submit_on_an_unknown_spark_version_is_an_input_error(adapter):
    task = {**PROBE_TASK, "new_cluster": {**PROBE_TASK["new_cluster"], "spark_version": "9.9.x"}}
    with pytest.raises(WorkspaceInputError) as err:
        adapter.submit_run("probe", [task])
    assert "Invalid spark version 9.9.x" in err.value.message


def test_unknown_job_is_an_input_error(adapter):
    with pytest.raises(WorkspaceInputError) as err:
        adapter.get_job(424242)
    assert "Job 424242 does not exist" in err.value.message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "x"}, "format must be"),
        ({"tokens": {}}, "tokens must map"),
        ({"tokens": {"abcdefgh": "root"}}, "token role 'root'"),
        (
            {"runs": [{"run_id": 1, "job_id": 99999, "start_time": 0, "duration_ms": 1}]},
            "not a job",
        ),
    ],
)
def test_bad_scenarios_are_one_line_errors(change, message):
    from cockpit.databricks.scenario import parse_scenario

    with pytest.raises(CockpitError) as err:
        parse_scenario({**scenario_json(), **change})
    assert message in err.value.message


def test_faults_can_be_switched_over_http(sim, adapter):
    import requests

    url = f"{sim.url}/_sim/faults"
    refused = requests.post(url, json={"rate_limit": 1}, timeout=10)
    assert refused.status_code == 401  # no admin token, no switching
    as_reader = {"Authorization": f"Bearer {READER}"}
    assert requests.post(url, json={"drop": 1}, headers=as_reader, timeout=10).status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN}"}
    bad = requests.post(url, json={"explode": 1}, headers=admin, timeout=10)
    assert bad.status_code == 400 and "unknown fault" in bad.json()["message"]
    ok = requests.post(url, json={"error_burst": 1, "error_status": 500}, headers=admin, timeout=10)
    assert ok.json()["error_burst"] == 1
    with pytest.raises(WorkspaceError):
        adapter.spark_versions()
    stats = requests.get(f"{sim.url}/_sim/stats", headers=admin, timeout=10).json()
    assert stats["faults"]["error_burst"] == 0
    assert stats["requests"]["/api/2.1/clusters/spark-versions"] >= 1


def test_a_job_with_more_than_100_tasks_comes_back_whole():
    from cockpit.databricks.scenario import parse_scenario
    from cockpit.databricks.simulator import WorkspaceSimulator

    data = scenario_json()
    wide = {
        "job_id": 999,
        "creator_user_name": "etl@kyros.example",
        "settings": {
            "name": "kyros-wide-etl",
            "job_clusters": [
                {
                    "job_cluster_key": "main",
                    "new_cluster": {"spark_version": "16.4.x-cpu-ml-scala2.12", "num_workers": 1},
                }
            ],
            "tasks": [
                {
                    "task_key": f"t{i:03d}",
                    "job_cluster_key": "main",
                    "notebook_task": {"notebook_path": f"/etl/t{i:03d}"},
                }
                for i in range(130)
            ],
        },
    }
    data["jobs"] = [*data["jobs"], wide]
    data["runs"] = [
        {"run_id": 1, "job_id": 999, "start_time": 1_790_000_000_000, "duration_ms": 60_000}
    ]
    with WorkspaceSimulator(parse_scenario(data)) as sim:
        adapter = connect(sim)
        jobs = {j.name: j for j in adapter.list_jobs()}
        assert len(jobs["kyros-wide-etl"].tasks) == 130
        assert sim.api_requests("/api/2.2/jobs/get") == 2  # two pages of tasks
        assert len(adapter.get_job(999).tasks) == 130
        [run] = adapter.list_runs()
        assert (run.job_name, run.runtime, run.duration_s) == (
            "kyros-wide-etl",
            "16.4-lts-ml",
            60.0,
        )
        assert sim.api_requests("/api/2.2/jobs/runs/get") == 2


def test_a_workspace_slower_than_the_http_timeout_is_reported(sim):
    adapter = connect(sim, http_timeout_s=1, retry_timeout_s=2)
    sim.faults.set(delay_s=1.5)
    started = time.monotonic()
    with pytest.raises(WorkspaceError) as err:
        adapter.spark_versions()
    assert "did not answer in time" in err.value.message
    assert time.monotonic() - started < 10
