"""Tabular output in the formats scripts and people ask for: rich table, JSON, Markdown, CSV.

Commands build a list of column names and rows of plain values once and hand them here, so every
format shows the same data.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

FORMATS = ("table", "json", "markdown", "csv")


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def esc(value: Any) -> str:
        return _cell(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
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

    table = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        table.add_column(column)
    for i, row in enumerate(rows):
        style = styles[i] if styles else None
        table.add_row(*(_cell(v) for v in row), style=style)
    return table


def write(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
