"""Mirroring from the MLflow tab: the worker hands the running mirror to the UI thread as a
Message, the key pauses and resumes it, and closing the cockpit stops it, even when the close
comes while the worker is still connecting."""

from __future__ import annotations

import time
from pathlib import Path

from tui_settle import until

from cockpit.config import parse_config
from cockpit.mlflow.mirror import Mirror
from cockpit.services import Services
from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.mlflow_sync import MirrorControl, MlflowSyncTab


def _config(mlflow_v1, mlflow_v2, tmp_path: Path):
    return parse_config(
        f"""
[migration]
name = "mirror"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "{mlflow_v1.url}"
poll_interval_s = 2
[mlflow.new]
tracking_uri = "{mlflow_v2.url}"
""",
        base_dir=tmp_path,
    )


async def test_mirror_from_the_tab_pauses_resumes_and_stops_on_close(
    mlflow_v1, mlflow_v2, tmp_path: Path
):
    store = StateStore.open(tmp_path / "live.db", create=True)
    app = CockpitApp(
        store=store,
        config=_config(mlflow_v1, mlflow_v2, tmp_path),
        offline=False,
        tab_classes=[MlflowSyncTab],
        sources=[],
    )
    async with app.run_test(size=(180, 50)) as pilot:
        await pilot.pause()
        tab = app.query_one(MlflowSyncTab)
        assert tab.mirror is None
        await pilot.press("m")
        assert tab._mirror_control is not None  # set on the UI thread by the key press
        # A guard against a hang, not a speed check: connecting waits on both servers.
        await until(pilot, lambda: tab.mirror is not None, "the mirror to start", 300.0)
        mirror = tab.mirror
        assert isinstance(mirror, Mirror)  # handed over by the MirrorStarted message
        await pilot.press("m")
        assert mirror.paused
        await pilot.press("m")
        assert not mirror.paused
    # Closing the cockpit unmounted the tab, which stopped the mirror: its worker ends.
    deadline = time.monotonic() + 300.0  # a guard against a hang, not a speed check
    while not store.events(kinds=["mlflow.mirror.stopped"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    kinds = [e.kind for e in store.events(kind_prefix="mlflow.mirror.")]
    assert kinds[0] == "mlflow.mirror.started"
    assert {"mlflow.mirror.paused", "mlflow.mirror.resumed"} <= set(kinds)
    assert kinds[-1] == "mlflow.mirror.stopped"
    store.close()


def test_a_mirror_stopped_before_its_worker_attached_it_never_runs(
    mlflow_v1, mlflow_v2, tmp_path: Path
):
    """The tab closed while the worker was still connecting: the control remembers the stop and
    stops the mirror as the worker attaches it, so no mirror runs with nobody able to stop it."""
    old, new = Services(_config(mlflow_v1, mlflow_v2, tmp_path)).mlflow_servers()
    with StateStore.open(tmp_path / "s.db", create=True) as store:
        control = MirrorControl()
        control.stop()  # on_unmount, before the worker got its mirror
        mirror = Mirror(old, new, store, interval_s=0.1, source="test")
        control.attach(mirror)
        assert mirror.run() == 0  # returns at once: not one cycle
        kinds = [e.kind for e in store.events(kind_prefix="mlflow.mirror.")]
        assert kinds == ["mlflow.mirror.started", "mlflow.mirror.stopped"]
    old.close()
    new.close()
