"""Horovod -> TorchDistributor guidance: every Horovod construct a scan finds carries its DDP
counterpart and a before/after that is real code, with Databricks' docs as the source."""

from __future__ import annotations

import ast
import textwrap

import pytest

from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner
from cockpit.ddp.guidance import GUIDES, TORCH_DISTRIBUTOR_DOC, guide_for

HOROVOD_NOTEBOOK = textwrap.dedent(
    """\
    # Databricks notebook source
    import mlflow
    from sparkdl import HorovodRunner


    def train_one_worker(learning_rate):
        import horovod.torch as hvd
        import torch

        hvd.init()
        torch.cuda.set_device(hvd.local_rank())
        model = torch.nn.Linear(8, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate * hvd.size())
        optimizer = hvd.DistributedOptimizer(optimizer, named_parameters=model.named_parameters())
        hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        loss = hvd.allreduce(torch.tensor(1.0), name="loss")
        return loss


    # COMMAND ----------

    hr = HorovodRunner(np=4)
    hr.run(train_one_worker, learning_rate=0.01)
    """
)


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("horovod.torch.init — gone", "init"),
        ("horovod.torch.DistributedOptimizer — gone", "optimizer"),
        ("horovod.torch.broadcast_parameters — gone", "broadcast"),
        ("horovod.torch.broadcast_optimizer_state — gone", "broadcast"),
        ("sparkdl.HorovodRunner — gone", "runner"),
        ("import horovod.torch — gone", "module"),
        ("from horovod.torch import … — gone", "module"),
        ("import horovod.tensorflow.keras — gone", "tensorflow"),
        ("horovod.torch.local_rank — gone", "rank"),
        ("horovod.torch.allreduce — gone", "collectives"),
        ("horovod==0.28.1: Horovod and HorovodRunner are not preinstalled", "package"),
    ],
)
def test_each_construct_gets_its_guide(message, key):
    assert guide_for("DBR101", message) is GUIDES[key]


def test_other_findings_get_none():
    assert guide_for("MLF101", "mlflow.list_experiments — removed") is None


def test_every_horovod_finding_of_a_real_scan_has_a_before_and_after(tmp_path):
    notebook = tmp_path / "train.py"
    notebook.write_text(HOROVOD_NOTEBOOK, encoding="utf-8")
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    findings = [f for f in Scanner(crossing).scan_paths([notebook]).findings if f.code == "DBR101"]
    by_line = {f.line: guide_for(f.code, f.message).key for f in findings}
    # Imports inside the training function, and the calls on their alias, are all found.
    assert by_line == {
        3: "runner",
        7: "module",
        10: "init",
        11: "rank",
        13: "rank",
        14: "optimizer",
        15: "broadcast",
        16: "collectives",
        22: "runner",
    }


def test_guides_are_real_code_with_their_sources():
    from ruamel.yaml import YAML

    for guide in GUIDES.values():
        assert guide.before.strip() and guide.after.strip() and guide.before != guide.after
        if guide.key == "package":
            assert YAML(typ="safe").load(guide.before)["libraries"][0]["pypi"]["package"]
            assert YAML(typ="safe").load(guide.after) == {"libraries": []}
        else:
            ast.parse(guide.before)
            ast.parse(guide.after)
        assert guide.sources and all(s.startswith("https://") for s in guide.sources)
    for key in ("runner", "init", "optimizer", "broadcast", "module", "package"):
        assert TORCH_DISTRIBUTOR_DOC in GUIDES[key].sources
    assert "TorchDistributor(num_processes=4, local_mode=False" in GUIDES["runner"].after
    assert "init_process_group" in GUIDES["init"].after
    assert "DDP(" in GUIDES["optimizer"].after
