"""Scanner output equals the findings written into the functional samples: none missing, none
extra; and every rule in the catalog is covered by some sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cockpit.compat.rules import build_crossing, catalog
from cockpit.compat.scan import Scanner

from .expected import crossing_args, expected_findings, sample_folders

# Rules with no sample would be untested: each needs a crossing that applies it and a sample.
FOLDERS = sample_folders()


def scan_folder(folder: Path):
    low, high, mlflow_from = crossing_args(folder)
    overrides = {"mlflow": (mlflow_from, None)} if mlflow_from else {}
    crossing = build_crossing(
        low, high, overrides=overrides, old_tracking_uri="https://mlflow-old.kyros.example"
    )
    cwd = os.getcwd()
    os.chdir(folder)  # paths in findings are relative, as when a user runs `cockpit check .`
    try:
        return Scanner(crossing).scan_paths(["."])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_sample_findings_match_exactly(folder: Path):
    result = scan_folder(folder)
    actual = {(f.path, f.line, f.code) for f in result.findings}
    expected = expected_findings(folder)
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    assert not missing and not extra, f"missing={missing}\nextra={extra}"


def test_every_rule_has_a_sample():
    # Generated rules (hundreds) get synthesized samples in test_generated_rules.py; the
    # hand-written ones each need a sample here.
    covered = set()
    for folder in FOLDERS:
        covered |= {code for _, _, code in expected_findings(folder)}
    hand = {code for code, rule in catalog().items() if rule.family == "catalog"}
    assert hand - covered == set()


def test_suppressions_are_reported_with_their_reason():
    result = scan_folder(next(f for f in FOLDERS if f.name == "mlflow1to2"))
    reasons = {(s.finding.code, s.reason) for s in result.suppressed}
    assert ("MLF101", "read-only report, retired with the 1.x server") in reasons
    assert ("MLF102", "the line below is suppressed by rule name") in reasons


def test_columns_point_at_the_expression():
    result = scan_folder(next(f for f in FOLDERS if f.name == "mlflow1to2"))
    fetch = next(
        f
        for f in result.findings
        if f.code == "MLF103"
        and f.path.endswith("tracking_client.py")
        and "self.client"
        in (Path("tests/compat/samples/mlflow1to2") / f.path).read_text().splitlines()[f.line - 1]
    )
    line = (next(f for f in FOLDERS if f.name == "mlflow1to2") / fetch.path).read_text()
    text = line.splitlines()[fetch.line - 1]
    assert text[fetch.column - 1 :].startswith("self.client.list_run_infos")


def test_bundle_jobs_and_their_files():
    result = scan_folder(next(f for f in FOLDERS if f.name == "bundle"))
    jobs = {j.key: j for j in result.jobs}
    assert set(jobs) == {"forecast_daily", "forecast_backfill"}
    assert jobs["forecast_daily"].files == ["src/train_forecast.py"]
    assert jobs["forecast_backfill"].files == ["src/backfill.py"]
    assert jobs["forecast_daily"].tracking_uris == ["https://mlflow-old.kyros.example"]
    assert jobs["forecast_daily"].spark_versions == ["14.3.x-cpu-ml-scala2.12"]
    # The variable's default is where the runtime is set, so that is where the finding points.
    job101 = [f for f in result.findings if f.code == "JOB101"]
    assert [(f.path, f.job) for f in job101] == [("databricks.yml", "forecast_daily")]
    assert job101[0].autofix and job101[0].data["new"] == "16.4.x-cpu-ml-scala2.12"


def test_notebook_run_targets_are_resolved():
    # `%run ./shared_setup` (not an R cell, although it starts with "%r") names a repo notebook.
    result = scan_folder(next(f for f in FOLDERS if f.name == "notebooks"))
    assert result.runs == {"train_notebook.py": ["shared_setup.py"]}
