"""Colours that carry a meaning (pass / fail, severities, verdicts, source health) taken from the
active Textual theme, so ``--theme cockpit-high-contrast`` (or any theme) recolours them too.

Tabs and widgets build Rich ``Text`` in Python, where Textual's CSS variables do not reach; they
name a *role* instead of a colour, and :func:`palette` turns it into the theme's colour:

    p = palette(self.app)
    Text("fail", style=p("bold bad"))          # "bold #FF3030" under the high-contrast theme
    Text(" GO ", style=p.badge("good"))         # the theme's success colour as background

Roles are the theme's readable text colours (``$text-success`` and friends, which a theme may set
in its ``variables``); badges use the plain ``$success`` / ``$error`` / ``$warning`` behind
whichever of black or white reads best on them. Charts (plotext) take a role's colour as
:meth:`Palette.plot` gives it: an RGB tuple, or a terminal palette number for an ANSI theme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.color import BLACK, WHITE, Color

if TYPE_CHECKING:
    from textual.app import App
    from textual.theme import Theme

# role -> the theme variable that colours it
ROLES = {
    "good": "text-success",
    "bad": "text-error",
    "warn": "text-warning",
    "info": "text-secondary",
    "alert": "text-accent",  # a bug or a broken install, gate events: neither good nor bad news
    "ref": "text-primary",  # links and sources, owners
}
BADGES = {"good": "success", "bad": "error", "warn": "warning"}

# A colour as plotext takes it: RGB, or an index into the terminal's palette (an ANSI theme's
# colours, so the terminal's own red still applies).
PlotColour = tuple[int, int, int] | int


@dataclass(frozen=True)
class Palette:
    colours: dict[str, str]  # role -> "#RRGGBB"
    badges: dict[str, str]  # role -> "bold #fg on #bg"
    plot_colours: dict[str, PlotColour]  # role -> the same colour for plotext

    def __call__(self, style: str) -> str:
        """``style`` with each role word replaced by its colour ("bold bad" -> "bold #D17E92");
        other words (bold, dim, italic, underline, link URL, ...) are kept as they are."""
        return " ".join(self.colours.get(word, word) for word in style.split())

    def badge(self, role: str) -> str:
        return self.badges[role]

    def plot(self, role: str) -> PlotColour:
        """The role's colour for a plotext chart (``plt.bar(..., color=p.plot("info"))``)."""
        return self.plot_colours[role]


_CACHE: dict[str, Palette] = {}


def palette_of(theme: Theme) -> Palette:
    # By what the theme holds (its dataclass repr: name, colours, variables), not by id(): a
    # theme registered again under its name with other colours, or a new object at a freed
    # theme's address, would otherwise get the old palette.
    key = repr(theme)
    found = _CACHE.get(key)
    if found is None:
        # As App.get_css_variables builds them: the colour system, then the theme's own variables.
        variables = {**theme.to_color_system().generate(), **theme.variables}
        colours = {role: _hex(variables[name]) for role, name in ROLES.items()}
        plot_colours = {role: _plot(variables[name]) for role, name in ROLES.items()}
        badges = {}
        for role, name in BADGES.items():
            background = Color.parse(variables[name])
            # Black or white, whichever has the higher WCAG contrast ratio on it (Textual's
            # contrast text puts white on the high-contrast red: 3.7:1 against black's 5.7:1).
            foreground = max((BLACK, WHITE), key=lambda c: _contrast(c, background))
            badges[role] = f"bold {_hex(foreground.hex)} on {_hex(variables[name])}"
        found = _CACHE[key] = Palette(colours, badges, plot_colours)
    return found


def palette(app: App) -> Palette:
    """The palette of ``app``'s current theme."""
    return palette_of(app.current_theme)


def _hex(value: str) -> str:
    # A theme may give "#RRGGBB 80%", a name or an ANSI colour ("ansi_red"); Rich wants a plain
    # colour ("red" for an ANSI one, so the terminal's own palette still applies).
    colour = Color.parse(value)
    return colour.hex.removeprefix("ansi_") if colour.ansi is not None else colour.hex


def _plot(value: str) -> PlotColour:
    colour = Color.parse(value)
    return colour.ansi if colour.ansi is not None else colour.rgb


def _luminance(colour: Color) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)


def _contrast(a: Color, b: Color) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
