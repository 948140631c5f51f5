"""Every Horovod finding shows its before/after: in the Checklist tab's detail pane and in the
walkthrough report (Markdown and HTML)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import Static, Tree

from cockpit.compat.checklist import findings_for, record_scan
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.ddp.guidance import guide_for
from cockpit.document.render import to_html, to_markdown
from cockpit.reporting.walkthrough import build_report
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.checklist import ChecklistTab

PIPELINES = Path(__file__).resolve().parents[2] / "sample_state" / "pipelines"
RECSYS = "job:kyros-recsys-train"


@pytest.fixture
def state(tmp_path: Path, monkeypatch) -> Path:
    shutil.copytree(PIPELINES, tmp_path / "pipelines")
    monkeypatch.chdir(tmp_path)
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    path = tmp_path / "state.db"
    with StateStore.open(path, create=True) as store:
        record_scan(store, Scanner(crossing).scan_paths(["pipelines"]), None, roots=["pipelines"])
    return path


async def detail_with(pilot, app, text: str) -> str:
    """The detail pane once it shows ``text`` (a loaded machine takes a while to re-render)."""
    detail = ""
    for _ in range(1200):  # a hang guard (120 s), not a speed check
        await pilot.pause(0.1)
        detail = str(app.query_one("#cl-detail", Static).render())
        if text in detail:
            break
    return detail


def test_the_sample_horovod_pipeline_has_a_guide_per_finding(state):
    with StateStore.open(state, readonly=True) as store:
        findings = findings_for(store, RECSYS, "DBR101")
    keys = {(f.path, f.line): guide_for(f.code, f.message).key for f in findings}
    assert keys == {
        ("pipelines/resources/recsys.yml", 21): "package",
        ("pipelines/src/recsys/train_recsys.py", 8): "runner",
        ("pipelines/src/recsys/train_recsys.py", 12): "module",
        ("pipelines/src/recsys/train_recsys.py", 14): "init",
        ("pipelines/src/recsys/train_recsys.py", 17): "runner",
    }


async def test_the_detail_pane_shows_before_and_after(state):
    store = StateStore.open(state)
    app = CockpitApp(store=store, offline=True, tab_classes=[ChecklistTab])
    async with app.run_test(size=(180, 60)) as pilot:
        await pilot.pause()
        tree = app.query_one("#cl-tree", Tree)
        node = next(n for n in tree.root.children if n.data == (RECSYS, None))
        node.expand()
        await pilot.pause()
        leaf = next(c for c in node.children if c.data == (RECSYS, "rule:DBR101"))
        tree.move_cursor(leaf)
        tree.focus()
        detail = await detail_with(pilot, app, "Horovod → PyTorch DDP")
        for construct in (
            "HorovodRunner(np=N).run(fn, **kwargs)",
            "hvd.init()",
            "import horovod.torch as hvd",
            "horovod in the libraries or requirements",
        ):
            assert f"Horovod → PyTorch DDP: {construct}" in detail
        assert "  - hr = HorovodRunner(np=4)" in detail
        assert "  + distributor = TorchDistributor(num_processes=4, local_mode=False" in detail
        assert '  +     dist.init_process_group("nccl")  # "gloo" on a CPU cluster' in detail
        assert (
            "source: https://docs.databricks.com/machine-learning/train-model/"
            "distributed-training/spark-pytorch-distributor.html" in detail
        )
        ddp = next(c for c in node.children if c.data == (RECSYS, "probe:ddp-on-target"))
        tree.move_cursor(ddp)
        detail = await detail_with(pilot, app, "DDP smoke probe")
        assert "distributed training runs on the target" in detail
        assert "DDP smoke probe" in detail and "none yet: press D" in detail
    store.close()


def test_the_report_shows_before_and_after(state):
    with StateStore.open(state, readonly=True) as store:
        doc = build_report(store, None)
    markdown = to_markdown(doc)
    section = markdown.split("## Distributed training (Horovod → PyTorch DDP)", 1)[1]
    section = section.split("\n## ", 1)[0]
    assert "No DDP probe recorded" in section
    # Table cells are Markdown-escaped (cockpit.textsafe.md_text): "_" becomes "\_".
    assert (
        "| kyros-recsys-train | pipelines/src/recsys/train\\_recsys.py:14 | hvd.init() |" in section
    )
    assert (
        section.count("*before*") == section.count("*after*") == 4
    )  # package, runner, module, init
    assert "```python\nfrom sparkdl import HorovodRunner\n" in section
    assert "```yaml\nlibraries:\n  - pypi:\n      package: horovod==0.28.1\n```" in section
    html = to_html(doc)
    assert "<figcaption>after</figcaption><pre><code>from pyspark.ml.torch.distributor" in html
    assert "# np=-2 -&gt; TorchDistributor" in html
