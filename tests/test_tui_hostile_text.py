"""Outside text in the TUI (issue 11, item 6): a state file whose names and events carry
terminal control sequences and markup shows them as visible escapes, never runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import DataTable

from cockpit.store import StateStore
from screens.app import CockpitApp
from screens.tabs.cutover import CutoverTab
from screens.tabs.runtime_diff import RuntimeDiffTab
from screens.widgets.status_header import StatusHeader

OSC52 = "\x1b]52;c;aGk=\x07"  # writes the terminal's clipboard
CLEAR = "\x1b[2J"


async def test_hostile_names_and_events_are_shown_escaped(tmp_path: Path, sample_state: Path):
    path = tmp_path / "h.db"
    shutil.copy(sample_state, path)
    with StateStore.open(path) as store:
        store.set_meta("migration.name", f"kyros{CLEAR}\u202e")
        last = store.events(newest_first=True, limit=1)[0].ts
        store.append_event(
            "mlflow.error",
            {"message": f"server said {OSC52} [link=https://evil.example]click[/link]"},
            source=f"poller{CLEAR}",
            ts=last + 60,
        )
    store = StateStore.open(path, readonly=True)
    app = CockpitApp(store=store, offline=True, tab_classes=[RuntimeDiffTab, CutoverTab])
    async with app.run_test(size=(200, 48)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        table = app.query_one("#timeline", DataTable)
        details, kind, source = (str(c) for c in table.get_row_at(0)[1:4])
        assert kind == "mlflow.error" and source == "poller\\x1b[2J"
        # The "what happened" column tells the event in words: the ESC is shown as \x1b there,
        # and the markup stays text.
        assert "\\x1b]52;c;aGk=\\x07" in details and "[link=https://evil.example]" in details
        assert "\x1b" not in kind + source + details
        header = str(app.query_one(StatusHeader).render())
        assert "kyros\\x1b[2J\\u202e" in header
        app.notify(f"from the server: {CLEAR}[mlflow.old]")
        await pilot.pause()
        shown = list(app._notifications)[-1].message
        assert shown == "from the server: \\x1b[2J[mlflow.old]"
        screen = app.export_screenshot()
        assert "\x1b" not in screen and "\u202e" not in screen
    store.close()
