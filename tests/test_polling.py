"""Pollers: no overlap, backoff with jitter, health transitions recorded as events."""

from __future__ import annotations

import random
import threading
import time

from cockpit.errors import SourceUnavailableError
from cockpit.polling import Poller, Recorder
from cockpit.store import StateStore


class FlakySource:
    """A real source stand-in: fails on the polls listed, sleeps if asked, counts calls."""

    def __init__(
        self, name: str = "flaky", interval_s: float = 1.0, fail_on=(), sleep_s: float = 0.0
    ):
        self.name, self.interval_s = name, interval_s
        self.fail_on, self.sleep_s = set(fail_on), sleep_s
        self.calls = 0

    def poll(self, store):
        self.calls += 1
        if self.sleep_s:
            time.sleep(self.sleep_s)
        if self.calls in self.fail_on:
            raise SourceUnavailableError(f"server said 503 (call {self.calls})")
        store.append_event("flaky.poll", {"call": self.calls}, source="poller:flaky")
        return {"call": self.calls}


def test_health_transitions_and_backoff():
    store = StateStore.create_in_memory()
    source = FlakySource(fail_on={2, 3, 4}, interval_s=2.0)
    poller = Poller(source, store, rng=random.Random(7), max_backoff_s=30.0)
    assert poller.poll_once().status.status == "ok"
    delays = []
    for expected in ("degraded", "degraded", "down"):
        outcome = poller.poll_once()
        assert outcome.status.status == expected
        delays.append(outcome.next_delay_s)
    assert 2.0 <= delays[0] <= 2.0 and 2.0 <= delays[1] <= 4.0 and 2.0 <= delays[2] <= 8.0
    outcome = poller.poll_once()
    assert outcome.status.status == "ok" and outcome.next_delay_s == 2.0
    transitions = [
        (e.payload["from"], e.payload["to"]) for e in store.events(kinds=["source.status"])
    ]
    assert transitions == [
        ("unknown", "ok"),
        ("ok", "degraded"),
        ("degraded", "down"),
        ("down", "ok"),
    ]
    errors = store.events(kinds=["source.error"])
    assert [e.payload["failures"] for e in errors] == [1, 2, 3]
    assert errors[0].payload["error"] == "server said 503 (call 2)"


def test_backoff_is_capped_and_jittered():
    store = StateStore.create_in_memory()
    source = FlakySource(fail_on=set(range(1, 50)), interval_s=1.0)
    poller = Poller(source, store, rng=random.Random(1), max_backoff_s=10.0)
    delays = [poller.poll_once().next_delay_s for _ in range(20)]
    assert max(delays) <= 10.0
    assert len(set(round(d, 6) for d in delays[8:])) > 1  # jitter: not all the same


def test_a_poll_never_overlaps_itself():
    store = StateStore.create_in_memory()
    source = FlakySource(sleep_s=0.5)
    poller = Poller(source, store)
    results = []
    first = threading.Thread(target=lambda: results.append(poller.poll_once()))
    first.start()
    time.sleep(0.1)
    second = poller.poll_once()  # due while the first is still running
    first.join()
    assert second.ran is False and results[0].ran is True
    assert source.calls == 1 and poller.status.skipped_overlaps == 1


def test_tokens_in_errors_are_scrubbed():
    from cockpit import secrets

    secrets.register_secret("dapi-poll-canary-123456")
    store = StateStore.create_in_memory()

    class Leaky(FlakySource):
        def poll(self, store):
            raise RuntimeError("401 for Bearer dapi-poll-canary-123456")

    Poller(Leaky(), store).poll_once()
    assert "dapi-poll-canary" not in str([e.payload for e in store.events()])


def test_recorder_runs_and_stops():
    store = StateStore.create_in_memory()
    sources = [FlakySource(name="a", interval_s=0.05), FlakySource(name="b", interval_s=0.05)]
    recorder = Recorder([Poller(s, store) for s in sources])
    recorder.start()
    time.sleep(0.5)
    recorder.stop()
    assert all(s.calls >= 3 for s in sources)
    calls = [s.calls for s in sources]
    time.sleep(0.2)
    assert [s.calls for s in sources] == calls  # really stopped
