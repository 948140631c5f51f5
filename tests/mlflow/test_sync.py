"""Copy old -> new on real servers of two generation pairs, on data with every hard case."""

from __future__ import annotations

import math
import uuid

import pytest
import seed

from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.models import PARENT_TAG, MetricPoint
from cockpit.mlflow.records import load_mapping
from cockpit.mlflow.sync import Syncer, SyncOptions
from cockpit.mlflow.verify import verify
from cockpit.store import StateStore

pytestmark = pytest.mark.servers


def _sync(old, new, store, names, **kw):
    return Syncer(old, new, store=store, options=SyncOptions(experiments=names, **kw)).run()


@pytest.mark.parametrize(
    "pair,histories",
    [("v1_to_v2", "rest"), ("v1_to_v2", "db"), ("v2_to_v3", "rest"), ("v2_to_v3", "db")],
)
def test_sync_copies_everything_and_verifies_clean(pair, histories, request, tmp_path):
    src_name, dst_name = {
        "v1_to_v2": ("mlflow_v1", "mlflow_v2"),
        "v2_to_v3": ("mlflow_v2", "mlflow_v3"),
    }[pair]
    src_server = request.getfixturevalue(src_name)
    dst_server = request.getfixturevalue(dst_name)
    seeded = seed.rich(src_server.url, f"sync-{pair}-{uuid.uuid4().hex[:6]}")
    old, new = connect_old(src_server.url), connect_new(dst_server.url)
    store = StateStore.open(tmp_path / "state.db", create=True)

    # "db": metric histories straight from the old server's SQLite file (read-only).
    history_db = src_server.backend_uri if histories == "db" else None
    result = _sync(old, new, store, seeded.experiments, workers=4, history_db=history_db)
    assert result.errors == []
    assert result.runs_created == len(seeded.runs)
    from_db = len(seeded.runs) if histories == "db" else 0
    assert (result.histories_from_db, result.histories_over_rest) == (
        from_db,
        len(seeded.runs) - from_db,
    )
    report = verify(old, new, experiments=seeded.experiments)
    assert [d.line() for d in report.differences] == []
    assert report.runs == len(seeded.runs) and report.artifacts >= 5 and report.versions == 5

    # Spot checks of what export-import gets wrong, straight from the destination.
    copies = {
        r.source_run_id: r
        for r in new.search_runs(
            [e.experiment_id for e in new.experiments() if e.name in seeded.experiments]
        )
    }
    failed = copies[seeded.runs["failed"]]
    assert failed.status == "FAILED" and failed.start_time == seed.T0 + 300_000
    assert failed.end_time == seed.T0 + 301_000
    assert copies[seeded.runs["deleted"]].deleted
    assert copies[seeded.runs["child0"]].tags[PARENT_TAG] == copies[seeded.runs["parent"]].run_id
    assert (
        copies[seeded.runs["grandchild"]].tags[PARENT_TAG] == copies[seeded.runs["child0"]].run_id
    )
    long = copies[seeded.runs["long"]]
    assert len(new.metric_history(long.run_id, "loss")) == 5001
    weird = new.metric_history(long.run_id, "weird")
    assert math.isnan(weird[0].value) and weird[1].value > 1e308 and weird[2].value < -1e308
    assert len(long.params) == 130
    gone = next(e for e in new.experiments() if e.name == seeded.experiments[1])
    assert gone.deleted
    model = seeded.models[0]
    stages = sorted(v.stage for v in new.model_versions(model))
    assert stages == ["Archived", "None", "Production", "Production", "Staging"]
    versions = {v.version: v for v in new.model_versions(model)}
    assert versions["1"].run_id == long.run_id
    assert versions["1"].source == long.artifact_uri + "/model"
    aliases = new.registered_model(model).aliases
    assert aliases["production"] == "5" and aliases["staging"] == "2"
    if src_server.generation >= 2:
        assert aliases["champion"] == "3"
    # The id map is in the state file too.
    assert load_mapping(store, "run")[seeded.runs["long"]] == long.run_id

    # Idempotent: a second sync writes nothing and creates no duplicate.
    again = _sync(old, new, store, seeded.experiments)
    assert (again.runs_created, again.runs_updated, again.versions_created) == (0, 0, 0)
    assert again.runs_unchanged == len(seeded.runs)

    # A lost state file costs nothing: the destination's tags carry the map.
    fresh_store = StateStore.open(tmp_path / "other.db", create=True)
    third = _sync(old, new, fresh_store, seeded.experiments)
    assert (third.runs_created, third.runs_updated, third.versions_created) == (0, 0, 0)

    # The RUNNING run finishes on the old server; the next sync completes its copy.
    w = seed.Writer(src_server.url)
    running = seeded.runs["running"]
    w.log(running, metrics=[("loss", 1.0, seed.T0 + 400_002, 1)])
    w.finish(running, "FINISHED", seed.T0 + 410_000)
    fourth = _sync(old, new, store, seeded.experiments)
    assert (fourth.runs_created, fourth.runs_updated) == (0, 1)
    final = verify(old, new, experiments=seeded.experiments)
    assert [d.line() for d in final.differences] == []
    if histories == "db":
        # Verify can read the old side's histories from the file too, and still sees a point
        # the copy has that the source does not.
        by_file = verify(old, new, experiments=seeded.experiments, history_db=history_db)
        assert by_file.differences == [] and by_file.histories_from_db == len(seeded.runs)
        extra = MetricPoint("loss", 0.5, seed.T0 + 999_999, 99_999)
        new.log_batch(long.run_id, metrics=[extra])
        by_file = verify(old, new, experiments=seeded.experiments, history_db=history_db)
        # The history differs, and so does the latest value a search shows for the key.
        assert {(d.kind, d.object.split(" / ")[-1]) for d in by_file.differences} == {
            ("metric", seeded.runs["long"]),
            ("run", seeded.runs["long"]),
        }
    store.close()
    fresh_store.close()


def test_a_history_file_that_cannot_vouch_costs_speed_not_correctness(
    mlflow_v1, mlflow_v2, tmp_path
):
    """The configured file is the wrong one (the new server's), or not a database at all: every
    run with metrics is read over REST and the copy is still exact."""
    name = f"wrong-db-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 6, steps=20, workers=2)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    syncer = Syncer(
        old, new, options=SyncOptions(experiments=[name], history_db=mlflow_v2.backend_uri)
    )
    result = syncer.run()
    assert result.errors == [] and result.runs_created == 6
    assert (result.histories_from_db, result.histories_over_rest) == (0, 6)
    assert verify(old, new, experiments=[name]).differences == []

    garbage = tmp_path / "mlflow.db"
    garbage.write_bytes(b"not a database at all")
    syncer = Syncer(
        old, new, options=SyncOptions(experiments=[name], history_db=f"sqlite:///{garbage}")
    )
    syncer.plan()
    assert syncer.history is None
    assert syncer.history_note == f"metric histories over REST ({garbage} is not a SQLite database)"


def test_an_experiment_renamed_on_the_old_server_is_renamed_on_the_new_one(mlflow_v1, mlflow_v2):
    name = f"rename-{uuid.uuid4().hex[:6]}"
    seed.bulk(mlflow_v1.url, name, 2, steps=5, workers=1)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    assert _sync(old, new, None, [name]).errors == []

    # Renamed on the old server (by its users: the cockpit never writes there).
    w = seed.Writer(mlflow_v1.url)
    source = old.experiment_by_name(name)
    renamed = f"{name} (renamed ü)"
    w.post(
        "/api/2.0/mlflow/experiments/update",
        {"experiment_id": source.experiment_id, "new_name": renamed},
    )
    assert [d.field for d in verify(old, new, experiments=[renamed]).differences] == ["name"]
    syncer = Syncer(old, new, options=SyncOptions(experiments=[renamed]))
    plan = syncer.plan()
    assert plan.experiments[0].renamed_from == name and not plan.nothing_to_do
    result = syncer.run(plan)
    assert (result.errors, result.experiments_renamed, result.runs_created) == ([], 1, 0)
    assert new.experiment_by_name(renamed) is not None and new.experiment_by_name(name) is None
    assert verify(old, new, experiments=[renamed]).differences == []

    # The name is taken on the new server by an unrelated experiment: reported, nothing clobbered.
    w.post(
        "/api/2.0/mlflow/experiments/update",
        {"experiment_id": source.experiment_id, "new_name": name},
    )
    seed.Writer(mlflow_v2.url).experiment(name)
    result = _sync(old, new, None, [name])
    assert result.experiments_renamed == 0
    assert len(result.errors) == 1 and "already has another experiment" in result.errors[0]
    assert new.experiment_by_name(renamed) is not None


def _logged(server) -> list:
    """Every request the server has logged, once all it answered so far is in its log."""
    server.access_mark()
    return server.access_records()


def _downloads(records: list) -> list[str]:
    """The artifact files read (the proxy's GETs of a file; its listing has no file path)."""
    prefix = "/api/2.0/mlflow-artifacts/artifacts/"
    return [
        r.path.rsplit("/", 1)[1] for r in records if r.method == "GET" and r.path.startswith(prefix)
    ]


def test_a_resync_reads_ahead_only_the_artifacts_a_copy_lacks(mlflow_v1, mlflow_v2):
    """The 1 MiB artifact read-ahead serves copies being made; a copy that already holds its
    artifacts (a run updated after it was copied: a late tag) reads none of them again. Counted
    in the old server's access log: the bytes and requests a re-sync saves."""
    name = f"ahead-{uuid.uuid4().hex[:6]}"
    runs = 6
    ids = seed.bulk(mlflow_v1.url, name, runs, params=1, metrics=1, steps=2, tags=1)
    w = seed.Writer(mlflow_v1.url)
    infos = [w.get(f"{seed.API}/runs/get", {"run_id": i})["run"]["info"] for i in ids]
    for info in infos:  # with summary.json: 256 KiB + ~10 bytes a run, read ahead when copied
        w.artifact(info, "model.bin", b"m" * 256 * 1024)
    old, new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    options = SyncOptions(experiments=[name], registry=False)
    first = Syncer(old, new, options=options).run()
    assert (first.runs_created, first.artifacts) == (runs, 2 * runs)
    held = first.artifact_bytes
    assert held > runs * 256 * 1024
    mark = len(_logged(mlflow_v1))

    # Unchanged: every copy is complete, nothing is read from the old server but the searches.
    same = Syncer(old, new, options=options).run()
    assert same.runs_unchanged == runs and same.errors == []
    assert _downloads(_logged(mlflow_v1)[mark:]) == []

    # Every source run changed after its copy (a late tag), and one has a new artifact: the
    # copies are updated; only the new artifact is read, the ones every copy has are not.
    for run_id in ids:
        w.post(f"{seed.API}/runs/set-tag", {"run_id": run_id, "key": "late", "value": "yes"})
    w.artifact(infos[0], "extra.txt", b"e" * 1000)
    new_mark = len(_logged(mlflow_v2))
    mark = len(_logged(mlflow_v1))
    updated = Syncer(old, new, options=options).run()
    assert (updated.runs_updated, updated.artifacts, updated.artifact_bytes) == (runs, 1, 1000)
    assert updated.errors == []
    # Read from the old server: the new file only. Before, every run's files were read ahead
    # and thrown away (the copy had them): 12 requests and 1.5 MiB (`held`) in this test.
    assert _downloads(_logged(mlflow_v1)[mark:]) == ["extra.txt"]
    # The new server gets what it got with the read-ahead (23 requests in both, measured): per
    # run the copy's listing (made before the read-ahead now, not after) and its data with the
    # done marker in the last batch; and the one upload.
    written = [r for r in _logged(mlflow_v2)[new_mark:] if "/health" not in r.path]
    listings = [r for r in written if r.method == "GET" and "mlflow-artifacts" in r.path]
    batches = [r for r in written if r.path.endswith("/runs/log-batch")]
    uploads = [r for r in written if r.method == "PUT"]
    assert (len(listings), len(batches), len(uploads)) == (runs, runs, 1)
    report = verify(old, new, experiments=[name])
    assert report.differences == []
