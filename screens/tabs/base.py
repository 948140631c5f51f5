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
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual.containers import Container

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore


@dataclass(frozen=True)
class ViewContext:
    """What every tab needs to render: the store, the config (if any), and which moment to show."""

    store: StateStore
    config: CockpitConfig | None
    offline: bool
    as_of: float | None = None  # seconds since the epoch; None = latest
    migration_from: str = ""
    migration_to: str = ""

    def now(self) -> float:
        """The moment shown: ``as_of`` when travelling in time, else the wall clock."""
        return self.as_of if self.as_of is not None else time.time()

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now(), tz=dt.UTC).date()


class CockpitTab(Container):
    """Base class for a tab. Subclasses set the class attributes and implement refresh_view."""

    TAB_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    ORDER: ClassVar[int] = 50

    def __init__(self, view: ViewContext) -> None:
        super().__init__(id=f"tab-{self.TAB_ID}")
        self.view = view

    # The widget that gets focus when the tab is shown, so the tab's bindings are live.
    DEFAULT_FOCUS: ClassVar[str | None] = None

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
