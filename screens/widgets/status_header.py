"""The header: migration name, from → to, LIVE/OFFLINE, the moment shown, and source health."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.textsafe import terminal
from cockpit.timefmt import fmt_ts
from screens.widgets.palette import Palette, palette
from screens.widgets.state_errors import KeepsRunningOnStateError

# Roles of screens.widgets.palette: the colours come from the theme.
STATUS_STYLE = {
    "ok": "bold good",
    "degraded": "bold warn",
    "down": "bold bad",
}
# A bug or a broken install, not the remote side: the error colour as a badge, so it is told
# apart from "down" and "degraded" by more than its word in every theme (as a text colour, the
# accent it had equals the warning colour in textual-dark and the success colour in ansi-dark).
STATUS_BADGE = {"internal-error": "bad"}


class StatusHeader(KeepsRunningOnStateError, Static):
    """One line, rebuilt whenever any of its reactive fields change. The app reads the store and
    sets the fields; a state error in a handler of the header's own (a ``call_later`` callback
    included) is a notification and the header keeps updating."""

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
            text.append(terminal(status), style=status_style(p, status))
        return text


def status_style(p: Palette, status: str) -> str:
    """The Rich style of a source's health in the header, in ``p``'s colours."""
    if status in STATUS_BADGE:
        return p.badge(STATUS_BADGE[status])
    return p(STATUS_STYLE.get(status, "dim"))
