"""Bench: the incremental status poll at 100,000 runs per side (issue 17, item 4).

Real servers from their own virtualenvs (MLflow 1.30.1 old, 2.22.5 new by default; ``--new``
3.17.2), each on its own SQLite backend:

1. **seed**: the servers are started first (so each creates its own schema), then N runs per side
   are inserted straight into each server's SQLite tables in one transaction (REST logging of
   100k runs takes hours): on the old side finished runs with params, tags and a metric, on the
   new side a faithful copy of each (same name, times, user, params, tags, latest metric, plus
   the cockpit's ``cockpit.source_run_id`` tag). Columns come from the server's own schema
   (``PRAGMA table_info``); the server's own ``runs/search`` must then return them, and the
   first poll must find every run on both sides with no drift, or the bench stops.
2. **first poll**: ``poll_status`` with a fresh ``PollState`` (a full read of both sides).
3. **rounds**: 100 new runs are logged on the old side over REST (as a pipeline would), and half
   of them copied to the new side over REST (as the mirror would); the next poll is timed. Each
   round's incremental answer is checked against a full poll of the same moment (untimed).

Prints the first poll, each round's poll and the ratio (target: the second poll costs <= 10% of
the first).

``--deep N --limit L`` measures the tag-search budget (``tag_search_limit`` = L) instead of the
rounds: the new side is seeded without the copies of the oldest N runs (spread over the
experiments, far behind the new side's range search), so the first poll finds them missing and
remembers them as not found. Then their copies are made over REST (as the mirror would, with the
sources' times), the state forgets what it did not find (as after a sync that copied runs) and
the poll runs until none is missing: how many polls, each one's time and tag searches. The last
poll is checked against a full poll. One limit per process: each starts from the same state.

    .venv/bin/python bench/poll.py                       # 100,000 runs per side, 3 rounds
    .venv/bin/python bench/poll.py --runs 20000 --rounds 1
    .venv/bin/python bench/poll.py --new 3.17.2
    .venv/bin/python bench/poll.py --runs 20000 --deep 40 --limit 10
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "mlflow"))  # the REST seed writer shared with the tests

import seed  # noqa: E402

from cockpit.mlflow import servers  # noqa: E402
from cockpit.mlflow.adapter import connect_new, connect_old  # noqa: E402
from cockpit.mlflow.models import TAG_SOURCE_RUN  # noqa: E402
from cockpit.mlflow.poll_state import PollState  # noqa: E402
from cockpit.mlflow.status import poll_status  # noqa: E402

USER = "kyros-ci"


def say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------ SQLite seed
class Table:
    """One of the server's tables, as its own schema declares it."""

    def __init__(self, db: sqlite3.Connection, name: str) -> None:
        self.name = name
        info = db.execute(f"PRAGMA table_info({name})").fetchall()  # name from our own list
        if not info:
            raise SystemExit(f"the server created no {name!r} table")
        self.columns = [row[1] for row in info]
        # Columns the server requires and gives no default: the seed must fill each.
        self.required = {row[1] for row in info if row[3] and row[4] is None}

    def insert(self, db: sqlite3.Connection, rows: list[dict[str, object]]) -> None:
        if not rows:
            return
        names = [c for c in self.columns if c in rows[0]]
        lacking = self.required - set(names)
        if lacking:
            raise SystemExit(f"{self.name}: the seed does not fill {sorted(lacking)}")
        marks = ", ".join("?" for _ in names)
        db.executemany(
            f"INSERT INTO {self.name} ({', '.join(names)}) VALUES ({marks})",
            [tuple(row[c] for c in names) for row in rows],
        )


def _run_rows(
    run_id: str, experiment_id: str, artifact_root: str, i: int, copy_of: str | None
) -> dict[str, list[dict[str, object]]]:
    start = seed.T0 + i * 10
    name = f"run-{i:06d}"
    tags = {"mlflow.runName": name, "mlflow.user": USER, "team": "kyros"}
    if copy_of:
        tags[TAG_SOURCE_RUN] = copy_of
    return {
        "runs": [
            {
                "run_uuid": run_id,
                "name": name,
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": USER,
                "status": "FINISHED",
                "start_time": start,
                "end_time": start + 5,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"{artifact_root}/{run_id}/artifacts",
                "experiment_id": int(experiment_id),
                "deleted_time": None,
            }
        ],
        "tags": [{"key": k, "value": v, "run_uuid": run_id} for k, v in tags.items()],
        "params": [
            {"key": "lr", "value": f"0.{i % 97}", "run_uuid": run_id},
            {"key": "seed", "value": str(i), "run_uuid": run_id},
        ],
        "metrics": [
            {
                "key": "loss",
                "value": (i % 1000) / 1000,
                "timestamp": start + 4,
                "step": 0,
                "is_nan": 0,
                "run_uuid": run_id,
            }
        ],
        "latest_metrics": [
            {
                "key": "loss",
                "value": (i % 1000) / 1000,
                "timestamp": start + 4,
                "step": 0,
                "is_nan": 0,
                "run_uuid": run_id,
            }
        ],
    }


def sqlite_seed(
    db_path: Path,
    experiments: dict[str, str],
    per_experiment: int,
    copies_of: dict[int, str],
    skip: frozenset[int] = frozenset(),
) -> dict[int, str]:
    """``per_experiment`` finished runs in each experiment (name -> id), in one transaction;
    with ``copies_of`` (run number -> source run id) each run is that run's copy; run numbers in
    ``skip`` are left out. Returns run number -> run id."""
    ids: dict[int, str] = {}
    db = sqlite3.connect(db_path)
    try:
        tables = {
            name: Table(db, name)
            for name in ("runs", "tags", "params", "metrics", "latest_metrics")
        }
        rows: dict[str, list[dict[str, object]]] = {name: [] for name in tables}
        for n, experiment_id in enumerate(experiments.values()):
            root = f"mlflow-artifacts:/{experiment_id}"
            for k in range(per_experiment):
                i = n * per_experiment + k
                if i in skip:
                    continue
                ids[i] = uuid.uuid4().hex
                one = _run_rows(ids[i], experiment_id, root, i, copies_of.get(i))
                for name, items in one.items():
                    rows[name].extend(items)
        with db:  # one transaction
            for name, table in tables.items():
                table.insert(db, rows[name])
    finally:
        db.close()
    return ids


# ------------------------------------------------------------------------------ the rounds
def new_runs(
    old_url: str,
    new_url: str,
    experiments: dict[str, tuple[str, str]],
    count: int,
    copies: int,
    start: int,
    workers: int,
) -> None:
    """``count`` finished runs logged over REST on the old side, spread over the experiments, and
    a copy of the first ``copies`` of them on the new side (as the sync writes it)."""
    w_old, w_new = seed.Writer(old_url), seed.Writer(new_url)
    pairs = list(experiments.values())

    def one(i: int) -> None:
        old_exp, new_exp = pairs[i % len(pairs)]
        t = start + i * 10
        name = f"new-{start}-{i:03d}"
        tags = {"mlflow.user": USER, "team": "kyros"}
        info = w_old.run(old_exp, name, start=t, tags=tags, user=USER)
        params = {"lr": "0.5", "seed": str(i)}
        metric = [("loss", 0.25, t + 4, 0)]
        w_old.log(info["run_id"], params=params, metrics=metric)
        w_old.finish(info["run_id"], "FINISHED", t + 5)
        if i < copies:
            copy = w_new.run(
                new_exp, name, start=t, tags={**tags, TAG_SOURCE_RUN: info["run_id"]}, user=USER
            )
            w_new.log(copy["run_id"], params=params, metrics=metric)
            w_new.finish(copy["run_id"], "FINISHED", t + 5)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(count)))


def copy_runs(
    new_url: str, experiments: list[str], per: int, numbers: list[int], sources: dict[int, str]
) -> None:
    """The copies of seeded runs (by run number) over REST, as the sync writes them: the
    source's name, times, user, params, tags and metric, plus the source-run tag."""
    w_new = seed.Writer(new_url)
    for i in numbers:
        rows = _run_rows(sources[i], "0", "", i, None)
        run = rows["runs"][0]
        tags = {t["key"]: t["value"] for t in rows["tags"]}
        tags[TAG_SOURCE_RUN] = sources[i]
        name = tags.pop("mlflow.runName")
        copy = w_new.run(
            experiments[i // per], name, start=int(run["start_time"]), tags=tags, user=USER
        )
        metric = rows["metrics"][0]
        w_new.log(
            copy["run_id"],
            params={p["key"]: str(p["value"]) for p in rows["params"]},
            metrics=[("loss", metric["value"], metric["timestamp"], 0)],
        )
        w_new.finish(copy["run_id"], "FINISHED", int(run["end_time"]))


def deep(args, old, new, new_url, state, experiments, per, sources, limits) -> list[dict]:
    """Per limit: its group's copies made, then polls until none of them is missing."""
    out = []
    new_ids = [v[1] for v in experiments.values()]
    for g, limit in enumerate(limits):
        numbers = _deep_group(g, args.deep, args.experiments, per)
        copy_runs(new_url, new_ids, per, numbers, sources)
        state.forget_not_found()
        state.tag_search_limit = limit
        polls = []
        while True:
            started = time.monotonic()
            poll = poll_status(old, new, state=state, workers=args.workers, registry=False)
            seconds = time.monotonic() - started
            cost = state.last_cost
            polls.append(
                {
                    "seconds": round(seconds, 3),
                    "tag_searches": cost.tag_searches,
                    "lookups": cost.lookups,
                    "missing": poll.missing,
                    "full": cost.full,
                }
            )
            left = args.deep * (len(limits) - g - 1)
            say(
                f"limit {limit}: poll {len(polls)} {seconds:.2f} s, {cost.tag_searches} tag "
                f"searches, {cost.lookups} lookups, missing {poll.missing} (at the end {left})"
            )
            if poll.missing <= left or len(polls) > args.deep + 2:
                break
        # The same poll with nothing left to search: the baseline of this run.
        started = time.monotonic()
        poll = poll_status(old, new, state=state, workers=args.workers, registry=False)
        settled = round(time.monotonic() - started, 3)
        full = poll_status(old, new, workers=args.workers, registry=False)
        if (poll.experiments, poll.models) != (full.experiments, full.models):
            raise SystemExit(f"limit {limit}: the incremental poll differs from a full one")
        if poll.missing != left:
            raise SystemExit(f"limit {limit}: {poll.missing} missing, expected {left}")
        out.append({"limit": limit, "polls": polls, "settled_s": settled})
    return out


def _deep_group(g: int, count: int, n_experiments: int, per: int) -> list[int]:
    """Group ``g``'s run numbers: the oldest runs of each experiment, round robin."""
    out = []
    for j in range(count):
        k = g * count + j
        out.append((k % n_experiments) * per + k // n_experiments)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000, help="runs per side")
    parser.add_argument("--experiments", type=int, default=4)
    parser.add_argument("--new-runs", type=int, default=100, help="new old-side runs per round")
    parser.add_argument("--copies", type=int, default=50, help="of them copied per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--old", default=servers.MLFLOW_V1)
    parser.add_argument("--new", default=servers.MLFLOW_V2)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument(
        "--deep", type=int, default=0, help="runs missing deep in history per limit (see above)"
    )
    parser.add_argument("--limit", type=int, default=10, help="tag_search_limit, with --deep")
    args = parser.parse_args()
    per = args.runs // args.experiments

    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        old_h = servers.start_server(args.old, Path(tmp) / "old", progress=say)
        new_h = None
        try:
            new_h = servers.start_server(args.new, Path(tmp) / "new", progress=say)
            w_old, w_new = seed.Writer(old_h.url), seed.Writer(new_h.url)
            experiments: dict[str, tuple[str, str]] = {}
            for n in range(args.experiments):
                name = f"poll-bench-{n}"
                experiments[name] = (w_old.experiment(name), w_new.experiment(name))
            started = time.monotonic()
            sources = sqlite_seed(
                old_h.backend_db_path, {k: v[0] for k, v in experiments.items()}, per, {}
            )
            limits = [args.limit] if args.deep else []
            skip = frozenset(
                i
                for g in range(len(limits))
                for i in _deep_group(g, args.deep, args.experiments, per)
            )
            sqlite_seed(
                new_h.backend_db_path,
                {k: v[1] for k, v in experiments.items()},
                per,
                sources,
                skip,
            )
            total = per * args.experiments
            say(f"seeded {total:,} runs per side into SQLite in {time.monotonic() - started:.1f} s")
            old, new = connect_old(old_h.url), connect_new(new_h.url)
            # The server's own search sees the rows (and parses them as runs).
            probe = sources[total - 1]
            (run,) = old.search_runs(
                [experiments["poll-bench-0"][0], *(v[0] for v in experiments.values())],
                filter_string=f"attributes.run_id = '{probe}'",
            )
            if run.status != "FINISHED" or run.params.get("seed") != str(total - 1):
                raise SystemExit(f"the old server reads the seeded run {probe} wrongly: {run}")

            state = PollState(reconcile_s=24 * 3600.0)
            started = time.monotonic()
            first = poll_status(old, new, state=state, workers=args.workers, registry=False)
            first_s = time.monotonic() - started
            if (first.old_runs, first.new_runs, first.missing) != (
                total,
                total - len(skip),
                len(skip),
            ) or (first.drift != 0 and not skip):
                raise SystemExit(
                    f"first poll: {first.old_runs} old, {first.new_runs} new runs, "
                    f"{first.missing} missing (expected {total}, {total - len(skip)}, "
                    f"{len(skip)}): the seed is not faithful"
                )
            say(f"first poll (full): {first_s:.2f} s, {state.last_cost.runs_read:,} runs read")
            if args.deep:
                groups = deep(args, old, new, new_h.url, state, experiments, per, sources, limits)
                print(
                    f"tag-search budget, {total:,} runs per side ({args.old} -> {args.new}), "
                    f"{args.deep} copies made deep in history per limit; first (full) poll "
                    f"{first_s:.2f} s"
                )
                for g in groups:
                    times = [p["seconds"] for p in g["polls"]]
                    print(
                        f"limit {g['limit']}: {len(times)} polls to find them all, "
                        f"{sum(times):.2f} s in all, slowest {max(times):.2f} s; polls {times} s; "
                        f"then a poll with nothing to search {g['settled_s']:.2f} s"
                    )
                if args.json:
                    print(json.dumps({"first_poll_s": first_s, "groups": groups}, indent=2))
                return 0
            rounds = []
            clock = seed.T0 + total * 10 + 1_000_000
            for r in range(args.rounds):
                new_runs(
                    old_h.url,
                    new_h.url,
                    experiments,
                    args.new_runs,
                    args.copies,
                    clock + r * 100_000,
                    args.workers,
                )
                started = time.monotonic()
                poll = poll_status(old, new, state=state, workers=args.workers, registry=False)
                poll_s = time.monotonic() - started
                cost = state.last_cost
                full = poll_status(old, new, workers=args.workers, registry=False)
                same = (poll.experiments, poll.models) == (full.experiments, full.models)
                if not (poll.incremental and same):
                    raise SystemExit(f"round {r + 1}: the incremental poll differs from a full one")
                missing = args.new_runs - args.copies
                say(
                    f"round {r + 1}: +{args.new_runs} runs ({args.copies} copied): poll "
                    f"{poll_s:.3f} s = {poll_s / first_s:.1%} of the first; {cost.runs_read} "
                    f"runs read, {cost.lookups} lookups; missing {poll.missing} "
                    f"(expected {missing * (r + 1)}); equals a full poll"
                )
                rounds.append(
                    {
                        "seconds": poll_s,
                        "runs_read": cost.runs_read,
                        "lookups": cost.lookups,
                        "missing": poll.missing,
                    }
                )
            second = rounds[0]["seconds"]
            figures = {
                "runs_per_side": total,
                "old": args.old,
                "new": args.new,
                "first_poll_s": round(first_s, 3),
                "second_poll_s": round(second, 3),
                "ratio": round(second / first_s, 4),
                "rounds_s": [round(r["seconds"], 3) for r in rounds],
                "median_round_ratio": round(
                    statistics.median(r["seconds"] for r in rounds) / first_s, 4
                ),
                "rounds": rounds,
            }
            print(
                f"status poll, {total:,} runs per side ({args.old} -> {args.new}): first (full) "
                f"{first_s:.2f} s; second after {args.new_runs} new runs ({args.copies} copied) "
                f"{second:.3f} s = {second / first_s:.2%} of the first (target <= 10%); "
                f"rounds {figures['rounds_s']} s"
            )
            if args.json:
                print(json.dumps(figures, indent=2))
        finally:
            old_h.stop()
            if new_h is not None:
                new_h.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
