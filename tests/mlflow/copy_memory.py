"""``python copy_memory.py OLD_URL NEW_URL EXPERIMENT``: sync and deep-verify one experiment with
the cockpit's engine (``Syncer``, ``verify``) under tracemalloc, and print what it took as JSON.

Run as its own process by the tests, so the peak counts the cockpit's allocations alone: moto's
S3 server runs inside the pytest process and keeps every object it is sent in memory. The AWS
configuration comes from the environment, as for the cockpit itself."""

from __future__ import annotations

import json
import sys
import tracemalloc

from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.sync import Syncer, SyncOptions
from cockpit.mlflow.verify import verify


def main(old_url: str, new_url: str, experiment: str) -> None:
    old, new = connect_old(old_url), connect_new(new_url)
    # boto3 clients load botocore's S3 model (about 16 MiB each, whatever the objects' sizes):
    # made before measuring, so the peak is what copying the objects takes.
    old.s3.client()
    new.s3.client()
    tracemalloc.start()
    result = Syncer(old, new, options=SyncOptions(experiments=[experiment], registry=False)).run()
    synced = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    report = verify(old, new, experiments=[experiment])
    verified = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        json.dumps(
            {
                "sync_peak": synced,
                "verify_peak": verified,
                "errors": result.errors,
                "runs_created": result.runs_created,
                "differences": [str(d) for d in report.differences],
                "artifacts": report.artifacts,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:4])
