"""Render a :class:`Document` as Markdown or as one self-contained HTML file.

HTML: every value goes through :func:`html.escape`; charts are plotly figures drawn by plotly.js
embedded once in the file (no script URL, no network); everything passes through
:func:`cockpit.secrets.scrub` last, so a token that slipped into data still never reaches a report.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from cockpit.document.model import (
    Block,
    Bullets,
    Chart,
    Code,
    Details,
    Document,
    Links,
    Paragraph,
    Table,
)
from cockpit.secrets import scrub_text
from cockpit.textsafe import md_code, md_link, md_text, safe_url, terminal

TONE_CLASS = {"good": "good", "bad": "bad", "warn": "warn"}


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------- Markdown
def _md_table(table: Table) -> list[str]:
    lines = []
    if table.caption:
        lines += [f"*{md_text(table.caption)}*", ""]
    lines.append("| " + " | ".join(md_text(c) for c in table.columns) + " |")
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(md_text(_cell(v)) for v in row) + " |" for row in table.rows]
    return lines


def to_markdown(doc: Document) -> str:
    # Every user value goes through cockpit.textsafe: HTML and Markdown escaped, links only to
    # http(s)/mailto/in-page anchors (a javascript: or data: link is shown as text).
    out = [f"# {md_text(doc.title)}", "", md_text(doc.subtitle, line_start=True), ""]
    out.append(f"Generated {doc.generated_at}.")
    out.append("")
    out += [f"- {md_link(s.title, '#' + s.anchor)}" for s in doc.sections]
    for section in doc.sections:
        anchor = html.escape(section.anchor)
        out += ["", f'<a id="{anchor}"></a>', f"## {md_text(section.title)}", ""]
        out += _md_blocks(section.blocks)
    return scrub_text("\n".join(out).rstrip() + "\n")


def _md_blocks(blocks) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            out += [md_text(block.text, line_start=True), ""]
        elif isinstance(block, Table):
            out += [*_md_table(block), ""]
        elif isinstance(block, Links):
            out += [f"- {md_link(label, url)}" for label, url in block.items] + [""]
        elif isinstance(block, Chart) and block.fallback is not None:
            out += [*_md_table(block.fallback), ""]
        elif isinstance(block, Code):
            out += [*_md_code(block), ""]
        elif isinstance(block, Bullets):
            out += [*_md_bullets(block), ""]
        elif isinstance(block, Details):
            # GitHub renders Markdown inside <details> when blank lines surround it.
            summary = html.escape(terminal(block.summary))
            out += ["<details>", f"<summary>{summary}</summary>", ""]
            out += [*_md_blocks(block.blocks), "</details>", ""]
    return out


def _md_bullets(block: Bullets) -> list[str]:
    lines = [f"*{md_text(block.caption)}*", ""] if block.caption else []
    for n, item in enumerate(block.items, start=1):
        mark = f"{n}." if block.ordered else "-"
        line = f"{mark} {md_text(item.text)}"
        if item.code:
            line += f" — {md_code(item.code, in_table=False)}"
        # A trailing backslash is a hard line break: the detail shows on a line of its own
        # (a plain newline would join it to the item's text).
        lines.append(line + ("\\" if item.detail else ""))
        if item.detail:  # indented under the item: part of it, not a new one
            lines.append(" " * (len(mark) + 1) + md_text(item.detail, line_start=True))
    return lines


def _md_code(block: Code) -> list[str]:
    # A fence longer than any backtick run inside, so the text cannot close it early.
    longest = max((len(run) for run in re.findall(r"`+", block.text)), default=0)
    fence = "`" * max(3, longest + 1)
    language = re.sub(r"[^A-Za-z0-9_+-]", "", block.language)
    lines = [f"*{md_text(block.caption)}*", ""] if block.caption else []
    text = terminal(block.text, multiline=True).rstrip("\n")
    return [*lines, f"{fence}{language}", text, fence]


# -------------------------------------------------------------------------------------- HTML
CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; }
h1 { margin-bottom: 0; } .subtitle { color: #555; margin-top: .3rem; }
nav a { margin-right: 1rem; } section { margin-top: 2.5rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .8rem 0; }
th, td { border: 1px solid #d5d9e2; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f6; } caption { text-align: left; font-style: italic; padding: .3rem 0; }
.good { color: #11772d; font-weight: 600; } .bad { color: #b3261e; font-weight: 600; }
.warn { color: #9a6700; font-weight: 600; } .chart { width: 100%; height: 420px; }
pre { background: #f5f7fa; border: 1px solid #d5d9e2; padding: .6rem; overflow-x: auto; }
figure { margin: .6rem 0; } figcaption { font-style: italic; color: #555; }
"""


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in table.rows
    )
    caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html_bullets(block: Bullets) -> str:
    tag = "ol" if block.ordered else "ul"
    items = []
    for item in block.items:
        body = html.escape(item.text)
        if item.code:
            body += f" — <code>{html.escape(item.code)}</code>"
        if item.detail:
            body += f"<br><small>{html.escape(item.detail)}</small>"
        items.append(f"<li>{body}</li>")
    caption = f"<p><em>{html.escape(block.caption)}</em></p>" if block.caption else ""
    return f"{caption}<{tag}>{''.join(items)}</{tag}>"


def _safe_json(data: Any) -> str:
    # JSON inside <script>: escape "<" so a "</script>" in any string cannot end the element.
    return json.dumps(data, ensure_ascii=False, default=str).replace("<", "\\u003c")


def to_html(doc: Document) -> str:
    charts = [b for s in doc.sections for b in s.blocks if isinstance(b, Chart)]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(doc.title)}</title>",
        f"<style>{CSS}</style>",
    ]
    if charts:
        from plotly.offline import get_plotlyjs  # embedded: the file must open with no network

        parts.append(f'<script type="text/javascript">{get_plotlyjs()}</script>')
    parts.append("</head><body>")
    parts.append(f"<h1>{html.escape(doc.title)}</h1>")
    parts.append(
        f'<p class="subtitle">{html.escape(doc.subtitle)} · generated {html.escape(doc.generated_at)}</p>'
    )
    parts.append(
        "<nav>"
        + "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in doc.sections)
        + "</nav>"
    )
    chart_no = 0
    for section in doc.sections:
        parts.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        # A Details block unfolds into its blocks between ("open", summary) / ("close", "").
        blocks: list[Block | tuple[str, str]] = []
        for outer in section.blocks:
            blocks.append(outer)
            if isinstance(outer, Details):
                blocks[-1:] = [("open", outer.summary), *outer.blocks, ("close", "")]
        for block in blocks:
            if isinstance(block, tuple):
                what, summary = block
                parts.append(
                    f"<details><summary>{html.escape(summary)}</summary>"
                    if what == "open"
                    else "</details>"
                )
            elif isinstance(block, Bullets):
                parts.append(_html_bullets(block))
            elif isinstance(block, Paragraph):
                cls = TONE_CLASS.get(block.tone)
                attr = f' class="{cls}"' if cls else ""
                parts.append(f"<p{attr}>{html.escape(block.text)}</p>")
            elif isinstance(block, Table):
                parts.append(_html_table(block))
            elif isinstance(block, Links):
                items = "".join(
                    f'<li><a href="{html.escape(safe)}">{html.escape(label)}</a></li>'
                    if (safe := safe_url(url))
                    else f"<li>{html.escape(label)}</li>"
                    for label, url in block.items
                )
                parts.append(f"<ul>{items}</ul>")
            elif isinstance(block, Code):
                caption = (
                    f"<figcaption>{html.escape(block.caption)}</figcaption>"
                    if block.caption
                    else ""
                )
                parts.append(
                    f"<figure>{caption}<pre><code>{html.escape(block.text)}</code></pre></figure>"
                )
            elif isinstance(block, Chart):
                chart_no += 1
                div = f"chart-{chart_no}"
                parts.append(
                    f'<h3>{html.escape(block.title)}</h3><div id="{div}" class="chart"></div>'
                )
                parts.append(
                    f'<script type="text/javascript">(function(){{var f={_safe_json(block.figure)};'
                    f'Plotly.newPlot("{div}", f.data, f.layout || {{}}, {{responsive: true}});}})();</script>'
                )
        parts.append("</section>")
    parts.append("</body></html>")
    return scrub_text("\n".join(parts))
