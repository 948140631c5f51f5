"""Make outside text safe for the sink it goes to: a terminal, rich markup, Markdown or JSON.

Names and messages come from scanned trees, bundles, job JSON, MLflow servers and state files;
any of them can carry an ESC sequence (``ESC[2J`` clears the screen, OSC 52 writes the
clipboard, OSC 8 makes a link), a bidi override that makes ``evil.py`` read as ``ype.live``, or
Markdown/HTML that turns a report into a phishing page. Every sink goes through one function here:

- :func:`terminal` for plain prints: controls and bidi marks become visible ``\\x1b`` /
  ``\\u202e`` escapes (shown, not dropped: a reviewer should see that a name is odd);
- :func:`markup` for text put inside a rich (or Textual) markup string: the same, then
  ``rich.markup.escape`` so ``[link=...]`` or ``[/]`` in a name stays text;
- :func:`md_text`, :func:`md_code`, :func:`md_link` for Markdown: HTML escaped, Markdown
  punctuation escaped, code spans fenced with more backticks than the text holds, table pipes
  escaped, links only for http(s)/mailto/in-page anchors;
- :func:`json_text` for JSON: exact values (a parser gets back the same strings), with C1
  controls, bidi marks and line separators written as ``\\uXXXX`` so even a terminal showing the
  raw JSON sees no control character.

Only the standard library at import time (command modules import this); rich is imported when
:func:`markup` or :func:`terminal_console` is first used.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import quote, urlsplit

# C0 controls (tab and newline are decided by the caller), DEL, C1 controls, the bidi
# embedding/override/isolate marks (Trojan Source, CVE-2021-42574), and the Unicode line and
# paragraph separators (a terminal or editor may break a line there).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]")
# Multi-line text keeps "\n", "\t" and "\r\n" (a CRLF file's diff); a lone "\r" can overwrite.
_UNSAFE_MULTI_LINE = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}\u2028\u2029]|\r(?!\n)"
)
# In JSON the C0 controls are already escaped by the encoder; these are the rest.
_JSON_EXTRA = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(value: Any, *, multiline: bool = False) -> str:
    """``value`` as text a terminal shows as-is: no control sequence, no bidi reordering.

    One line unless ``multiline`` (then newlines, tabs and CRLF are kept; a lone carriage
    return is still escaped, as it can overwrite what a line showed)."""
    text = "" if value is None else str(value)
    pattern = _UNSAFE_MULTI_LINE if multiline else _UNSAFE_ONE_LINE
    return pattern.sub(_visible, text)


def markup(value: Any, *, multiline: bool = False) -> str:
    """``value`` for insertion into a rich/Textual markup string: terminal-safe, tags escaped."""
    from rich.markup import escape

    return escape(terminal(value, multiline=multiline))


# ------------------------------------------------------------------------------------ Markdown
# The characters that start inline structure anywhere in a line: backslash escapes, code
# spans, emphasis and strikethrough, links and images, table cells. "<", ">" and "&" become
# entities (no raw HTML, no <autolink>). Block markers only matter at the start of the text.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~])")
# A heading or list marker: "#", "+", "-", or "1." / "1)" (escaped on the punctuation).
_MD_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([#+.)-])")


def md_text(value: Any, *, line_start: bool = False) -> str:
    """``value`` as literal Markdown inline text (safe in a heading, a table cell or, with
    ``line_start``, at the start of a line, where "# " or "1. " would start a block)."""
    text = terminal(value)  # one line: a newline would end a table row or start a block
    text = html.escape(text, quote=False)
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_BLOCK_START.sub(r"\1\\\2", text, count=1) if line_start else text


def md_code(value: Any, *, in_table: bool = True) -> str:
    """``value`` as a code span that no backtick in it can end early.

    ``in_table``: GFM splits table cells on "|" before it parses code spans, so "\\|" keeps a
    pipe inside the span there (outside a table it would show the backslash)."""
    text = terminal(value)
    if not text:
        return ""  # "``" would be two literal backticks, not an empty span
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A span that starts or ends with a backtick needs a space inside the fence (CommonMark
    # strips exactly one space from each side when both are present, unless all are spaces).
    edge_spaces = text.startswith(" ") and text.endswith(" ") and text.strip(" ")
    if text.startswith("`") or text.endswith("`") or edge_spaces:
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


SAFE_URL_SCHEMES = ("http", "https", "mailto")


def safe_url(url: Any) -> str | None:
    """``url`` fit for a link (Markdown destination or HTML href), or None when it must not be
    a link.

    Only http(s), mailto and in-page ``#anchors``: ``javascript:``, ``data:``, ``vbscript:``,
    ``file:`` and scheme-relative ``//host`` are refused. Characters that could end the
    destination or hide the scheme are percent-encoded."""
    text = "" if url is None else str(url).strip()
    if not text or _UNSAFE_ONE_LINE.search(text):
        return None
    if text.startswith("#"):
        return "#" + quote(text[1:], safe="-_.~")
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in SAFE_URL_SCHEMES:
        return None
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        return None
    return quote(text, safe="/:@?&=%#+,;~!$*'-._")


def md_link(label: Any, url: Any) -> str:
    """A Markdown link, or just the label as text when the URL is not safe to link."""
    safe = safe_url(url)
    text = md_text(label)
    return f"[{text}](<{safe}>)" if safe else text


# ---------------------------------------------------------------------------------------- JSON
def json_text(data: Any, *, indent: int | None = None) -> str:
    """JSON with exact values; C1 controls, bidi marks and line separators as ``\\uXXXX``."""
    text = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    # These characters can only occur inside JSON strings, where \\uXXXX means the same value.
    return _JSON_EXTRA.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


# ------------------------------------------------------------------------------------ consoles
_console_class = None


def terminal_console(**kwargs: Any):
    """A rich Console whose every string (cells, titles, printed text) is made terminal-safe
    before its markup is parsed: a safety net under the call sites' own :func:`markup` calls."""
    global _console_class
    if _console_class is None:
        from rich.console import Console

        class SafeConsole(Console):
            def render_str(self, text: str, *args: Any, **kw: Any):  # type: ignore[override]
                return super().render_str(terminal(text, multiline=True), *args, **kw)

        _console_class = SafeConsole
    return _console_class(**kwargs)
