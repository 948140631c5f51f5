"""Outside text for Textual widgets: names and messages from scanned trees, MLflow servers and
state files, with control sequences and bidi marks shown as escapes (:mod:`cockpit.textsafe`).

Rich ``Text`` never parses markup, so wrapping a value in :func:`text` also keeps a name like
``[link=...]`` from becoming a link; a DataTable cell given a plain ``str`` would parse it.
"""

from __future__ import annotations

from rich.text import Text

from cockpit.textsafe import terminal


def clean(value: object, *, multiline: bool = False) -> str:
    return terminal(value, multiline=multiline)


def text(value: object, style: str = "", *, multiline: bool = False) -> Text:
    return Text(terminal(value, multiline=multiline), style=style)
