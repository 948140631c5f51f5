"""Bench: the cockpit's MLflow copy and status poll against baselines measured in the same run.

Real servers from their own virtualenvs (MLflow 1.30.1 old, 2.22.5 new, via
``cockpit.mlflow.servers``), real data written through REST:

1. **copy** of N runs (default 1,000; each 5 params, 3 metrics x 100 steps, 2 tags, 1 small
   artifact), old -> new, in runs/s for:
   * the cockpit (``Syncer``, then a deep verify that must be clean), twice: with metric
     histories over REST, and with them read from the old server's SQLite file (read-only; the
     default when ``[mlflow.old] db_uri`` is set), each on a fresh experiment of N runs;
   * mlflow-export-import 1.2.0 (``export-experiment`` + ``import-experiment``, end to end), from
     a bench-only virtualenv with the MLflow 2.22.5 client, cached next to the servers;
   * a plain writer of the same data straight into the new server (runs/create, one log-batch,
     the artifact, runs/update) with the same number of threads: the limit, as nothing that
     copies can write faster than this.
   Targets: cockpit >= 4x export-import and >= 0.7x the limit.
2. **status poll** of M runs per side (default 10,000) as a ratio to plain paginated
   ``runs/search`` of both sides (target <= 1.3x).

    .venv/bin/python bench/sync.py                    # the full bench (several minutes)
    .venv/bin/python bench/sync.py --runs 200 --poll-runs 2000 --skip-export-import
    .venv/bin/python bench/sync.py --backend postgresql   # both stores on a real PostgreSQL

``--backend postgresql`` puts both servers' stores in databases of a throw-away PostgreSQL server
(``cockpit.mlflow.dbservers``); the cockpit then reads the old side's histories from PostgreSQL
through a read-only session.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "mlflow"))  # the seed writer shared with the tests

import requests  # noqa: E402
import seed  # noqa: E402

from cockpit.mlflow import servers  # noqa: E402
from cockpit.mlflow.adapter import connect_new, connect_old  # noqa: E402
from cockpit.mlflow.models import TAG_SOURCE_EXPERIMENT, TAG_SOURCE_RUN  # noqa: E402
from cockpit.mlflow.status import poll_status  # noqa: E402
from cockpit.mlflow.sync import Syncer, SyncOptions  # noqa: E402
from cockpit.mlflow.verify import verify  # noqa: E402

EXPORT_IMPORT = ["mlflow-export-import==1.2.0", "mlflow==2.22.5", "sqlalchemy<2.1", "tabulate"]
API = "/api/2.0/mlflow"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ export-import
def export_import_venv() -> Path:
    """A bench-only virtualenv for mlflow-export-import (never the project's own)."""
    root = servers.servers_root().parent / "bench" / "mlflow-export-import-1.2.0"
    marker = root / ".installed"
    if marker.exists():
        return root
    say(f"installing {' '.join(EXPORT_IMPORT)} into {root} (once)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)], check=True)
    subprocess.run(
        [str(root / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *EXPORT_IMPORT],
        check=True,
    )
    marker.write_text("ok\n")
    return root


def run_export_import(venv: Path, old_url: str, new_url: str, experiment: str) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-export-") as out:
        started = time.monotonic()
        for cmd, url in (
            (["export-experiment", "--experiment", experiment, "--output-dir", out], old_url),
            (
                [
                    "import-experiment",
                    "--experiment-name",
                    f"{experiment} (export-import)",
                    "--input-dir",
                    out,
                ],
                new_url,
            ),
        ):
            subprocess.run(
                [str(venv / "bin" / cmd[0]), *cmd[1:]],
                env={**os.environ, "MLFLOW_TRACKING_URI": url},
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return time.monotonic() - started


# ------------------------------------------------------------------------------ CPU split
_TICKS = os.sysconf("SC_CLK_TCK")


def _group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds of every live process in a process group (a server and its
    gunicorn workers: ``start_server`` gives each server its own group), from /proc."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # pgrp; utime and stime are fields 14 and 15 of stat(5)
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


class CpuSplit:
    """CPU per copied run of the old server, the new server and this process (the client),
    measured around one copy: where the two cores go (README, Measured figures)."""

    def __init__(self, old_srv, new_srv) -> None:
        self.groups = {"old": os.getpgid(old_srv.pid), "new": os.getpgid(new_srv.pid)}

    def sample(self) -> dict[str, float]:
        times = os.times()
        return {
            **{name: _group_cpu_s(pgid) for name, pgid in self.groups.items()},
            "client": times.user + times.system,
        }

    def per_run_ms(self, before: dict[str, float], runs: int) -> dict[str, float]:
        after = self.sample()
        return {k: round((after[k] - before[k]) * 1000 / runs, 1) for k in before}


# ------------------------------------------------------------------------------ poll data
def thin_runs(old_url: str, new_url: str, name: str, count: int, workers: int) -> None:
    """``count`` runs on the old server and a faithful copy of each on the new one (run name,
    start time, user, tags and the cockpit's source tags), one request per run per side."""
    w_old, w_new = seed.Writer(old_url), seed.Writer(new_url)
    old_exp = w_old.experiment(name)
    new_exp = w_new.experiment(name, {TAG_SOURCE_EXPERIMENT: old_exp})

    def one(i: int) -> None:
        tags = {"team": "kyros", "kind": "poll-bench"}
        info = w_old.run(old_exp, f"poll-{i:05d}", start=seed.T0 + i, tags=tags)
        w_new.run(
            new_exp,
            f"poll-{i:05d}",
            start=seed.T0 + i,
            tags={**tags, TAG_SOURCE_RUN: info["run_id"]},
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))


def plain_search(url: str, experiment_id: str) -> int:
    session = requests.Session()
    token, total = None, 0
    while True:
        body = {"experiment_ids": [experiment_id], "run_view_type": "ALL", "max_results": 1000}
        if token:
            body["page_token"] = token
        page = session.post(f"{url}{API}/runs/search", json=body, timeout=120).json()
        total += len(page.get("runs", []))
        token = page.get("next_page_token")
        if not token:
            return total


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        fn()
        times.append(time.monotonic() - started)
    return statistics.median(times)


# ------------------------------------------------------------------------------ main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--poll-runs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--old-workers",
        type=int,
        default=4,
        help="gunicorn workers of the old server (MLflow 1.x's default: 4)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="status poll repetitions (median)")
    parser.add_argument("--skip-export-import", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--backend",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="where both servers keep their stores (default: SQLite files)",
    )
    args = parser.parse_args()

    venv = None if args.skip_export_import else export_import_venv()
    database = None
    old_uri = new_uri = None
    if args.backend == "postgresql":
        from cockpit.mlflow import dbservers

        say("starting a throw-away PostgreSQL server")
        database = dbservers.start_postgres()
        old_uri = database.create_database("bench_old")
        new_uri = database.create_database("bench_new")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
            # The old server runs with MLflow 1.x's own default of 4 gunicorn workers, as
            # production does; one worker would serialise every read the copy makes.
            old_srv = servers.start_server(
                servers.MLFLOW_V1,
                Path(tmp) / "old",
                workers=args.old_workers,
                progress=say,
                backend_uri=old_uri,
            )
            new_srv = servers.start_server(
                servers.MLFLOW_V2, Path(tmp) / "new", progress=say, backend_uri=new_uri
            )
            try:
                figures = run(args, old_srv, new_srv, venv)
                figures["backend"] = args.backend
            finally:
                old_srv.stop()
                new_srv.stop()
    finally:
        if database is not None:
            database.stop()
    print_figures(figures)
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


def run(args, old_srv, new_srv, venv: Path | None) -> dict:
    old_url, new_url = old_srv.url, new_srv.url
    figures: dict = {
        "runs": args.runs,
        "poll_runs": args.poll_runs,
        "workers": args.workers,
        "old_workers": args.old_workers,
        "load_average": [os.getloadavg()[0]],
    }
    cpu = CpuSplit(old_srv, new_srv)
    name = "bench-sync"
    say(f"seeding {args.runs} runs on the old server")
    started = time.monotonic()
    seed.bulk(old_url, name, args.runs, workers=args.workers)
    say(f"seeded in {time.monotonic() - started:.1f} s")

    # The machine is shared: measure the limit right before and right after the copies and use
    # the mean, so load that comes and goes does not favour either side.
    say("plain log_batch writer into the new server (the limit), before")
    before = cpu.sample()
    limits = [_plain_writer(new_url, f"{name} (plain writer 1)", args)]
    figures["limit_cpu_ms_per_run"] = cpu.per_run_ms(before, args.runs)
    figures["load_average"].append(os.getloadavg()[0])

    old, new = connect_old(old_url, pool_size=32), connect_new(new_url, pool_size=32)
    # Over REST first, on the same old database export-import reads: on a 1.x SQLite backend
    # each history call scans every run's points of its key, so it slows as the old DB grows.
    say("cockpit sync, metric histories over REST")
    _cockpit(figures, "cockpit_rest", old, new, name, args, history_db=None, cpu=cpu)
    figures["load_average"].append(os.getloadavg()[0])

    if venv is not None:
        say("mlflow-export-import (export + import)")
        seconds = run_export_import(venv, old_url, new_url, name)
        figures["export_import_runs_per_s"] = args.runs / seconds
        figures["load_average"].append(os.getloadavg()[0])

    # The default when [mlflow.old] db_uri is set: histories read from the old server's SQLite
    # file (read-only), on a second experiment of the same shape (the first is copied already).
    db_name = f"{name} (history db)"
    say(f"seeding {args.runs} more runs on the old server")
    seed.bulk(old_url, db_name, args.runs, workers=args.workers)
    say("cockpit sync, metric histories from the old backend file")
    _cockpit(
        figures, "cockpit_db", old, new, db_name, args, history_db=old_srv.backend_uri, cpu=cpu
    )
    figures["load_average"].append(os.getloadavg()[0])

    say("plain log_batch writer into the new server (the limit), after")
    limits.append(_plain_writer(new_url, f"{name} (plain writer 2)", args))
    figures["load_average"].append(os.getloadavg()[0])
    figures["limit_runs_per_s"] = statistics.mean(limits)
    figures["limit_runs_per_s_each"] = limits

    say(f"status poll data: {args.poll_runs} runs per side")
    poll_name = "bench-poll"
    thin_runs(old_url, new_url, poll_name, args.poll_runs, args.workers)
    old_id = old.experiment_by_name(poll_name).experiment_id
    new_id = new.experiment_by_name(poll_name).experiment_id

    def baseline() -> None:
        assert plain_search(old_url, old_id) == args.poll_runs
        assert plain_search(new_url, new_id) == args.poll_runs

    def cockpit_poll() -> None:
        summary = poll_status(old, new, experiments=[poll_name], workers=args.workers)
        assert summary.old_runs == summary.new_runs == args.poll_runs and summary.drift == 0

    baseline()  # warm both servers' caches before timing either
    figures["plain_search_s"] = timed(baseline, args.repeat)
    figures["cockpit_poll_s"] = timed(cockpit_poll, args.repeat)
    return figures


def _cockpit(
    figures: dict, label: str, old, new, name: str, args, history_db, cpu: CpuSplit
) -> None:
    options = SyncOptions(
        experiments=[name], workers=args.workers, registry=False, history_db=history_db
    )
    syncer = Syncer(old, new, options=options)
    before = cpu.sample()
    started = time.monotonic()
    result = syncer.run()
    seconds = time.monotonic() - started
    figures[f"{label}_cpu_ms_per_run"] = cpu.per_run_ms(before, args.runs)
    assert not result.errors, result.errors[:3]
    assert result.runs_created == args.runs
    from_db = args.runs if history_db else 0
    assert (result.histories_from_db, result.histories_over_rest) == (from_db, args.runs - from_db)
    report = verify(old, new, experiments=[name], workers=args.workers)
    figures[f"{label}_runs_per_s"] = args.runs / seconds
    figures[f"{label}_verify_differences"] = len(report.differences)
    figures[f"{label}_verify_s"] = report.duration_s


def _plain_writer(new_url: str, experiment: str, args) -> float:
    started = time.monotonic()
    seed.bulk(new_url, experiment, args.runs, workers=args.workers)
    return args.runs / (time.monotonic() - started)


def print_figures(f: dict) -> None:
    print(
        f"MLflow 1.30.1 -> 2.22.5 on {f.get('backend', 'sqlite')}, {f['runs']} runs, "
        f"{f['workers']} client threads, old server {f['old_workers']} gunicorn workers"
    )
    limit = f["limit_runs_per_s"]
    print(
        f"  plain log_batch writer  {limit:8.1f} runs/s  (the limit; mean of before/after: "
        f"{' / '.join(f'{x:.1f}' for x in f['limit_runs_per_s_each'])})"
    )
    print(f"      -> CPU ms per run (the first): {_split(f['limit_cpu_ms_per_run'])}")
    if "export_import_runs_per_s" in f:
        print(f"  mlflow-export-import    {f['export_import_runs_per_s']:8.1f} runs/s")
    for label, what in (
        ("cockpit_db", "histories from the old backend DB, read-only (default with db_uri)"),
        ("cockpit_rest", "histories over REST (no db_uri, or --rest-history)"),
    ):
        rate = f[f"{label}_runs_per_s"]
        print(f"  cockpit sync            {rate:8.1f} runs/s  {what}")
        parts = []
        if "export_import_runs_per_s" in f:
            parts.append(
                f"{rate / f['export_import_runs_per_s']:.1f}x export-import (target >= 4x)"
            )
        parts.append(f"{rate / limit:.2f}x the limit (target >= 0.7x)")
        parts.append(
            f"deep verify: {f[f'{label}_verify_differences']} differences "
            f"in {f[f'{label}_verify_s']:.1f} s"
        )
        print(f"      -> {'; '.join(parts)}")
        print(f"      -> CPU ms per run: {_split(f[f'{label}_cpu_ms_per_run'])}")
    print(
        f"  load average (1 min) along the run: {', '.join(f'{x:.1f}' for x in f['load_average'])}"
    )
    ratio = f["cockpit_poll_s"] / f["plain_search_s"]
    print(
        f"status poll, {f['poll_runs']} runs per side: cockpit {f['cockpit_poll_s']:.2f} s, "
        f"plain paginated runs/search of both {f['plain_search_s']:.2f} s -> {ratio:.2f}x "
        "(target <= 1.3x)"
    )


def _split(ms: dict[str, float]) -> str:
    parts = [f"{k} server {v}" if k != "client" else f"client {v}" for k, v in ms.items()]
    return f"{', '.join(parts)} (sum {sum(ms.values()):.1f})"


if __name__ == "__main__":
    sys.exit(main())
