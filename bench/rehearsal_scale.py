"""Bench: the DB-upgrade rehearsal (1.30.1 -> 2.22.5) on a PostgreSQL store with millions of
metric rows: which alembic steps dominate, and how long the dump/restore copy takes.

A throw-away PostgreSQL server (``cockpit.mlflow.dbservers``); a real 1.30.1 server creates the
schema and the runs (through REST), then the ``metrics`` table is filled straight in SQL
(``generate_series``: REST would take an hour for 2M points) with the shape 1.x writes: unique
(key, timestamp, step, run) points, ``latest_metrics`` consistent with them.

    .venv/bin/python bench/rehearsal_scale.py                  # 500 runs x 4,000 = 2M rows
    .venv/bin/python bench/rehearsal_scale.py --runs 100 --points 1000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "mlflow"))

import seed  # noqa: E402

from cockpit.mlflow import dbservers, servers  # noqa: E402
from cockpit.mlflow.rehearsal import rehearse_db_upgrade  # noqa: E402
from cockpit.store import StateStore  # noqa: E402


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--points", type=int, default=4000, help="metric points per run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say("starting a throw-away PostgreSQL server")
    db = dbservers.start_postgres()
    try:
        uri = db.create_database("big_old")
        handle = servers.start_server(servers.MLFLOW_V1, backend_uri=uri, progress=say)
        try:
            say(f"creating {args.runs} runs through a real 1.30.1 server")
            seed.bulk(handle.url, "rehearsal-scale", args.runs, metrics=1, steps=1, artifact=False)
        finally:
            handle.stop()
        say(f"filling metrics: {args.runs} x {args.points} points in SQL")
        started = time.monotonic()
        db.sql(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            "SELECT 'metric_' || (g % 4), (g % 997) / 997.0, 1700000000000 + g, r.run_uuid, "
            "g / 4, false FROM runs r CROSS JOIN generate_series(1, "
            f"{args.points}) AS g; ANALYZE",
            "big_old",
            timeout=3600,
        )
        db.sql(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            "SELECT DISTINCT ON (run_uuid, key) key, value, timestamp, step, is_nan, run_uuid "
            "FROM metrics ORDER BY run_uuid, key, step DESC, timestamp DESC "
            "ON CONFLICT DO NOTHING",
            "big_old",
            timeout=3600,
        )
        rows = int(db.sql("SELECT COUNT(*) FROM metrics", "big_old").strip())
        say(f"{rows} metric rows in {time.monotonic() - started:.1f} s")

        store = StateStore.create_in_memory()
        started = time.monotonic()
        result = rehearse_db_upgrade(store, uri, servers.MLFLOW_V2, progress=say)
        total = time.monotonic() - started
    finally:
        db.stop()
    print(
        f"rehearsal 1.30.1 -> 2.22.5 on PostgreSQL, {rows:,} metric rows: "
        f"{'clean' if result.clean else 'NOT clean'}, total {total:.1f} s "
        f"(dump + restore {result.copy_s:.1f} s, upgrade {result.duration_s:.1f} s, "
        f"audit {result.audit_s:.1f} s, the rest row counts and drop)"
    )
    print(f"  revision {result.revision_before} -> {result.revision_after}")
    startup = result.duration_s - sum(result.step_seconds)
    print(
        f"  {startup:8.2f} s  `mlflow db upgrade` start-up (imports, connect) before the first step"
    )
    for src, dst, seconds in result.slowest_steps(len(result.migrations)):
        print(f"  {seconds:8.2f} s  {src} -> {dst}")
    if result.audit:
        print(f"  audit: {len(result.audit)} findings, e.g. {result.audit[0]}")
    if args.json:
        print(json.dumps({"metric_rows": rows, "total_s": total, **result.to_json()}, indent=2))
    return 0 if result.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
