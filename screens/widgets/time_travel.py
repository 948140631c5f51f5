"""The time control for offline review: step through the recorded history event by event."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.timefmt import fmt_ts
from screens.widgets.palette import palette
from screens.widgets.state_errors import KeepsRunningOnStateError


class TimeTravelBar(KeepsRunningOnStateError, Static):
    """Shows which moment every tab is rendering, and the keys to move it. As the header: a state
    error in a handler of its own (a ``call_later`` callback included) is a notification, and
    the bar keeps updating."""

    def show_position(self, as_of: float | None, index: int | None, total: int, label: str) -> None:
        p = palette(self.app)
        text = Text()
        text.append(" ⏱ ", style=p("bold warn"))
        if as_of is None:
            text.append("latest", style=p("bold good"))
        else:
            text.append(fmt_ts(as_of), style=p("bold warn"))
            if index is not None:
                text.append(f"  event {index + 1} of {total}", style="")
        if label:
            text.append(f"  {label}", style="dim")
        text.append("   [ previous · ] next · { -1 h · } +1 h · L latest", style="italic dim")
        self.update(text)
