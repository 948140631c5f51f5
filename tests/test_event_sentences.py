"""Every event kind the cockpit writes has a sentence, and no sink shows a raw JSON payload."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cockpit.events.sentences import KINDS, sentence
from tests.conftest import REPO

KIND = re.compile(r"^[a-z]+(\.[a-z_]+)+$")
WRITERS = ("append_event", "_record")  # StateStore.append_event; Poller._record wraps it
# f"compat.item.{column}": the checklist's item columns a change can touch (set_item's
# `changes`, the scan's and the DDP item's "status").
ITEM_COLUMNS = ("status", "owner", "note")
# Written by the store itself with its own INSERT (schema upgrades of the file).
STORE_KINDS = ("store.migrated",)


def _module_constants(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level NAME = "x" and A, B = "x", "y" string constants."""
    out: dict[str, list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                out[target.id] = [node.value.value]
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for name, value in zip(target.elts, node.value.elts, strict=False):
                    if isinstance(name, ast.Name) and isinstance(value, ast.Constant):
                        out[name.id] = [value.value]
    return out


def written_kinds() -> set[str]:
    """Every event kind a writer in the source names: constants in the first argument of an
    append_event call (names resolved to the module's constants, f-strings expanded)."""
    found: set[str] = set()
    for folder in ("cockpit", "screens", "sample_state"):
        for path in (REPO / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = _module_constants(tree)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and node.args):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name not in WRITERS:
                    continue
                first = node.args[0]
                for sub in ast.walk(first):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        if KIND.match(sub.value):
                            found.add(sub.value)
                    elif isinstance(sub, ast.Name):
                        found.update(v for v in constants.get(sub.id, []) if KIND.match(str(v)))
                    elif isinstance(sub, ast.JoinedStr):
                        head = sub.values[0]
                        assert isinstance(head, ast.Constant), ast.dump(sub)
                        assert head.value == "compat.item.", f"{path}: new f-string event kind"
                        found.update(f"compat.item.{c}" for c in ITEM_COLUMNS)
    state = (REPO / "cockpit" / "store" / "state.py").read_text()
    for kind in STORE_KINDS:
        assert f'"{kind}"' in state
        found.add(kind)
    return found


def test_every_written_kind_has_a_sentence():
    written = written_kinds()
    assert len(written) >= 45  # the scan found the writers (not an empty pass)
    assert written - KINDS == set(), "event kinds without a sentence"
    assert KINDS - written == set(), "sentences for kinds nothing writes"
    assert set(SAMPLES) == KINDS, "every kind needs a sample payload below"


# One realistic payload per kind, shaped as its writer writes it, and a phrase its sentence says.
SAMPLES: dict[str, tuple[dict, str]] = {
    "migration.started": ({"name": "Kyros", "from": "14.3-lts-ml", "to": "16.4-lts-ml"}, "Kyros"),
    "store.migrated": ({"from": 0, "to": 12, "applied": [1, 2]}, "version 0 to 12"),
    "runtime.imported": ({"runtime_id": "kyros-img", "libraries": 399}, "Imported runtime kyros-img"),
    "runtime.probed": ({"runtime_id": "probe-16.4", "libraries": 398}, "probe-16.4 (398"),
    "runtime.stored": ({"runtime_id": "x", "libraries": 1}, "(1 library)"),
    "compat.scan.recorded": (
        {"scan_id": 1, "from": "a", "to": "b", "files": 22, "findings": 63, "blocking": 34,
         "pipelines": 15},
        "63 findings (34 blocking) in 15 pipelines",
    ),
    "compat.pipeline.added": ({"pipeline": "job:k", "name": "k", "kind": "job"}, "Found pipeline k"),
    "compat.pipeline.gone": ({"pipeline": "job:k"}, "k is no longer found"),
    "compat.pipeline.owner": ({"pipeline": "job:k", "by": "lead", "old": None, "new": "ana"},
                              "lead made ana the owner of k"),
    "compat.pipeline.signed_off": ({"pipeline": "job:k", "by": "dana", "note": "ok"},
                                   "dana signed off k: ‘ok’"),
    "compat.item.status": (
        {"pipeline": "job:kyros-churn-train", "item": "rule:PY301", "old": "fail", "new": "pass",
         "by": "marco"},
        "marco marked PY301 as pass on kyros-churn-train (was fail)",
    ),
    "compat.item.owner": ({"pipeline": "job:k", "item": "rule:JOB101", "old": None, "new": "jo",
                           "by": "lead"}, "lead gave JOB101 on k to jo"),
    "compat.item.note": ({"pipeline": "job:k", "item": "rule:PY301", "old": "",
                          "new": "replaced LooseVersion", "by": "marco"},
                         "marco noted on PY301 of k: ‘replaced LooseVersion’"),
    "databricks.inventory": ({"host": "https://h", "jobs": 14, "added": 2, "removed": 1,
                              "clusters": 2, "spark_versions": 30}, "14 jobs (2 new, 1 removed)"),
    "databricks.runs": ({"new": 140, "fetched": 150, "active": 1, "watermark": 1.0}, "140 new runs"),
    "databricks.job_runtime_changed": ({"job": "j", "job_id": 1, "from": "14.3-lts-ml",
                                        "to": "16.4-lts-ml"}, "Job j moved from 14.3-lts-ml"),
    "databricks.code_fetched": ({"objects": 9, "exported": 3, "unchanged": 6, "missing": 0,
                                 "forbidden": 0}, "3 of 9 objects read"),
    "databricks.probe_submitted": ({"spark_version": "16.4.x", "runtime_id": "p", "run_id": 7},
                                   "probe of 16.4.x (run 7)"),
    "databricks.probe_finished": ({"spark_version": "16.4.x", "runtime_id": "p", "run_id": 7,
                                   "state": "succeeded", "message": "398 libraries"},
                                  "16.4.x succeeded: 398 libraries"),
    "ddp.probe_submitted": ({"runtime_id": "16.4-lts-ml", "spark_version": "s", "run_id": 3,
                             "processes": 2, "backend": "gloo", "inject": None}, "2 processes"),
    "ddp.probe_finished": ({"id": 1, "runtime_id": "16.4-lts-ml", "spark_version": "s",
                            "run_id": 3, "state": "passed", "message": "allreduce ok"},
                           "passed: allreduce ok"),
    "mlflow.poll": ({"poll_id": 5, "old": "1.x", "new": "2.22.5", "experiments": 5,
                     "old_runs": 408, "new_runs": 390, "missing": 18, "differing": 3,
                     "versions_missing": 2, "duration_s": 1.8}, "18 runs missing, 3 differing"),
    "mlflow.sync.started": ({"old": "http://o", "new": "http://n", "experiments": 2,
                             "runs_to_write": 54, "versions_to_create": 0, "workers": 8},
                            "54 runs"),
    "mlflow.sync.experiment": ({"name": "kyros/fraud-gbm", "source_id": "1", "dest_id": "2",
                                "created": 26, "updated": 0, "lifecycle": 0, "deleted": False},
                               "Copied 26 runs of kyros/fraud-gbm"),
    "mlflow.sync.finished": ({"runs_created": 26, "runs_updated": 0, "errors": 0,
                              "duration_s": 46.0, "first_errors": []}, "in 46 s: 26 runs"),
    "mlflow.verify.finished": ({"verification_id": 1, "experiments": 5, "runs": 408,
                                "artifacts": 1184, "models": 3, "differences": 0, "first": []},
                               "Deep verify clean"),
    "mlflow.mirror.started": ({"old": "http://o", "new": "http://n", "interval_s": 30},
                              "every 30 s"),
    "mlflow.mirror.cycle": ({"cycle": 3, "runs_created": 50, "runs_updated": 0,
                             "versions_created": 1, "errors": 0, "drift": 23}, "drift 23"),
    "mlflow.mirror.error": ({"cycle": 4, "error": "connection refused"},
                            "cycle 4 failed: connection refused"),
    "mlflow.mirror.paused": ({"cycles": 3}, "Paused the mirror after 3 cycles"),
    "mlflow.mirror.resumed": ({"cycles": 3}, "Resumed"),
    "mlflow.mirror.stopped": ({"cycles": 1}, "after 1 cycle"),
    "mlflow.rehearsal.finished": ({"id": 1, "to_version": "2.22.5", "ok": True, "migrations": 9,
                                   "duration_s": 2.85, "error": None},
                                  "Rehearsed the DB upgrade to 2.22.5: clean, 9 steps, 2.9 s"),
    "mlflow.rehearsal.failed": ({"id": 2, "to_version": "2.22.5", "ok": False, "migrations": 4,
                                 "duration_s": 1.0, "error": None, "rows_lost": ["runs"]},
                                "failed: rows lost in runs"),
    "mlflow.schema.baseline": ({"db_uri": "u", "label": "old", "revision": "97727af70f4d"},
                               "revision 97727af70f4d"),
    "mlflow.schema.changed": ({"db_uri": "u", "label": "old", "from": "a1", "to": "b2",
                               "alarm": True, "why": "migrated in place"}, "from a1 to b2"),
    "mlflow.schema.acknowledged": ({"db_uri": "u", "label": "old", "revision": "b2"},
                                   "Acknowledged"),
    "mlflow.schema.unreadable": ({"db_uri": "u", "label": "old", "error": "locked"}, "locked"),
    "bench.samples_recorded": ({"added": 12, "offered": 12, "pipelines": {"kyros-churn": 12}},
                               "12 benchmark samples"),
    "bench.rerun_submitted": ({"pipeline": "p", "runtime": "16.4-lts-ml", "run_id": 4,
                               "batch": "b"}, "shadow re-run of p on 16.4-lts-ml"),
    "bench.rerun_finished": ({"pipeline": "p", "runtime": "r", "run_id": 4, "state": "SUCCESS",
                              "duration_s": 125.0, "message": ""}, "SUCCESS in 2 min 5 s"),
    "cutover.gate": ({"gate": "mlflow-drift", "from": "fail", "to": "pass",
                      "evidence": "drift 0 for 3 polls"}, "FAIL → PASS (drift 0 for 3 polls)"),
    "cutover.decision": ({"go": False, "failing": ["a", "b"]}, "NO-GO, failing: a, b"),
    "cutover.gate.waived": ({"gate": "old-db", "reason": "no db access", "by": "lead"},
                            "lead waived gate old-db: ‘no db access’"),
    "cutover.gate.unwaived": ({"gate": "old-db", "by": "lead"}, "withdrew the waiver"),
    "recorder.started": ({"sources": ["mlflow", "databricks"], "pid": 1},
                         "Started recording mlflow, databricks"),
    "recorder.stopped": ({"seconds": 65.0, "polls": {"mlflow": 3, "databricks": 2}},
                         "after 1 min 5 s (5 polls)"),
    "source.status": ({"source": "mlflow", "from": "ok", "to": "down", "error": "refused"},
                      "Source mlflow is down (was ok): refused"),
    "source.error": ({"source": "mlflow", "error": "timeout", "failures": 2},
                     "failed (2 failures in a row): timeout"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_each_kind_renders_a_sentence(kind: str):
    payload, phrase = SAMPLES[kind]
    text = sentence(kind, payload)
    assert phrase in text, text
    assert "{" not in text and '":' not in text  # never the payload's JSON
    # A payload of another shape (an older or newer build) still gives a line, never a crash.
    assert sentence(kind, {}) and sentence(kind, {"by": 5, "pipeline": ["x"]})


def test_a_carried_decision_says_where_it_came_from():
    """A decision the scan carried (a folded rule's item, a bundle deployment's pipeline) is
    the person's, made earlier elsewhere: the timeline says where."""
    folded = {"pipeline": "job:k", "item": "rule:PDA972", "old": None, "new": "waived",
              "by": "erin", "carried_from": "rule:PDA1071"}  # fmt: skip
    assert sentence("compat.item.status", folded) == (
        "erin marked PDA972 as waived on k, carried from PDA1071"
    )
    deployed = {"pipeline": "job:train", "item": "rule:JOB101", "old": None, "new": "x",
                "by": "erin", "carried_from": "rule:JOB101",
                "carried_from_pipeline": "job:[dev alice] train"}  # fmt: skip
    assert sentence("compat.item.note", deployed) == (
        "erin noted on JOB101 of train, carried from JOB101 of [dev alice] train: ‘x’"
    )
    assert sentence("compat.item.owner", {**deployed, "new": "carol"}).endswith(
        "to carol, carried from JOB101 of [dev alice] train"
    )
    owner = {"pipeline": "job:train", "by": "erin", "old": None, "new": "dave",
             "carried_from": "job:[dev alice] train"}  # fmt: skip
    assert sentence("compat.pipeline.owner", owner) == (
        "erin made dave the owner of train, carried from [dev alice] train"
    )


def test_hostile_values_are_made_safe_and_bounded():
    evil = "\x1b]52;c;cm0gLXJm\x07x\u202e[link=http://e]y[/link]"
    text = sentence("compat.item.note", {"pipeline": evil, "item": "rule:X", "new": evil * 50,
                                         "by": evil})  # fmt: skip
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\x1b" in text and "\\u202e" in text  # shown, so a reviewer sees the name is odd
    assert len(text) <= 400
    # Unknown kinds (a newer build wrote them): words and plain fields, no JSON.
    other = sentence("mlflow.future_thing", {"runs": 3, "nested": {"a": 1}})
    assert other == "Mlflow future thing: runs 3"


def test_sinks_show_sentences_not_payloads(sample_state: Path, cli, tmp_path: Path):
    out = tmp_path / "r.md"
    assert (
        cli(
            "report", "--format", "markdown", "--state", str(sample_state), "-o", str(out)
        ).returncode
        == 0
    )
    report = out.read_text()
    timeline = report[report.index("## Timeline") :]
    assert "Rehearsed the DB upgrade to 2.22.5: clean, 9 steps, 2.9 s" in timeline
    assert '{"' not in timeline and "{&quot;" not in timeline
    run = cli("playbook", "--state", str(sample_state))
    assert run.returncode == 0, run.stderr
    assert '{"' not in run.stdout and "{&quot;" not in run.stdout
    assert "Copied 148 runs of kyros/churn" in run.stdout


async def test_timeline_tab_tells_events_in_sentences(sample_state: Path):
    from textual.widgets import DataTable

    from cockpit.store import StateStore
    from screens.app import CockpitApp
    from screens.tabs.cutover import CutoverTab

    store = StateStore.open(sample_state, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[CutoverTab])
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = app.query_one("#timeline", DataTable)
        assert table.row_count > 100
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert all('{"' not in row[1] and row[1] for row in rows)
        assert any(
            row[1] == "Rehearsed the DB upgrade to 2.22.5: clean, 9 steps, 2.9 s" for row in rows
        )
        # The raw payload is one key away: the detail pane of the highlighted row.
        detail = str(app.query_one("#cut-detail").render())
        assert rows[0][1] in detail and "raw payload" in detail and '"' in detail
    store.close()
