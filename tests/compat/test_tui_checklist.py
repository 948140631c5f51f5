"""The Checklist tab, driven with keys: set a status, add a note, assign an owner, sign off,
filter, re-scan; every change lands in the store with its history."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Input, Static, Tree

from cockpit.compat.checklist import history, load_checklist, record_scan
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.checklist import ChecklistTab
from tests.tui_settle import until

PIPELINES = Path(__file__).resolve().parents[2] / "sample_state" / "pipelines"


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    """A state file with the Kyros sample pipelines scanned, next to a copy of their sources."""
    shutil.copytree(PIPELINES, tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COCKPIT_USER", "dana")
    crossing = build_crossing(
        "14.3-lts-ml",
        "16.4-lts-ml",
        overrides={"mlflow": ("1.30.1", None)},
        old_tracking_uri="https://mlflow-old.kyros.example",
    )
    path = tmp_path / "state.db"
    with StateStore.open(path, create=True) as store:
        result = Scanner(crossing).scan_paths(["pipelines"])
        record_scan(store, result, None, roots=["pipelines"], base_dir="")
    return path


def tree_labels(app) -> list[str]:
    tree = app.query_one("#cl-tree", Tree)
    out = []
    for node in tree.root.children:
        out.append(str(node.label))
        out += ["  " + str(child.label) for child in node.children]
    return out


async def select(pilot, app, pipeline: str, item: str | None = None) -> None:
    tree = app.query_one("#cl-tree", Tree)
    for node in tree.root.children:
        if node.data == (pipeline, None):
            node.expand()
            await pilot.pause()
            target = node
            if item is not None:
                target = next(c for c in node.children if c.data == (pipeline, item))
            tree.move_cursor(target)
            tree.focus()
            await pilot.pause()
            return
    raise AssertionError(f"{pipeline} is not in the tree")


async def test_walk_the_checklist_with_keys(state: Path):
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        progress = str(app.query_one("#cl-progress", Static).render())
        assert "0 of 10 pipelines ready" in progress
        assert any("kyros-churn-train" in label for label in tree_labels(app))

        # Waive a warning with a note, on the fraud job.
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB105")
        detail = str(app.query_one("#cl-detail", Static).render())
        assert "JOB105 dbfs-init-script" in detail and "source: https://" in detail
        assert "dbfs:/kyros/init/install-odbc.sh" in detail  # the code excerpt
        await pilot.press("w")
        await pilot.press("n")
        await pilot.pause()
        assert app.query_one("#cl-prompt", Input).has_focus
        await pilot.press(*"moves with the volume migration", "enter")
        await pilot.pause()

        # A blocking check cannot be passed while its findings are there.
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB101")
        await pilot.press("p")
        await pilot.pause()
        items = {
            i.item_key: i
            for v in load_checklist(store)
            for i in v.items
            if v.pipeline_id == "job:kyros-fraud-score"
        }
        assert items["rule:JOB101"].status == "fail"
        assert items["rule:JOB105"].status == "waived"
        assert items["rule:JOB105"].note == "moves with the volume migration"
        assert items["rule:JOB105"].updated_by == "dana"

        # Close the analytics job's manual items, assign an owner, sign it off.
        pipeline = "job:kyros-nightly-report"
        await select(pilot, app, pipeline, "manual:ran-green-on-the-target-runtime")
        await pilot.press("p")
        await select(pilot, app, pipeline, "manual:tracking-uri-switched-to-the-new-server")
        await pilot.press("w")
        await select(pilot, app, pipeline)
        await pilot.press("o")
        await pilot.pause()
        await pilot.press(*"analytics", "enter")
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        view = next(v for v in load_checklist(store) if v.pipeline_id == pipeline)
        assert view.ready and view.signed_off_by == "dana" and view.owner == "analytics"
        assert "1 of 10 pipelines ready" in str(app.query_one("#cl-progress", Static).render())

        # Filters: only open blocking checks remain in the tree.
        await pilot.press("v")  # all -> open
        await pilot.press("e")  # all -> blocking
        await pilot.pause()
        labels = tree_labels(app)
        assert not any("kyros-nightly-report" in label for label in labels)
        assert all("fail" in label for label in labels if label.startswith("  "))

    kinds = [
        (e.kind, e.payload.get("new"), e.payload.get("by"), e.source)
        for e in history(store, "job:kyros-fraud-score", "rule:JOB105")
        if e.kind.startswith("compat.item.")
    ]
    assert kinds[:2] == [
        ("compat.item.note", "moves with the volume migration", "dana", "tui"),
        ("compat.item.status", "waived", "dana", "tui"),
    ]
    signed = store.events(kinds=["compat.pipeline.signed_off"])
    assert [(e.payload["pipeline"], e.payload["by"], e.source) for e in signed] == [
        ("job:kyros-nightly-report", "dana", "tui")
    ]
    store.close()


async def test_a_key_pressed_right_after_a_refill_moves_from_the_kept_selection(state: Path):
    """A poll's refill (the store-change tick) must not take back a cursor move that follows
    it before the screen is next drawn: the move starts from the kept selection and wins.
    The refill used to put the cursor back only after the next refresh, so the key was lost
    and `p` then set the status of the check the cursor had left."""
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB105")
        tab = app.query_one(ChecklistTab)
        tree = app.query_one("#cl-tree", Tree)
        tab.refresh_view(tab.view)  # what a store-change tick does
        tree.action_cursor_down()  # the user's key, in the same turn of the loop
        expected = tree.cursor_node.data
        assert expected != ("job:kyros-fraud-score", "rule:JOB105")
        for _ in range(3):
            await pilot.pause()
        assert tree.cursor_node.data == expected
        assert tab.selected == expected
    store.close()


async def test_rescan_keeps_decisions(state: Path):
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB105")
        await pilot.press("w")
        # Fix the churn notebook in place, then re-scan from the tab.
        notebook = state.parent / "pipelines/src/churn/train_churn.py"
        notebook.write_text(notebook.read_text().replace("list_experiments", "search_experiments"))
        await pilot.press("r")
        tab = app.query_one(ChecklistTab)
        for _ in range(2400):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.05)
            if not tab.rescanning:
                break
        assert not tab.rescanning
    views = {v.pipeline_id: {i.item_key: i for i in v.items} for v in load_checklist(store)}
    assert views["job:kyros-fraud-score"]["rule:JOB105"].status == "waived"
    assert views["job:kyros-churn-train"]["rule:MLF101"].status == "pass"
    assert len(store.query("SELECT id FROM compat_scans")) == 2
    store.close()


async def test_a_rescan_that_fails_with_a_bug_says_so_and_can_run_again(
    state: Path, monkeypatch, tmp_path: Path
):
    """A bug in a tab's long action (not a CockpitError) ended its worker silently: the tab
    stayed "re-scanning" for the rest of the session. It is said in one line, with the
    traceback in the debug log (secrets scrubbed), and the action can be started again."""
    from cockpit import debuglog, secrets

    secrets.register_secret("dapi-rescan-canary-0042")
    calls = []

    def broken(store, config):
        calls.append(1)
        raise RuntimeError("boom with dapi-rescan-canary-0042")

    monkeypatch.setattr("cockpit.compat.rescan.run_rescan", broken)
    log = debuglog.configure(tmp_path / "s.db")
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    try:
        async with app.run_test(size=(180, 50)) as pilot:
            await pilot.pause()
            tab = app.query_one(ChecklistTab)
            for attempt in (1, 2):
                await pilot.press("r")
                await until(pilot, lambda: not tab.rescanning, "the re-scan to end")
                assert len(calls) == attempt
            said = [n.message for n in app._notifications]
            assert any("internal error (RuntimeError: boom" in m for m in said), said
            assert not any("dapi-rescan-canary" in m for m in said)
        assert log is not None and "RuntimeError: boom" in log.read_text(encoding="utf-8")
        assert "dapi-rescan-canary" not in log.read_text(encoding="utf-8")
    finally:
        debuglog.configure(None)
        store.close()


async def test_read_only_file_refuses_changes(state: Path):
    store = StateStore.open(state, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB105")
        await pilot.press("w")
        await pilot.pause()
    store.close()
    with StateStore.open(state, readonly=True) as again:
        items = {
            i.item_key: i.status
            for v in load_checklist(again)
            for i in v.items
            if v.pipeline_id == "job:kyros-fraud-score"
        }
        assert items["rule:JOB105"] == "todo"


async def test_time_travel_shows_the_checklist_as_it_was(sample_state: Path, tmp_path: Path):
    """The shipped sample, offline: before the sign-offs nothing was ready, and the past cannot
    be edited."""
    path = tmp_path / "kyros.db"
    shutil.copy(sample_state, path)
    store = StateStore.open(path)
    signed = store.events(kinds=["compat.pipeline.signed_off"])
    assert signed, "the sample signs some pipelines off"
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        progress = app.query_one("#cl-progress", Static)
        assert "2 of 15 pipelines ready" in str(progress.render())
        app.set_as_of(signed[0].ts - 1)
        await pilot.pause()
        assert "0 of 15 pipelines ready" in str(progress.render())
        assert "as of" in str(progress.render())
        await select(pilot, app, "job:kyros-fraud-score", "rule:JOB105")
        await pilot.press("w")
        await pilot.pause()
        app.set_as_of(None)
        await pilot.pause()
        assert "2 of 15 pipelines ready" in str(progress.render())
    fraud = next(v for v in load_checklist(store) if v.pipeline_id == "job:kyros-fraud-score")
    # Waived by the sample's own story, not by the key pressed in the past.
    waivers = [
        e
        for e in history(store, fraud.pipeline_id, "rule:JOB105")
        if e.kind == "compat.item.status" and e.payload["new"] == "waived"
    ]
    assert [e.source for e in waivers] == ["sample"]
    store.close()
