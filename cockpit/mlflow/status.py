"""Live dual-server status: per experiment, what the old server has and what its copy lacks.

A full poll reads each experiment's runs on both sides (paginated ``runs/search``, old and new
in parallel, experiments spread over worker threads) and compares them with the same rules as
the sync (:mod:`cockpit.mlflow.compare`), without fetching histories or artifacts: that is
verify's job. Each experiment's row is handed to ``on_experiment`` as soon as it is known, so a
viewer fills in while the poll runs; the whole poll is then recorded in one transaction.

Given a :class:`~cockpit.mlflow.poll_state.PollState` (the TUI's and ``cockpit record``'s
poller, the mirror loop), a poll is incremental: it reads only the runs started since the last
poll, the runs that were RUNNING, missing or differing, and the copies of those, and adds the
counts of the settled runs it kept; a full poll still runs every ``reconcile_s``. What that
can and cannot see is written down in :mod:`cockpit.mlflow.poll_state`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.mlflow import compare
from cockpit.mlflow.adapter import NewServer, OldServer
from cockpit.mlflow.models import PARENT_TAG, TAG_SOURCE_RUN, TAG_SOURCE_VERSION, Experiment, Run
from cockpit.mlflow.poll_state import (
    ID_CHUNK,
    ExperimentState,
    PollCost,
    PollState,
    ids_order,
    safe_ids,
    settle,
    start_of,
)
from cockpit.mlflow.records import ExperimentStatus, ModelStatus, PollSummary, record_poll
from cockpit.mlflow.rest import RestError

if TYPE_CHECKING:
    from cockpit.store import StateStore

LOOKUP_THREADS = 4  # lookups by id or by tag of one experiment, in parallel
RANGE_BUDGET = 2000  # new-side runs read to find copies of older runs before asking by tag
RANGE_PAGE = 500


def schema_revision(db_uri: str | None) -> str | None:
    """The alembic revision of a SQLite, PostgreSQL or MySQL backend (read-only,
    :mod:`cockpit.mlflow.schema`); None when it cannot be read at this moment."""
    if not db_uri:
        return None
    from cockpit.mlflow.schema import read_revision

    try:
        return read_revision(db_uri)
    except CockpitError:
        return None


@dataclass
class _Read:
    """What one experiment's poll read and found."""

    status: ExperimentStatus
    state: ExperimentState | None
    runs_read: int
    lookups: int
    whole: bool
    source_ids: list[str]  # the source runs read (the registry panel's scope)
    tag_searches: int = 0


def _classify(src_runs: Iterable[Run], dest_runs: Iterable[Run]) -> tuple[list[Run], list[Run]]:
    """(missing, differing) source runs, against the first copy of each among ``dest_runs``."""
    copies: dict[str, Run] = {}
    for run in dest_runs:
        if run.source_run_id and run.source_run_id not in copies:
            copies[run.source_run_id] = run
    run_map = {s: d.run_id for s, d in copies.items()}
    missing, differing = [], []
    for run in src_runs:
        copy = copies.get(run.run_id)
        if copy is None:
            missing.append(run)
        elif compare.run_differences(run, copy, run_map):
            differing.append(run)
    return missing, differing


def _row(
    src: Experiment,
    dest: Experiment | None,
    counts: tuple[int, int, int, int],
    missing: list[Run],
    differing: list[Run],
    running: int,
) -> ExperimentStatus:
    return ExperimentStatus(
        name=src.name,
        source_id=src.experiment_id,
        dest_id=dest.experiment_id if dest else None,
        old_deleted_experiment=src.deleted,
        old_active=counts[0],
        old_deleted=counts[1],
        new_active=counts[2],
        new_deleted=counts[3],
        missing=len(missing),
        differing=len(differing),
        running=running,
        missing_ids=ids_order(missing),
        differing_ids=ids_order(differing),
    )


def _unsettled(missing: list[Run], differing: list[Run], src_runs: Iterable[Run]) -> set[str]:
    out = {r.run_id for r in missing} | {r.run_id for r in differing}
    return out | {r.run_id for r in src_runs if r.status == "RUNNING"}


def _read_whole(
    old: OldServer, new: NewServer, src: Experiment, dest: Experiment | None, keep: bool
) -> _Read:
    with ThreadPoolExecutor(max_workers=2) as pool:
        src_future = pool.submit(lambda: list(old.search_runs([src.experiment_id])))
        dest_runs: list[Run] = (
            list(new.search_runs([dest.experiment_id])) if dest is not None else []
        )
        src_runs = src_future.result()
    missing, differing = _classify(src_runs, dest_runs)
    counts = (
        sum(1 for r in src_runs if not r.deleted),
        sum(1 for r in src_runs if r.deleted),
        sum(1 for r in dest_runs if not r.deleted),
        sum(1 for r in dest_runs if r.deleted),
    )
    running = sum(1 for r in src_runs if r.status == "RUNNING")
    state = None
    if keep:
        unsettled = _unsettled(missing, differing, src_runs)
        # Every copy was read: a missing run's copy is not there, so no tag search for it
        # until the reconcile (poll_state: remembered as not found).
        state = settle(
            None,
            dest.experiment_id if dest else None,
            src_runs,
            dest_runs,
            unsettled,
            not_found=[r.run_id for r in missing] if dest is not None else (),
        )
    return _Read(
        status=_row(src, dest, counts, missing, differing, running),
        state=state,
        runs_read=len(src_runs) + len(dest_runs),
        lookups=0,
        whole=True,
        source_ids=[r.run_id for r in src_runs],
    )


# ------------------------------------------------------------------------------- incremental
def _window(server: OldServer | NewServer, experiment_id: str, mark: int) -> dict[str, Run]:
    """Runs started at or after ``mark`` (every generation serves this filter)."""
    runs = server.search_runs([experiment_id], filter_string=f"attributes.start_time >= {mark}")
    return {r.run_id: r for r in runs}


def _each(fn: Callable[[str], list[Run]], keys: list[str]) -> tuple[list[Run], int]:
    """``fn`` over ``keys`` on a few threads: the runs found, in key order, and the calls made."""
    if not keys:
        return [], 0
    with ThreadPoolExecutor(max_workers=min(LOOKUP_THREADS, len(keys))) as pool:
        found = list(pool.map(fn, keys))
    return [run for runs in found for run in runs], len(keys)


def _by_ids(
    server: OldServer | NewServer, experiment_id: str, ids: Iterable[str]
) -> tuple[list[Run], int]:
    """These runs (active or deleted) if they still exist: ``run_id IN`` on 2.x and later; 1.x
    refuses IN on run ids (measured on 1.30.1), so one equality search per run there."""
    wanted = safe_ids(ids)
    if server.info.generation >= 2:
        chunks = [
            "attributes.run_id IN (" + ", ".join(f"'{i}'" for i in wanted[n : n + ID_CHUNK]) + ")"
            for n in range(0, len(wanted), ID_CHUNK)
        ]
    else:
        chunks = [f"attributes.run_id = '{i}'" for i in wanted]
    return _each(lambda f: list(server.search_runs([experiment_id], filter_string=f)), chunks)


def _copies_of(new: NewServer, dest_id: str, sources: Iterable[str]) -> tuple[list[Run], int]:
    """The copies of these source runs in the destination experiment, by the tag each carries
    (no generation accepts IN on a tag: one search per source run)."""
    return _each(
        lambda s: list(
            new.search_runs([dest_id], filter_string=f"tags.`{TAG_SOURCE_RUN}` = '{s}'")
        ),
        safe_ids(sources),
    )


def _started_between(
    new: NewServer, dest_id: str, lo: int, hi: int
) -> tuple[list[Run], int | None]:
    """The new side's runs started in ``[lo, hi)``, newest first, at most RANGE_BUDGET of them;
    and the start_time it stopped at (None: it read them all)."""
    runs: list[Run] = []
    found = new.search_runs(
        [dest_id],
        filter_string=f"attributes.start_time >= {lo} AND attributes.start_time < {hi}",
        page_size=RANGE_PAGE,
        order_by=["attributes.start_time DESC"],
    )
    for run in found:
        runs.append(run)
        if len(runs) >= RANGE_BUDGET:
            return runs, start_of(run)
    return runs, None


def _read_changes(
    old: OldServer,
    new: NewServer,
    src: Experiment,
    dest: Experiment | None,
    state: ExperimentState,
    limit: int,
    take_tag_searches: Callable[[int, bool], int],
) -> _Read | None:
    """The experiment from what changed since ``state``; None when reading it whole is due.
    ``take_tag_searches(n, partial)``: how many of ``n`` tag searches the poll's budget still
    allows (all or none when not ``partial``)."""
    lookups = tag_searches = 0
    not_found = set(state.not_found)  # looked for before, not found: not searched again
    olds = _window(old, src.experiment_id, state.old_mark)
    again = [i for i in state.old_tracked if i not in olds]
    if len(again) > limit:
        return None
    found, calls = _by_ids(old, src.experiment_id, again)
    lookups += calls
    for run in found:
        olds.setdefault(run.run_id, run)
    news: dict[str, Run] = {}
    parents: list[Run] = []  # copies read only for parent links: settled, so never counted
    if dest is not None:
        news = _window(new, dest.experiment_id, state.new_mark)
        found, calls = _by_ids(
            new, dest.experiment_id, [i for i in state.new_tracked if i not in news]
        )
        lookups += calls
        for run in found:
            news.setdefault(run.run_id, run)
        copied = {r.source_run_id for r in news.values()}
        # A copy keeps its source's start_time: the copy of a run at or past the new side's
        # watermark is in that window if it exists. Older runs' copies are looked for among the
        # new side's runs started in [oldest of them, watermark), newest first, up to
        # RANGE_BUDGET runs (one paged search: a tag search costs ~1 s at 100k runs on 2.22.5,
        # a page of such a range ~0.25 s); what the budget did not reach is looked up by tag.
        lost = {i: r for i, r in olds.items() if i not in copied and start_of(r) < state.new_mark}
        nearby: list[Run] = []
        by_tag: list[str] = []
        if lost:
            lo = min(start_of(r) for r in lost.values())
            nearby, reached = _started_between(new, dest.experiment_id, lo, state.new_mark)
            lookups += 1
            near = set()
            for run in nearby:
                if run.source_run_id in lost:
                    news.setdefault(run.run_id, run)
                    near.add(run.source_run_id)
            # By tag only what the range did not reach and did not find (~1 s a search).
            by_tag = [
                i
                for i, r in lost.items()
                if i not in near
                and i not in not_found
                and reached is not None
                and start_of(r) <= reached
            ]
        if len(by_tag) > limit:
            return None
        # Within the poll's tag-search budget; the rest count as missing now and are searched
        # by a later poll (they are not remembered as not found).
        by_tag = safe_ids(by_tag)
        by_tag = by_tag[: take_tag_searches(len(by_tag), True)]
        found, calls = _copies_of(new, dest.experiment_id, by_tag)
        lookups += calls
        tag_searches += calls
        for run in found:
            news.setdefault(run.run_id, run)
        copied = {r.source_run_id for r in news.values()}
        not_found |= set(by_tag) - copied
        # Parents of copied runs whose own copies were not found. A parent read this time was
        # already looked for (window, range or tag): searching again cannot find a copy.
        wanted = (
            {r.tags.get(PARENT_TAG) or "" for r in olds.values() if r.run_id in copied}
            - copied
            - set(olds)
            - {""}
        )
        parents = [r for r in nearby if r.source_run_id in wanted]
        wanted -= {r.source_run_id for r in parents} | not_found
        # Copies found by an earlier poll are read again by id (one IN search on 2.x), not
        # searched by tag; one that is gone (garbage-collected) is searched for by tag again.
        known = {s: d for s, d in state.parent_copies.items() if s in wanted}
        if known:
            found, calls = _by_ids(new, dest.experiment_id, known.values())
            lookups += calls
            kept = [r for r in found if known.get(r.source_run_id or "") == r.run_id]
            parents += kept
            wanted -= {r.source_run_id for r in kept}
        if len(wanted) > limit:
            return None
        asked = safe_ids(sorted(wanted))
        # A parent's copy left unsearched would show its children as differing (their parent
        # link): past the budget the experiment is read whole instead, which is exact.
        if asked and take_tag_searches(len(asked), False) < len(asked):
            return None
        found, calls = _copies_of(new, dest.experiment_id, asked)
        parents += found
        lookups += calls
        tag_searches += calls
        not_found |= set(asked) - {r.source_run_id for r in found}
        # A run whose copy has turned up (in a window or the range) is no longer "not found".
        not_found -= copied
    missing, differing = _classify(olds.values(), [*news.values(), *parents])
    counts = (
        state.old_active + sum(1 for r in olds.values() if not r.deleted),
        state.old_deleted + sum(1 for r in olds.values() if r.deleted),
        state.new_active + sum(1 for r in news.values() if not r.deleted),
        state.new_deleted + sum(1 for r in news.values() if r.deleted),
    )
    running = sum(1 for r in olds.values() if r.status == "RUNNING")
    unsettled = _unsettled(missing, differing, olds.values())
    after = settle(state, state.dest_id, olds.values(), news.values(), unsettled, not_found)
    # Only the parents this poll needed: a parent whose children settled is not read again.
    after.parent_copies = {r.source_run_id: r.run_id for r in parents if r.source_run_id}
    return _Read(
        status=_row(src, dest, counts, missing, differing, running),
        state=after,
        runs_read=len(olds) + len(news) + len(parents),
        lookups=lookups,
        whole=False,
        source_ids=list(olds),
        tag_searches=tag_searches,
    )


# ------------------------------------------------------------------------------- registry
def _model_statuses(
    old: OldServer, new: NewServer, in_scope: Callable[[str], bool] | None
) -> list[ModelStatus]:
    """Every model, or with ``in_scope`` (a source run id test) only models with a version from
    a run in scope."""
    if not (old.info.capabilities.registry and new.info.capabilities.registry):
        return []
    out = []
    dest_models = {m.name: m for m in new.registered_models()}
    for model in old.registered_models():
        versions = old.model_versions(model.name)
        if in_scope is not None and not any(in_scope(v.run_id) for v in versions):
            continue
        dest = dest_models.get(model.name)
        copies = new.model_versions(model.name) if dest else []
        have = {c.tags.get(TAG_SOURCE_VERSION) for c in copies}
        out.append(
            ModelStatus(
                name=model.name,
                old_versions=len(versions),
                new_versions=len(copies),
                missing=sum(1 for v in versions if v.version not in have),
                exists_on_new=dest is not None,
                old_stages={v.version: v.stage for v in versions},
                new_stages={c.version: c.stage for c in copies},
                new_aliases=dict(dest.aliases) if dest else {},
            )
        )
    return out


def _scope_test(
    old: OldServer, seen: set[str], scoped: set[str], state: PollState | None, full: bool
) -> Callable[[str], bool]:
    """Is a model version's run in the polled experiments? A full poll saw every such run; an
    incremental one asks the old server once per run it did not see (a run never changes
    experiment) and remembers the answer."""

    def test(run_id: str) -> bool:
        if state is None:
            return run_id in seen
        if not run_id:
            return False  # a version registered without a run (2.x+ answer runs/get "" with 400)
        known = state.run_in_scope.get(run_id)
        if known is None:
            if full or run_id in seen:
                known = run_id in seen
            else:
                try:
                    known = old.get_run(run_id).experiment_id in scoped
                except RestError as exc:
                    if exc.error_code != "RESOURCE_DOES_NOT_EXIST" and exc.status != 404:
                        raise
                    known = False
            state.run_in_scope[run_id] = known
        return known

    return test


# ------------------------------------------------------------------------------- the poll
def poll_status(
    old: OldServer,
    new: NewServer,
    *,
    experiments: list[str] | None = None,
    workers: int = 4,
    old_db_uri: str | None = None,
    new_db_uri: str | None = None,
    registry: bool = True,
    on_experiment: Callable[[ExperimentStatus], None] | None = None,
    clock: Callable[[], float] = time.time,
    state: PollState | None = None,
) -> PollSummary:
    """One poll: full without ``state``; with it, incremental unless a full one is due."""
    started = time.monotonic()
    full = state is None or state.begin(old.url, new.url, experiments)
    sources = old.experiments()
    if experiments:
        sources = [e for e in sources if e.name in experiments]
    index = compare.DestExperiments(new.experiments(), old.url)

    seen: set[str] = set()  # source run ids read: the scope of the registry panel
    lock = threading.Lock()

    def one(src: Experiment) -> _Read:
        dest = index.find(src)
        read = None
        before = state.get(src.experiment_id) if state is not None and not full else None
        if before is not None and before.dest_id == (dest.experiment_id if dest else None):
            assert state is not None
            read = _read_changes(
                old, new, src, dest, before, state.lookup_limit, state.take_tag_searches
            )
        if read is None:
            read = _read_whole(old, new, src, dest, keep=state is not None)
        if state is not None:
            state.put(src.experiment_id, read.state)
        with lock:
            seen.update(read.source_ids)
        if on_experiment is not None:
            on_experiment(read.status)
        return read

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        reads = list(pool.map(one, sources))
    if state is not None:
        state.finish(
            {s.experiment_id for s in sources},
            PollCost(
                full=full,
                experiments_whole=sum(1 for r in reads if r.whole),
                experiments_incremental=sum(1 for r in reads if not r.whole),
                runs_read=sum(r.runs_read for r in reads),
                lookups=sum(r.lookups for r in reads),
                tag_searches=sum(r.tag_searches for r in reads),
            ),
        )
    models: list[ModelStatus] = []
    if registry:
        scope = None
        if experiments:
            scoped = {s.experiment_id for s in sources}
            scope = _scope_test(old, seen, scoped, state, full)
        models = _model_statuses(old, new, scope)
    return PollSummary(
        ts=clock(),
        duration_s=time.monotonic() - started,
        old_url=old.url,
        new_url=new.url,
        old_version=old.info.version or f"{old.info.generation}.x",
        new_version=new.info.version or f"{new.info.generation}.x",
        old_schema=schema_revision(old_db_uri),
        new_schema=schema_revision(new_db_uri),
        experiments=[r.status for r in reads],
        models=models,
        incremental=not full,
    )


def poll_and_record(
    store: StateStore,
    old: OldServer,
    new: NewServer,
    *,
    source: str = "cli",
    **kwargs,
) -> tuple[int, PollSummary]:
    summary = poll_status(old, new, clock=store.clock, **kwargs)
    return record_poll(store, summary, source=source), summary
