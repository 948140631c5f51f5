"""Inventory + run history against a large simulated workspace, as a ratio to bare SDK paging.

The workspace simulator (`cockpit sim workspace`, its own process so client and server do not
share a GIL) serves a synthetic scenario: 5,000 jobs and 100,000 completed runs by default.

* baseline: databricks-sdk alone makes the same calls the cockpit makes (spark versions, all
  job pages with tasks, clusters, active runs, every page of completed runs with tasks),
  streaming every object the SDK builds and keeping none;
* cockpit: ``WorkspaceAdapter`` + ``sync_workspace`` into a fresh state file: the same paging,
  plus the conversion to the cockpit's dataclasses and the SQLite writes (inventory, run
  history, events).

Each is run ``--repeat`` times, alternating which goes first; the figure is the median of the
per-round ratios (wall time), with the client-CPU ratio beside it. Target: ratio <= 1.3.

    .venv/bin/python bench/inventory.py [--jobs 5000] [--runs 100000] [--repeat 3]
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TOKEN = "dapi-bench-inventory-token-000001"


def start_simulator(scenario_path: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cockpit",
            "sim",
            "workspace",
            "--scenario",
            str(scenario_path),
            "--port",
            "0",
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()
    if " on http://" not in line:
        proc.kill()
        raise SystemExit(f"simulator did not start: {line.strip()}")
    return proc, line.split(" on ")[1].split(" ")[0]


def bare_sdk(url: str) -> int:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    client = WorkspaceClient(config=Config(host=url, token=TOKEN))
    count = len(client.clusters.spark_versions().versions or [])
    # Counted while streaming, nothing kept: the cheapest way the SDK can page through it all.
    count += sum(1 for _ in client.jobs.list(expand_tasks=True, limit=100))
    count += sum(1 for _ in client.clusters.list())
    count += sum(1 for _ in client.jobs.list_runs(active_only=True, expand_tasks=True, limit=25))
    count += sum(1 for _ in client.jobs.list_runs(completed_only=True, expand_tasks=True, limit=25))
    return count


def cockpit(url: str, folder: Path, i: int) -> int:
    from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter
    from cockpit.databricks.sources import sync_workspace
    from cockpit.store import StateStore

    adapter = WorkspaceAdapter.connect(ConnectOptions(host=url, token=TOKEN))
    with StateStore.open(folder / f"bench-{i}.db", create=True) as store:
        summary = sync_workspace(adapter, store, source="bench")
    return summary["jobs"] + summary["new_runs"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    # Warm imports outside the timings: both sides pay them once per process.
    import databricks.sdk  # noqa: F401

    from cockpit.databricks.adapter import _quiet_host_metadata_warning

    _quiet_host_metadata_warning()  # the simulator has no host metadata; keep stderr readable

    from cockpit.databricks.scenario import synthetic_scenario

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scenario = folder / "big.json"
        scenario.write_text(json.dumps(synthetic_scenario(args.jobs, args.runs, token=TOKEN)))
        proc, url = start_simulator(scenario)
        try:
            # One untimed round warms the server and both clients' code paths.
            bare_sdk(url)
            cockpit(url, folder, -1)
            bare_times, cockpit_times, bare_cpu, cockpit_cpu = [], [], [], []
            for i in range(args.repeat):
                # Alternate which side goes first, so drift in machine load hits both.
                order = ("bare", "cockpit") if i % 2 == 0 else ("cockpit", "bare")
                for side in order:
                    started, cpu = time.perf_counter(), time.process_time()
                    if side == "bare":
                        n_bare = bare_sdk(url)
                        bare_times.append(time.perf_counter() - started)
                        bare_cpu.append(time.process_time() - cpu)
                    else:
                        n_cockpit = cockpit(url, folder, i)
                        cockpit_times.append(time.perf_counter() - started)
                        cockpit_cpu.append(time.process_time() - cpu)
                print(
                    f"round {i + 1}: bare SDK {bare_times[-1]:.2f}s ({n_bare} objects), "
                    f"cockpit {cockpit_times[-1]:.2f}s ({n_cockpit} jobs+runs stored)",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait(10)
    bare, ours = statistics.median(bare_times), statistics.median(cockpit_times)
    # Each round's two measurements are adjacent in time: their ratio cancels most of the load
    # other processes put on a shared machine, which the medians alone do not.
    ratio = statistics.median(c / b for c, b in zip(cockpit_times, bare_times, strict=True))
    cpu_ratio = statistics.median(c / b for c, b in zip(cockpit_cpu, bare_cpu, strict=True))
    print(f"workspace: {args.jobs} jobs, {args.runs} runs (simulator, 127.0.0.1, separate process)")
    print(f"bare SDK paging (median of {args.repeat}): {bare:.2f}s")
    print(f"cockpit inventory + run history into the state file: {ours:.2f}s")
    print(f"client CPU ratio (median per round): {cpu_ratio:.2f}x")
    print(
        f"ratio (median per round): {ratio:.2f}x (target <= 1.3x) {'OK' if ratio <= 1.3 else 'OVER TARGET'}"
    )
    if os.environ.get("BENCH_STRICT") and ratio > 1.3:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
