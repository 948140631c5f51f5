"""The cockpit's own Textual themes (``cockpit open --theme NAME``), beside Textual's built-in
ones. ``cockpit-high-contrast`` is for projectors and shared screens: pure black and white with
saturated accents, so borders, the focused row and the GO / NO-GO colours survive a washed-out
beamer."""

from __future__ import annotations

from textual.theme import BUILTIN_THEMES, Theme

HIGH_CONTRAST = Theme(
    name="cockpit-high-contrast",
    primary="#FFFF00",
    secondary="#00FFFF",
    accent="#FF00FF",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#202020",
    boost="#303030",
    success="#00FF00",
    warning="#FFD700",
    error="#FF3030",
    dark=True,
    variables={
        "border": "#FFFFFF",
        "block-cursor-background": "#FFFF00",
        "block-cursor-foreground": "#000000",
        "block-cursor-text-style": "bold",
        "footer-key-foreground": "#FFFF00",
        "input-selection-background": "#FFFF00 50%",
        # The colours that carry a meaning (screens.widgets.palette: gates, severities, verdicts,
        # source health) at full saturation: Textual's text variants tint them towards white.
        "text-success": "#00FF00",
        "text-error": "#FF3030",
        "text-warning": "#FFD700",
        "text-secondary": "#00FFFF",
        "text-accent": "#FF00FF",
        "text-primary": "#FFFF00",
    },
)
THEMES: tuple[Theme, ...] = (HIGH_CONTRAST,)


def theme_names() -> list[str]:
    """Every theme ``--theme`` accepts: the cockpit's own, then Textual's built-in ones."""
    return [t.name for t in THEMES] + sorted(BUILTIN_THEMES)


def checked_theme(name: str | None) -> str | None:
    """``name`` if ``--theme`` accepts it, else a one-line error (exit 2) listing the themes."""
    if name is None:
        return None
    from cockpit.errors import CockpitError

    names = theme_names()
    if name not in names:
        raise CockpitError(f"--theme {name!r}: no such theme; choose one of {', '.join(names)}")
    return name
