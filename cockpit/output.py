"""Tabular output in the formats scripts and people ask for: rich table, JSON, Markdown, CSV.

Commands build a list of column names and rows of plain values once and hand them here, so every
format shows the same data.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from typing import Any

from cockpit import textsafe

FORMATS = ("table", "json", "markdown", "csv")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    esc = textsafe.md_text
    lines = ["| " + " | ".join(esc(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    lines += ["| " + " | ".join(esc(_cell(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def csv_text(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_cell(v) for v in row] for row in rows])
    return buf.getvalue()


def rich_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    styles: Sequence[str | None] | None = None,
):
    from rich.table import Table

    # Cells and titles are data (names from scans, servers, state files), never markup.
    esc = textsafe.markup
    table = Table(title=esc(title) if title else None, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(esc(column))
    for i, row in enumerate(rows):
        style = styles[i] if styles else None
        table.add_row(*(esc(_cell(v)) for v in row), style=style)
    return table


def write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def dumps(data: Any) -> str:
    return textsafe.json_text(data, indent=2)
