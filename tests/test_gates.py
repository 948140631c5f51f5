"""Gate logic from constructed states, change recording, and `cockpit gates` exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from cockpit.bench.data import Sample, record_samples
from cockpit.config import TEMPLATE, parse_config
from cockpit.cutover.gates import (
    FAIL,
    NO_DATA,
    PASS,
    WAIVE_EVENT,
    WAIVED,
    evaluate,
    is_go,
    record_changes,
    waive,
)
from cockpit.store import StateStore

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()


def store_with_route(tmp_path: Path) -> StateStore:
    store = StateStore.open(tmp_path / "g.db", create=True)
    store.set_meta("migration.from", "14.3-lts-ml")
    store.set_meta("migration.to", "16.4-lts-ml")
    return store


def by_id(gates):
    return {g.id: g for g in gates}


def durations(store, pipeline: str, old: list[float], new: list[float], at: float) -> None:
    samples = [
        Sample(pipeline, "duration_s", rt, v, at + i, "history", f"{rt}-{i}")
        for rt, values in (("14.3-lts-ml", old), ("16.4-lts-ml", new))
        for i, v in enumerate(values)
    ]
    record_samples(store, samples)


def test_empty_state_is_no_go_with_reasons(tmp_path: Path):
    store = store_with_route(tmp_path)
    gates = by_id(evaluate(store, None, as_of=T0))
    assert not is_go(list(gates.values()))
    for gate_id in (
        "mlflow-drift",
        "mlflow-verify",
        "db-rehearsal",
        "checklist",
        "benchmarks",
        "jobs-runtime",
    ):
        assert gates[gate_id].status == NO_DATA and gates[gate_id].evidence
    assert gates["support-runway"].status == PASS  # 16.4 supported until 2028-05-09


def test_support_runway_threshold(tmp_path: Path):
    store = store_with_route(tmp_path)
    config = parse_config(
        TEMPLATE.replace("min_support_runway_days = 365", "min_support_runway_days = 900")
    )
    gate = by_id(evaluate(store, config, as_of=T0))["support-runway"]
    assert gate.status == FAIL and "need 900" in gate.evidence
    # Travelling to a moment after end of support fails even the default threshold.
    late = dt.datetime(2028, 6, 1, tzinfo=dt.UTC).timestamp()
    assert by_id(evaluate(store, None, as_of=late))["support-runway"].status == FAIL


def test_benchmark_gate(tmp_path: Path):
    store = store_with_route(tmp_path)
    rng = np.random.default_rng(3)
    old = list(rng.normal(100, 3, 12))
    durations(store, "steady", old, list(rng.normal(100, 3, 12)), T0)
    assert by_id(evaluate(store, None))["benchmarks"].status == PASS
    durations(store, "slow", old, list(rng.normal(130, 3, 12)), T0 + 3600)
    gate = by_id(evaluate(store, None))["benchmarks"]
    assert gate.status == FAIL and "slow duration_s" in gate.evidence
    # As of before the slow pipeline's samples were recorded, the gate still passed.
    recorded = store.query_one(
        "SELECT MIN(recorded_at) AS t FROM bench_samples WHERE pipeline = 'slow'"
    )["t"]
    assert by_id(evaluate(store, None, as_of=recorded - 0.001))["benchmarks"].status == PASS


def scanned_pipeline(tmp_path: Path, cli) -> None:
    """A real recorded scan: one folder pipeline with the default manual checklist items."""
    folder = tmp_path / "pipelines" / "scoring"
    folder.mkdir(parents=True)
    (folder / "job.py").write_text("import mlflow\nprint(mlflow.search_experiments())\n")
    result = cli(
        "--state", str(tmp_path / "g.db"), "check", str(tmp_path / "pipelines"), "--record"
    )
    assert result.returncode == 0, result.stderr


def sign_everything(store: StateStore) -> None:
    from cockpit.compat.checklist import load_checklist, set_item, sign_off

    for view in load_checklist(store):
        for item in view.items:
            set_item(store, view.pipeline_id, item.item_key, by="ana@kyros", status="pass")
        sign_off(store, view.pipeline_id, by="ana@kyros")


def test_checklist_gate_follows_the_real_checklist(tmp_path: Path, cli):
    store_with_route(tmp_path).close()
    scanned_pipeline(tmp_path, cli)
    with StateStore.open(tmp_path / "g.db") as store:
        gate = by_id(evaluate(store, None))["checklist"]
        assert gate.status == FAIL and "0 of 1 pipelines ready; waiting: scoring" in gate.evidence
        before = store.clock()
        sign_everything(store)
        assert by_id(evaluate(store, None))["checklist"].status == PASS
        # Time travel: before the sign-offs the gate was failing.
        assert by_id(evaluate(store, None, as_of=before))["checklist"].status == FAIL


def test_event_fed_gates(tmp_path: Path):
    store = store_with_route(tmp_path)
    store.append_event(
        "databricks.inventory", {"jobs_per_runtime": {"14.3-lts-ml": 2, "16.4-lts-ml": 5}}, ts=T0
    )
    store.append_event("mlflow.rehearsal.failed", {"ok": False, "to_version": "2.22.5"}, ts=T0)
    store.append_event(
        "mlflow.schema.baseline", {"label": "old", "revision": "97727af70f4d"}, ts=T0
    )
    gates = by_id(evaluate(store, None))
    assert (
        gates["jobs-runtime"].status == FAIL
        and "2 of 7 jobs not on 16.4-lts-ml" in gates["jobs-runtime"].evidence
    )
    assert gates["db-rehearsal"].status == FAIL
    assert gates["old-schema"].status == PASS and "97727af70f4d" in gates["old-schema"].evidence
    store.append_event("databricks.inventory", {"jobs_per_runtime": {"16.4-lts-ml": 7}}, ts=T0 + 10)
    store.append_event(
        "mlflow.rehearsal.finished", {"ok": True, "to_version": "2.22.5"}, ts=T0 + 10
    )
    store.append_event(
        "mlflow.schema.changed",
        {"label": "old", "from": "97727af70f4d", "to": "0584bdc529eb"},
        ts=T0 + 20,
    )
    gates = by_id(evaluate(store, None))
    assert [gates[g].status for g in ("jobs-runtime", "db-rehearsal")] == [PASS, PASS]
    assert gates["old-schema"].status == FAIL and "ALARM" in gates["old-schema"].evidence
    # Time travel: as of T0 + 5 the jobs were not all moved and the schema was intact.
    then = by_id(evaluate(store, None, as_of=T0 + 5))
    assert then["jobs-runtime"].status == FAIL and then["old-schema"].status == PASS


def test_changes_are_recorded_once_with_their_time(tmp_path: Path):
    store = store_with_route(tmp_path)
    gates = evaluate(store, None)
    changed = record_changes(store, gates)
    assert {g.id for g in changed} == {g.id for g in gates}
    assert record_changes(store, evaluate(store, None)) == []  # nothing new
    store.append_event("mlflow.rehearsal.finished", {"ok": True, "to_version": "2.22.5"})
    changed = record_changes(store, evaluate(store, None))
    assert [g.id for g in changed] == ["db-rehearsal"]
    last = store.events(kinds=["cutover.gate"])[-1]
    assert last.payload["gate"] == "db-rehearsal" and (
        last.payload["from"],
        last.payload["to"],
    ) == (NO_DATA, PASS)
    assert by_id(evaluate(store, None))["db-rehearsal"].changed_at == last.ts


def test_two_evaluations_that_overlap_record_a_change_once(tmp_path: Path, monkeypatch):
    """The second read the statuses before the first recorded its changes (a TUI evaluation
    still finishing, `cockpit gates --record` in another process): the change is not doubled."""
    from cockpit.cutover import gates as gates_module

    store = store_with_route(tmp_path)
    gates = evaluate(store, None)
    before = gates_module.last_statuses(store)
    assert record_changes(store, gates)  # the first evaluation
    real, stale = gates_module.last_statuses, [before]

    def read_before_the_first_wrote(s):
        return stale.pop() if stale else real(s)

    monkeypatch.setattr(gates_module, "last_statuses", read_before_the_first_wrote)
    assert record_changes(store, gates) == []
    recorded = [e.payload["gate"] for e in store.events(kinds=["cutover.gate"])]
    assert sorted(recorded) == sorted(g.id for g in gates)
    assert len(store.events(kinds=["cutover.decision"])) <= 1


def test_cli_exit_codes(tmp_path: Path, cli):
    store = store_with_route(tmp_path)
    store.close()
    result = cli("--state", str(tmp_path / "g.db"), "gates", "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["go"] is False and len(data["gates"]) == 8
    table = cli("--state", str(tmp_path / "g.db"), "gates")
    assert table.returncode == 1 and "NO-GO" in table.stdout
    missing = cli("--state", str(tmp_path / "nope.db"), "gates")
    assert missing.returncode == 2 and "no state file" in missing.stderr


def test_old_schema_gate_without_db_uri_is_unknown_until_waived(tmp_path: Path, cli):
    """No db_uri means nothing read the old database: that is no evidence, so NO-GO."""
    store = store_with_route(tmp_path)
    config = parse_config(
        '[migration]\nname = "x"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        '[mlflow.old]\ntracking_uri = "http://127.0.0.1:9"\n'
    )
    gate = by_id(evaluate(store, config))["old-schema"]
    assert gate.status == NO_DATA and "unknown" in gate.evidence and "db_uri" in gate.evidence
    assert not gate.passed
    store.close()

    state = str(tmp_path / "g.db")
    # A waiver needs a reason, and names a real gate; neither mistake writes anything.
    no_reason = cli("--state", state, "gates", "--waive", "old-schema")
    assert no_reason.returncode == 2 and "needs a reason" in no_reason.stderr
    unknown = cli("--state", state, "gates", "--waive", "nope", "--reason", "x")
    assert unknown.returncode == 2 and "no gate 'nope'" in unknown.stderr
    not_waived = cli("--state", state, "gates", "--unwaive", "old-schema")
    assert not_waived.returncode == 2 and "not waived" in not_waived.stderr
    with StateStore.open(tmp_path / "g.db") as store:
        assert store.events(kind_prefix="cutover.gate.") == []

    waived = cli(
        "--state", state, "gates", "--format", "json", "--waive", "old-schema",
        "--reason", "managed RDS: DBA snapshots hourly", "--by", "ana@kyros",
    )  # fmt: skip
    assert waived.returncode == 1  # other gates still have no evidence
    gate = next(g for g in json.loads(waived.stdout)["gates"] if g["id"] == "old-schema")
    assert gate["status"] == WAIVED
    assert gate["evidence"].startswith("waived by ana@kyros at ")
    assert "managed RDS: DBA snapshots hourly" in gate["evidence"]
    assert "without the waiver: NO DATA" in gate["evidence"]
    with StateStore.open(tmp_path / "g.db") as store:
        [event] = store.events(kinds=[WAIVE_EVENT])
        assert event.payload == {
            "gate": "old-schema",
            "reason": "managed RDS: DBA snapshots hourly",
            "by": "ana@kyros",
        }
        waived_at = event.ts
        assert by_id(evaluate(store, None))["old-schema"].passed
        # Time travel: before the waiver the gate had no evidence.
        assert by_id(evaluate(store, None, as_of=waived_at - 1))["old-schema"].status == NO_DATA
    # Withdrawn: back to unknown.
    assert cli("--state", state, "gates", "--unwaive", "old-schema", "--by", "li").returncode == 1
    with StateStore.open(tmp_path / "g.db") as store:
        assert by_id(evaluate(store, None))["old-schema"].status == NO_DATA


def test_a_waiver_never_hides_a_passing_gates_evidence(tmp_path: Path):
    store = store_with_route(tmp_path)
    waive(store, "support-runway", reason="belt and braces", by="ana")
    gate = by_id(evaluate(store, None, as_of=T0))["support-runway"]
    assert gate.status == PASS and "supported until" in gate.evidence
    # Every gate can be waived, with the same rule: a failing one shows what it lacks.
    store.append_event("mlflow.rehearsal.failed", {"ok": False, "to_version": "2.22.5"})
    waive(store, "db-rehearsal", reason="upgrade done by the vendor", by="li")
    gate = by_id(evaluate(store, None))["db-rehearsal"]
    assert gate.status == WAIVED and "without the waiver: FAIL" in gate.evidence
    assert "upgrade done by the vendor" in gate.evidence
    store.close()


def test_require_switches_off_are_not_waivers(tmp_path: Path):
    """`require_verify = false` / `require_db_rehearsal = false` in cockpit.toml record no who,
    when or why, so they never pass a gate on their own; a waiver (who, when, why) does."""
    store = store_with_route(tmp_path)
    config = parse_config(
        '[migration]\nname = "x"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        "[gates]\nrequire_verify = false\nrequire_db_rehearsal = false\n"
    )
    gates = by_id(evaluate(store, config, as_of=T0))
    for gate_id, switch in (
        ("mlflow-verify", "require_verify"),
        ("db-rehearsal", "require_db_rehearsal"),
    ):
        gate = gates[gate_id]
        assert gate.status == NO_DATA and not gate.passed, gate
        assert f"[gates] {switch} = false is not a waiver" in gate.evidence
        assert f"cockpit gates --waive {gate_id} --reason" in gate.evidence
    # A failing rehearsal stays a failure with the switch off too.
    store.append_event(
        "mlflow.rehearsal",
        {"ok": False, "error": "step 3 failed", "to_version": "2.22.5"},
        ts=T0 + 1,
    )
    gate = by_id(evaluate(store, config, as_of=T0 + 2))["db-rehearsal"]
    assert gate.status == FAIL and "step 3 failed" in gate.evidence
    # Evidence that passes still passes, switch or not.
    store.append_event(
        "mlflow.rehearsal",
        {"ok": True, "to_version": "2.22.5", "revision_before": "a", "revision_after": "b"},
        ts=T0 + 3,
    )
    assert by_id(evaluate(store, config, as_of=T0 + 4))["db-rehearsal"].status == PASS

    # Accepting the missing verify is a waiver: who, when and why, shown with the gate.
    waiver = waive(store, "mlflow-verify", reason="registry-only move", by="ana@kyros")
    gate = by_id(evaluate(store, config))["mlflow-verify"]
    assert gate.status == WAIVED and gate.passed
    assert gate.evidence.startswith("waived by ana@kyros at ")
    assert "registry-only move" in gate.evidence and waiver.at > 0
    [event] = store.events(kinds=[WAIVE_EVENT])
    assert event.payload == {
        "gate": "mlflow-verify",
        "reason": "registry-only move",
        "by": "ana@kyros",
    }
    store.close()


def test_a_waived_gate_counts_as_passed_for_the_decision_and_overlaps_add_none(
    tmp_path: Path, monkeypatch
):
    """The recorded go/no-go follows is_go (a waiver passes): one decision when the last
    failing gate is waived, none for a later change that leaves it go, none for an overlap."""
    from dataclasses import replace

    from cockpit.cutover import gates as gates_module

    store = store_with_route(tmp_path)
    gates = [replace(g, status=PASS) for g in evaluate(store, None)]
    gates[0] = replace(gates[0], status=FAIL)
    record_changes(store, gates)
    waived = [replace(gates[0], status=WAIVED), *gates[1:]]
    before = gates_module.last_statuses(store)
    record_changes(store, waived)
    decisions = [e.payload["go"] for e in store.events(kinds=["cutover.decision"])]
    assert decisions == [True]  # the first recording is no-go from nothing: no decision
    # An overlapping evaluation that read the statuses before the waiver was recorded.
    real, stale = gates_module.last_statuses, [before]
    monkeypatch.setattr(gates_module, "last_statuses", lambda s: stale.pop() if stale else real(s))
    assert record_changes(store, waived) == []
    monkeypatch.setattr(gates_module, "last_statuses", real)
    # Still go after another gate's evidence changes its status among passing ones: no decision.
    record_changes(store, [waived[0], replace(waived[1], status=WAIVED), *waived[2:]])
    assert [e.payload["go"] for e in store.events(kinds=["cutover.decision"])] == [True]
