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
        store.append_event("runtime.imported", {"runtime_id": "img"}, ts=T0)
        store.append_event("compat.scan", {"findings": 12}, ts=T0 + 60)
        store.append_event(
            "compat.checklist.signed",
            {
                "pipeline": "kyros-churn-train",
                "by": "ana@kyros",
                "note": "pin <xgboost> to 2.0 first; token dapi-playbook-canary-99",
            },
            ts=T0 + 120,
        )
        for i in range(5):
            store.append_event(
                "mlflow.poll", {"missing": 5 - i}, source="poller:mlflow", ts=T0 + 3600 + i * 30
            )
        store.append_event("mlflow.sync.finished", {"runs": 1000, "seconds": 80}, ts=T0 + 3800)
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
    assert "| mlflow.poll | 5 |" in text  # five polls fold into one step
    assert "| compat.checklist.signed | ana@kyros |" in text
    assert "| cutover.decision | tui |" in text
    assert "pin &lt;xgboost&gt; to 2.0 first" in text
    assert "dapi-playbook-canary-99" not in text
    assert "store.migrated" not in text
    out = tmp_path / "playbook.md"
    result = cli("--state", str(path), "playbook", "-o", str(out))
    assert result.returncode == 0 and out.read_text() == text
