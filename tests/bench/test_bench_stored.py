"""Stored benchmark statistics (cockpit.bench.stored): what a reader gets back from the state file
is exactly what pandas and scipy compute from the samples, today's rules decide the verdicts, and
a stored row is never served for samples it was not computed from."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.bench.data import Sample, compare_store, record_samples, stats_key
from cockpit.bench.stats import Comparison, Rule, compare_samples
from cockpit.bench.stored import KEEP
from cockpit.config import CockpitConfig
from cockpit.store import StateStore

REPO = Path(__file__).resolve().parents[2]
OLD, NEW = "14.3-lts-ml", "16.4-lts-ml"


def reference(store: StateStore, *, as_of: float | None = None, **judging) -> list[Comparison]:
    """The statistics as the Benchmarks tab computed them before they were stored: the samples as
    a pandas frame (stable sort by run time, sample id, run id), grouped by pandas, the p-value
    from scipy's mannwhitneyu, the bootstrap from numpy."""
    import pandas as pd
    from scipy.stats import mannwhitneyu

    bound = as_of if as_of is not None else float("inf")
    samples = pd.DataFrame(
        [tuple(r) for r in store.query(
            "SELECT pipeline, metric, runtime, value, run_ts, origin, run_ref, id "
            "FROM bench_samples WHERE recorded_at <= ?", (bound,),
        )],
        columns=["pipeline", "metric", "runtime", "value", "run_ts", "origin", "run_ref", "id"],
    )  # fmt: skip
    kept = set(
        store.query_columns(
            "SELECT run_ref FROM bench_samples WHERE metric = 'duration_s' "
            "AND origin IN ('history', 'shadow')"
        )[0]
    )
    runs = pd.DataFrame(
        [tuple(r) for r in store.query(
            "SELECT job_name, 'duration_s', runtime, duration_s, start_ts, "
            "CASE WHEN json_extract(tags, '$.cockpit_shadow') IN ('true', 1) THEN 'shadow' "
            "ELSE 'history' END, CAST(run_id AS TEXT), 0 FROM workspace_runs "
            "WHERE result_state = 'SUCCESS' AND duration_s > 0 AND runtime != '' "
            "AND recorded_at <= ?", (bound,),
        )],
        columns=samples.columns,
    )  # fmt: skip
    frame = pd.concat([samples, runs[~runs["run_ref"].isin(kept)]], ignore_index=True)
    frame = frame.sort_values(["run_ts", "id", "run_ref"], kind="stable", ignore_index=True)
    wanted = frame[frame["runtime"].isin([OLD, NEW])]
    out = []
    for (pipeline, metric), group in wanted.groupby(["pipeline", "metric"], sort=True):
        old = group.loc[group["runtime"] == OLD, "value"].astype(float).tolist()
        new = group.loc[group["runtime"] == NEW, "value"].astype(float).tolist()
        c = compare_samples(
            old,
            new,
            pipeline=pipeline,
            metric=metric,
            old_runtime=OLD,
            new_runtime=NEW,
            direction=judging.get("directions", {}).get((pipeline, metric), "lower"),
            rule=judging.get("rules", {}).get(pipeline, Rule()),
        )
        if len(old) >= 2 and len(new) >= 2 and len(set(old) | set(new)) > 1:
            assert c.p_value == float(mannwhitneyu(new, old, alternative="two-sided").pvalue)
        out.append(c)
    return sorted(out, key=Comparison.sort_key)


@pytest.fixture(params=["kyros_bench", "shipped_sample"])
def state_file(request, tmp_path: Path) -> Path:
    """The benchmarks step alone, and the shipped sample (its run history included)."""
    if request.param == "kyros_bench":
        return request.getfixturevalue("kyros_bench")
    copy = tmp_path / "sample.db"
    shutil.copy(REPO / "sample_state" / "kyros.cockpit.db", copy)
    return copy


def stored_rows(path: Path) -> int:
    with StateStore.open(path, readonly=True) as store:
        return store.query_one("SELECT COUNT(*) AS n FROM bench_stats")["n"]


def moments(store: StateStore) -> list[float | None]:
    """Latest, every sample recording, and a moment just before each."""
    ts = store.query_columns("SELECT DISTINCT recorded_at FROM bench_samples ORDER BY 1")[0]
    return [None, *ts, *(t - 0.5 for t in ts)]


def test_recording_stores_what_pandas_and_scipy_compute_at_every_moment(state_file: Path):
    # s50 recorded its samples with record_samples, which stores the statistics each time.
    assert stored_rows(state_file) >= 2
    with StateStore.open(state_file, readonly=True) as store:
        directions = {
            (r["pipeline"], r["metric"]): r["direction"]
            for r in store.query("SELECT pipeline, metric, direction FROM bench_metrics")
        }
        served = 0
        for as_of in moments(store):
            key = stats_key(store, OLD, NEW, as_of)
            stored = store.query_one("SELECT 1 FROM bench_stats WHERE samples_key = ?", (key,))
            served += stored is not None
            got = compare_store(store, None, as_of=as_of)
            assert got == reference(store, as_of=as_of, directions=directions), as_of
        # The latest moment and each recording's own moment are read back, not computed.
        assert served >= 3


def test_todays_rules_and_directions_decide_the_stored_numbers(kyros_bench: Path, tmp_path):
    config = CockpitConfig.model_validate(
        {
            "migration": {"name": "kyros", "from": OLD, "to": NEW},
            "benchmarks": {
                "threshold": 1.5,
                "min_runs": 3,
                "pipelines": {
                    "kyros-churn-train": {
                        "threshold": 1.05,
                        "metrics": [{"name": "auc", "direction": "lower", "threshold": 1.01}],
                    }
                },
            },
        }
    )
    with StateStore.open(kyros_bench, readonly=True) as store:
        assert store.query_one(
            "SELECT 1 FROM bench_stats WHERE samples_key = ?", (stats_key(store, OLD, NEW, None),)
        )
        from cockpit.bench.data import load_samples

        # A frame handed in is always computed from: the stored path against the computed one.
        computed = compare_store(store, config, samples=load_samples(store))
        assert compare_store(store, config) == computed
        assert {c.threshold for c in computed} >= {1.5, 1.05, 1.01}


def test_new_samples_are_never_judged_by_old_numbers(kyros_bench: Path):
    with StateStore.open(kyros_bench) as store:
        before = compare_store(store, None)
        record_samples(
            store,
            [
                Sample("kyros-churn-train", "duration_s", NEW, 9000.0 + i, 1.8e9 + i, "shadow",
                       f"extra-{i}")
                for i in range(5)
            ],
        )  # fmt: skip
        after = compare_store(store, None)
        assert after == reference(store, directions={("kyros-churn-train", "auc"): "higher"})
        assert after != before
        # and the key of the new samples is stored by the recording itself
        assert store.query_one(
            "SELECT 1 FROM bench_stats WHERE samples_key = ?", (stats_key(store, OLD, NEW, None),)
        )


def test_a_history_run_kept_as_a_sample_later_gets_its_own_key(kyros_bench: Path):
    """At a moment before a history run was recorded as a sample, today's computation leaves the
    run out of both; the numbers stored back then counted it. Such a moment is computed."""
    from cockpit.bench.data import refresh_stats
    from cockpit.databricks.history import store_runs
    from cockpit.databricks.models import JobRun

    directions = {("kyros-churn-train", "auc"): "higher"}
    with StateStore.open(kyros_bench) as store:
        moment = store.query_one("SELECT MAX(recorded_at) AS t FROM bench_samples")["t"] + 100.0
        store.clock = lambda: moment
        run = JobRun(
            job_id=7,
            run_id=424242,
            job_name="kyros-churn-train",
            start=moment - 4000.0,
            end=moment - 100.0,
            duration_s=3900.0,
            result_state="SUCCESS",
            spark_version="14.3.x-cpu-ml-scala2.12",
            runtime=OLD,
            tags={},
        )
        assert store_runs(store, [run]) == 1
        refresh_stats(store)  # as a live tab or `cockpit bench` would at that moment
        counted = compare_store(store, None)
        assert counted == reference(store, directions=directions)
        assert next(c for c in counted if c.metric == "duration_s" and
                    c.pipeline == "kyros-churn-train").n_old == 13  # fmt: skip
        before = stats_key(store, OLD, NEW, moment)
        assert store.query_one("SELECT 1 FROM bench_stats WHERE samples_key = ?", (before,))
        store.clock = lambda: moment + 100.0
        sample = Sample("kyros-churn-train", "duration_s", OLD, 3900.0, moment - 4000.0,
                        "history", "424242")  # fmt: skip
        record_samples(store, [sample])
        assert stats_key(store, OLD, NEW, moment) != before
        at_moment = compare_store(store, None, as_of=moment)
        assert at_moment == reference(store, as_of=moment, directions=directions)
        assert at_moment != counted


def test_verdicts_kept_for_the_gates_follow_the_same_key(kyros_bench: Path):
    """The verdicts `cockpit gates` reads back (cockpit.bench.verdicts) are keyed like the stored
    statistics: a history run kept as a sample only later gives that moment verdicts of its own,
    not the ones computed when the run counted."""
    from cockpit.bench.verdicts import benchmark_verdicts
    from cockpit.databricks.history import store_runs
    from cockpit.databricks.models import JobRun

    with StateStore.open(kyros_bench) as store:
        moment = store.query_one("SELECT MAX(recorded_at) AS t FROM bench_samples")["t"] + 100.0
        store.clock = lambda: moment
        run = JobRun(job_id=7, run_id=424243, job_name="kyros-churn-train",
                     start=moment - 4000.0, end=moment - 100.0, duration_s=5000.0,
                     result_state="SUCCESS", spark_version="14.3.x-cpu-ml-scala2.12",
                     runtime=OLD, tags={})  # fmt: skip
        assert store_runs(store, [run]) == 1
        benchmark_verdicts(store, None)  # kept in the file and in this process
        store.clock = lambda: moment + 100.0
        record_samples(store, [Sample("kyros-churn-train", "duration_s", OLD, 5000.0,
                                      moment - 4000.0, "history", "424243")])  # fmt: skip
        ratio = {
            (v.pipeline, v.metric): v.ratio for v in benchmark_verdicts(store, None, as_of=moment)
        }
        truth = {(c.pipeline, c.metric): c.ratio for c in compare_store(store, None, as_of=moment)}
        assert ratio == truth


def test_damaged_rows_are_computed_again_and_rows_are_bounded(kyros_bench: Path):
    with StateStore.open(kyros_bench) as store:
        expected = compare_store(store, None)
        with store.write() as tx:
            tx.execute('UPDATE bench_stats SET body = \'{"pairs": [{"pipeline": 1}]}\'')
        assert compare_store(store, None) == expected  # computed, and stored again
        body = json.loads(
            store.query_one("SELECT body FROM bench_stats ORDER BY rowid DESC LIMIT 1")["body"]
        )
        assert len(body["pairs"]) == len(expected)
        with store.write() as tx:
            tx.executemany(
                "INSERT INTO bench_stats (samples_key, body) VALUES (?, '{}')",
                [(f"old-{i}",) for i in range(KEEP + 10)],
            )
        record_samples(
            store, [Sample("kyros-churn-train", "duration_s", OLD, 1.0, 1.0, "shadow", "bound")]
        )
        assert store.query_one("SELECT COUNT(*) AS n FROM bench_stats")["n"] == KEEP
        # the newest (this recording's) row is among those kept
        assert store.query_one(
            "SELECT 1 FROM bench_stats WHERE samples_key = ?", (stats_key(store, OLD, NEW, None),)
        )


def test_reading_stored_statistics_imports_no_numpy_pandas_or_scipy(kyros_bench: Path, tmp_path):
    """The Benchmarks tab's load (statistics and per-run series) on a file that stores them."""
    copy = tmp_path / "copy.db"
    shutil.copy(kyros_bench, copy)
    code = (
        "import sys, json\n"
        "from cockpit.store import StateStore\n"
        "from screens.tabs.base import ViewContext\n"
        "from screens.tabs.benchmarks import load\n"
        f"store = StateStore.open({str(copy)!r}, readonly=True)\n"
        "view = ViewContext(store=store, config=None, offline=True)\n"
        "loaded = load(view)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'pandas', 'scipy', 'plotly'))\n"
        "print(json.dumps([len(loaded.comparisons), len(loaded.series), loaded.error, heavy]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    rows, series, error, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert (rows, series, error, heavy) == (5, 1, "", [])  # the selected pair's runs only


def test_series_follow_the_samples_order(state_file: Path):
    """Each pair's runs, read for that pipeline alone, are the frame's rows in the frame's order
    (the time chart's thinning keeps every k-th run of them)."""
    from cockpit.bench.data import load_samples
    from screens.tabs.base import ViewContext
    from screens.tabs.benchmarks import load_series

    with StateStore.open(state_file, readonly=True) as store:
        for as_of in moments(store):
            frame = load_samples(store, as_of=as_of)
            view = ViewContext(store=store, config=None, offline=True, as_of=as_of)
            groups = frame.groupby(["pipeline", "metric"], sort=False)
            for (pipeline, metric), group in groups:
                one = load_series(view, (pipeline, metric))
                assert one.value == group["value"].astype(float).tolist()
                assert one.run_ts == group["run_ts"].astype(float).tolist()
                assert one.runtime == group["runtime"].tolist()
                assert one.shadow == (group["origin"] == "shadow").tolist()


def test_a_file_without_stored_statistics_is_computed(kyros_bench: Path):
    """An older file (no rows; opened read-only its schema is upgraded in memory): computed."""
    with StateStore.open(kyros_bench) as store:
        expected = compare_store(store, None)
        with store.write() as tx:
            tx.execute("DELETE FROM bench_stats")
    with StateStore.open(kyros_bench, readonly=True) as store:
        assert compare_store(store, None) == expected
        assert store.query_one("SELECT COUNT(*) AS n FROM bench_stats")["n"] == 0


def test_computed_statistics_are_shared_within_a_process_when_the_file_cannot_keep_them(
    kyros_bench: Path,
):
    """Read-only and nothing stored: the gates' computation serves the tab and later moments
    with the same samples, and is what a fresh computation gives."""
    from cockpit.bench import stored, verdicts
    from cockpit.bench.verdicts import benchmark_verdicts

    with StateStore.open(kyros_bench) as store:
        expected = compare_store(store, None)
        with store.write() as tx:
            tx.execute("DELETE FROM bench_stats")
            tx.execute("DELETE FROM cockpit_meta WHERE key = ?", (verdicts.META_KEY,))
    stored._MEMO.clear()
    verdicts._MEMO.clear()
    with StateStore.open(kyros_bench, readonly=True) as store:
        verdicts = benchmark_verdicts(store, None)
        assert [(v.pipeline, v.metric, v.verdict, v.ratio) for v in verdicts] == [
            (c.pipeline, c.metric, c.verdict, c.ratio) for c in expected
        ]
        key = stats_key(store, OLD, NEW, None)
        assert stored.remembered(store, key) is not None
        assert compare_store(store, None) == expected
        assert store.query_one("SELECT COUNT(*) AS n FROM bench_stats")["n"] == 0
    for i in range(stored._MEMO_SIZE + 2):  # bounded
        stored.remember(store, f"other-{i}", stored.StoredStats([], []))
    assert len(stored._MEMO) == stored._MEMO_SIZE
    assert stored.remembered(store, key) is None


def test_a_file_recorded_before_the_table_is_read_in_place_and_computed(kyros_bench: Path):
    """Read-only, a file without migration 0014 is read in place (the store's rule for a
    migration that only adds tables) and the statistics are computed, the same as the current
    file's."""
    import sqlite3

    with StateStore.open(kyros_bench, readonly=True) as store:
        expected = compare_store(store, None)
    conn = sqlite3.connect(kyros_bench, isolation_level=None)
    conn.execute("DROP TABLE bench_stats")
    conn.execute("DELETE FROM cockpit_schema_migrations WHERE version = 14")
    conn.execute("PRAGMA user_version = 13")
    conn.close()
    with StateStore.open(kyros_bench, readonly=True) as store:
        assert store._copy is None and "0014" in store.note
        assert compare_store(store, None) == expected
    with StateStore.open(kyros_bench) as store:  # writable: migrated, and stored from then on
        assert compare_store(store, None) == expected
        assert store.query_one("SELECT COUNT(*) AS n FROM bench_stats")["n"] == 1


def test_a_metric_recorded_later_does_not_hide_the_numbers_stored_before(kyros_bench: Path):
    """Directions decide verdicts, never numbers, and bench_metrics has no history: recording a
    metric (or flipping its direction) leaves every moment's statistics key as it was, so the
    row stored for those samples is still found; the verdicts kept for the gates follow the new
    direction."""
    from cockpit.bench.verdicts import benchmark_verdicts

    with StateStore.open(kyros_bench) as store:
        latest = store.query_one("SELECT MAX(recorded_at) AS t FROM bench_samples")["t"]
        before_key = stats_key(store, OLD, NEW, None)
        assert store.query_one("SELECT 1 FROM bench_stats WHERE samples_key = ?", (before_key,))
        before = {(v.pipeline, v.metric): v.verdict for v in benchmark_verdicts(store, None)}
        assert before[("kyros-churn-train", "duration_s")] == "regression"
        with store.write() as tx:  # someone decides duration is higher-is-better (a typo)
            tx.execute("UPDATE bench_metrics SET direction = 'higher' WHERE metric = 'duration_s'")
        assert stats_key(store, OLD, NEW, None) == before_key
        assert stats_key(store, OLD, NEW, latest) == before_key
        after = {(v.pipeline, v.metric): v.verdict for v in benchmark_verdicts(store, None)}
        assert after[("kyros-churn-train", "duration_s")] == "improvement"
        directions = {
            (r["pipeline"], r["metric"]): r["direction"]
            for r in store.query("SELECT pipeline, metric, direction FROM bench_metrics")
        }
        assert compare_store(store, None) == reference(store, directions=directions)


def test_every_moment_of_the_shipped_sample_is_served_without_scipy(tmp_path: Path):
    """Time travel over the shipped sample: at every event time the gates' verdicts and the
    Benchmarks tab's statistics come from stored rows (the run history's moments before the
    benchmark samples included), so the process imports none of numpy, pandas or scipy."""
    copy = tmp_path / "sample.db"
    shutil.copy(REPO / "sample_state" / "kyros.cockpit.db", copy)
    code = (
        "import sys, json\n"
        "from cockpit.bench.data import compare_store\n"
        "from cockpit.bench.verdicts import benchmark_verdicts\n"
        "from cockpit.store import StateStore\n"
        f"store = StateStore.open({str(copy)!r}, readonly=True)\n"
        "times = store.query_columns('SELECT DISTINCT ts FROM events ORDER BY ts')[0]\n"
        "rows = [len(compare_store(store, None, as_of=t)) for t in [*times, None]]\n"
        "verdicts = [len(benchmark_verdicts(store, None, as_of=t)) for t in times]\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'pandas', 'scipy'))\n"
        "print(json.dumps([rows, verdicts, heavy]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    rows, verdicts, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == []
    # Nothing before the run history; then every job's duration (12), and the churn AUC from the
    # benchmark samples on (13): the moments in between are the run history's alone.
    assert len(rows) > 50 and rows[0] == 0 and rows[-1] == 13
    assert rows.count(12) > 40
    assert verdicts == rows[:-1]
