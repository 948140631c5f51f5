"""The walkthrough report: escaping, no secrets, offline HTML, every section present."""

from __future__ import annotations

import re
from pathlib import Path

from cockpit import secrets
from cockpit.document.render import to_html, to_markdown
from cockpit.reporting.walkthrough import build_report
from cockpit.store import StateStore

EVIL = "Kyros <script>alert('x')</script> & co"
CANARY = "dapi-report-canary-7f3a9c"


def make_state(tmp_path: Path) -> Path:
    path = tmp_path / "r.db"
    secrets.register_secret(CANARY)
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.name", EVIL)
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        store.append_event("compat.note", {"note": f"<img src=x onerror=alert(1)> token {CANARY}"})
    return path


def test_html_is_escaped_offline_and_secret_free(tmp_path: Path):
    with StateStore.open(make_state(tmp_path), readonly=True) as store:
        html = to_html(build_report(store, None))
    assert (
        "<script>alert" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    )
    assert "<img src=x" not in html
    assert CANARY not in html
    assert 'src="http' not in html and "cdn.plot.ly" not in html
    for anchor in ("gates", "runtime-diff", "checklist", "mlflow", "benchmarks", "timeline"):
        assert f'id="{anchor}"' in html
    assert "horovod" in html  # the breaking-risk table is there


def test_markdown_is_escaped_and_secret_free(tmp_path: Path):
    with StateStore.open(make_state(tmp_path), readonly=True) as store:
        md = to_markdown(build_report(store, None))
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert CANARY not in md
    assert md.startswith("# Kyros &lt;script&gt;")


def test_cli_report_writes_a_file(tmp_path: Path, cli):
    state = make_state(tmp_path)
    out = tmp_path / "report.html"
    result = cli("--state", str(state), "report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    bad = cli("--state", str(state), "report", "--as-of", "yesterday")
    assert bad.returncode == 2 and "ISO time" in bad.stderr
    missing = cli("--state", str(tmp_path / "none.db"), "report")
    assert missing.returncode == 2 and "no state file" in missing.stderr


def test_sample_report_has_every_feature_and_opens_offline(tmp_path: Path, sample_state: Path, cli):
    out = tmp_path / "kyros.html"
    result = cli("--state", str(sample_state), "report", "-o", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    for needle in (
        "NO-GO",  # gates
        "horovod",  # runtime diff
        "kyros-nightly-report",  # checklist, signed off
        "dana.kyros",
        "kyros/fraud-gbm",  # MLflow sync
        "kyros-churn-train",  # benchmarks
        "Plotly.newPlot",  # charts drawn by the embedded plotly.js
    ):
        assert needle in html, needle
    # plotly.js is inlined (it mentions its CDN only as a default topojson URL, never loaded here).
    assert re.search(r"<script[^>]*\ssrc=", html) is None
    assert re.search(r"<link[^>]*\shref=\"https?:", html) is None
    md = cli("--state", str(sample_state), "report", "--format", "markdown")
    assert md.returncode == 0 and "## MLflow sync" in md.stdout and "Plotly" not in md.stdout
