"""Kyros' pipelines checklist: scan sample_state/pipelines (a bundle of eight jobs, a Jobs API
export, notebooks, requirements, a shared library) and walk part of the checklist with the client
team, as the cockpit records it: waivers with reasons, owners, pipelines signed off.

The story: two analytics jobs moved to 16.4 in the pilot wave and are signed off; the feature
pipeline's move is owned and planned; the fraud job's DBFS init script is waived until the volume
migration; the churn job's blockers are owned by the data-science team and still open. (Jobs the
workspace inventory finds join the checklist on the next re-scan: `r` in the Checklist tab.)
"""

from __future__ import annotations

import os

from cockpit.compat.checklist import record_scan, set_item, set_pipeline_owner, sign_off
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner

OLD_SERVER = "https://mlflow-old.kyros.example"
LEAD, CLIENT = "lead", "dana.kyros"


def build(ctx) -> None:
    store = ctx.store
    crossing = build_crossing(
        "14.3-lts-ml",
        "16.4-lts-ml",
        overrides={"mlflow": ("1.30.1", None)},
        old_tracking_uri=OLD_SERVER,
    )
    # Scan from sample_state/ so recorded paths read "pipelines/...", the same on every machine.
    cwd = os.getcwd()
    os.chdir(ctx.root)
    try:
        result = Scanner(crossing).scan_paths(["pipelines"])
    finally:
        os.chdir(cwd)
    # base_dir "" = next to the state file, so a re-scan from the TUI finds sample_state/pipelines.
    record_scan(store, result, None, roots=["pipelines"], base_dir="", source="sample")
    ctx.clock.advance(1800)

    ran_green = "manual:ran-green-on-the-target-runtime"
    switched = "manual:tracking-uri-switched-to-the-new-server"
    for job in ("kyros-nightly-report", "kyros-ab-analysis"):
        pipeline = f"job:{job}"
        set_pipeline_owner(store, pipeline, "analytics", by=LEAD, source="sample")
        set_item(
            store,
            pipeline,
            ran_green,
            by=CLIENT,
            status="pass",
            source="sample",
            note="green on 16.4 since the pilot wave",
        )
        set_item(
            store,
            pipeline,
            switched,
            by=CLIENT,
            status="waived",
            source="sample",
            note="logs nothing to MLflow",
        )
        sign_off(store, pipeline, by=CLIENT, note="reviewed on the shared screen", source="sample")
        ctx.clock.advance(300)

    features = "job:kyros-feature-pipeline"
    set_pipeline_owner(store, features, "data-platform", by=LEAD, source="sample")
    set_item(
        store,
        features,
        "rule:JOB101",
        by=LEAD,
        owner="jonas",
        source="sample",
        note="moves with the second wave; `cockpit fix` retargets the bundle variable",
    )
    ctx.clock.advance(600)

    fraud = "job:kyros-fraud-score"
    set_pipeline_owner(store, fraud, "risk-ml", by=LEAD, source="sample")
    set_item(
        store,
        fraud,
        "rule:JOB105",
        by=LEAD,
        status="waived",
        source="sample",
        note="init script moves with the Unity Catalog volume migration (week 3)",
    )
    set_item(
        store,
        fraud,
        "rule:MLF103",
        by=LEAD,
        owner="priya",
        source="sample",
        note="replace list_run_infos with search_runs",
    )

    churn = "job:kyros-churn-train"
    set_pipeline_owner(store, churn, "data-science", by=LEAD, source="sample")
    set_item(
        store,
        churn,
        "rule:MLF101",
        by=LEAD,
        owner="marco",
        source="sample",
        note="`cockpit fix` rewrites it; review the diff with the team",
    )
    set_item(store, churn, "rule:JOB101", by=LEAD, owner="marco", source="sample")
    ctx.clock.advance(3600)
