"""The header: migration name, from → to, LIVE/OFFLINE, the moment shown, and source health."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.textsafe import terminal
from cockpit.timefmt import fmt_ts
from screens.widgets.palette import palette

# Roles of screens.widgets.palette: the colours come from the theme.
STATUS_STYLE = {
    "ok": "bold good",
    "degraded": "bold warn",
    "down": "bold bad",
    "internal-error": "bold alert",  # a bug or a broken install, not the remote side
}


class StatusHeader(Static):
    """One line, rebuilt whenever any of its reactive fields change."""

    migration_name: reactive[str] = reactive("")
    route: reactive[str] = reactive("")
    offline: reactive[bool] = reactive(True)
    as_of: reactive[float | None] = reactive(None)
    sources: reactive[dict[str, str]] = reactive(dict, always_update=True)

    def render(self) -> Text:
        p = palette(self.app)
        text = Text()
        text.append(" ◆ ", style=p("bold alert"))
        # The name and route come from the state file, which may have come from anywhere.
        text.append(terminal(self.migration_name or "(unnamed migration)"), style="bold")
        if self.route:
            text.append(f"  {terminal(self.route)}", style=p("info"))
        text.append("  ")
        if self.offline:
            text.append(" OFFLINE ", style=p.badge("warn"))
        else:
            text.append(" LIVE ", style=p.badge("good"))
        if self.as_of is not None:
            text.append(f"  as of {fmt_ts(self.as_of)}", style=p("bold warn"))
        for name, status in sorted(self.sources.items()):
            text.append(f"  {terminal(name)}:", style="dim")
            text.append(terminal(status), style=p(STATUS_STYLE.get(status, "dim")))
        return text
