"""Bench: the memory of S3 clients, one per side (the former behaviour) against one shared per
store, in the same run.

moto's standalone S3 server (its own process on 127.0.0.1) is the store. Each measurement runs
in a fresh Python process (imports done first, so only what the clients cost is counted):
``--sides`` S3 sides (``S3Artifacts``: the old and new servers' sides, the pollers', ...) on the
same endpoint and credentials each make their client and list the bucket once (the first call
loads what a client loads lazily). Reported: Python memory still allocated afterwards
(tracemalloc) and the growth of the resident set (RSS, from /proc/self/statm), for

* **private**: every side builds its own boto3 client (``share_client=False``: what every side
  did before ``cockpit/mlflow/s3_clients.py``);
* **shared**: the sides share the process's one client for the store.

    .venv/bin/python bench/s3_clients.py              # 8 sides, 3 rounds
    .venv/bin/python bench/s3_clients.py --sides 4 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from moto_store import say, start_moto  # noqa: E402 - bench/ is sys.path[0]; no boto3 loaded

MIB = 1 << 20
BUCKET = "bench-clients"


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MIB


def child(url: str, sides: int, shared: bool) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    import gc
    import tracemalloc

    import boto3  # noqa: F401 - imported before the measurement: only the clients count
    import botocore.session  # noqa: F401

    from cockpit.mlflow.models import Run
    from cockpit.mlflow.rest import RestClient
    from cockpit.mlflow.s3_artifacts import S3Artifacts, S3Settings

    run = Run("bench", "0", "r", "FINISHED", 0, None, "active", artifact_uri=f"s3://{BUCKET}/0/r")
    rests = [RestClient(url, read_only=i % 2 == 0) for i in range(sides)]
    gc.collect()
    rss = _rss_mib()
    tracemalloc.start()
    stores = [
        S3Artifacts(rest, S3Settings(endpoint_url=url), share_client=shared) for rest in rests
    ]
    for store in stores:
        store.list(run)
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"traced": current / MIB, "peak": peak / MIB, "rss": _rss_mib() - rss}


def measure(url: str, sides: int, shared: bool) -> dict[str, float]:
    mode = "shared" if shared else "private"
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--url", url, "--sides", str(sides)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sides", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", choices=("private", "shared"))
    parser.add_argument("--url")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIABENCH")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if args.child:
        print(json.dumps(child(args.url, args.sides, args.child == "shared")))
        return 0
    moto, url = start_moto()
    try:
        import boto3

        boto3.client("s3", endpoint_url=url).create_bucket(Bucket=BUCKET)
        results: dict[str, list[dict[str, float]]] = {"private": [], "shared": []}
        for round_ in range(args.rounds):
            for mode in results:
                results[mode].append(measure(url, args.sides, mode == "shared"))
            say(
                f"round {round_ + 1}: "
                + ", ".join(f"{m} {r[-1]['traced']:.1f} MiB" for m, r in results.items())
            )
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    median = {
        mode: {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        for mode, rows in results.items()
    }
    print(f"{args.sides} S3 sides on one store, median of {args.rounds} fresh processes")
    for mode, m in median.items():
        print(
            f"  {mode:8s} tracemalloc {m['traced']:6.1f} MiB (peak {m['peak']:6.1f})"
            f"   RSS +{m['rss']:6.1f} MiB"
        )
    private, shared = median["private"], median["shared"]
    print(
        f"  per side: private {private['traced'] / args.sides:.1f} MiB, "
        f"shared {shared['traced'] / args.sides:.1f} MiB (tracemalloc)"
    )
    print(
        f"  shared / private: tracemalloc {shared['traced'] / private['traced']:.2f}x, "
        f"RSS {shared['rss'] / private['rss']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
