"""The time control for offline review: step through the recorded history event by event."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from cockpit.timefmt import fmt_ts


class TimeTravelBar(Static):
    """Shows which moment every tab is rendering, and the keys to move it."""

    def show_position(self, as_of: float | None, index: int | None, total: int, label: str) -> None:
        text = Text()
        text.append(" ⏱ ", style="bold yellow")
        if as_of is None:
            text.append("latest", style="bold green")
        else:
            text.append(fmt_ts(as_of), style="bold yellow")
            if index is not None:
                text.append(f"  event {index + 1} of {total}", style="")
        if label:
            text.append(f"  {label}", style="dim")
        text.append("   [ previous · ] next · { -1 h · } +1 h · L latest", style="italic dim")
        self.update(text)
