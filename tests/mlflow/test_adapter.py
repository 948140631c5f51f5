"""Every call the cockpit relies on, against a real server of each generation (1.x, 2.x, 3.x)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import uuid

import pytest
import seed

from cockpit.errors import SourceUnavailableError
from cockpit.mlflow.adapter import NewServer, OldServer, connect_new, connect_old, detect
from cockpit.mlflow.models import MetricPoint
from cockpit.mlflow.rest import ReadOnlyViolation, RestClient, RetryPolicy

pytestmark = pytest.mark.servers
GENERATIONS = ["mlflow_v1", "mlflow_v2", "mlflow_v3"]
WRITE_METHODS = {
    "create_experiment",
    "rename_experiment",
    "set_experiment_tag",
    "delete_experiment",
    "restore_experiment",
    "create_run",
    "log_batch",
    "update_run",
    "set_tag",
    "delete_tag",
    "delete_run",
    "restore_run",
    "upload_artifact",
    "create_registered_model",
    "update_registered_model",
    "set_registered_model_tag",
    "create_model_version",
    "update_model_version",
    "set_model_version_tag",
    "transition_stage",
    "set_alias",
}


@pytest.fixture(params=GENERATIONS)
def server(request):
    return request.getfixturevalue(request.param)


def test_detects_generation_and_capabilities(server):
    info = detect(RestClient(server.url, read_only=True))
    assert info.generation == server.generation
    caps = info.capabilities
    if server.generation == 1:
        assert info.version is None and caps.experiments_list and not caps.aliases
    else:
        assert info.version == server.version and not caps.experiments_list and caps.aliases
    assert caps.experiments_search and caps.registry and caps.stages


def test_reads_everything_the_copy_needs(server):
    w = seed.Writer(server.url)
    prefix = f"adapter-{uuid.uuid4().hex[:6]}"
    exp = w.experiment(f"{prefix} ü", {"k": "v"})
    gone = w.experiment(f"{prefix} gone")
    w.post("/api/2.0/mlflow/experiments/delete", {"experiment_id": gone})
    runs = [w.run(exp, f"r{i}", start=seed.T0 + i) for i in range(5)]
    history = [("h", float(s), seed.T0 + s, s) for s in range(1200)]
    history += [("h", "NaN", seed.T0 + 5000, 1200), ("h", "Infinity", seed.T0 + 5001, 1201)]
    w.log(runs[0]["run_id"], metrics=history, params={"p": "1"}, tags={"t": "ü"})
    payload = bytes(range(256)) * 40
    w.artifact(runs[0], "a/b/c.bin", payload)
    w.artifact(runs[0], "empty", b"")
    w.post("/api/2.0/mlflow/runs/delete", {"run_id": runs[4]["run_id"]})

    old = connect_old(server.url)
    found = {e.name: e for e in old.experiments()}
    assert found[f"{prefix} ü"].tags == {"k": "v"}
    assert found[f"{prefix} gone"].deleted
    assert old.experiment_by_name(f"{prefix} ü").experiment_id == exp
    assert old.experiment_by_name(f"{prefix} nope") is None

    listed = list(old.search_runs([exp], page_size=2))  # three pages
    assert sorted(r.run_id for r in listed) == sorted(r["run_id"] for r in runs)
    assert [r.deleted for r in listed].count(True) == 1
    first = next(r for r in listed if r.run_id == runs[0]["run_id"])
    assert first.params == {"p": "1"} and first.tags["t"] == "ü" and first.run_name == "r0"
    assert first.start_time == seed.T0 and first.metrics["h"].step == 1201

    points = old.metric_history(first.run_id, "h")
    assert len(points) == 1202
    assert math.isnan(points[-2].value) and points[-1].value > 1e308
    assert [p.step for p in points[:3]] == [0, 1, 2]

    files = old.list_artifacts(first)
    assert [(f.path, f.size) for f in files] == [("a/b/c.bin", len(payload)), ("empty", 0)]
    bare = next(r for r in listed if r.run_id == runs[1]["run_id"])
    assert old.list_artifacts(bare) == []  # a run with no artifact folder at all
    buf = io.BytesIO()
    assert old.download_artifact(first, "a/b/c.bin", buf) == hashlib.sha256(payload).hexdigest()
    assert buf.getvalue() == payload
    # Runs whose artifact root is not proxied are read through /get-artifact (every generation).
    unproxied = dataclasses.replace(first, artifact_uri="file:///var/mlflow/artifacts/run")
    assert old.list_artifacts(unproxied) == files  # through the tracking API's artifacts/list
    assert (
        old.download_artifact(unproxied, "a/b/c.bin", io.BytesIO())
        == hashlib.sha256(payload).hexdigest()
    )

    model = f"{prefix}-model"
    w.post("/api/2.0/mlflow/registered-models/create", {"name": model, "description": "d"})
    w.post(
        "/api/2.0/mlflow/model-versions/create",
        {"name": model, "source": runs[0]["artifact_uri"] + "/m", "run_id": runs[0]["run_id"]},
    )
    w.post(
        "/api/2.0/mlflow/model-versions/transition-stage",
        {"name": model, "version": "1", "stage": "Staging", "archive_existing_versions": False},
    )
    assert any(m.name == model for m in old.registered_models())
    assert old.registered_model(model).description == "d"
    (version,) = old.model_versions(model)
    assert (version.stage, version.run_id) == ("Staging", runs[0]["run_id"])


def test_old_server_adapter_has_no_write_method_and_refuses_writes(server):
    assert not WRITE_METHODS & set(dir(OldServer))
    assert set(dir(NewServer)) >= WRITE_METHODS
    old = connect_old(server.url)
    with pytest.raises(ReadOnlyViolation):
        old.rest.post("/api/2.0/mlflow/runs/create", {"experiment_id": "0"}, idempotent=False)
    with pytest.raises(ReadOnlyViolation):
        old.rest.put_file("/api/2.0/mlflow-artifacts/artifacts/x", io.BytesIO(b"x"))
    with pytest.raises(ValueError):
        OldServer(RestClient(server.url))  # a writable client is refused


@pytest.mark.parametrize("generation", ["mlflow_v2", "mlflow_v3"])
def test_new_server_writes(generation, request):
    handle = request.getfixturevalue(generation)
    new = connect_new(handle.url)
    name = f"writes-{uuid.uuid4().hex[:6]} ✓"
    exp = new.create_experiment(name, {"a": "b"})
    assert new.create_experiment(name, {"a": "b"}) == exp  # unique names: no twin
    run = new.create_run(
        exp, start_time=seed.T0, run_name="copy", user_id="u", tags={"cockpit.source_run_id": "x"}
    )
    metrics = [MetricPoint("m", float(i), seed.T0 + i, i) for i in range(2500)]
    metrics.append(MetricPoint("m", math.nan, seed.T0 + 9999, 2500))
    sent = new.log_batch(
        run.run_id,
        metrics=metrics,
        params={f"p{i}": str(i) for i in range(150)},
        tags={f"t{i}": str(i) for i in range(120)},
    )
    assert sent == 3  # within 1000 items / 100 params / 100 tags per request
    new.update_run(run.run_id, status="FAILED", end_time=seed.T0 + 10, run_name="copy")
    new.set_tag(run.run_id, "extra", "1")
    new.delete_tag(run.run_id, "extra")
    got = new.get_run(run.run_id)
    assert (got.status, got.start_time, got.end_time) == ("FAILED", seed.T0, seed.T0 + 10)
    assert len(got.params) == 150 and "extra" not in got.tags and got.tags["t119"] == "119"
    assert len(new.metric_history(run.run_id, "m")) == 2501
    new.upload_artifact(got, "dir/sub/x.bin", io.BytesIO(b"\x00\xff" * 1000))
    new.upload_artifact(got, "dir/empty", io.BytesIO(b""))
    assert [(f.path, f.size) for f in new.list_artifacts(got)] == [
        ("dir/empty", 0),
        ("dir/sub/x.bin", 2000),
    ]
    model = f"writes-{uuid.uuid4().hex[:6]}"
    new.create_registered_model(model, "desc", {"k": "v"})
    new.create_registered_model(model, "desc", {"k": "v"})  # already there: fine
    version = new.create_model_version(
        model, source=got.artifact_uri + "/dir", run_id=run.run_id, description="v", tags={}
    )
    new.transition_stage(model, version.version, "Production")
    new.set_alias(model, "production", version.version)
    new.update_registered_model(model, "new desc")
    new.update_model_version(model, version.version, "new v")
    new.set_model_version_tag(model, version.version, "k", "v")
    (copy,) = new.model_versions(model)
    assert (copy.stage, copy.description, copy.tags) == ("Production", "new v", {"k": "v"})
    assert new.registered_model(model).aliases == {"production": version.version}
    new.delete_run(run.run_id)
    assert new.get_run(run.run_id).deleted
    new.restore_run(run.run_id)
    new.delete_experiment(exp)
    assert new.experiment(exp).deleted
    new.restore_experiment(exp)
    assert not new.experiment(exp).deleted


def test_unreachable_or_foreign_server_is_one_line_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = RestClient(f"http://127.0.0.1:{port}", read_only=True)
    client.retry = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02)
    with pytest.raises(SourceUnavailableError) as err:
        detect(client)
    assert err.value.exit_code == 3 and "\n" not in err.value.message
