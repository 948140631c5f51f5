"""Scale: a month of recording opens and browses like the sample, as ratios measured in one run.

Builds a state file the size a month-long migration records — 1,000,000 events, 100,000 workspace
runs, 100,000 MLflow id-map rows — by growing a copy of the shipped sample with the cockpit's own
writers (``record_poll``, ``record_mappings``, ``store_runs``, ``set_item``, the store's bulk
``append_events``): a status poll every 30 s, a mirror cycle every 45 s (sync started, one event
per experiment, finished, cycle), a run-history poll every minute, an inventory every hour,
source health flapping, and checklist notes, owners and waivers. The file is cached in the
temporary folder under a key of everything that shapes it (this script, the sample, the schema
migrations, the writers), so it is built once.

Then, for the sample and the big file alike, in the same run:

* ``cockpit open FILE --offline`` time to first frame, whole process (as ``bench/startup.py``:
  headless driver, exit after the first frame), and that process's peak RSS;
* in one headless app (Textual's Pilot, in a subprocess of its own): each tab's first render
  (digit pressed until the tab is drawn and its workers are done), two time-travel steps (``[``)
  until every tab and the gates are redrawn, and the process's peak RSS.

Targets (issue 17): first frame <= 1.5x the sample's, every tab <= 1 s, a time-travel step
<= 0.5 s, peak RSS <= 200 MB.

    .venv/bin/python bench/scale.py [--runs 5] [--rebuild] [--json]
    .venv/bin/python bench/scale.py --older [--runs 5]    # older-schema files, read-only
    .venv/bin/python bench/scale.py --readers [--runs 5]  # timeline search, kind counts, replay
    .venv/bin/python bench/scale.py --travel [--runs 3] [--state FILE]  # every step of a file

``--travel`` steps back (``[``) through every moment of a file, the sample unless ``--state``
names one, with the Benchmarks tab on screen, each step timed until the tab and the gates are
redrawn; each step's median over the rounds is printed with its ratio to the median step of the
same run (the baseline), and whether the process had imported numpy/scipy by then.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SAMPLE = REPO / "sample_state" / "kyros.cockpit.db"
HEADLESS = {
    "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
    "COCKPIT_EXIT_AFTER_FIRST_FRAME": "1",
}
EVENTS, WORKSPACE_RUNS, ID_MAP_ROWS = 1_000_000, 100_000, 100_000
TICK_S = 15.0  # the generator's clock step; every source's interval is a multiple of it
# Everything that decides the file's content: change one and the cached file is rebuilt.
KEY_SOURCES = [
    SAMPLE,
    REPO / "cockpit" / "store" / "state.py",
    REPO / "cockpit" / "mlflow" / "records.py",
    REPO / "cockpit" / "databricks" / "history.py",
    REPO / "cockpit" / "compat" / "checklist.py",
    REPO / "cockpit" / "bench" / "data.py",
    REPO / "cockpit" / "bench" / "stats.py",
    REPO / "cockpit" / "bench" / "stored.py",
    *sorted((REPO / "cockpit" / "store" / "migrations").glob("*.sql")),
]

OLD_URL, NEW_URL = "https://mlflow.kyros.internal", "https://mlflow2.kyros.internal"
EXPERIMENTS = [f"kyros/{name}" for name in (
    "churn-xgb", "demand-forecast", "fraud-gbm", "ltv-nn", "legacy-recsys", "pricing-elastic",
    "supply-eta", "search-rank", "ads-ctr", "risk-score", "nlp-intent", "vision-qc",
)]  # fmt: skip
MODELS = {"churn-classifier": 4, "demand-forecaster": 2, "fraud-scorer": 4}
SOURCES = ("mlflow", "databricks", "schema-watch")
PEOPLE = ("maria.okafor", "dev.patel", "lena.schmidt", "tom.nguyen")


def say(message: str) -> None:
    print(f"[scale] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ building
def content_key() -> str:
    digest = hashlib.sha256(f"{EVENTS}/{WORKSPACE_RUNS}/{ID_MAP_ROWS}/{TICK_S}".encode())
    digest.update(inspect.getsource(build).encode())  # not the whole script: the measuring
    for path in KEY_SOURCES:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_path() -> Path:
    return Path(tempfile.gettempdir()) / "cockpit-bench-scale" / f"month-{content_key()}.db"


class Clock:
    """The store's clock, set by the generator: every row gets the moment it is written at."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def build(out: Path) -> Path:
    from cockpit.compat.checklist import set_item
    from cockpit.databricks.history import store_runs
    from cockpit.databricks.models import JobRun
    from cockpit.mlflow.records import (
        ExperimentStatus,
        ModelStatus,
        PollSummary,
        record_mappings,
        record_poll,
    )
    from cockpit.store import StateStore

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    shutil.copyfile(SAMPLE, tmp)
    rng = random.Random(17)
    with StateStore.open(tmp, readonly=True) as sample:
        start = sample.query_one("SELECT MAX(ts) AS t FROM events")["t"] + 3600.0
        jobs = [
            (r["job_id"], r["name"], r["runtime"])
            for r in sample.query(
                "SELECT job_id, name, runtime FROM workspace_jobs ORDER BY job_id"
            )
            if r["runtime"].endswith("-ml")
        ]
        items = [
            (r["pipeline_id"], r["item_key"])
            for r in sample.query("SELECT pipeline_id, item_key FROM checklist_items")
        ]
        inventory = sample.events(kinds=["databricks.inventory"])[-1].payload
    clock = Clock(start)
    store = StateStore.open(tmp, clock=clock)
    written = store.last_event_id()  # the sample's own events count towards the million
    base_ids = {name: str(100 + i) for i, name in enumerate(EXPERIMENTS)}
    copied = dict.fromkeys(EXPERIMENTS, 0)
    total_runs = dict.fromkeys(EXPERIMENTS, 0)
    # Expected ticks: a poll every 2, a 15-event mirror cycle every 3, a history poll every 4.
    expected_ticks = (EVENTS - written) / (1 / 2 + 15 / 3 + 1 / 4 + 0.08)
    maps_per_cycle = ID_MAP_ROWS / (expected_ticks / 3)
    runs_per_poll = WORKSPACE_RUNS / (expected_ticks / 4)
    map_budget = run_budget = 0.0
    maps = runs = 0
    next_run_id = 90_000_000
    cycle = 0
    health = dict.fromkeys(SOURCES, "ok")
    started = time.monotonic()
    tick = 0
    while written < EVENTS:
        t = start + tick * TICK_S
        clock.now = t
        batch: list[tuple[str, dict, str, float]] = []
        if tick % 2 == 0:  # the MLflow status poll, every 30 s
            for name in EXPERIMENTS:
                total_runs[name] += rng.random() < 0.05
            poll = PollSummary(
                ts=t,
                duration_s=round(rng.uniform(1.2, 2.6), 3),
                old_url=OLD_URL,
                new_url=NEW_URL,
                old_version="1.30.1",
                new_version="2.22.5",
                old_schema="97727af70f4d",
                new_schema="0584bdc529eb",
                experiments=[
                    ExperimentStatus(
                        name=name,
                        source_id=base_ids[name],
                        dest_id=str(int(base_ids[name]) + 1000),
                        old_deleted_experiment=False,
                        old_active=max(total_runs[name], copied[name]),
                        old_deleted=0,
                        new_active=copied[name],
                        new_deleted=0,
                        missing=max(0, total_runs[name] - copied[name]),
                        differing=0,
                        running=int(rng.random() < 0.1),
                        missing_ids=[
                            hashlib.md5(f"{name}/{i}".encode()).hexdigest()
                            for i in range(copied[name], total_runs[name])
                        ][:50],
                    )
                    for name in EXPERIMENTS
                ],
                models=[
                    ModelStatus(
                        name=model,
                        old_versions=versions,
                        new_versions=versions,
                        missing=0,
                        old_stages={str(v): "None" for v in range(1, versions + 1)},
                        new_stages={str(v): "None" for v in range(1, versions + 1)},
                    )
                    for model, versions in MODELS.items()
                ],
            )
            record_poll(store, poll, source="poller:mlflow")
            written += 1
        if tick % 3 == 0:  # a mirror cycle, every 45 s
            cycle += 1
            map_budget += maps_per_cycle
            rows = []
            created = dict.fromkeys(EXPERIMENTS, 0)
            while map_budget >= 1 and maps < ID_MAP_ROWS:
                name = EXPERIMENTS[maps % len(EXPERIMENTS)]
                source_id = hashlib.md5(f"{name}/{copied[name]}".encode()).hexdigest()
                rows.append(("run", source_id, "n" + source_id[1:], name, source_id[:16]))
                copied[name] += 1
                total_runs[name] = max(total_runs[name], copied[name])
                created[name] += 1
                map_budget -= 1
                maps += 1
            if rows:
                record_mappings(store, rows, ts=t)
            batch.append(
                (
                    "mlflow.sync.started",
                    {
                        "old": OLD_URL,
                        "new": NEW_URL,
                        "experiments": len(EXPERIMENTS),
                        "runs_to_write": len(rows),
                        "versions_to_create": 0,
                        "workers": 8,
                    },
                    "poller:mirror",
                    t + 1,
                )
            )
            for i, name in enumerate(EXPERIMENTS):
                batch.append(
                    (
                        "mlflow.sync.experiment",
                        {
                            "name": name,
                            "source_id": base_ids[name],
                            "created": created[name],
                            "updated": 0,
                        },
                        "poller:mirror",
                        t + 1 + (i + 1) * 0.5,
                    )
                )
            batch.append(
                (
                    "mlflow.sync.finished",
                    {"runs_created": len(rows), "runs_updated": 0, "errors": 0, "duration_s": 6.5},
                    "poller:mirror",
                    t + 8,
                )
            )
            batch.append(
                (
                    "mlflow.mirror.cycle",
                    {
                        "cycle": cycle,
                        "runs_created": len(rows),
                        "runs_updated": 0,
                        "versions_created": 0,
                        "errors": 0,
                        "drift": sum(total_runs[n] - copied[n] for n in EXPERIMENTS),
                    },
                    "poller:mirror",
                    t + 8.5,
                )
            )
        if tick % 4 == 1:  # the run-history poll, every minute
            run_budget += runs_per_poll
            new_runs = []
            while run_budget >= 1 and runs < WORKSPACE_RUNS:
                job_id, job_name, runtime = jobs[runs % len(jobs)]
                # The month moves the jobs to the target runtime, a few at a time.
                if rng.random() < runs / WORKSPACE_RUNS:
                    runtime = "16.4-lts-ml"
                duration = rng.lognormvariate(7.0, 0.25) * (0.9 if runtime == "16.4-lts-ml" else 1)
                begin = t - duration - rng.uniform(0, 50)
                new_runs.append(
                    JobRun(
                        job_id=job_id,
                        run_id=next_run_id,
                        job_name=job_name,
                        start=begin,
                        end=begin + duration,
                        duration_s=round(duration, 1),
                        result_state="SUCCESS" if rng.random() < 0.95 else "FAILED",
                        spark_version=runtime.split("-")[0] + ".x-cpu-ml-scala2.12",
                        runtime=runtime,
                        tags={"run_name": job_name, "run_type": "JOB_RUN"},
                    )
                )
                next_run_id += 1
                run_budget -= 1
                runs += 1
            new = store_runs(store, new_runs) if new_runs else 0
            batch.append(
                (
                    "databricks.runs",
                    {"new": new, "fetched": new, "active": 0, "watermark": t - 60},
                    "poller:databricks",
                    t + 9,
                )
            )
        if tick % 240 == 5:  # an inventory, every hour
            batch.append(
                ("databricks.inventory", {**inventory, "added": 0}, "poller:databricks", t + 9.5)
            )
        for source in SOURCES:  # health flaps now and then
            if rng.random() < 0.0008 or (health[source] != "ok" and rng.random() < 0.3):
                to = "ok" if health[source] != "ok" else rng.choice(("degraded", "down"))
                error = None if to == "ok" else "ConnectionError: read timed out (30 s)"
                if error:
                    batch.append(
                        ("source.error", {"source": source, "error": error, "failures": 1},
                         f"poller:{source}", t + 10)
                    )  # fmt: skip
                batch.append(
                    ("source.status", {"source": source, "from": health[source], "to": to,
                                       "error": error}, f"poller:{source}", t + 10.5)
                )  # fmt: skip
                health[source] = to
        batch = batch[: EVENTS - written]
        if batch:
            written += store.append_events(batch)
        if tick % 32 == 7 and written < EVENTS:  # checklist history: notes, owners, waivers
            clock.now = t + 12
            pipeline_id, item_key = rng.choice(items)
            who = rng.choice(PEOPLE)
            change = rng.random()
            try:
                if change < 0.6:
                    set_item(store, pipeline_id, item_key, by=who, note=f"checked t={tick}")
                elif change < 0.85:
                    set_item(store, pipeline_id, item_key, by=who, owner=rng.choice(PEOPLE))
                else:
                    set_item(
                        store,
                        pipeline_id,
                        item_key,
                        by=who,
                        status=rng.choice(("waived", "todo")),
                        note=f"status review t={tick}",
                    )
            except Exception as exc:  # a refused change (e.g. blocking findings) is no event
                say(f"checklist change refused: {exc}")
            written = store.last_event_id()
        tick += 1
        if tick % 20_000 == 0:
            say(f"{written:,} events, {runs:,} runs, {maps:,} id-map rows "
                f"({time.monotonic() - started:.0f} s)")  # fmt: skip
    # The benchmark statistics of the month's last samples, stored as `cockpit bench report` or a
    # live Benchmarks tab leaves them (the history poll itself stores runs, not statistics).
    from cockpit.bench.data import refresh_stats

    refresh_stats(store)
    store.checkpoint()
    with store._lock:
        store._conn.execute("PRAGMA journal_mode=DELETE")
    counts = {
        table: store.query_one(f"SELECT COUNT(*) AS n FROM {table}")["n"]
        for table in ("events", "workspace_runs", "mlflow_id_map")
    }
    store.close()
    tmp.replace(out)
    say(f"built {out} in {time.monotonic() - started:.0f} s: {counts}, "
        f"{out.stat().st_size / 1e6:.0f} MB")  # fmt: skip
    return out


# ------------------------------------------------------------------------------ measuring
def first_frame(path: Path) -> tuple[float, float]:
    """``cockpit open --offline`` to its first frame, whole process: (seconds, peak RSS MB)."""
    cmd = [sys.executable, "-m", "cockpit", "open", str(path), "--offline"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **HEADLESS},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # wait4 gives this child's own peak RSS (getrusage of all children would be a maximum).
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.read().decode()[-800:]}")
    return elapsed, usage.ru_maxrss / 1024


async def _settle(pilot) -> None:
    """Until nothing is pending: messages handled, every worker finished, the screen drawn."""
    app = pilot.app
    for _ in range(50):
        await pilot.pause()
        if not any(w.is_running for w in app.workers):
            await pilot.pause()
            if not any(w.is_running for w in app.workers):
                return
        await app.workers.wait_for_complete()


async def _probe(path: Path) -> dict:
    import resource

    from cockpit.store import StateStore
    from screens.app import GATES_FIRST_DELAY_S, CockpitApp

    figures: dict = {}
    started = time.perf_counter()
    store = StateStore.open(path, readonly=True, defer_check=True)  # as `cockpit open --offline`
    app = CockpitApp(store=store, offline=True)
    async with app.run_test(size=(200, 50)) as pilot:
        # pause(0): until the screen has handled its messages. A bare pause() also waits until
        # the process's CPU time stops advancing, which the integrity check of a big file
        # (a thread, after the first frame) keeps doing for a second.
        await pilot.pause(0)
        figures["first_tab_s"] = time.perf_counter() - started
        # The first gates evaluation runs a moment after the first frame: let it finish before
        # timing the tabs, so it is not counted against one of them.
        await asyncio.sleep(GATES_FIRST_DELAY_S + 0.2)
        await _settle(pilot)
        tabs = {app.tab_classes[0].TAB_ID: figures["first_tab_s"]}
        for index, tab_cls in enumerate(app.tab_classes[1:], start=2):
            began = time.perf_counter()
            await pilot.press(str(index))
            await _settle(pilot)
            tabs[tab_cls.TAB_ID] = time.perf_counter() - began
        figures["tabs_s"] = tabs
        steps = []
        for _ in range(2):  # from "latest", then from a moment in the past
            began = time.perf_counter()
            await pilot.press("left_square_bracket")
            await _settle(pilot)
            steps.append(time.perf_counter() - began)
        assert app.as_of is not None, "the time-travel step did not move"
        figures["travel_steps_s"] = steps
    store.close()
    figures["peak_rss_mb"] = _peak_rss_mb(resource)
    return figures


def _peak_rss_mb(resource) -> float:
    """This process image's own peak RSS. VmHWM, not getrusage's ru_maxrss: Linux carries the
    latter over from the parent at fork and exec, so a parent that had just built the month
    file (137 MB) set a floor under every figure measured in its children."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def probe(path: Path) -> dict:
    """The Pilot measurements, in a fresh interpreter (its peak RSS is this file's alone)."""
    done = subprocess.run(
        [sys.executable, __file__, "--probe", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "TEXTUAL_DRIVER": HEADLESS["TEXTUAL_DRIVER"]},
    )
    if done.returncode != 0:
        raise SystemExit(f"probe of {path} failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_figures(runs: list[dict]) -> dict:
    out = {
        "first_tab_s": statistics.median(r["first_tab_s"] for r in runs),
        "tabs_s": {
            tab: statistics.median(r["tabs_s"][tab] for r in runs) for tab in runs[0]["tabs_s"]
        },
        "travel_steps_s": [
            statistics.median(r["travel_steps_s"][i] for r in runs)
            for i in range(len(runs[0]["travel_steps_s"]))
        ],
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }
    return out


# ------------------------------------------------------------------------------ every step
# `--travel`: one headless app per round steps back through every moment of the file. The
# Benchmarks tab is on screen (it and the gates both read the statistics at each step); the
# first tab and the gates' first evaluation are left to finish before the first step.
async def _travel(path: Path, tab: str) -> dict:
    from cockpit.store import StateStore
    from screens.app import GATES_FIRST_DELAY_S, CockpitApp

    store = StateStore.open(path, readonly=True, defer_check=True)
    app = CockpitApp(store=store, offline=True)
    steps = []
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0)
        await asyncio.sleep(GATES_FIRST_DELAY_S + 0.2)
        await _settle(pilot)
        index = next(i for i, cls in enumerate(app.tab_classes, start=1) if tab == cls.TAB_ID)
        await pilot.press(str(index))
        await _settle(pilot)
        first, _ = store.event_span()
        while app.as_of is None or app.as_of > first:
            began = time.perf_counter()
            await pilot.press("left_square_bracket")
            await _settle(pilot)
            steps.append(
                {
                    "as_of": app.as_of,
                    "kind": store.event_position(app.as_of).kind,
                    "seconds": time.perf_counter() - began,
                    "scipy": "scipy.stats" in sys.modules,
                }
            )
    store.close()
    return {"steps": steps}


def travel(path: Path, tab: str) -> dict:
    """:func:`_travel` in a fresh interpreter (what it imports is this file's alone)."""
    done = subprocess.run(
        [sys.executable, __file__, "--travel-probe", str(path), "--tab", tab],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "TEXTUAL_DRIVER": HEADLESS["TEXTUAL_DRIVER"]},
    )
    if done.returncode != 0:
        raise SystemExit(f"travel probe of {path} failed: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_travel(path: Path, runs: int, tab: str) -> dict:
    rounds = []
    load_before = os.getloadavg()[0]
    for round_ in range(runs):
        say(f"travel round {round_ + 1}/{runs}: {path.name}")
        rounds.append(travel(path, tab)["steps"])
    steps = []
    for i, step in enumerate(rounds[0]):
        steps.append(
            {
                **step,
                "seconds": statistics.median(r[i]["seconds"] for r in rounds),
                "scipy": any(r[i]["scipy"] for r in rounds),
            }
        )
    baseline = statistics.median(s["seconds"] for s in steps)
    return {
        "state": str(path),
        "tab": tab,
        "runs": runs,
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "baseline_s": baseline,
        "steps": steps,
    }


def print_travel(figures: dict) -> None:
    import datetime as dt

    base = figures["baseline_s"]
    steps = figures["steps"]
    print(f"{figures['state']}: {len(steps)} steps back with the {figures['tab']} tab on screen, "
          f"median of {figures['runs']} rounds; load average {figures['load_average']}")  # fmt: skip
    print(f"{'step':>4}  {'moment (UTC)':19}  {'event there':28} {'seconds':>8} {'÷ median':>9}"
          "  scipy imported")  # fmt: skip
    for i, step in enumerate(steps, start=1):
        moment = dt.datetime.fromtimestamp(step["as_of"], tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{i:4}  {moment:19}  {str(step['kind'])[:28]:28} {step['seconds']:8.3f} "
              f"{step['seconds'] / base:8.2f}x  {'yes' if step['scipy'] else 'no'}")  # fmt: skip
    worst = max(steps, key=lambda s: s["seconds"])
    print(f"median step {base:.3f} s; slowest {worst['seconds']:.3f} s "
          f"({worst['seconds'] / base:.2f}x the median); "
          f"scipy imported: {'yes' if any(s['scipy'] for s in steps) else 'no'}")  # fmt: skip


# ------------------------------------------------------------------------------ older files
# `--older`: the month file as cockpits before migration 0013 recorded it (its indexes and 0014's
# table missing: every file recorded before them), read in place; and as before 0009 (a column
# missing as well), read from a migrated private copy on disk. Both opened read-only as offline
# review of an archived file does: neither may cost memory that grows with the file, and each
# file must be left byte for byte as it was.
BEFORE_0013 = [
    "DROP INDEX events_kind_ts",
    "CREATE INDEX events_kind ON events (kind)",
    "DROP INDEX mlflow_id_map_synced",
    "CREATE INDEX mlflow_id_map_experiment ON mlflow_id_map (kind, experiment)",
    "DROP TABLE IF EXISTS bench_stats",
    "DELETE FROM cockpit_schema_migrations WHERE version >= 13",
    "PRAGMA user_version=12",
]
OLDER_SQL = {
    "before-0013": ("before 0013 (new tables, indexes missing)", BEFORE_0013),
    "before-0009": (
        "before 0009 (a column missing: a copy)",
        [
            *BEFORE_0013,
            "ALTER TABLE mlflow_db_rehearsals DROP COLUMN details",
            "DELETE FROM cockpit_schema_migrations WHERE version = 9",
        ],
    ),
}


def older_copies(month: Path) -> dict[str, Path]:
    """The older-schema copies of ``month``, built once beside it (a VACUUM each: the size an
    older cockpit would have written)."""
    copies = {"current schema": month}
    for slug, (label, statements) in OLDER_SQL.items():
        out = month.with_name(f"{month.stem}-{slug}.db")
        if not out.exists():
            say(f"making {out.name}: the month file {label}")
            tmp = out.with_suffix(".building")
            shutil.copyfile(month, tmp)
            conn = sqlite3.connect(tmp, isolation_level=None)
            conn.execute("BEGIN")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
            conn.execute("VACUUM")
            conn.close()
            tmp.replace(out)
        copies[label] = out
    return copies


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def measure_older(month: Path, runs: int) -> dict:
    """``cockpit open --offline`` first frame and peak RSS for each schema generation of the
    month file, interleaved per round, and whether each file is byte for byte as it was."""
    copies = older_copies(month)
    before = {label: file_digest(path) for label, path in copies.items()}
    for path in copies.values():
        first_frame(path)  # warm the OS file cache and .pyc files
    frames: dict[str, list] = {label: [] for label in copies}
    for round_ in range(runs):
        for label, path in copies.items():
            say(f"round {round_ + 1}/{runs}: {label}")
            frames[label].append(first_frame(path))
    return {
        label: {
            "size_mb": path.stat().st_size / 1e6,
            "first_frame_s": statistics.median(f[0] for f in frames[label]),
            "first_frame_rss_mb": max(f[1] for f in frames[label]),
            "unchanged": file_digest(path) == before[label],
        }
        for label, path in copies.items()
    }


def print_older(figures: dict) -> None:
    base = figures["current schema"]
    print(f"{'cockpit open --offline (month file)':42} {'size':>8} {'first frame':>12} "
          f"{'ratio':>6} {'peak RSS':>9}  file unchanged")  # fmt: skip
    for label, row in figures.items():
        print(f"{label:42} {row['size_mb']:5.0f} MB {row['first_frame_s'] * 1000:9.0f} ms "
              f"{row['first_frame_s'] / base['first_frame_s']:5.2f}x {row['first_frame_rss_mb']:6.0f} MB"
              f"  {'yes (sha256)' if row['unchanged'] else 'NO'}")  # fmt: skip


# ------------------------------------------------------------------------------ readers
# `--readers`: the readers that used to read or scan every event, called as their callers call
# them (the Cutover tab's timeline and its text search, the report's events-by-kind table, the
# checklist as of a moment and an item's history), now and half-way back in time.
SEARCHES = {"common": "churn", "rare": "signed", "absent": "no-such-text"}


def _reader_calls(store) -> dict:
    import inspect

    from cockpit.compat.checklist import history, load_checklist
    from screens.tabs import cutover

    # Only the keywords this checkout's store takes: the same script measures an older
    # checkout (the "before" figures) as it measures this one.
    takes = set(inspect.signature(store.events).parameters)
    window = getattr(cutover, "SEARCH_WINDOW", None)

    def timeline(as_of, search=None):
        extra = {"by_time": True, "search_window": window if search else None}
        events = store.events(
            until_ts=as_of,
            search=search,
            newest_first=True,
            limit=cutover.TIMELINE_LIMIT,
            **{k: v for k, v in extra.items() if k in takes},
        )
        return events, store.event_count(until_ts=as_of)

    first, last = store.event_span()
    middle = first + (last - first) / 2
    view = next(v for v in load_checklist(store) if v.items)
    calls = {}
    for label, as_of in (("latest", None), ("half-way back", middle)):
        calls[f"timeline, {label}"] = lambda a=as_of: timeline(a)
        for kind, text in SEARCHES.items():
            calls[f"timeline search, {kind} text, {label}"] = lambda a=as_of, t=text: timeline(a, t)
        calls[f"events by kind, {label}"] = lambda a=as_of: store.event_kind_counts(until_ts=a)
        if as_of is not None:
            calls[f"checklist, {label}"] = lambda a=as_of: load_checklist(store, as_of=a)
    calls["checklist, a minute back"] = lambda: load_checklist(store, as_of=last - 60)

    def kinds_once():
        # As `cockpit report` calls it: once, on a store just opened (no totals kept yet).
        with type(store).open(store.path, readonly=True, defer_check=True) as fresh:
            return fresh.event_kind_counts()

    calls["events by kind, latest, store just opened"] = kinds_once
    calls["checklist item history"] = lambda: history(
        store, view.pipeline_id, view.items[0].item_key
    )
    return calls


def measure_readers(paths: dict[str, Path], runs: int) -> dict:
    from cockpit.store import StateStore

    stores = {label: StateStore.open(path, readonly=True) for label, path in paths.items()}
    calls = {label: _reader_calls(store) for label, store in stores.items()}
    times: dict[str, dict[str, list[float]]] = {
        label: {name: [] for name in calls[label]} for label in paths
    }
    for round_ in range(runs + 1):  # the first round warms caches and is not counted
        say(f"readers round {round_}/{runs}")
        for label in paths:
            for name, call in calls[label].items():
                began = time.perf_counter()
                call()
                if round_:
                    times[label][name].append(time.perf_counter() - began)
    for store in stores.values():
        store.close()
    return {
        label: {name: statistics.median(values) for name, values in rows.items()}
        for label, rows in times.items()
    }


def print_readers(figures: dict) -> None:
    labels = list(figures)
    print(f"{'reader (median)':48}" + "".join(f" {label:>16}" for label in labels))
    for name in figures[labels[0]]:
        print(f"{name:48}" + "".join(
            f" {figures[label][name] * 1000:13.1f} ms" for label in labels))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions (median) per file")
    parser.add_argument("--rebuild", action="store_true", help="build the big file again")
    parser.add_argument("--state", type=Path, help="measure this file instead of building one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--older",
        action="store_true",
        help="instead: open older-schema copies of the month file (first frame, peak RSS)",
    )
    parser.add_argument(
        "--readers",
        action="store_true",
        help="instead: time the timeline, its search, kind counts and the checklist replay",
    )
    parser.add_argument(
        "--travel",
        action="store_true",
        help="instead: step back through every moment of the sample (or --state FILE)",
    )
    parser.add_argument("--tab", default="benchmarks", help="the tab on screen for --travel")
    parser.add_argument("--travel-probe", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.travel_probe:
        print(json.dumps(asyncio.run(_travel(args.travel_probe, args.tab))))
        return 0
    if args.travel:
        figures = measure_travel(args.state or SAMPLE, args.runs, args.tab)
        print_travel(figures)
        if args.json:
            print(json.dumps(figures, indent=2))
        return 0
    if args.build_into:
        build(args.build_into)
        return 0
    if args.probe:
        print(json.dumps(asyncio.run(_probe(args.probe))))
        return 0

    big = args.state
    if big is None:
        big = cached_path()
        if args.rebuild or not big.exists():
            say(f"building a month of recording into {big} (once; cached by content key)")
            # In a child: this process forks every measured one, and a child's ru_maxrss starts
            # from its parent's at fork (the first-frame figure is read that way).
            subprocess.run([sys.executable, __file__, "--build-into", str(big)], check=True)
        else:
            say(f"reusing {big}")
    if args.readers:
        paths = {"sample": SAMPLE, "month": big}
        older = big.with_name(f"{big.stem}-before-0013.db")  # made by --older
        if older.exists():
            paths["month, before 0013"] = older
        readers = measure_readers(paths, args.runs)
        print_readers(readers)
        if args.json:
            print(json.dumps(readers, indent=2))
        return 0
    if args.older:
        older = measure_older(big, args.runs)
        print_older(older)
        if args.json:
            print(json.dumps(older, indent=2))
        return 0
    load_before = os.getloadavg()
    figures: dict = {"runs": args.runs, "state": str(big), "size_mb": big.stat().st_size / 1e6}
    files = (("sample", SAMPLE), ("month", big))
    for _, path in files:
        first_frame(path)  # warm the OS file cache and .pyc files
    frames: dict[str, list] = {label: [] for label, _ in files}
    probes: dict[str, list] = {label: [] for label, _ in files}
    # Interleaved, sample then month in each round: load from other work on a shared machine
    # comes and goes, and must not favour either side of a ratio.
    for round_ in range(args.runs):
        for label, path in files:
            say(f"round {round_ + 1}/{args.runs}: {label}")
            frames[label].append(first_frame(path))
            probes[label].append(probe(path))
    for label, _ in files:
        figures[label] = {
            "first_frame_s": statistics.median(f[0] for f in frames[label]),
            "first_frame_rss_mb": max(f[1] for f in frames[label]),
            **median_figures(probes[label]),
        }
    figures["load_average"] = [round(x, 2) for x in (*load_before, *os.getloadavg()[:1])]
    sample, month = figures["sample"], figures["month"]
    figures["first_frame_ratio"] = month["first_frame_s"] / sample["first_frame_s"]
    print_table(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


def print_table(figures: dict) -> None:
    sample, month = figures["sample"], figures["month"]
    rows = [
        ("cockpit open --offline, first frame", "first_frame_s", "<= 1.5x the sample"),
    ]

    def ms(x: float) -> str:
        return f"{x * 1000:8.0f} ms"

    print(f"state file: {figures['size_mb']:.0f} MB; {figures['runs']} runs per figure (median); "
          f"load average before/after: {figures['load_average']}")  # fmt: skip
    print(f"{'measurement':44} {'sample':>11} {'month':>11}  ratio   target")
    for label, key, target in rows:
        print(f"{label:44} {ms(sample[key])} {ms(month[key])}  "
              f"{month[key] / sample[key]:5.2f}x  {target}")  # fmt: skip
    for tab, seconds in month["tabs_s"].items():
        base = sample["tabs_s"][tab]
        print(f"{'tab ' + tab + ', first render':44} {ms(base)} {ms(seconds)}  "
              f"{seconds / base:5.2f}x  <= 1 s")  # fmt: skip
    for i, seconds in enumerate(month["travel_steps_s"]):
        base = sample["travel_steps_s"][i]
        print(f"{f'time-travel step {i + 1} ([)':44} {ms(base)} {ms(seconds)}  "
              f"{seconds / base:5.2f}x  <= 0.5 s")  # fmt: skip
    for label, key in (("peak RSS, first frame", "first_frame_rss_mb"),
                       ("peak RSS, every tab + time travel", "peak_rss_mb")):  # fmt: skip
        print(f"{label:44} {sample[key]:8.0f} MB {month[key]:8.0f} MB  "
              f"{month[key] / sample[key]:5.2f}x  <= 200 MB")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
