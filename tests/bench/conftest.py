"""Benchmark fixtures: a state file holding the Kyros benchmark history (sample step s50)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.store import StateStore

REPO = Path(__file__).resolve().parents[2]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def load_step(name: str):
    return _load(REPO / "sample_state" / "steps" / f"{name}.py", f"bench_test_{name}")


def write_kyros_history(path: Path) -> Path:
    """Only what the benchmarks need (migration identity + s50), not the whole sample build."""
    builder = _load(REPO / "sample_state" / "build.py", "bench_test_sample_build")
    clock = builder.FixedClock()
    store = StateStore.open(path, create=True, clock=clock)
    with store.write() as tx:
        store.set_meta("migration.name", "Kyros DBR 16.4 + MLflow 2 cutover", conn=tx)
        store.set_meta("migration.from", "14.3-lts-ml", conn=tx)
        store.set_meta("migration.to", "16.4-lts-ml", conn=tx)
    load_step("s50_benchmarks").build(builder.SampleContext(store=store, clock=clock))
    store.close()
    return path


@pytest.fixture(scope="session")
def kyros_bench_master(tmp_path_factory) -> Path:
    return write_kyros_history(tmp_path_factory.mktemp("bench") / "kyros-bench.db")


@pytest.fixture
def kyros_bench(kyros_bench_master: Path, tmp_path: Path) -> Path:
    """A private copy per test, so writing tests never disturb each other."""
    copy = tmp_path / "kyros-bench.db"
    shutil.copy(kyros_bench_master, copy)
    return copy


# ------------------------------------------------------------------------------ MLflow servers
def _mlflow_server(version: str, factory) -> Iterator:
    from cockpit.mlflow import servers

    handle = servers.start_server(version, factory.mktemp(f"bench-mlflow-{version}"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def bench_mlflow_old(tmp_path_factory):
    """A real MLflow 1.x server (the Kyros production generation), from its own virtualenv."""
    from cockpit.mlflow.servers import MLFLOW_V1

    yield from _mlflow_server(MLFLOW_V1, tmp_path_factory)


@pytest.fixture(scope="session")
def bench_mlflow_new(tmp_path_factory):
    """A real MLflow 2.x server (the target generation)."""
    from cockpit.mlflow.servers import MLFLOW_V2

    yield from _mlflow_server(MLFLOW_V2, tmp_path_factory)
