"""The keyboard never gets trapped, on every tab (issues 16 and 20).

* The digits switch tabs on the first press from every widget of every tab (a focused widget of
  the pane being hidden used to hand its focus to a sibling, which switched back).
* `q`, the digits and `ctrl+p` work whenever no text is being typed.
* Escape in a text box gives the focus back to the tab's main widget (the filter is kept; on a
  tab with filters the second Escape clears them), and the footer says which one Escape does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, TabbedContent

from cockpit.store import StateStore
from screens.app import CockpitApp, discover_tabs
from tests.tui_settle import until

TABS = discover_tabs()
# How a person opens each tab's text box: "/" for a search, "o" for the checklist's owner box
# (it needs a pipeline under the cursor, which the tree has when the tab opens).
OPENS_TEXT = {"runtime-diff": "slash", "cutover": "slash", "checklist": "o"}


@pytest.fixture
def store(tmp_path: Path, sample_state: Path):
    path = tmp_path / "keys.db"
    shutil.copy(sample_state, path)
    # Writable (the checklist's owner box opens only on a file it may change) but not live.
    with StateStore.open(path) as opened:
        yield opened


def active(app: CockpitApp) -> str:
    return app.query_one(TabbedContent).active


async def show(pilot, app: CockpitApp, index: int):
    """Go to a tab with its digit, wait until it is built and its main widget has the focus."""
    tab_cls = TABS[index]
    if active(app) == f"pane-{tab_cls.TAB_ID}":
        app.query_one(tab_cls).focus_default()  # already there (e.g. back from the palette)
    await pilot.press(str(index + 1))
    await until(pilot, lambda: active(app) == f"pane-{tab_cls.TAB_ID}", f"tab {tab_cls.TAB_ID}")
    selector = tab_cls.DEFAULT_FOCUS
    assert selector, f"{tab_cls.TAB_ID} names no main widget for Escape to return to"
    await until(
        pilot,
        lambda: app.query(tab_cls) and app.query_one(tab_cls).query(selector),
        f"{tab_cls.TAB_ID} built",
    )
    tab = app.query_one(tab_cls)
    main = tab.query_one(selector)
    await until(pilot, lambda: app.focused is main, f"the focus on {tab_cls.TAB_ID}'s main widget")
    return tab, main


def escape_does(app: CockpitApp) -> str | None:
    """What the footer shows for Escape right now."""
    binding = app.screen.active_bindings.get("escape")
    return binding.binding.description if binding and binding.enabled else None


def test_every_tab_with_a_text_box_is_covered():
    """A new tab with an Input must say here how a person opens it (so the tests below cover it)."""
    for tab_cls in TABS:
        assert tab_cls.DEFAULT_FOCUS, (
            f"{tab_cls.TAB_ID} names no main widget for Escape to return to"
        )
    assert set(OPENS_TEXT) <= {t.TAB_ID for t in TABS}


@pytest.mark.parametrize("index", range(len(TABS)), ids=[t.TAB_ID for t in TABS])
async def test_digits_and_ctrl_p_from_every_widget_first_press(store, index: int):
    tab_cls = TABS[index]
    app = CockpitApp(store=store, offline=True)
    async with app.run_test(size=(160, 48)) as pilot:
        tab, main = await show(pilot, app, index)
        has_input = bool(tab.query(Input))
        assert has_input == (tab_cls.TAB_ID in OPENS_TEXT), "see OPENS_TEXT"
        # Every widget a person can focus, but text boxes (digits are text there, see below) and
        # a closed dropdown's option list (it is focusable only while open).
        widgets = [
            w
            for w in tab.query("*")
            if w.focusable and not isinstance(w, Input) and type(w).__name__ != "SelectOverlay"
        ]
        assert main in widgets
        widgets.remove(main)
        others = [i for i in range(len(TABS)) if i != index]
        # Each widget presses the next other tab's digit in turn (every digit from the main
        # widget, every widget at least once), then opens the command palette.
        pairs = [(main, other) for other in others]
        pairs += [(w, others[k % len(others)]) for k, w in enumerate(widgets)]
        for widget, other in pairs:
            await show(pilot, app, index)
            widget.focus()
            await until(pilot, lambda w=widget: app.focused is w, f"focus on {widget!r}")
            assert app.screen.active_bindings["q"].binding.action == "quit"
            await pilot.press("ctrl+p")
            await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press("escape")
            await until(pilot, lambda w=widget: app.focused is w, "the palette closed")
            await pilot.press(str(other + 1))
            await pilot.pause(0.1)
            target = f"pane-{TABS[other].TAB_ID}"
            assert active(app) == target, f"{other + 1} from {widget!r} on {tab_cls.TAB_ID}"
            # ...and stays there once the new tab is built and focused.
            await until(pilot, lambda: app.focused is not None, "focus in the new tab")
            assert active(app) == target
        if has_input:
            # In a text box a digit is text, not a tab switch.
            await show(pilot, app, index)
            await pilot.press(OPENS_TEXT[tab_cls.TAB_ID])
            await until(pilot, lambda: isinstance(app.focused, Input), "the text box")
            box = app.focused
            before = box.value
            await pilot.press(str(others[0] + 1))
            await pilot.pause(0.1)
            assert box.value == before + str(others[0] + 1)
            assert active(app) == f"pane-{tab_cls.TAB_ID}"


@pytest.mark.parametrize("index", range(len(TABS)), ids=[t.TAB_ID for t in TABS])
async def test_slash_text_escape_then_q_quits(store, index: int):
    tab_cls = TABS[index]
    app = CockpitApp(store=store, offline=True)
    async with app.run_test(size=(160, 48)) as pilot:
        tab, main = await show(pilot, app, index)
        opener = OPENS_TEXT.get(tab_cls.TAB_ID)
        if opener is None:
            # No text box on this tab: "/" and text are nothing to it, Escape keeps the focus.
            assert not tab.query(Input)
            await pilot.press("slash")
            await pilot.pause(0.1)
            assert app.focused is main
        else:
            await pilot.press(opener)
            await until(pilot, lambda: isinstance(app.focused, Input), "the text box")
            box = app.focused
            box.value = ""
            await pilot.press(*"zq1")  # q and a digit are text here
            await pilot.pause(0.1)
            assert box.value == "zq1" and app.is_running
            assert active(app) == f"pane-{tab_cls.TAB_ID}"
            assert escape_does(app) in ("Done typing", "Cancel")
            await pilot.press("escape")
            await until(pilot, lambda: app.focused is main, "the focus back on the main widget")
            if opener == "slash":
                # The search is kept; the footer now offers the second Escape: clear it.
                assert box.value == "zq1"
                assert escape_does(app) == "Clear filters"
                await pilot.press("escape")
                await until(pilot, lambda: box.value == "", "the filter cleared")
                assert app.focused is main
            else:
                assert not box.has_class("-visible"), "Escape cancels the owner box"
                assert escape_does(app) is None
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.focused is main
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "q to quit")
    assert app.return_code == 0


async def test_a_key_right_after_the_switch_reaches_the_new_tab(store, monkeypatch):
    """The tab has the focus as soon as its activation is handled, not one refresh later: a
    key typed in between reached no tab (a `/` was lost, a digit switched back)."""
    import asyncio

    from textual import events

    finished = []
    activated = CockpitApp.on_tabbed_content_tab_activated

    async def then_mark(self, event):
        await activated(self, event)
        finished.append(event.pane.id)

    monkeypatch.setattr(CockpitApp, "on_tabbed_content_tab_activated", then_mark)
    index = next(i for i, t in enumerate(TABS) if t.TAB_ID == "cutover")
    app = CockpitApp(store=store, offline=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        finished.clear()
        app.post_message(events.Key(str(index + 1), str(index + 1)))
        for _ in range(100_000):  # until the activation is handled: not a refresh later
            if finished:
                break
            await asyncio.sleep(0)
        assert finished == ["pane-cutover"]
        app.post_message(events.Key("slash", "/"))
        await until(pilot, lambda: isinstance(app.focused, Input), "the search box")
        assert app.focused.id == "cut-search" and active(app) == "pane-cutover"
        await pilot.pause(0.2)  # the after-refresh fallback leaves it there
        assert app.focused.id == "cut-search"
