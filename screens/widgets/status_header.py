"""The header: migration name, from → to, LIVE/OFFLINE, the moment shown, and source health."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.textsafe import terminal
from cockpit.timefmt import fmt_ts

STATUS_STYLE = {
    "ok": "bold green",
    "degraded": "bold yellow",
    "down": "bold red",
    "internal-error": "bold magenta",  # a bug or a broken install, not the remote side
}


class StatusHeader(Static):
    """One line, rebuilt whenever any of its reactive fields change."""

    migration_name: reactive[str] = reactive("")
    route: reactive[str] = reactive("")
    offline: reactive[bool] = reactive(True)
    as_of: reactive[float | None] = reactive(None)
    sources: reactive[dict[str, str]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        text = Text()
        text.append(" ◆ ", style="bold magenta")
        # The name and route come from the state file, which may have come from anywhere.
        text.append(terminal(self.migration_name or "(unnamed migration)"), style="bold")
        if self.route:
            text.append(f"  {terminal(self.route)}", style="cyan")
        text.append("  ")
        if self.offline:
            text.append(" OFFLINE ", style="bold black on yellow")
        else:
            text.append(" LIVE ", style="bold black on green")
        if self.as_of is not None:
            text.append(f"  as of {fmt_ts(self.as_of)}", style="bold yellow")
        for name, status in sorted(self.sources.items()):
            text.append(f"  {terminal(name)}:", style="dim")
            text.append(terminal(status), style=STATUS_STYLE.get(status, "dim"))
        return text
