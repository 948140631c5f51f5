"""The playbook: phases, folded routine steps, decisions with who, gotchas, escaping."""

from __future__ import annotations

from pathlib import Path

from cockpit import secrets
from cockpit.cutover.playbook import playbook_markdown
from cockpit.store import StateStore

T0 = 1_793_000_000.0


def test_playbook_from_a_recorded_migration(tmp_path: Path, cli):
    secrets.register_secret("dapi-playbook-canary-99")
    path = tmp_path / "p.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.name", "Kyros <b>cutover</b>")
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        store.append_event("runtime.imported", {"runtime_id": "img", "libraries": 3}, ts=T0)
        # One scan transaction: its items and the scan share one time and are one step.
        for item in ("rule:PY301", "rule:MLF101"):
            store.append_event(
                "compat.item.status",
                {"pipeline": "job:kyros-churn-train", "item": item, "old": None, "new": "fail",
                 "by": "scan"},
                source="scan", ts=T0 + 60,
            )  # fmt: skip
        store.append_event(
            "compat.scan.recorded",
            {"scan_id": 1, "from": "14.3-lts-ml", "to": "16.4-lts-ml", "files": 4,
             "findings": 12, "blocking": 2, "pipelines": 1},
            ts=T0 + 60,
        )  # fmt: skip
        store.append_event(
            "compat.item.status",
            {"pipeline": "job:kyros-churn-train", "item": "rule:PY301", "old": "fail",
             "new": "pass", "by": "marco"},
            ts=T0 + 90,
        )  # fmt: skip
        store.append_event(
            "compat.item.note",
            {"pipeline": "job:kyros-churn-train", "item": "rule:PY301", "old": "",
             "new": "replaced LooseVersion", "by": "marco"},
            ts=T0 + 91,
        )  # fmt: skip
        store.append_event(
            "compat.pipeline.signed_off",
            {
                "pipeline": "job:kyros-churn-train",
                "by": "ana@kyros",
                "note": "pin <xgboost> to 2.0 first; token dapi-playbook-canary-99",
            },
            ts=T0 + 120,
        )
        for i in range(5):
            store.append_event(
                "mlflow.poll", {"missing": 5 - i}, source="poller:mlflow", ts=T0 + 3600 + i * 30
            )
        store.append_event(
            "mlflow.sync.started", {"experiments": 1, "runs_to_write": 1000}, ts=T0 + 3730
        )
        store.append_event(
            "mlflow.sync.finished", {"runs_created": 1000, "duration_s": 80.0}, ts=T0 + 3810
        )
        store.append_event(
            "cutover.gate.waived",
            {"gate": "old-db-untouched", "reason": "no access to the old DB", "by": "lead"},
            ts=T0 + 7100,
        )
        store.append_event(
            "cutover.decision", {"go": True, "failing": []}, source="tui", ts=T0 + 7200
        )
    text = playbook_markdown(StateStore.open(path, readonly=True), None)
    assert text.startswith("# Playbook: Kyros &lt;b&gt;cutover&lt;/b&gt;")
    for phase in (
        "1. Assess the target runtime",
        "2. Make pipelines compatible",
        "4. Copy and mirror MLflow",
        "6. Cut over",
    ):
        assert f"## {phase}" in text
    # Steps are numbered sentences with the command that did them.
    assert "Imported runtime img (3 libraries) — `cockpit runtimes import" in text
    assert (
        "Scanned 4 files for 14.3-lts-ml → 16.4-lts-ml: 12 findings (2 blocking) in 1 pipeline "
        "(with it: 2 checklist items set) — `cockpit check PATH --record`"
    ) in text
    # Five polls fold into one step; the copy says how long it took.
    assert "5 times; the last: Compared the MLflow servers" in text
    assert "Finished the copy in 1 min 20 s" in text and "took 1 min 20 s" in text
    # Who decided what and why.
    assert "marco marked PY301 as pass on kyros-churn-train (was fail)" in text
    assert "Why: replaced LooseVersion" in text
    assert "ana@kyros signed off kyros-churn-train: ‘pin &lt;xgboost&gt; to 2.0 first" in text
    # What failed and how it was fixed; what is still open, with the rule's fix.
    failures = text[text.index("## What failed") :]
    assert "The scan added PY301 to kyros-churn-train: fail" in failures
    assert "Fixed 2026" in failures and "(marco): marco marked PY301 as pass" in failures
    assert "The scan added MLF101 to kyros-churn-train: fail" in failures
    assert "The rule's fix: Call search\\_experiments" in failures
    # The go/no-go history, with the waiver and who gave it.
    history = text[text.index("## Go / no-go history") :]
    assert "lead waived gate old-db-untouched: ‘no access to the old DB’" in history
    assert "Decision: GO, every gate passes" in history
    assert "dapi-playbook-canary-99" not in text
    assert "store.migrated" not in text and '{"' not in text
    out = tmp_path / "playbook.md"
    result = cli("--state", str(path), "playbook", "-o", str(out))
    assert result.returncode == 0 and out.read_text() == text


def test_sample_playbook_reads_as_steps_and_converts_to_html(sample_state: Path):
    """GitHub-flavoured Markdown that a CommonMark parser turns into headings, numbered steps
    with their commands as code, and tables, with nothing of the input parsed as HTML."""
    from markdown_it import MarkdownIt

    with StateStore.open(sample_state, readonly=True) as store:
        text = playbook_markdown(store, None)
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert (
        html.count("<h2>") == 11
    )  # overview, 5 phases, decisions, gotchas, failures, rules, history
    assert html.count("<ol>") >= 6 and "<table>" in html
    assert "<code>cockpit check PATH --record</code>" in html
    assert "<code>cockpit mlflow rehearse-db-upgrade --to VERSION</code>" in html
    # A detail line stays inside its step, on a line of its own (hard break), not a new item.
    assert "<br />\ntook 1 min 25 s</li>" in html
    steps = html[html.index("<h2>2. Make pipelines compatible</h2>") :]
    first = steps[steps.index("<li>") : steps.index("</li>")]
    assert "Scanned 22 files" in first and "15 pipelines found" in first
    assert "{&quot;" not in html and '{"' not in text


def test_playbook_json_keeps_the_raw_payload_next_to_its_sentence(
    sample_state: Path, cli, tmp_path: Path
):
    import json

    run = cli("playbook", "--format", "json", "--state", str(sample_state))
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    with StateStore.open(sample_state, readonly=True) as store:
        recorded = [e for e in store.events() if not e.kind.startswith("store.")]
    assert [e["id"] for e in data["events"]] == [e.id for e in recorded]
    for shown, event in zip(data["events"], recorded, strict=True):
        assert (
            shown["payload"] == event.payload and shown["sentence"] and "{" not in shown["sentence"]
        )
    steps = [s for phase in data["phases"] for s in phase["steps"]]
    scan = next(s for s in steps if s["kind"] == "compat.scan.recorded")
    assert scan["command"] == "cockpit check PATH --record" and "15 pipelines found" in scan["with"]
    out = tmp_path / "playbook.json"
    run = cli("playbook", "--format", "json", "-o", str(out), "--state", str(sample_state))
    assert run.returncode == 0 and json.loads(out.read_text())["events"] == data["events"]


def test_playbook_as_of_shows_the_runbook_as_it_stood_then(sample_state: Path, cli):
    import datetime as dt
    import json

    with StateStore.open(sample_state, readonly=True) as store:
        recorded = [e for e in store.events() if not e.kind.startswith("store.")]
    # A moment halfway through the recorded history, to the second (what --as-of takes).
    middle = recorded[len(recorded) // 2]
    moment = dt.datetime.fromtimestamp(int(middle.ts), tz=dt.UTC)
    then = cli(
        "playbook", "--format", "json", "--as-of", moment.isoformat(), "--state", str(sample_state)
    )
    assert then.returncode == 0, then.stderr
    shown = [e["id"] for e in json.loads(then.stdout)["events"]]
    assert shown == [e.id for e in recorded if e.ts <= moment.timestamp()]
    assert 0 < len(shown) < len(recorded)
    markdown = cli("playbook", "--as-of", moment.isoformat(), "--state", str(sample_state))
    full = cli("playbook", "--state", str(sample_state))
    assert markdown.returncode == 0 and markdown.stdout != full.stdout
    bad = cli("playbook", "--as-of", "yesterday", "--state", str(sample_state))
    assert bad.returncode != 0 and "is not an ISO time" in bad.stderr
    assert "Traceback" not in bad.stderr
