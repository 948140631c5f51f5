"""Polling remote sources (Databricks workspace, MLflow servers) without ever freezing or piling up.

A feature describes what to poll as a :class:`PollSource`; a :class:`Poller` runs it:

* one poll at a time: a poll still running when the next is due is skipped, never overlapped;
* failures back off exponentially with full jitter, capped, and reset on the first success;
* per-source health (``ok`` / ``degraded`` / ``down``) with the last success and last error,
  recorded as a ``source.status`` event whenever it changes, and ``source.error`` per failure;
* a poll that fails with something other than a remote error (an ImportError, an AttributeError:
  a bug or a broken install, not the network) is ``internal-error``, never "down": its traceback
  goes to the debug log (:mod:`cockpit.debuglog`) and the source's client is rebuilt from scratch
  (``reset()``) before the next attempt.

Pollers run in threads, and Python's import system is not safe against two threads importing the
same package for the first time: one can get a half-initialised module, and keep it for the life
of the process (issue 20: ``requests`` broken in the Databricks poller for a whole session). So
every module a source needs is imported on the main thread before any poller thread starts:
a source lists them in ``IMPORTS`` (and may do more in ``prepare()``), and whoever runs pollers
calls :func:`prepare_pollers` first (:class:`Recorder` and the TUI do).

The TUI drives pollers from one-shot thread workers re-armed by timers; ``cockpit record`` drives
them from plain threads (:class:`Recorder`). Both only ever call :meth:`Poller.poll_once`.

Features expose their sources as ``poll_sources(config) -> list[PollSource]`` in a module
``cockpit.<feature>.sources``; :func:`configured_sources` collects them.
"""

from __future__ import annotations

import importlib
import logging
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from cockpit import debuglog
from cockpit.errors import CockpitError
from cockpit.secrets import scrub_text

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

FEATURE_PACKAGES = ("cockpit.databricks", "cockpit.mlflow", "cockpit.bench", "cockpit.compat")
DEGRADED_AFTER = 1  # consecutive failures
DOWN_AFTER = 3
INTERNAL_ERROR = "internal-error"
# What a remote source failing looks like: the cockpit's own translations of remote failures,
# and OSError, which connection errors, timeouts, requests' and the Databricks SDK's exceptions
# all derive from. Anything else raised by a poll is a bug or a broken install.
REMOTE_ERRORS: tuple[type[BaseException], ...] = (CockpitError, OSError)

log = logging.getLogger("cockpit.polling")


class PollSource(Protocol):
    """What a feature implements to be polled.

    Optional: ``IMPORTS`` (module names the poll needs, imported on the main thread before any
    poller thread starts), ``prepare()`` (more of that, on the main thread too) and ``reset()``
    (drop the client so the next poll builds a new one; called after an internal error).
    """

    name: str  # e.g. "databricks", "mlflow.old"; shown in the header
    interval_s: float

    def poll(self, store: StateStore) -> dict[str, Any]:
        """Do one poll, write what it learned to ``store``, return a small summary."""
        ...


def prepare_source(source: PollSource) -> None:
    """Import what ``source`` needs (``IMPORTS``, then ``prepare()``) in the calling thread."""
    for name in getattr(source, "IMPORTS", ()):
        importlib.import_module(name)
    prepare = getattr(source, "prepare", None)
    if prepare is not None:
        prepare()


def prepare_pollers(pollers: list[Poller]) -> None:
    """Call on the main thread before starting any poller thread (see the module docstring).

    A source whose preparation fails is left unprepared: its first poll prepares it again and,
    failing, reports an internal error with the traceback like any other poll.
    """
    for poller in pollers:
        poller.prepare()


@dataclass(frozen=True)
class SourceStatus:
    name: str
    status: str = "unknown"  # "ok", "degraded", "down", "unknown"
    last_success: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    polls: int = 0
    skipped_overlaps: int = 0


@dataclass(frozen=True)
class PollOutcome:
    ran: bool  # False when skipped because the previous poll was still running
    status: SourceStatus
    summary: dict[str, Any] | None = None
    next_delay_s: float = 0.0


class Poller:
    def __init__(
        self,
        source: PollSource,
        store: StateStore,
        *,
        max_backoff_s: float = 300.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.store = store
        self.max_backoff_s = max_backoff_s
        self._rng = rng or random.Random()
        self._clock = clock
        self._running = threading.Lock()
        self._prepared = False
        self.status = SourceStatus(name=source.name)

    def prepare(self) -> bool:
        """Import what the source needs, now, in this thread. True when that worked."""
        try:
            prepare_source(self.source)
        except Exception:
            log.exception("preparing poll source %s failed", self.source.name)
            self._prepared = False
        else:
            self._prepared = True
        return self._prepared

    def next_delay(self) -> float:
        """The normal interval after a success; after failures, backoff with full jitter."""
        failures = self.status.consecutive_failures
        if failures == 0:
            return self.source.interval_s
        ceiling = min(self.max_backoff_s, self.source.interval_s * (2 ** (failures - 1)))
        # Full jitter (uniform in [interval, ceiling]) spreads retries of many viewers apart.
        return self._rng.uniform(min(self.source.interval_s, ceiling), ceiling)

    def poll_once(self) -> PollOutcome:
        if not self._running.acquire(blocking=False):
            self.status = replace(self.status, skipped_overlaps=self.status.skipped_overlaps + 1)
            return PollOutcome(ran=False, status=self.status, next_delay_s=self.next_delay())
        try:
            return self._poll()
        finally:
            self._running.release()

    def _poll(self) -> PollOutcome:
        before = self.status.status
        try:
            if not self._prepared:
                # Not prepared on the main thread (or reset after an internal error): prepare
                # here, so a broken install is reported like any other internal error.
                prepare_source(self.source)
                self._prepared = True
            summary = self.source.poll(self.store)
        except Exception as exc:  # any failure of a remote source is data, not a crash
            summary = None
            if isinstance(exc, REMOTE_ERRORS):
                self._remote_failure(exc)
            else:
                self._internal_failure(exc)
        else:
            self.status = replace(
                self.status,
                status="ok",
                last_success=self._clock(),
                consecutive_failures=0,
                polls=self.status.polls + 1,
            )
        if self.status.status != before:
            self._record(
                "source.status",
                {
                    "source": self.source.name,
                    "from": before,
                    "to": self.status.status,
                    "error": self.status.last_error if self.status.status != "ok" else None,
                },
            )
        return PollOutcome(
            ran=True, status=self.status, summary=summary, next_delay_s=self.next_delay()
        )

    def _remote_failure(self, exc: Exception) -> None:
        message = exc.message if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"
        message = scrub_text(" ".join(message.split()))
        failures = self.status.consecutive_failures + 1
        status = "down" if failures >= DOWN_AFTER else "degraded"
        self.status = replace(
            self.status,
            status=status,
            last_error=message,
            consecutive_failures=failures,
            polls=self.status.polls + 1,
        )
        self._record(
            "source.error", {"source": self.source.name, "error": message, "failures": failures}
        )

    def _internal_failure(self, exc: Exception) -> None:
        """A bug or a broken install, not the remote side: say so, keep the traceback, and
        rebuild the source's client from scratch before the next attempt."""
        message = debuglog.one_line(exc)
        where = debuglog.path()
        log.error(
            "poll of %s failed with an internal error\n%s",
            self.source.name,
            "".join(traceback.format_exception(exc)),
        )
        failures = self.status.consecutive_failures + 1
        self.status = replace(
            self.status,
            status=INTERNAL_ERROR,
            last_error=message,
            consecutive_failures=failures,
            polls=self.status.polls + 1,
        )
        payload: dict[str, Any] = {
            "source": self.source.name,
            "error": message,
            "failures": failures,
            "internal": True,
        }
        if where is not None:
            payload["debug_log"] = str(where)
        self._record("source.error", payload)
        self._prepared = False
        reset = getattr(self.source, "reset", None)
        if reset is not None:
            try:
                reset()
            except Exception:  # a reset that fails is logged; the next poll tries again
                log.exception("resetting poll source %s failed", self.source.name)

    def _record(self, kind: str, payload: dict[str, Any]) -> None:
        if not self.store.readonly:
            self.store.append_event(kind, payload, source=f"poller:{self.source.name}")


class Recorder:
    """Runs every poller in its own thread until :meth:`stop` (SIGTERM/SIGINT in `cockpit record`);
    each source is polled at least once."""

    def __init__(self, pollers: list[Poller]) -> None:
        self.pollers = pollers
        self._stop = threading.Event()
        self._now = False
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        prepare_pollers(self.pollers)  # before the first thread starts (module docstring)
        for poller in self.pollers:
            thread = threading.Thread(
                target=self._loop, args=(poller,), name=f"poll-{poller.source.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _loop(self, poller: Poller) -> None:
        # At least one poll, even when stopped before this thread ran (a --duration that ended
        # while the sources were prepared, about 1 s), unless stopped now (a signal: Ctrl-C
        # must not wait for a first poll of an unreachable server).
        polled = False
        while not (self._stop.is_set() and (polled or self._now)):
            outcome = poller.poll_once()
            polled = True
            self._stop.wait(outcome.next_delay_s)

    def stop(self, timeout: float = 30.0, *, now: bool = False) -> None:
        """Stop the pollers and wait for their polls in flight; ``now`` skips a first poll
        not yet made."""
        self._now = now  # before the flag: a thread that sees the flag sees this too
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()


def configured_sources(config: CockpitConfig) -> list[PollSource]:
    """Every feature's poll sources for this config (features not installed are skipped)."""
    sources: list[PollSource] = []
    for package in FEATURE_PACKAGES:
        try:
            module = importlib.import_module(f"{package}.sources")
        except ModuleNotFoundError as exc:
            if exc.name in (package, f"{package}.sources"):
                continue
            raise
        sources.extend(module.poll_sources(config))
    return sources
