"""Bench: one large artifact up to S3 and back, the cockpit against baselines in the same run.

moto's standalone S3 server (``moto_server``, its own process on 127.0.0.1) is the store; one
object of ``--mb`` MiB (default 200) from a file on disk, ``--rounds`` times each, in MiB/s:

* **single PUT**: the cockpit's upload before multipart (one ``put_object`` through the cockpit's
  bounded client; S3 refuses it above 5 GiB);
* **cockpit**: ``S3Artifacts.upload`` (a resumable multipart upload above the threshold);
* **boto3**: plain ``upload_fileobj`` with boto3's default transfer settings and no cockpit
  transport (what a tool with no bounds would do: 10 parts in flight, up to 10 more read ahead);
* **download**: ``S3Artifacts.download`` (streamed, sha256 on the way) and plain boto3
  ``download_fileobj``.

    .venv/bin/python bench/s3_artifacts.py            # 200 MiB, 3 rounds
    .venv/bin/python bench/s3_artifacts.py --mb 50 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import boto3  # noqa: E402
from moto_store import say, start_moto  # noqa: E402 - bench/ is sys.path[0]

from cockpit.mlflow.models import Run  # noqa: E402
from cockpit.mlflow.rest import RestClient  # noqa: E402
from cockpit.mlflow.s3_artifacts import S3Artifacts, S3Settings  # noqa: E402

MIB = 1 << 20
BUCKET = "bench-artifacts"


def timed(fn: Callable[[], object], size: int) -> tuple[float, float]:
    """MiB/s, and this process's CPU seconds per GiB (moto runs in its own process, so on one
    machine the rate is mostly moto's; the CPU is the client's own cost)."""
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    rate = size / MIB / (time.perf_counter() - started)
    return rate, (time.process_time() - cpu) / (size / (1 << 30))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIABENCH")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    moto, url = start_moto()
    try:
        with tempfile.TemporaryFile() as source:
            measure(url, source, args.mb, args.rounds)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    return 0


def measure(url: str, source: IO[bytes], mb: int, rounds: int) -> None:
    plain = boto3.client("s3", endpoint_url=url)
    plain.create_bucket(Bucket=BUCKET)
    store = S3Artifacts(RestClient(url, read_only=False), S3Settings(endpoint_url=url))
    run = Run("bench", "0", "r", "FINISHED", 0, None, "active", artifact_uri=f"s3://{BUCKET}/0/r")
    size = mb * MIB
    for _ in range(mb):
        source.write(os.urandom(MIB))
    client = store.client()

    def single_put() -> None:
        source.seek(0)
        with store._transfer(size):
            client.put_object(Bucket=BUCKET, Key="0/r/single.bin", Body=source)

    def cockpit_put() -> None:
        store.upload(run, "managed.bin", source)

    def boto3_put() -> None:
        source.seek(0)
        plain.upload_fileobj(source, BUCKET, "0/r/plain.bin")

    def cockpit_get() -> None:
        with tempfile.TemporaryFile() as out:
            store.download(run, "managed.bin", out, size)

    def boto3_get() -> None:
        with tempfile.TemporaryFile() as out:
            plain.download_fileobj(BUCKET, "0/r/plain.bin", out)

    cases = {
        "single PUT": single_put,
        "cockpit upload": cockpit_put,
        "boto3 upload_fileobj": boto3_put,
        "cockpit download": cockpit_get,
        "boto3 download_fileobj": boto3_get,
    }
    rates: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, fn in cases.items():
            rate, cpu = timed(fn, size)
            rates[name].append(rate)
            cpus[name].append(cpu)
        say(f"round {round_ + 1}: " + ", ".join(f"{n} {r[-1]:.0f}" for n, r in rates.items()))
    etag = plain.head_object(Bucket=BUCKET, Key="0/r/managed.bin")["ETag"]
    median = {name: statistics.median(r) for name, r in rates.items()}
    load = os.getloadavg()[0]
    print(f"{mb} MiB object, median of {rounds}, load average {load:.1f}")
    for name, rate in median.items():
        cpu = statistics.median(cpus[name])
        print(f"  {name:24s} {rate:7.1f} MiB/s   client CPU {cpu:5.2f} s/GiB")
    print(
        "  cockpit upload / single PUT:        "
        f"{median['cockpit upload'] / median['single PUT']:.2f}x"
    )
    print(
        "  cockpit upload / boto3 upload:      "
        f"{median['cockpit upload'] / median['boto3 upload_fileobj']:.2f}x"
    )
    print(
        "  cockpit download / boto3 download:  "
        f"{median['cockpit download'] / median['boto3 download_fileobj']:.2f}x"
    )
    print(f"  the cockpit's object: ETag {etag} (multipart: '-<parts>')")


if __name__ == "__main__":
    sys.exit(main())
