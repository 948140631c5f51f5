"""Continuous mirroring until cutover: sync, poll, sleep, again.

Each cycle is an ordinary idempotent sync (unchanged runs cost one search per side) followed by
a recorded status poll, so the drift series in the state file shows the mirror keeping up. A
cycle that cannot reach a server is recorded as an event and the next cycle tries again; pausing
finishes the cycle in flight and then waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.mlflow.adapter import NewServer, OldServer
from cockpit.mlflow.poll_state import RECONCILE_S, PollState
from cockpit.mlflow.records import PollSummary
from cockpit.mlflow.status import poll_and_record
from cockpit.mlflow.sync import Syncer, SyncOptions, SyncResult

if TYPE_CHECKING:
    from cockpit.store import StateStore


@dataclass(frozen=True)
class MirrorCycle:
    number: int
    result: SyncResult | None
    poll: PollSummary | None
    error: str | None = None


class Mirror:
    def __init__(
        self,
        old: OldServer,
        new: NewServer,
        store: StateStore,
        *,
        interval_s: float = 30.0,
        options: SyncOptions | None = None,
        old_db_uri: str | None = None,
        new_db_uri: str | None = None,
        source: str = "mirror",
        on_cycle: Callable[[MirrorCycle], None] | None = None,
        reconcile_s: float = RECONCILE_S,
    ) -> None:
        self.old, self.new, self.store = old, new, store
        self.interval_s = interval_s
        self.options = replace(options or SyncOptions(), dry_run=False)
        self.old_db_uri, self.new_db_uri = old_db_uri, new_db_uri
        self.source = source
        self.on_cycle = on_cycle
        self.cycles = 0
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._syncer: Syncer | None = None
        # Each cycle's poll reads only what changed since the previous cycle's (a full one every
        # reconcile_s, cockpit.mlflow.poll_state).
        self.poll_state = PollState(reconcile_s=reconcile_s)

    # ------------------------------------------------------------------ control
    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        if not self.paused:
            self._running.clear()
            self.store.append_event(
                "mlflow.mirror.paused", {"cycles": self.cycles}, source=self.source
            )

    def resume(self) -> None:
        if self.paused:
            self._running.set()
            self.store.append_event(
                "mlflow.mirror.resumed", {"cycles": self.cycles}, source=self.source
            )

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # wake a paused loop so it can end
        if self._syncer is not None:
            self._syncer.stop()

    # ------------------------------------------------------------------ work
    def run_once(self) -> MirrorCycle:
        self.cycles += 1
        for server in (self.old, self.new):
            server.rest.arm()  # each cycle is a command of its own: a fresh deadline
        try:
            self._syncer = Syncer(
                self.old, self.new, store=self.store, options=self.options, source=self.source
            )
            if self._stop.is_set():
                # stop() came after run() looked and before the syncer existed to be stopped
                # (stop() sets the flag before it looks for the syncer: one of them sees it).
                self._syncer.stop()
            result = self._syncer.run()
            if result.runs_created:
                # Copies of runs the poll remembers as searched for and not found may be among
                # them (deep in history, out of the range's reach): search for them again.
                self.poll_state.forget_not_found()
            _, poll = poll_and_record(
                self.store,
                self.old,
                self.new,
                source=self.source,
                experiments=self.options.experiments,
                workers=self.options.workers,
                old_db_uri=self.old_db_uri,
                new_db_uri=self.new_db_uri,
                state=self.poll_state,
            )
            cycle = MirrorCycle(self.cycles, result, poll)
            self.store.append_event(
                "mlflow.mirror.cycle",
                {
                    "cycle": self.cycles,
                    "runs_created": result.runs_created,
                    "runs_updated": result.runs_updated,
                    "versions_created": result.versions_created,
                    "errors": len(result.errors),
                    "drift": poll.drift,
                },
                source=self.source,
            )
        except CockpitError as exc:
            cycle = MirrorCycle(self.cycles, None, None, exc.message)
            self.store.append_event(
                "mlflow.mirror.error",
                {"cycle": self.cycles, "error": exc.message},
                source=self.source,
            )
        finally:
            self._syncer = None
        if self.on_cycle is not None:
            self.on_cycle(cycle)
        return cycle

    def run(self, *, max_cycles: int | None = None) -> int:
        """Mirror until :meth:`stop` (or ``max_cycles``); returns the number of cycles run."""
        self.store.append_event(
            "mlflow.mirror.started",
            {"old": self.old.url, "new": self.new.url, "interval_s": self.interval_s},
            source=self.source,
        )
        ran = 0
        try:
            while not self._stop.is_set():
                self._running.wait()
                if self._stop.is_set():
                    break
                started = time.monotonic()
                self.run_once()
                ran += 1
                if max_cycles is not None and ran >= max_cycles:
                    break
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))
        finally:
            self.store.append_event("mlflow.mirror.stopped", {"cycles": ran}, source=self.source)
        return ran
