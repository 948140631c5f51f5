"""The contract between the app and a tab.

Flow is one direction: pollers and commands write to the state store; the app notices the store
changed (``StateStore.change_marker``) and calls :meth:`CockpitTab.refresh_view` on every tab;
tabs read the store and re-render. A tab never keeps state the store does not have, which is
what makes offline review and time travel work: ``view.as_of`` is the moment being shown
(``None`` = now), and every query a tab makes should honour it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Input

from screens.widgets.state_errors import KeepsRunningOnStateError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.cutover.gates import Gate
    from cockpit.services import Services
    from cockpit.store import StateStore


LEAVE_INPUT = Binding("escape", "leave_input", "Done typing", id="tab.leave-input")


@dataclass(frozen=True)
class ViewContext:
    """What every tab needs to render: the store, the config (if any), and which moment to show."""

    store: StateStore
    config: CockpitConfig | None
    offline: bool
    as_of: float | None = None  # seconds since the epoch; None = latest
    migration_from: str = ""
    migration_to: str = ""
    # The app's latest gate evaluation (None until the first one): the app evaluates them in a
    # worker and also hands each new result to every tab's show_gates.
    gates: tuple[Gate, ...] | None = None

    def now(self) -> float:
        """The moment shown: ``as_of`` when travelling in time, else the wall clock."""
        return self.as_of if self.as_of is not None else time.time()

    def today(self) -> dt.date:
        return self.services.today(self.now())

    @property
    def services(self) -> Services:
        """Clients, sync options, user and date, built from the config and the environment the
        same way the CLI builds them (:mod:`cockpit.services`)."""
        from cockpit.services import Services

        return Services(self.config)


class TabCommand(NamedTuple):
    """One command palette entry of a tab: its label, a line of help, and the tab's action."""

    name: str
    help: str
    action: str


class CockpitTab(KeepsRunningOnStateError, Container):
    """Base class for a tab. Subclasses set the class attributes and implement refresh_view.

    What a tab offers the app is declared here, so the app asks every tab the same way: its
    palette entries (``COMMANDS``, read through :meth:`commands`) and the gates
    (:meth:`show_gates`, called with every evaluation).
    """

    TAB_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    ORDER: ClassVar[int] = 50
    # Command palette entries: (label, help, action name), e.g. ("Verify the copy", "...",
    # "verify") runs ``action_verify`` of this tab.
    COMMANDS: ClassVar[Sequence[tuple[str, str, str]]] = ()

    def __init__(self, view: ViewContext) -> None:
        super().__init__(id=f"tab-{self.TAB_ID}")
        self.view = view

    # The widget that gets focus when the tab is shown, so the tab's bindings are live.
    DEFAULT_FOCUS: ClassVar[str | None] = None
    # Escape in a text box of a tab gives the focus back to the tab's main widget, so `q`, the
    # digits and the tab's keys work again: a tab with a text box lists LEAVE_INPUT in its
    # BINDINGS, before its own Escape binding if it has one (e.g. clear the filters: the second
    # Escape); check_action enables only one of them, and the footer shows the one Escape will
    # do. (Not bound here: a base-class key would move Escape to the front of every footer.)
    # tests/test_tui_keys.py fails for a tab with a text box that Escape does not leave.

    def focus_default(self) -> None:
        if self.DEFAULT_FOCUS:
            matches = self.query(self.DEFAULT_FOCUS)
            if matches:
                matches.first().focus()
                return
        for widget in self.query("*"):
            if widget.focusable:
                widget.focus()
                return

    def typing_here(self) -> bool:
        """True while a text box of this tab has the focus (printable keys are text then)."""
        focused = self.app.focused
        return isinstance(focused, Input) and self in focused.ancestors

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave_input":
            return self.typing_here()
        return True

    def action_leave_input(self) -> None:
        self.focus_default()

    def show_gates(self, gates: list[Gate]) -> None:
        """The latest gate evaluation for the moment shown, after every evaluation. A tab that
        draws the gates overrides it; the others have nothing to draw."""

    def commands(self) -> list[TabCommand]:
        return [TabCommand(*entry) for entry in self.COMMANDS]

    def restyle(self, view: ViewContext) -> None:
        """The theme changed: draw again, since colours that carry a meaning are Rich styles
        taken from the theme (screens.widgets.palette), which CSS does not reach."""
        self.refresh_view(view)

    def refresh_view(self, view: ViewContext) -> None:
        """Re-read the store and update widgets. Called on mount, on store change, on time travel.

        Keep it cheap (it runs on the UI thread): read with indexed queries, render what is
        visible; anything slow belongs in a worker.
        """
        self.view = view


class DeferredTab(Container):
    """Stands in for a tab until it is first shown; the app then mounts the real one."""

    def __init__(self, tab_cls: type[CockpitTab]) -> None:
        super().__init__(id=f"deferred-{tab_cls.TAB_ID}")
        self.tab_cls = tab_cls
