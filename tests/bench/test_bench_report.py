"""Samples in the state file, the report in its three forms, and `cockpit bench report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cockpit.bench.data import (
    DURATION,
    MetricDef,
    Sample,
    compare_store,
    load_samples,
    metric_defs,
    record_samples,
    rule_for,
)
from cockpit.bench.report import build_report, fmt_ratio, fmt_value, to_html, to_json
from cockpit.config import parse_config
from cockpit.errors import ConfigError
from cockpit.store import StateStore

KYROS_PIPELINES = (
    "kyros-churn-train",
    "kyros-demand-forecast",
    "kyros-feature-pipeline",
    "kyros-fraud-score",
)
EXPECTED = {
    ("kyros-churn-train", "duration_s"): "regression",
    ("kyros-demand-forecast", "duration_s"): "improvement",
    ("kyros-feature-pipeline", "duration_s"): "no change",
    ("kyros-fraud-score", "duration_s"): "insufficient data",
    ("kyros-churn-train", "auc"): "no change",
}

CONFIG = """
[migration]
name = "t"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

[benchmarks]
threshold = 1.10

[benchmarks.pipelines.kyros-churn-train]
threshold = 1.30
metrics = [{ name = "auc", direction = "higher" }]
"""


def test_kyros_history_gives_each_intended_verdict(kyros_bench: Path):
    with StateStore.open(kyros_bench, readonly=True) as store:
        result = compare_store(store, None)
    assert {(c.pipeline, c.metric): c.verdict for c in result} == EXPECTED
    assert result[0].pipeline == "kyros-churn-train" and result[0].verdict == "regression"
    auc = next(c for c in result if c.metric == "auc")
    assert auc.direction == "higher"  # remembered by the file, no config needed


def test_recording_is_idempotent_and_time_travel_hides_later_samples(kyros_bench: Path):
    with StateStore.open(kyros_bench) as store:
        before = len(load_samples(store))
        first_record = store.query_one("SELECT MIN(recorded_at) AS t FROM bench_samples")["t"]
        again = load_samples(store)
        rows = [
            Sample(r.pipeline, r.metric, r.runtime, r.value, r.run_ts, r.origin, r.run_ref)
            for r in again.itertuples()
        ]
        assert record_samples(store, rows) == 0
        assert len(load_samples(store)) == before
        # Before the shadow re-runs were recorded, nothing on 16.4 was known.
        early = load_samples(store, as_of=first_record)
        assert set(early["runtime"]) == {"14.3-lts-ml"}
        verdicts = {c.verdict for c in compare_store(store, None, as_of=first_record)}
        assert verdicts == {"insufficient data"}
        events = store.events(kinds=["bench.samples_recorded"])
        assert len(events) == 3 and events[0].payload["added"] > 0


def test_config_overrides_threshold_and_validates_metrics(kyros_bench: Path):
    config = parse_config(CONFIG)
    assert rule_for(config, "kyros-churn-train").threshold == 1.30
    assert rule_for(config, "kyros-fraud-score").threshold == 1.10
    assert [m.name for m in metric_defs(config, "kyros-churn-train")] == [DURATION, "auc"]
    with StateStore.open(kyros_bench, readonly=True) as store:
        verdicts = {(c.pipeline, c.metric): c.verdict for c in compare_store(store, config)}
    # 25% slower no longer passes a 30% threshold.
    assert verdicts[("kyros-churn-train", DURATION)] == "no change"
    bad = CONFIG.replace('direction = "higher"', 'direction = "up"')
    with pytest.raises(ConfigError, match=r"metrics\[0\]: direction"):
        metric_defs(parse_config(bad), "kyros-churn-train")
    tight = CONFIG.replace('direction = "higher"', 'direction = "higher", threshold = 1.02')
    assert metric_defs(parse_config(tight), "kyros-churn-train")[1].threshold == 1.02
    with StateStore.open(kyros_bench, readonly=True) as store:
        auc = next(c for c in compare_store(store, parse_config(tight)) if c.metric == "auc")
    assert auc.threshold == 1.02 and auc.min_runs == 5
    loose = CONFIG.replace('direction = "higher"', 'direction = "higher", threshold = 0.9')
    with pytest.raises(ConfigError, match=r"threshold must be a number above 1\.0"):
        metric_defs(parse_config(loose), "kyros-churn-train")
    nameless = CONFIG.replace('name = "auc", ', "")
    with pytest.raises(ConfigError, match="name is required"):
        metric_defs(parse_config(nameless), "kyros-churn-train")


def test_json_report_has_every_comparison(kyros_bench: Path):
    with StateStore.open(kyros_bench, readonly=True) as store:
        data = to_json(build_report(store, None))
    assert data["from"] == "14.3-lts-ml" and data["to"] == "16.4-lts-ml"
    assert data["counts"] == {
        "regression": 1,
        "insufficient data": 1,
        "no change": 2,
        "improvement": 1,
    }
    first = data["comparisons"][0]
    assert first["pipeline"] == "kyros-churn-train" and len(first["ratio_ci"]) == 2
    json.dumps(data)  # plain JSON all the way down


def test_html_export_is_self_contained_and_has_every_number(kyros_bench: Path):
    with StateStore.open(kyros_bench, readonly=True) as store:
        report = build_report(store, None)
    page = to_html(report)
    # No external scripts or stylesheets: it must open with no network.
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=\s*[\"']https?:", page, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']https?://cdn", page, re.I)
    # plotly.js is inlined exactly once, however many charts there are (ratio + one per pipeline).
    assert page.count("* plotly.js v") == 1
    assert page.count("Plotly.newPlot(") >= 1 + len(KYROS_PIPELINES)
    table = page[page.index('<table id="numbers">') : page.index("</table>")]
    for pipeline in KYROS_PIPELINES:
        assert pipeline in table
    for c in report.comparisons:
        for number in (fmt_value(c.median_old), fmt_value(c.median_new), fmt_ratio(c.ratio)):
            assert number in table, (c.pipeline, number)
        assert c.verdict in table


def test_html_chart_headings_name_the_metric_charted(kyros_bench: Path):
    """The heading above a pipeline's charts names the metric they show and its verdict; other
    metrics are said to be not charted (the churn heading used to read "auc ... no change" over
    its duration charts, which regressed)."""
    with StateStore.open(kyros_bench, readonly=True) as store:
        report = build_report(store, None)
    page = to_html(report)
    headings = re.findall(r'<h3 class="chart-heading">(.*?)</h3>(<p class="method">.*?</p>)?', page)
    assert len(headings) == len(KYROS_PIPELINES)
    churn = next(h for h, _ in headings if h.startswith("kyros-churn-train"))
    assert "duration_s (lower is better)" in churn and churn.endswith("(regression)")
    assert "auc" not in churn
    other = next(p for h, p in headings if h.startswith("kyros-churn-train"))
    assert "Other metrics, not charted: auc:" in other and "(no change)" in other
    for heading, _ in headings:
        pipeline = heading.split(" — ")[0]
        charted = [c for c in report.comparisons if c.pipeline == pipeline and c.metric in heading]
        assert len(charted) == 1 and heading.endswith(f"({charted[0].verdict})")
    # The plotly title says the same metric.
    assert '"text":"kyros-churn-train: duration_s"' in page


def test_cli_table_json_and_exit_codes(kyros_bench: Path, cli):
    table = cli("--state", str(kyros_bench), "bench", "report", env={"COLUMNS": "200"})
    assert table.returncode == 1, table.stderr  # one regression = findings
    assert "kyros-churn-train" in table.stdout and "regression" in table.stdout
    out = cli("--state", str(kyros_bench), "bench", "report", "--format", "json")
    assert out.returncode == 1
    assert len(json.loads(out.stdout)["comparisons"]) == len(EXPECTED)


def test_cli_html_to_file(kyros_bench: Path, tmp_path: Path, cli):
    target = tmp_path / "bench.html"
    result = cli(
        "--state", str(kyros_bench), "bench", "report", "--format", "html", "-o", str(target)
    )
    assert result.returncode == 1 and "wrote" in result.stdout
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "kyros-fraud-score" in page
    assert not list(tmp_path.glob("*.partial"))


def test_cli_errors_are_one_line(tmp_path: Path, kyros_bench: Path, cli):
    missing = cli("--state", str(tmp_path / "nope.db"), "bench", "report")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no state file" in missing.stderr
    bad_dir = cli(
        "--state", str(kyros_bench), "bench", "report", "-o", str(tmp_path / "no" / "x.html")
    )
    assert bad_dir.returncode == 2 and "cannot write" in bad_dir.stderr
    assert "Traceback" not in bad_dir.stderr
    bad_fmt = cli("--state", str(kyros_bench), "bench", "report", "--format", "pdf")
    assert bad_fmt.returncode == 2 and bad_fmt.stderr.count("\n") == 1


def test_empty_state_file_reports_nothing_without_error(tmp_path: Path, cli):
    path = tmp_path / "empty.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        record_samples(store, [], metrics=[("p", MetricDef(DURATION))])
    result = cli("--state", str(path), "bench", "report", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["comparisons"] == []


def _history_row(tx, run_id, job, runtime, duration, *, state="SUCCESS", tags="{}", at=0.0):
    # The Databricks feature's run-history table, written as its poller does (documented in
    # cockpit/databricks/models.py).
    tx.execute(
        "INSERT INTO workspace_runs (run_id, job_id, job_name, start_ts, end_ts, duration_s, "
        "result_state, spark_version, runtime, tags, recorded_at) "
        "VALUES (?, 1, ?, ?, ?, ?, ?, '', ?, ?, ?)",
        (
            run_id,
            job,
            1000.0 + run_id,
            1000.0 + run_id + duration,
            duration,
            state,
            runtime,
            tags,
            at,
        ),
    )


def test_run_history_durations_are_read_by_runtime(tmp_path: Path):
    with StateStore.open(tmp_path / "h.db", create=True) as store:
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        with store.write() as tx:
            for i in range(6):
                _history_row(tx, 100 + i, "etl", "14.3-lts-ml", 100.0 + i, at=10.0)
                _history_row(tx, 200 + i, "etl", "16.4-lts-ml", 140.0 + i, at=20.0)
            _history_row(tx, 300, "etl", "16.4-lts-ml", 5.0, state="FAILED", at=20.0)
            _history_row(
                tx, 301, "etl", "16.4-lts-ml", 141.0, tags='{"cockpit_shadow": "true"}', at=30.0
            )
        # A shadow run the cockpit recorded itself and the poller also saw: counted once.
        record_samples(
            store,
            [Sample("etl", DURATION, "16.4-lts-ml", 141.0, 1301.0, "shadow", "301")],
        )
        samples = load_samples(store)
        assert len(samples) == 13  # 12 successes + 1 shadow, the failed run left out
        assert (samples["run_ref"] == "301").sum() == 1
        assert set(samples.loc[samples["run_ref"] == "301", "origin"]) == {"shadow"}
        (verdict,) = compare_store(store, None)
        assert verdict.pipeline == "etl" and verdict.verdict == "regression"
        assert (verdict.n_old, verdict.n_new) == (6, 7)
        # Time travel: before the 16.4 runs were polled, only the old runtime is known.
        early = load_samples(store, as_of=15.0)
        assert set(early["runtime"]) == {"14.3-lts-ml"}


def test_walkthrough_section_renders_offline(kyros_bench: Path):
    from cockpit.bench.section import benchmarks_section
    from cockpit.document.model import Document
    from cockpit.document.render import to_html as doc_html

    with StateStore.open(kyros_bench, readonly=True) as store:
        section = benchmarks_section(store, None, None)
        empty_at = store.query_one("SELECT MIN(recorded_at) - 1 AS t FROM bench_samples")["t"]
        before = benchmarks_section(store, None, empty_at)
    assert section.anchor == "benchmarks" and section.blocks[0].tone == "bad"
    assert "No benchmark samples recorded." in before.blocks[0].text
    page = doc_html(Document("t", "s", "now", [section]))
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    for pipeline in KYROS_PIPELINES:
        assert pipeline in page


def test_shipped_sample_has_the_four_kyros_stories(sample_state: Path):
    with StateStore.open(sample_state, readonly=True) as store:
        verdicts = {
            c.pipeline: c.verdict for c in compare_store(store, None) if c.metric == DURATION
        }
    assert verdicts["kyros-churn-train"] == "regression"
    assert verdicts["kyros-demand-forecast"] == "improvement"
    assert verdicts["kyros-feature-pipeline"] == "no change"
    assert verdicts["kyros-fraud-score"] == "insufficient data"


def test_fingerprint_changes_only_with_the_samples(kyros_bench: Path):
    from cockpit.bench.data import samples_fingerprint

    with StateStore.open(kyros_bench) as store:
        before = samples_fingerprint(store)
        store.append_event("other.feature", {"x": 1})  # someone else writes: no change
        assert samples_fingerprint(store) == before
        first = store.query_one("SELECT MIN(recorded_at) AS t FROM bench_samples")["t"]
        assert samples_fingerprint(store, as_of=first) != before
        record_samples(store, [Sample("p", DURATION, "16.4-lts-ml", 1.0, 1.0, "shadow", "x1")])
        assert samples_fingerprint(store) != before


def test_cli_table_to_file_is_csv(kyros_bench: Path, tmp_path: Path, cli):
    import csv

    target = tmp_path / "bench.csv"
    result = cli("--state", str(kyros_bench), "bench", "report", "-o", str(target))
    assert result.returncode == 1, result.stderr
    rows = list(csv.reader(target.open(encoding="utf-8")))
    assert rows[0][:3] == ["pipeline", "metric", "verdict"] and len(rows) == 1 + len(EXPECTED)
