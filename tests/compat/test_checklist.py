"""The checklist in the state store: rollup, re-scan keeps people's decisions, history, sign-off,
time travel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cockpit.compat.checklist import (
    findings_for,
    history,
    load_checklist,
    progress,
    record_scan,
    set_item,
    sign_off,
)
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.config import parse_config
from cockpit.errors import CockpitError
from cockpit.store import StateStore

SAMPLES = Path(__file__).resolve().parent / "samples"
CONFIG = """
[migration]
name = "test"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[mlflow.old]
tracking_uri = "https://mlflow-old.kyros.example"

[pipelines]
mlflow_from = "1.30.1"

[checklist]
manual_items = ["ran green on the target runtime", "owner signed off"]
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    shutil.copytree(SAMPLES / "bundle", tmp_path / "bundle")
    shutil.copytree(SAMPLES / "jobs", tmp_path / "jobs")
    monkeypatch.chdir(tmp_path)
    config = parse_config(CONFIG, base_dir=tmp_path)
    clock = Clock()
    store = StateStore.open(tmp_path / "state.db", create=True, clock=clock)
    yield tmp_path, config, store, clock
    store.close()


def scan(config, paths=("bundle", "jobs")):
    crossing = build_crossing(
        "14.3-lts-ml",
        "16.4-lts-ml",
        overrides={"mlflow": (config.pipelines.mlflow_from, None)},
        old_tracking_uri=config.mlflow.old.tracking_uri,
    )
    return Scanner(crossing).scan_paths(list(paths))


def items_of_as_of(store, pipeline_id, as_of):
    view = next(v for v in load_checklist(store, as_of=as_of) if v.pipeline_id == pipeline_id)
    return {i.item_key: i for i in view.items}, view


def items_of(store, pipeline_id):
    view = next(v for v in load_checklist(store) if v.pipeline_id == pipeline_id)
    return {i.item_key: i for i in view.items}, view


def test_rollup_jobs_files_and_manual_items(workspace):
    _, config, store, _ = workspace
    summary = record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    views = {v.pipeline_id: v for v in load_checklist(store)}
    assert set(views) == {"job:forecast-daily", "job:forecast-backfill", "job:churn-nightly"}
    assert summary.pipelines == 3
    daily = views["job:forecast-daily"]
    assert daily.kind == "bundle-job"
    assert daily.tracking_uri == "https://mlflow-old.kyros.example"
    keys = [i.item_key for i in daily.items]
    # The notebook the job runs is part of the pipeline (MLF101 comes from src/train_forecast.py).
    assert keys == [
        "rule:JOB101",
        "rule:JOB102",
        "rule:JOB108",
        "rule:MLF101",
        "rule:REQ102",
        "manual:ran-green-on-the-target-runtime",
        "manual:owner-signed-off",
    ]
    status = {i.item_key: i.status for i in daily.items}
    assert status["rule:JOB101"] == "fail" and status["rule:JOB108"] == "todo"
    paths = {f.path for f in findings_for(store, "job:forecast-daily")}
    assert paths == {
        "bundle/databricks.yml",
        "bundle/resources/forecast.yml",
        "bundle/src/train_forecast.py",
    }
    assert progress(list(views.values())) == (0, 3)


def test_rescan_keeps_decisions_and_updates_automatic_items(workspace):
    root, config, store, _ = workspace
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    set_item(
        store,
        "job:forecast-daily",
        "rule:JOB102",
        by="ana",
        status="waived",
        note="wheel moves to a volume in week 2",
    )
    set_item(
        store,
        "job:forecast-daily",
        "manual:ran-green-on-the-target-runtime",
        by="ana",
        status="pass",
        owner="li",
    )
    set_item(
        store,
        "job:forecast-daily",
        "rule:REQ102",
        by="li",
        status="pass",
        note="1.30 pin stays until the server moves",
    )
    # Fix the notebook: MLF101 disappears on the next scan.
    nb = root / "bundle/src/train_forecast.py"
    nb.write_text(nb.read_text().replace("list_experiments", "search_experiments"))
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    items, _ = items_of(store, "job:forecast-daily")
    assert items["rule:MLF101"].status == "pass" and items["rule:MLF101"].finding_count == 0
    assert items["rule:JOB102"].status == "waived"
    assert items["rule:JOB102"].note == "wheel moves to a volume in week 2"
    assert items["manual:ran-green-on-the-target-runtime"].status == "pass"
    assert items["manual:ran-green-on-the-target-runtime"].owner == "li"
    assert items["rule:REQ102"].status == "pass"  # a reviewed warning stays reviewed
    assert items["rule:JOB101"].status == "fail"


def test_a_decision_under_a_folded_code_carries_to_the_rule_it_went_into(workspace):
    """An older state file holds the item under a code since folded into another rule (MLA062,
    mlflow.sklearn.MlflowClient.list_experiments, is now MLF101): the person's waiver, owner
    and note carry to the new item instead of reopening as a failure under MLF101."""
    _, config, store, _ = workspace
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    with store.write() as tx:  # what the same scan wrote before the fold
        tx.execute(
            "UPDATE checklist_items SET item_key = 'rule:MLA062', code = 'MLA062'"
            " WHERE pipeline_id = 'job:forecast-daily' AND item_key = 'rule:MLF101'"
        )
    set_item(
        store,
        "job:forecast-daily",
        "rule:MLA062",
        by="ana",
        status="waived",
        owner="li",
        note="the client moves with the server cutover",
    )
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    items, _ = items_of(store, "job:forecast-daily")
    new = items["rule:MLF101"]
    assert new.finding_count >= 1
    assert (new.status, new.owner, new.note) == (
        "waived",
        "li",
        "the client moves with the server cutover",
    )
    assert items["rule:MLA062"].status == "pass" and items["rule:MLA062"].finding_count == 0
    (created,) = [
        e
        for e in store.events(kinds=["compat.item.status"])
        if e.payload["item"] == "rule:MLF101" and "carried_from" in e.payload
    ]
    assert created.payload["new"] == "waived" and created.payload["by"] == "ana"
    assert created.payload["carried_from"] == "rule:MLA062"
    # The log replayed at this moment (time travel) shows what the table holds.
    replayed, _ = items_of_as_of(store, "job:forecast-daily", store.events()[-1].ts)
    for field_name in ("status", "owner", "note", "updated_by", "finding_count"):
        assert getattr(replayed["rule:MLF101"], field_name) == getattr(new, field_name)
    # The decision stays a person's: the next scan keeps it.
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    assert items_of(store, "job:forecast-daily")[0]["rule:MLF101"].status == "waived"


def test_history_records_who_changed_what(workspace):
    _, config, store, _ = workspace
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    set_item(
        store,
        "job:forecast-backfill",
        "rule:JOB105",
        by="ana",
        status="waived",
        note="gdal script moves with the volume migration",
        source="tui",
    )
    events = history(store, "job:forecast-backfill", "rule:JOB105")
    kinds = [
        (e.kind, e.payload["new"], e.payload["by"], e.source)
        for e in events
        if e.kind.startswith("compat.item.")
    ]
    assert kinds[:2] == [
        ("compat.item.note", "gdal script moves with the volume migration", "ana", "tui"),
        ("compat.item.status", "waived", "ana", "tui"),
    ]
    assert kinds[-1] == ("compat.item.status", "todo", "scan", "scan")


def test_sign_off_needs_open_items_closed(workspace):
    _, config, store, _ = workspace
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    with pytest.raises(CockpitError, match="open items"):
        sign_off(store, "job:forecast-backfill", by="ana")
    with pytest.raises(CockpitError, match="blocking finding"):
        set_item(store, "job:forecast-daily", "rule:JOB101", by="ana", status="pass")
    with pytest.raises(CockpitError, match="status must be one of"):
        set_item(store, "job:forecast-daily", "rule:JOB101", by="ana", status="done")
    set_item(store, "job:forecast-backfill", "rule:JOB105", by="ana", status="waived")
    set_item(
        store,
        "job:forecast-backfill",
        "manual:ran-green-on-the-target-runtime",
        by="ana",
        status="pass",
    )
    sign_off(store, "job:forecast-backfill", by="ana", note="walked through with Kyros")
    items, view = items_of(store, "job:forecast-backfill")
    assert view.signed_off_by == "ana" and view.ready
    assert items["manual:owner-signed-off"].status == "pass"
    assert progress(load_checklist(store)) == (1, 3)


def test_time_travel_replays_statuses(workspace):
    _, config, store, clock = workspace
    record_scan(store, scan(config), config, roots=["bundle", "jobs"])
    before = clock.now
    clock.now += 100
    set_item(store, "job:forecast-backfill", "rule:JOB105", by="ana", status="waived", note="n")
    then = {
        i.item_key: i
        for v in load_checklist(store, as_of=before)
        if v.pipeline_id == "job:forecast-backfill"
        for i in v.items
    }
    assert then["rule:JOB105"].status == "todo" and then["rule:JOB105"].note == ""
    assert load_checklist(store, as_of=before - 1000) == []


def test_cli_record_show_set_sign_off(workspace, cli):
    root, _, store, _ = workspace
    store.close()
    (root / "cockpit.toml").write_text(CONFIG)
    proc = cli("check", "bundle", "jobs", "--record", "--format", "json", cwd=root)
    assert proc.returncode == 1 and "recorded scan 1: 3 pipelines" in proc.stderr
    ok = cli(
        "checklist",
        "set",
        "job:forecast-backfill",
        "rule:JOB105",
        "--status",
        "waived",
        "--note",
        "moves with volumes",
        "--by",
        "ana",
        "--format",
        "json",
        cwd=root,
    )
    assert ok.returncode == 0, ok.stderr
    item = json.loads(ok.stdout)["item"]
    assert (item["status"], item["note"], item["updated_by"]) == (
        "waived",
        "moves with volumes",
        "ana",
    )
    refused = cli("checklist", "sign-off", "job:nope", "--by", "ana", "--format", "json", cwd=root)
    assert refused.returncode == 2
    assert (
        json.loads(refused.stdout)["cockpit"]["error"] == "no pipeline 'job:nope' in the checklist"
    )
    bad = cli("checklist", "set", "job:nope", "rule:JOB105", "--status", "pass", cwd=root)
    assert bad.returncode == 2 and "no checklist item" in bad.stderr
    shown = json.loads(cli("checklist", "show", "--format", "json", cwd=root).stdout)
    backfill = next(p for p in shown["pipelines"] if p["id"] == "job:forecast-backfill")
    job105 = next(i for i in backfill["items"] if i["key"] == "rule:JOB105")
    assert job105["status"] == "waived" and job105["note"] == "moves with volumes"
    assert shown["total"] == 3


def test_credentials_in_tracking_uris_never_reach_reports_or_state(tmp_path, cli):
    job = {
        "name": "leaky",
        "tasks": [
            {
                "task_key": "t",
                "new_cluster": {
                    "spark_version": "16.4.x-cpu-ml-scala2.12",
                    "spark_env_vars": {"MLFLOW_TRACKING_URI": "https://bob:tok-SECRET-42@ml.x"},
                },
            }
        ],
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    proc = cli("--state", "s.db", "check", "job.json", "--record", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "tok-SECRET-42" not in proc.stdout + proc.stderr
    assert "https://***@ml.x" in proc.stdout
    assert b"tok-SECRET-42" not in (tmp_path / "s.db").read_bytes()


def test_workspace_jobs_join_the_checklist(tmp_path, sample_state, monkeypatch):
    """The Databricks inventory in the sample joins in on a re-scan: workspace-only jobs become
    pipelines, and a bundle job with the same name gets the deployed job's findings too."""
    state = tmp_path / "kyros.db"
    shutil.copy(sample_state, state)
    monkeypatch.chdir(sample_state.parent)
    crossing = build_crossing(
        "14.3-lts-ml",
        "16.4-lts-ml",
        overrides={"mlflow": ("1.30.1", None)},
        old_tracking_uri="https://mlflow-old.kyros.example",
    )
    with StateStore.open(state) as store:
        before = {v.pipeline_id for v in load_checklist(store)}
        assert "job:kyros-ltv-model" in before  # the sample scans after the inventory (s30)
        record_scan(store, Scanner(crossing).scan_paths(["pipelines"]), None, roots=["pipelines"])
        views = {v.pipeline_id: v for v in load_checklist(store)}
        ltv = views["job:kyros-ltv-model"]
        assert ltv.kind == "workspace-job" and ltv.owner == "li.wen@kyros.example"
        assert ltv.tracking_uri == "https://mlflow-new.kyros.example"
        recsys = {f.path for f in findings_for(store, "job:kyros-recsys-train")}
        assert "workspace:kyros-recsys-train" in recsys
        assert "pipelines/src/recsys/train_recsys.py" in recsys
        assert views["job:kyros-recsys-train"].kind == "bundle-job"
        # People's decisions from the sample survive the merge.
        assert views["job:kyros-nightly-report"].signed_off_by == "dana.kyros"
        assert views["job:kyros-nightly-report"].ready


def _replay_every_event(store, as_of):
    """The checklist as of a moment the way it was first replayed: every checklist event up to
    it, in write order, applied one by one in Python. The SQL replay must give the same."""
    views = {v.pipeline_id: v for v in load_checklist(store)}
    present = {
        r["pipeline_id"]
        for r in store.query(
            "SELECT pipeline_id FROM compat_pipelines WHERE first_seen <= ?", (as_of,)
        )
    }
    created = {
        (r["pipeline_id"], r["item_key"])
        for r in store.query(
            "SELECT pipeline_id, item_key FROM checklist_items WHERE created_at <= ?", (as_of,)
        )
    }
    out = {}
    for pid in sorted(present):
        view = views.get(pid)
        if view is None:
            continue
        owner, signed = view.owner, (None, None)
        items = {
            i.item_key: ["todo", "", None, i.updated_at, i.updated_by]
            for i in view.items
            if (pid, i.item_key) in created
        }
        for event in store.events(kind_prefix="compat.", until_ts=as_of):
            p = event.payload
            if p.get("pipeline") != pid:
                continue
            if event.kind.startswith("compat.item.") and p.get("item") in items:
                field = event.kind.rsplit(".", 1)[1]
                if field in ("status", "note", "owner"):
                    value = p.get("new")
                    slot = {"status": 0, "note": 1, "owner": 2}[field]
                    items[p["item"]][slot] = value if value is not None or field == "owner" else ""
                    items[p["item"]][3:] = [event.ts, str(p.get("by") or "")]
            elif event.kind == "compat.pipeline.owner":
                owner = p.get("new")
            elif event.kind == "compat.pipeline.signed_off":
                signed = (p.get("by"), event.ts)
        out[pid] = (owner, signed, {k: tuple(v) for k, v in items.items()})
    return out


def test_sql_replay_and_history_match_replaying_every_event(sample_state, tmp_path):
    """On the sample's checklist history (and more changes made here), the checklist as of every
    checklist event's moment, and every item's history, are what reading every event gives."""
    path = tmp_path / "s.db"
    shutil.copy(sample_state, path)
    with StateStore.open(path) as store:
        views = load_checklist(store)
        for n, (view, item) in enumerate((v, i) for v in views for i in v.items[:2]):
            set_item(store, view.pipeline_id, item.item_key, by="maria", note=f"look {n}")
            set_item(store, view.pipeline_id, item.item_key, by="dev", owner=f"owner-{n % 3}")
            if item.severity != "blocking":
                set_item(store, view.pipeline_id, item.item_key, by="lena", status="waived")
            set_item(store, view.pipeline_id, item.item_key, by="maria", note=f"again {n}")
    with StateStore.open(path, readonly=True) as store:
        moments = sorted({e.ts for e in store.events(kind_prefix="compat.")})
        assert len(moments) > 20
        for as_of in [*moments[:: max(1, len(moments) // 25)], moments[-1]]:
            replayed = {
                v.pipeline_id: (
                    v.owner,
                    (v.signed_off_by, v.signed_off_at),
                    {
                        i.item_key: (i.status, i.note, i.owner, i.updated_at, i.updated_by)
                        for i in v.items
                    },
                )
                for v in load_checklist(store, as_of=as_of)
            }
            assert replayed == _replay_every_event(store, as_of)
        everything = store.events(kind_prefix="compat.")
        for view in load_checklist(store):
            for item_key in (None, *(i.item_key for i in view.items)):
                expected = [
                    e
                    for e in reversed(everything)
                    if e.payload.get("pipeline") == view.pipeline_id
                    and (item_key is None or e.payload.get("item") in (item_key, None))
                ]
                assert history(store, view.pipeline_id, item_key) == expected
