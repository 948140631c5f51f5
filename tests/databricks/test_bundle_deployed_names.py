"""A bundle job and the workspace jobs its targets deployed are one pipeline, under the names
the targets give them: ``mode: development`` prefixes ``[dev <short_name>] `` and a target's
``presets.name_prefix`` replaces that prefix (Databricks bundle deployment modes). The
workspace is the simulator, inventoried through the real databricks-sdk."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from ws_helpers import REPO

from cockpit.compat.checklist import (
    findings_for,
    load_checklist,
    set_item,
    set_pipeline_owner,
    sign_off,
)
from cockpit.databricks.scenario import parse_scenario
from cockpit.databricks.simulator import WorkspaceSimulator
from cockpit.store import StateStore

TOKEN = "dapi-devnames-canary-5b2e71c09a"
OLD, NEW = "14.3.x-cpu-ml-scala2.12", "16.4.x-cpu-ml-scala2.12"

BUNDLE = """\
bundle:
  name: kyros-churn

targets:
  dev:
    mode: development
    default: true
  staging:
    mode: development
    presets:
      name_prefix: "testing_"  # presets override the development prefix
  prod:
    mode: production

resources:
  jobs:
    churn_train:
      name: kyros-churn-train
      tasks:
        - task_key: main
          new_cluster:
            spark_version: 16.4.x-cpu-ml-scala2.12
            num_workers: 2
          notebook_task:
            notebook_path: ./train.py
"""


def _job(job_id: int, name: str, version: str) -> dict:
    return {
        "job_id": job_id,
        "creator_user_name": "alice@kyros.example",
        "created_time": 1759050000000,
        "settings": {
            "name": name,
            "tasks": [
                {
                    "task_key": "main",
                    "new_cluster": {"spark_version": version, "num_workers": 2},
                    "notebook_task": {"notebook_path": "/Repos/kyros/churn/train"},
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def deployed_ws():
    scenario = {
        "format": "cockpit-workspace-scenario/1",
        "name": "bundle deployments",
        "tokens": {TOKEN: "admin"},
        "spark_versions": [
            {"key": OLD, "name": "14.3 LTS ML"},
            {"key": NEW, "name": "16.4 LTS ML"},
        ],
        "jobs": [
            _job(1, "kyros-churn-train", NEW),  # prod
            _job(2, "[dev alice] kyros-churn-train", OLD),  # alice's dev copy, still on 14.3
            _job(3, "[dev bob.smith] kyros-churn-train", NEW),
            _job(4, "testing_kyros-churn-train", OLD),  # staging
            _job(5, "[dev alice] kyros-churn-train-v2", OLD),  # another job: not this one
            _job(6, "[dev ] kyros-churn-train", OLD),  # no user: not a deployment
        ],
        "runs": [],
    }
    sim = WorkspaceSimulator(parse_scenario(scenario))
    sim.start()
    yield sim
    sim.stop()


def _run(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=os.devnull, DATABRICKS_TOKEN=TOKEN)
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_development_and_preset_deployments_join_the_bundle_pipeline(deployed_ws, tmp_path):
    (tmp_path / "databricks.yml").write_text(BUNDLE, encoding="utf-8")
    (tmp_path / "train.py").write_text("import mlflow\n", encoding="utf-8")
    state = str(tmp_path / "c.db")
    inventory = _run(
        "--state", state, "inventory", "--host", deployed_ws.url, "--no-history", cwd=REPO
    )
    assert inventory.returncode == 0, inventory.stderr
    check = _run("--state", state, "check", "databricks.yml", "--record", cwd=tmp_path)
    assert check.returncode in (0, 1), check.stderr
    assert "Traceback" not in check.stderr

    with StateStore.open(tmp_path / "c.db", readonly=True) as store:
        ids = {v.pipeline_id: v for v in load_checklist(store)}
        churn = ids["job:kyros-churn-train"]
        assert churn.kind == "bundle-job" and churn.origin == "databricks.yml"
        # Every deployment of the job is in its pipeline, none a pipeline of its own.
        for deployed in (
            "[dev alice] kyros-churn-train",
            "[dev bob.smith] kyros-churn-train",
            "testing_kyros-churn-train",
        ):
            assert f"job:{deployed}" not in ids, deployed
        job101 = {f.path for f in findings_for(store, "job:kyros-churn-train", "JOB101")}
        assert job101 == {
            "workspace:[dev alice] kyros-churn-train",
            "workspace:testing_kyros-churn-train",
        }
        # Names that only look alike stay apart.
        assert ids["job:[dev alice] kyros-churn-train-v2"].kind == "workspace-job"
        assert ids["job:[dev ] kyros-churn-train"].kind == "workspace-job"


ALICE, TESTING = "job:[dev alice] kyros-churn-train", "job:testing_kyros-churn-train"


@pytest.mark.parametrize("waived", ["both deployments", "one deployment"])
def test_a_walkthrough_of_the_deployments_carries_to_the_bundle_pipeline(
    deployed_ws, tmp_path, waived
):
    """The workspace was walked before the bundle was scanned: its deployments were pipelines
    of their own then. What people decided on them is not lost when the bundle's scan joins
    them to its pipeline; a waiver carries only over findings someone waived."""
    (tmp_path / "bundle").mkdir()
    (tmp_path / "bundle" / "databricks.yml").write_text(BUNDLE, encoding="utf-8")
    (tmp_path / "bundle" / "train.py").write_text("import mlflow\n", encoding="utf-8")
    (tmp_path / "nothing").mkdir()
    state = str(tmp_path / "c.db")
    inventory = _run(
        "--state", state, "inventory", "--host", deployed_ws.url, "--no-history", cwd=REPO
    )
    assert inventory.returncode == 0, inventory.stderr
    first = _run("--state", state, "check", ".", "--record", cwd=tmp_path / "nothing")
    assert first.returncode in (0, 1) and "Traceback" not in first.stderr, first.stderr

    with StateStore.open(state) as store:
        ids = {v.pipeline_id for v in load_checklist(store)}
        assert {ALICE, TESTING} <= ids and "job:kyros-churn-train" in ids
        why = "dev copy on 14.3 until the sprint ends; deleted at cutover"
        set_item(store, ALICE, "rule:JOB101", by="erin", status="waived", note=why)
        set_item(store, ALICE, "rule:JOB101", by="erin", owner="carol")
        if waived == "both deployments":
            set_item(store, TESTING, "rule:JOB101", by="frank", status="waived", note="staging")
        set_pipeline_owner(store, ALICE, "dave", by="erin")
        for item in (
            "manual:ran-green-on-the-target-runtime",
            "manual:tracking-uri-switched-to-the-new-server",
        ):
            set_item(store, ALICE, item, by="erin", status="pass", note="seen in run 42")
        sign_off(store, ALICE, by="erin")

    second = _run("--state", state, "check", "databricks.yml", "--record", cwd=tmp_path / "bundle")
    assert second.returncode in (0, 1) and "Traceback" not in second.stderr, second.stderr

    with StateStore.open(state, readonly=True) as store:
        views = {v.pipeline_id: v for v in load_checklist(store)}
        assert ALICE not in views and TESTING not in views
        churn = views["job:kyros-churn-train"]
        items = {i.item_key: i for i in churn.items}
        job101 = items["rule:JOB101"]
        assert job101.owner == "carol"
        if waived == "both deployments":
            # Every finding of the joined item was waived on some deployment: the latest
            # decision (frank's, on staging) is the item's.
            assert (job101.status, job101.note, job101.updated_by) == ("waived", "staging", "frank")
        else:
            # The staging deployment's finding was never waived: the item stays a failure,
            # with the note that explains alice's copy.
            assert job101.status == "fail" and job101.note == why
        ran = items["manual:ran-green-on-the-target-runtime"]
        assert (ran.status, ran.note, ran.updated_by) == ("pass", "seen in run 42", "erin")
        # The sign-off covered the deployment's code, not the bundle's: signed again.
        assert churn.signed_off_by is None
        assert items["manual:owner-signed-off"].status == "todo"
        assert churn.owner == "dave"
        # The carried decisions are events of the people who made them, naming where they came
        # from, so the history replayed at the last moment is what the tables hold.
        carried = [
            e.payload
            for e in store.events(kinds=["compat.item.status", "compat.item.note"])
            if e.payload.get("carried_from_pipeline")
        ]
        assert {(p["item"], p["by"]) for p in carried} >= {
            ("manual:ran-green-on-the-target-runtime", "erin")
        }
        last = store.query_one("SELECT MAX(ts) AS ts FROM events")["ts"]
        replayed = {v.pipeline_id: v for v in load_checklist(store, as_of=last)}
        again = replayed["job:kyros-churn-train"]
        assert again.owner == churn.owner
        assert [(i.item_key, i.status, i.note, i.owner, i.updated_by) for i in again.items] == [
            (i.item_key, i.status, i.note, i.owner, i.updated_by) for i in churn.items
        ]
        # Each carried change is credited to whoever made it, and nothing unchanged is logged.
        owner_events = [
            e.payload
            for e in store.events(kinds=["compat.item.owner"])
            if e.payload["pipeline"] == "job:kyros-churn-train"
        ]
        assert [(p["item"], p["new"], p["by"]) for p in owner_events] == [
            ("rule:JOB101", "carol", "erin")
        ]
        statuses = [
            e.payload
            for e in store.events(kinds=["compat.item.status"])
            if e.payload["pipeline"] == "job:kyros-churn-train"
        ]
        assert all(p["old"] != p["new"] for p in statuses)

    # A later scan changes none of it (the deployments' pipelines are gone: nothing carried
    # twice), and a person's later change stays theirs.
    with StateStore.open(state) as store:
        set_item(store, "job:kyros-churn-train", "rule:JOB101", by="gina", note="")
    third = _run("--state", state, "check", "databricks.yml", "--record", cwd=tmp_path / "bundle")
    assert third.returncode in (0, 1), third.stderr
    with StateStore.open(state, readonly=True) as store:
        churn = {v.pipeline_id: v for v in load_checklist(store)}["job:kyros-churn-train"]
        job101 = next(i for i in churn.items if i.item_key == "rule:JOB101")
        assert job101.note == "" and job101.updated_by == "gina"
