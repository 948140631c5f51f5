"""Live mode: pollers run in worker threads, the header shows their health, keys stay answered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cockpit.errors import SourceUnavailableError
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.cutover import CutoverTab
from screens.tabs.runtime_diff import RuntimeDiffTab
from tests.tui_settle import until


class SlowSource:
    """Each poll takes `delay` seconds (a slowed-down server) and writes one event. With
    `held`, the first poll instead waits until the test sets `release` (at most `delay`), so
    "the poll is still running" does not depend on how fast a loaded machine presses keys."""

    def __init__(self, name: str, delay: float, fail: bool = False, held: bool = False):
        self.name, self.interval_s, self.delay, self.fail = name, 0.2, delay, fail
        self.calls = 0
        self.active = self.max_active = 0  # polls running at once, and the most ever
        self.lock = threading.Lock()
        self.release = threading.Event()
        if not held:
            self.release.set()

    def poll(self, store):
        with self.lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            return self._poll(store)
        finally:
            with self.lock:
                self.active -= 1

    def _poll(self, store):
        if self.release.is_set():
            time.sleep(self.delay)
        else:
            self.release.wait(self.delay)
        if self.fail:
            raise SourceUnavailableError("connection refused")
        store.append_event(f"{self.name}.poll", {"call": self.calls}, source=f"poller:{self.name}")
        return {}


async def test_ui_answers_keys_while_a_source_is_slow(tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    slow = SlowSource("workspace", delay=120.0, held=True)
    app = CockpitApp(
        store=store, offline=False, tab_classes=[RuntimeDiffTab, CutoverTab], sources=[slow]
    )
    async with app.run_test(size=(140, 40)) as pilot:
        try:
            await until(pilot, lambda: slow.calls, "the first poll to start")
            assert slow.calls == 1  # first poll is in flight, blocking its thread only
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("1")
            await pilot.pause()
            await pilot.press("slash", *"numpy")
            await pilot.pause()
            assert [lib.name for lib in app.query_one(RuntimeDiffTab)._shown] == ["numpy"]
            # Every key above was answered while the first poll was still running.
            assert app.query_one("#status-header").sources["workspace"] == "unknown"
            assert slow.calls == 1
            slow.delay = 0.0  # the server recovers: the held poll ends now, the next ones at once
            slow.release.set()
            header = app.query_one("#status-header")
            await until(pilot, lambda: header.sources["workspace"] == "ok", "the source ok")
            await until(pilot, lambda: slow.calls >= 2, "the poll re-armed after it finished")
            assert slow.max_active == 1  # ... and never overlapped
        finally:
            slow.release.set()  # never leave the poll thread waiting if an assertion failed
    store.close()


async def test_header_shows_a_down_source(tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    dead = SlowSource("mlflow.old", delay=0.0, fail=True)
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=[dead])
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(600):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.2)
            if app.query_one("#status-header").sources.get("mlflow.old") == "down":
                break
        assert app.query_one("#status-header").sources["mlflow.old"] == "down"
        assert "mlflow.old:down" in str(app.query_one("#status-header").render()).replace(" ", "")
    kinds = [e.kind for e in store.events()]
    assert kinds.count("source.error") >= 3 and "source.status" in kinds
    store.close()


async def test_viewer_header_shows_health_recorded_by_another_process(tmp_path: Path):
    from cockpit.polling import Poller

    path = tmp_path / "rec.db"
    writer = StateStore.open(path, create=True)
    viewer_store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=viewer_store, offline=True, tab_classes=[CutoverTab])
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        Poller(SlowSource("mlflow.new", delay=0.0), writer).poll_once()  # "the recorder"
        await until(
            pilot,
            lambda: app.query_one("#status-header").sources.get("mlflow.new") == "ok",
            "the recorder's poll in the header",
        )
    viewer_store.close()
    writer.close()


class OrderedSource(SlowSource):
    """Notes on which thread it is prepared and polled; its first poll fails with a bug."""

    IMPORTS = ("json",)

    def __init__(self, name: str):
        super().__init__(name, delay=0.0)
        self.prepared_on: list[str] = []
        self.polled_on: list[str] = []
        self.resets = 0

    def prepare(self):
        self.prepared_on.append(threading.current_thread().name)

    def reset(self):
        self.resets += 1

    def poll(self, store):
        self.polled_on.append(threading.current_thread().name)
        if len(self.polled_on) == 1:
            raise AttributeError("module 'requests' has no attribute 'exceptions'")
        return super().poll(store)


async def test_live_tui_prepares_sources_on_the_main_thread_and_shows_internal_errors(
    tmp_path: Path,
):
    store = StateStore.open(tmp_path / "live.db", create=True)
    sources = [OrderedSource("workspace"), OrderedSource("mlflow")]
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=sources)
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(1200):  # a hang guard (120 s), not a speed check
            await pilot.pause(0.1)
            header = app.query_one("#status-header").sources
            if all(header.get(s.name) == "ok" for s in sources):
                break
        assert all(app.query_one("#status-header").sources[s.name] == "ok" for s in sources)
    changes = sorted(
        (e.payload["source"], e.payload["from"], e.payload["to"])
        for e in store.events(kinds=["source.status"])
    )
    store.close()
    # The first poll's bug showed as such, never as "down".
    assert changes == [
        ("mlflow", "internal-error", "ok"),
        ("mlflow", "unknown", "internal-error"),
        ("workspace", "internal-error", "ok"),
        ("workspace", "unknown", "internal-error"),
    ]
    for source in sources:
        # Prepared on the main thread before its first poll (in a worker thread); prepared
        # again after the internal error, with its client reset.
        assert source.prepared_on[0] == "MainThread"
        assert "MainThread" not in source.polled_on
        assert source.resets == 1 and len(source.prepared_on) == 2


async def test_an_older_gate_evaluation_that_answers_last_is_dropped(tmp_path: Path):
    """Evaluations run in threads that a newer one does not stop: an older one finishing last
    (it read the store before the newer) must not replace the newer answer."""
    from cockpit.cutover.gates import evaluate

    store = StateStore.open(tmp_path / "g.db", create=True)
    store.set_meta("migration.from", "14.3-lts-ml")
    store.set_meta("migration.to", "16.4-lts-ml")
    older = evaluate(store, None)
    store.append_event("mlflow.rehearsal.finished", {"ok": True, "to_version": "2.22.5"})
    newer = evaluate(store, None)
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=[])
    app._evaluate_gates = lambda: None  # the two answers are played by hand
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._gates_done(newer, None, 2)
        app._gates_done(older, None, 1)
        assert app.gates == newer
        assert app.query_one(CutoverTab).gates == newer
    store.close()
