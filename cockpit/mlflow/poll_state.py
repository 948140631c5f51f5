"""What one status poll keeps for the next, so the next reads only what changed.

A full status poll reads every run on both sides; at 100,000 runs per side that is minutes of
``runs/search``. :class:`PollState` keeps, per experiment, just enough to make the next poll
read only:

* **the window**: runs whose ``start_time`` is at or after the newest one seen on that side
  (``attributes.start_time >= T`` — served by 1.30.1, 2.22.5 and 3.17.2 alike);
* **the tracked runs**: every source run that was RUNNING, missing or differing last time, or
  sits on the window's edge, and every copy of one — re-read by id each poll
  (``attributes.run_id IN (...)`` on 2.x/3.x; 1.30.1 refuses ``IN`` on run ids, so there one
  ``attributes.run_id = '...'`` search per run);
* **the copies of tracked runs not found yet**: a copy keeps its source's ``start_time``, so a
  fresh copy of an *old* run is invisible to a new-side watermark. The copy of a run at or past
  it is in the new side's window; the copies of runs behind it are found by one range search of
  the new side, ``start_time`` in [the oldest such run, the watermark), newest first
  (``order_by start_time DESC``, all three generations), stopped after 2,000 runs; what that did
  not reach is found by the tag the copy carries, one ``tags.`cockpit.source_run_id` = '...'``
  search per run (no generation accepts ``IN`` on a tag, measured on all three; each such
  search costs about 1 s at 100k runs on 2.22.5, where a page of the range costs 0.25 s).
  Those searches have a budget of their own, ``tag_search_limit`` (10) per poll across all
  experiments: what it does not reach counts as missing this poll and is searched by a later
  one. A run searched for by tag and not found (or found missing by a whole read, which read
  every copy) is **remembered** until the reconcile and not searched again: a run missing deep
  in history costs one search, not one every poll. The mirror forgets them after a cycle that
  copied runs, and the pollers (the TUI's, ``cockpit record``'s) when the state file has a sync
  or mirror cycle newer than their last poll.

Every other run is *settled* (finished, copy equal, both behind the watermarks): it is only a
count. The poll's answer is the settled counts plus what it read, which equals a full poll's as
long as settled runs stay as they were. What an incremental poll therefore **cannot** see, and
the periodic full poll (``reconcile_s``, default 15 min; ``[mlflow.old] status_reconcile_s``)
corrects:

* a settled run deleted, restored, edited (a late tag, param or metric) or set back to RUNNING,
  on either side, and a hand edit of a settled copy;
* a run created with a ``start_time`` older than the watermark (an import with original times),
  and its copies;
* a second copy of a run whose first copy is already known;
* a copy whose ``start_time`` differs from its source's (not the cockpit's: it copies the
  time) while its source is still at or past the new side's watermark;
* a copy, made other than by a sync or mirror that records in the same state file, of a run
  remembered as searched-for and not found whose copy the range does not reach (deep in
  history).

An experiment is also read whole when it is new to the state, when its copy on the new server
changed, or when more than ``lookup_limit`` runs of it would be looked up one by one (a backlog:
reading it is then cheaper than the lookups); a state that grows past ``max_tracked`` runs is
dropped so the next poll reads that experiment whole. So memory stays bounded by
``max_tracked`` per experiment, however many runs the servers hold.

The state lives in the polling process only (the TUI's and ``cockpit record``'s poller, the
mirror loop): a fresh process — ``cockpit mlflow status`` — polls in full, as it always did.
Resuming from the state file would need the tracked sets written with every poll; the first poll
of a process is one full read, which the poller pays once per session.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from cockpit.mlflow.models import Run

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig

RECONCILE_S = 900.0  # a full poll at least this often (deletes, late edits: see above)
LOOKUP_LIMIT = 300  # runs looked up one by one per experiment and side before reading it whole
# Copies searched for by tag per poll, all experiments together: each such search costs about
# 1 s at 100k runs on 2.22.5 (module docstring), where a lookup by id costs milliseconds.
TAG_SEARCH_LIMIT = 10
MAX_TRACKED = 5000  # tracked runs per experiment before its state is dropped
ID_CHUNK = 100  # run ids per ``attributes.run_id IN (...)`` search
# Run ids the cockpit puts in a filter string: MLflow's are 32 hex digits; anything else is
# looked up in no filter (it is then only seen by the next full poll).
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def reconcile_s_of(config: CockpitConfig) -> float:
    """``[mlflow.old] status_reconcile_s``: how often the background poll and the mirror read
    both servers whole."""
    old = config.mlflow.old
    return old.status_reconcile_s if old is not None else RECONCILE_S


def safe_ids(ids: Iterable[str]) -> list[str]:
    return [i for i in ids if _SAFE_ID.match(i)]


def start_of(run: Run) -> int:
    return run.start_time or 0


def ids_order(runs: Iterable[Run]) -> list[str]:
    """Run ids newest first, then by id: the order a poll lists missing and differing runs in,
    the same for a full and an incremental poll."""
    return [r.run_id for r in sorted(runs, key=lambda r: (-start_of(r), r.run_id))]


@dataclass
class ExperimentState:
    """One experiment after a poll: the settled runs' counts, the watermarks, the tracked runs."""

    dest_id: str | None
    old_mark: int  # the next poll reads old runs with start_time >= old_mark
    new_mark: int  # ... and new runs with start_time >= new_mark
    old_active: int  # these four count settled runs only
    old_deleted: int
    new_active: int
    new_deleted: int
    old_tracked: dict[str, int]  # source run id -> start_time
    new_tracked: dict[str, str]  # dest run id -> the source run id it copies ("" if none)
    # Source runs whose copy was looked for by tag, or by reading the experiment whole, and
    # not found: not searched for again until the reconcile.
    not_found: frozenset[str] = frozenset()
    # Parents of tracked runs, settled and out of every window (a sweep's parent while its
    # children run for hours): source run id -> the dest run id of its copy, found by tag once
    # (~1 s a search at 100k runs) and read again by id with the other lookups.
    parent_copies: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return (
            len(self.old_tracked)
            + len(self.new_tracked)
            + len(self.not_found)
            + len(self.parent_copies)
        )


def settle(
    base: ExperimentState | None,
    dest_id: str | None,
    old_runs: Iterable[Run],
    new_runs: Iterable[Run],
    unsettled: set[str],
    not_found: Iterable[str] = (),
) -> ExperimentState:
    """The state after a poll that read ``old_runs``/``new_runs``: every run not counted in
    ``base`` (all of them when ``base`` is None, a full read). ``unsettled``: the source runs
    that were RUNNING, missing or differing. A run stays tracked when it must be read again (it
    is unsettled, copies one that is, or sits at a watermark, where the next window sees it
    again); the rest join the settled counts."""
    olds, news = list(old_runs), list(new_runs)
    old_mark = max([base.old_mark if base else 0, *(start_of(r) for r in olds)])
    new_mark = max([base.new_mark if base else 0, *(start_of(r) for r in news)])
    state = ExperimentState(
        dest_id=dest_id,
        old_mark=old_mark,
        new_mark=new_mark,
        old_active=base.old_active if base else 0,
        old_deleted=base.old_deleted if base else 0,
        new_active=base.new_active if base else 0,
        new_deleted=base.new_deleted if base else 0,
        old_tracked={},
        new_tracked={},
        not_found=frozenset(not_found),
    )
    for run in olds:
        if run.run_id in unsettled or start_of(run) >= old_mark:
            state.old_tracked[run.run_id] = start_of(run)
        elif run.deleted:
            state.old_deleted += 1
        else:
            state.old_active += 1
    for run in news:
        source = run.source_run_id or ""
        if source in state.old_tracked or start_of(run) >= new_mark:
            state.new_tracked[run.run_id] = source
        elif run.deleted:
            state.new_deleted += 1
        else:
            state.new_active += 1
    return state


@dataclass(frozen=True)
class PollCost:
    """What one poll read: how many experiments whole and incrementally, runs, lookups."""

    full: bool
    experiments_whole: int
    experiments_incremental: int
    runs_read: int
    lookups: int  # searches besides the windows, tag searches included
    tag_searches: int = 0


class PollState:
    """The per-experiment states of the previous poll, for one pair of servers and one scope.

    Not shared between threads while a poll runs: the pollers never overlap themselves
    (:mod:`cockpit.polling`), and each poller or mirror loop has its own.
    """

    def __init__(
        self,
        *,
        reconcile_s: float = RECONCILE_S,
        lookup_limit: int = LOOKUP_LIMIT,
        tag_search_limit: int = TAG_SEARCH_LIMIT,
        max_tracked: int = MAX_TRACKED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reconcile_s = reconcile_s
        self.lookup_limit = lookup_limit
        self.tag_search_limit = tag_search_limit
        self._tag_searches_left = tag_search_limit
        self.max_tracked = max_tracked
        self.clock = clock
        self._lock = threading.Lock()
        self._key: tuple[str, str, tuple[str, ...] | None] | None = None
        self._experiments: dict[str, ExperimentState] = {}
        self._last_full: float | None = None
        # run id -> does it belong to the scoped experiments (the registry panel's scope); one
        # entry per model version's run, so as bounded as the registry.
        self.run_in_scope: dict[str, bool] = {}
        self.last_cost: PollCost | None = None

    def begin(self, old_url: str, new_url: str, experiments: list[str] | None) -> bool:
        """Start a poll; True when it must be full (first, other servers or scope, reconcile)."""
        key = (old_url, new_url, tuple(sorted(experiments)) if experiments else None)
        with self._lock:
            if key != self._key:
                self._key = key
                self._experiments.clear()
                self.run_in_scope.clear()
                self._last_full = None
            due = self._last_full is None or self.clock() - self._last_full >= self.reconcile_s
            if due:
                # A reconcile re-learns everything, run scopes too: a run cached out of scope
                # (registered between the read of its experiment and of the registry) comes back.
                self._experiments.clear()
                self.run_in_scope.clear()
            self._tag_searches_left = self.tag_search_limit
            return due

    def take_tag_searches(self, wanted: int, partial: bool = True) -> int:
        """How many of ``wanted`` tag searches this poll may still make (the experiments of a
        poll are read on several threads and share the budget); with ``partial=False``, all
        of them or none."""
        with self._lock:
            granted = max(0, min(wanted, self._tag_searches_left))
            if granted < wanted and not partial:
                return 0
            self._tag_searches_left -= granted
            return granted

    def forget_not_found(self) -> None:
        """Search again for the copies of runs remembered as not found (e.g. after a sync that
        copied runs: their copies may be among them)."""
        with self._lock:
            for experiment_id, state in self._experiments.items():
                if state.not_found:
                    self._experiments[experiment_id] = replace(state, not_found=frozenset())

    def get(self, experiment_id: str) -> ExperimentState | None:
        with self._lock:
            return self._experiments.get(experiment_id)

    def put(self, experiment_id: str, state: ExperimentState | None) -> None:
        with self._lock:
            if state is None or state.size > self.max_tracked:
                self._experiments.pop(experiment_id, None)
            else:
                self._experiments[experiment_id] = state

    def finish(self, polled: set[str], cost: PollCost) -> None:
        """End a poll: experiments no longer listed are forgotten; a full poll is the new
        reconcile time."""
        with self._lock:
            for gone in set(self._experiments) - polled:
                del self._experiments[gone]
            if cost.full:
                self._last_full = self.clock()
            self.last_cost = cost

    def reset(self) -> None:
        """Forget everything: the next poll is full."""
        with self._lock:
            self._key = None
            self._experiments.clear()
            self.run_in_scope.clear()
            self._last_full = None
