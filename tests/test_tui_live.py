"""Live mode: pollers run in worker threads, the header shows their health, keys stay answered."""

from __future__ import annotations

import time
from pathlib import Path

from cockpit.errors import SourceUnavailableError
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.cutover import CutoverTab
from screens.tabs.runtime_diff import RuntimeDiffTab


class SlowSource:
    """Each poll takes `delay` seconds (a slowed-down server) and writes one event."""

    def __init__(self, name: str, delay: float, fail: bool = False):
        self.name, self.interval_s, self.delay, self.fail = name, 0.2, delay, fail
        self.calls = 0

    def poll(self, store):
        self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise SourceUnavailableError("connection refused")
        store.append_event(f"{self.name}.poll", {"call": self.calls}, source=f"poller:{self.name}")
        return {}


async def test_ui_answers_keys_while_a_source_is_slow(tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    slow = SlowSource("workspace", delay=6.0)
    app = CockpitApp(
        store=store, offline=False, tab_classes=[RuntimeDiffTab, CutoverTab], sources=[slow]
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
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
        for _ in range(100):
            await pilot.pause(0.1)
            if app.query_one("#status-header").sources["workspace"] == "ok":
                break
        assert app.query_one("#status-header").sources["workspace"] == "ok"
        assert slow.calls == 1 or slow.calls == 2  # re-armed after it finished, never overlapped
    store.close()


async def test_header_shows_a_down_source(tmp_path: Path):
    store = StateStore.open(tmp_path / "live.db", create=True)
    dead = SlowSource("mlflow.old", delay=0.0, fail=True)
    app = CockpitApp(store=store, offline=False, tab_classes=[CutoverTab], sources=[dead])
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(40):
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
        await pilot.pause(1.5)
        assert app.query_one("#status-header").sources.get("mlflow.new") == "ok"
    viewer_store.close()
    writer.close()
