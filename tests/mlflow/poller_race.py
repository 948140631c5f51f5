"""One fresh interpreter running the real `cockpit record` until every source is `ok` (or a
deadline), recording every module imported for the first time off the main thread.

Run by tests/mlflow/test_poller_race.py as `python poller_race.py CONFIG DEADLINE_S`; prints one
JSON line: the last status of each source and the imports that happened on other threads. A
poller thread that imports a module itself is the race of issue 20 waiting to happen (two threads
importing one package at once can leave a half-initialised module for the life of the process).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import threading
import time

WATCHER = "race-watcher"
STARTED = time.monotonic()
off_main: list[tuple[str, str]] = []
all_ok_after: list[float] = []


class ImportRecorder:
    """First in sys.meta_path: sees every import of a module not yet in sys.modules."""

    def find_spec(self, fullname, path=None, target=None):
        thread = threading.current_thread()
        if thread is not threading.main_thread() and thread.name != WATCHER:
            off_main.append((fullname, thread.name))
        return None  # the normal finders do the import


def last_statuses(state: str) -> dict[str, str]:
    if not os.path.exists(state):
        return {}
    db = sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)
    try:
        rows = db.execute(
            "SELECT json_extract(payload, '$.source'), json_extract(payload, '$.to') FROM events "
            "WHERE id IN (SELECT MAX(id) FROM events WHERE kind = 'source.status' "
            "GROUP BY json_extract(payload, '$.source'))"
        ).fetchall()
    except sqlite3.OperationalError:  # the recorder has not created its tables yet
        return {}
    finally:
        db.close()
    return dict(rows)


def main() -> None:
    config, deadline_s, expected = sys.argv[1], float(sys.argv[2]), sys.argv[3].split(",")
    state = os.path.join(os.path.dirname(config), "state.db")
    sys.meta_path.insert(0, ImportRecorder())

    def watch() -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            statuses = last_statuses(state)
            if all(statuses.get(name) == "ok" for name in expected):
                all_ok_after.append(round(time.monotonic() - STARTED, 2))
                break
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # `cockpit record` stops cleanly on it

    threading.Thread(target=watch, name=WATCHER, daemon=True).start()
    from cockpit.cli import main as cockpit

    code = cockpit(["--config", config, "record", "--quiet"])
    result = {
        "exit": code,
        "statuses": last_statuses(state),
        "off_main": off_main,
        "all_ok_after_s": all_ok_after[0] if all_ok_after else None,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
