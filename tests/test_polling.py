"""Pollers: no overlap, backoff with jitter, health transitions recorded as events."""

from __future__ import annotations

import random
import threading
import time

from cockpit.errors import SourceUnavailableError
from cockpit.polling import INTERNAL_ERROR, Poller, Recorder, prepare_pollers
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


class HeldSource(FlakySource):
    """A poll that waits, inside the poll, until the test releases it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.entered, self.release = threading.Event(), threading.Event()

    def poll(self, store):
        self.entered.set()
        assert self.release.wait(30)
        return super().poll(store)


def test_a_poll_never_overlaps_itself():
    store = StateStore.create_in_memory()
    source = HeldSource()
    poller = Poller(source, store)
    results = []
    first = threading.Thread(target=lambda: results.append(poller.poll_once()))
    first.start()
    assert source.entered.wait(30)  # the first poll is running (not: some time has passed)
    second = poller.poll_once()  # due while the first is still running
    source.release.set()
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


def test_recorder_polls_each_source_once_when_stopped_while_preparing():
    """`cockpit record --duration` shorter than preparing the sources (or a signal at start-up)
    stops the recorder before its threads run: each source is still polled once."""
    store = StateStore.create_in_memory()
    sources = [FlakySource(name="a", interval_s=60), FlakySource(name="b", interval_s=60)]
    recorder = Recorder([Poller(s, store) for s in sources])
    sources[1].prepare = recorder.stop  # the stop arrives during preparation
    recorder.start()
    recorder.stop()
    assert [s.calls for s in sources] == [1, 1]


def test_a_recorder_stopped_now_owes_no_first_poll():
    """A signal (Ctrl-C at start-up) stops at once: no first poll of a maybe unreachable
    server is waited for."""
    store = StateStore.create_in_memory()
    sources = [FlakySource(name="a", interval_s=60), FlakySource(name="b", interval_s=60)]
    recorder = Recorder([Poller(s, store) for s in sources])
    sources[1].prepare = lambda: recorder.stop(now=True)
    recorder.start()
    recorder.stop(now=True)
    assert [s.calls for s in sources] == [0, 0]


class BrokenOnce:
    """A client as a half-initialised module leaves it: any use raises AttributeError."""

    def fetch(self):
        raise AttributeError("module 'requests' has no attribute 'exceptions'")


class Working:
    def fetch(self):
        return {"fine": True}


class RebuildingSource:
    """Builds its client on first use; the first client built is broken (or every one)."""

    IMPORTS = ("json",)

    def __init__(self, name: str = "ws", always_broken: bool = False):
        self.name, self.interval_s = name, 1.0
        self.always_broken = always_broken
        self.client = None
        self.builds = 0
        self.resets = 0
        self.prepared_on: list[str] = []
        self.polled_on: list[str] = []

    def prepare(self):
        self.prepared_on.append(threading.current_thread().name)

    def reset(self):
        self.resets += 1
        self.client = None

    def poll(self, store):
        self.polled_on.append(threading.current_thread().name)
        if self.client is None:
            self.builds += 1
            self.client = BrokenOnce() if self.always_broken or self.builds == 1 else Working()
        return self.client.fetch()


def test_an_internal_error_is_not_down_logs_its_traceback_and_rebuilds_the_client(tmp_path):
    from cockpit import debuglog

    log_path = debuglog.configure(tmp_path / "state.db")
    try:
        store = StateStore.create_in_memory()
        source = RebuildingSource()
        poller = Poller(source, store)
        prepare_pollers([poller])
        failed = poller.poll_once()
        assert failed.status.status == INTERNAL_ERROR
        assert failed.status.last_error == (
            "AttributeError: module 'requests' has no attribute 'exceptions'"
        )
        assert source.resets == 1  # the broken client is dropped...
        recovered = poller.poll_once()
        assert recovered.status.status == "ok" and recovered.summary == {"fine": True}
        assert source.builds == 2  # ...and the next attempt built a new one
        assert len(source.prepared_on) == 2  # and prepared the source again first
        [error] = store.events(kinds=["source.error"])
        assert error.payload["internal"] is True
        assert error.payload["debug_log"] == str(log_path)
        changes = [
            (e.payload["from"], e.payload["to"]) for e in store.events(kinds=["source.status"])
        ]
        assert changes == [("unknown", INTERNAL_ERROR), (INTERNAL_ERROR, "ok")]
        logged = log_path.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" in logged
        assert "in fetch" in logged and "AttributeError: module 'requests'" in logged
        assert "poll of ws failed with an internal error" in logged
    finally:
        debuglog.configure(None)


def test_internal_errors_never_read_as_down_and_back_off():
    store = StateStore.create_in_memory()
    source = RebuildingSource(always_broken=True)
    poller = Poller(source, store, rng=random.Random(3))
    outcomes = [poller.poll_once() for _ in range(5)]
    assert [o.status.status for o in outcomes] == [INTERNAL_ERROR] * 5
    assert source.builds == 5 and source.resets == 5  # a fresh client every attempt
    assert outcomes[-1].next_delay_s > source.interval_s  # backing off like any failure


def test_a_remote_error_is_still_degraded_then_down():
    store = StateStore.create_in_memory()

    class Refused(FlakySource):
        def poll(self, store):
            raise ConnectionRefusedError(111, "Connection refused")

    poller = Poller(Refused(), store)
    statuses = [poller.poll_once().status.status for _ in range(3)]
    assert statuses == ["degraded", "degraded", "down"]
    assert all("internal" not in e.payload for e in store.events(kinds=["source.error"]))


def test_tokens_never_reach_the_debug_log(tmp_path):
    from cockpit import debuglog, secrets

    secrets.register_secret("dapi-debuglog-canary-98765")
    log_path = debuglog.configure(tmp_path / "state.db")
    try:

        class Leaky(FlakySource):
            def poll(self, store):
                raise KeyError("Bearer dapi-debuglog-canary-98765")

        Poller(Leaky(), StateStore.create_in_memory()).poll_once()
        logged = log_path.read_text(encoding="utf-8")
        assert "KeyError" in logged and "dapi-debuglog-canary" not in logged
    finally:
        debuglog.configure(None)


def test_recorder_prepares_every_source_on_the_main_thread_before_any_poll():
    store = StateStore.create_in_memory()
    sources = [RebuildingSource(name="a"), RebuildingSource(name="b")]
    for source in sources:
        source.builds = 1  # skip the broken first client: this test is about the order
    recorder = Recorder([Poller(s, store) for s in sources])
    recorder.start()
    try:
        deadline = time.monotonic() + 10
        while any(not s.polled_on for s in sources) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        recorder.stop()
    for source in sources:
        assert source.prepared_on == ["MainThread"]
        assert source.polled_on and set(source.polled_on) == {f"poll-{source.name}"}
