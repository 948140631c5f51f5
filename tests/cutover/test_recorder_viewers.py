"""A recorder and three read-only viewers on one state file, all at once, as on cutover day."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cockpit.store import StateStore

# A viewer: the real TUI, headless, attached read-only to the file the recorder writes.
VIEWER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from cockpit.store import StateStore
    from screens.app import CockpitApp

    async def main(path, seconds):
        store = StateStore.open(path, readonly=True)
        app = CockpitApp(store=store, offline=True)
        seen = []
        async with app.run_test(size=(140, 40)) as pilot:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                await pilot.pause(0.5)
                seen.append(store.last_event_id())
            await pilot.press("3")  # open another tab while the file grows
            await pilot.pause(0.5)
            seen.append(store.last_event_id())
        print(json.dumps({"seen": seen, "readonly": store.readonly}))

    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
    """
)


def test_recorder_and_three_viewers(tmp_path: Path, kyros_servers, kyros_config):
    config = kyros_config(tmp_path / "cockpit.toml", kyros_servers, interval=0.5)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    recorder = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "--config", str(config), "record"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = tmp_path / "state.db"
        for _ in range(100):  # the recorder creates the file
            if state.exists():
                break
            time.sleep(0.1)
        time.sleep(1.0)
        viewers = [
            subprocess.Popen(
                [sys.executable, "-c", VIEWER, str(state), "8"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [v.communicate(timeout=120) for v in viewers]
    finally:
        recorder.send_signal(signal.SIGTERM)
        _, rec_err = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, rec_err
    assert "locked" not in rec_err
    for (out, err), viewer in zip(outputs, viewers, strict=True):
        assert viewer.returncode == 0, err[-2000:]
        assert "locked" not in err
        result = json.loads(out.strip().splitlines()[-1])
        assert result["readonly"] is True
        assert result["seen"][-1] > result["seen"][0], "the viewer saw no new events"
    with StateStore.open(state, readonly=True) as store:
        kinds = [e.kind for e in store.events()]
        assert kinds.count("recorder.started") == 1 and kinds[-1] == "recorder.stopped"
        polls = store.query_one("SELECT COUNT(*) AS n FROM mlflow_polls")["n"]
        assert polls >= 3
        errors = [e.payload for e in store.events(kinds=["source.error"])]
        assert errors == []
