"""Notebooks as Python units: Databricks source files and ``.ipynb``, with every line mapped back
to the line of the file it came from.

Magic lines (``%pip``, ``%run``, ``%sql`` cells, ``!shell``) are not Python: they become blank lines
in the unit (so line numbers still match) and ``%pip install`` arguments are returned separately
for the requirements scanner.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from cockpit.compat.python_scan import PythonSource

DATABRICKS_HEADER = "# Databricks notebook source"
_COMMAND = re.compile(r"^# COMMAND -+\s*$")
_MAGIC = re.compile(r"^# MAGIC ?(.*)$")
_PIP = re.compile(r"^\s*[%!]\s*pip3?\s+install\s+(.*)$")
_RUN = re.compile(r"^\s*%run\s+(\S+)")
# Cell magics whose body is another language: the whole cell is skipped.
_OTHER_LANGUAGE = frozenset({"%sql", "%scala", "%r", "%sh", "%md", "%md-sandbox", "%fs"})


def _other_language(line: str) -> bool:
    """True for a cell's first line that switches the cell to another language. The magic word
    is compared whole: ``%run`` is not ``%r``."""
    words = line.split(None, 1)
    return bool(words) and (words[0] in _OTHER_LANGUAGE or words[0].startswith("%%"))


@dataclass
class PipLine:
    line: int  # file line
    args: str  # what follows `pip install`


@dataclass
class NotebookParts:
    units: list[PythonSource] = field(default_factory=list)
    pip: list[PipLine] = field(default_factory=list)
    runs: list[tuple[int, str]] = field(default_factory=list)  # (%run line, target)


def is_databricks_source(text: str) -> bool:
    return text.lstrip("\ufeff").startswith(DATABRICKS_HEADER)


def _cell_body(lines: list[tuple[int, str]], parts: NotebookParts) -> list[str] | None:
    """The cell's Python lines, magics blanked (so line numbers hold), collecting %pip and %run;
    None for a cell in another language."""
    if not lines or _other_language(lines[0][1].strip()):
        return None
    body: list[str] = []
    for number, text in lines:
        pip = _PIP.match(text)
        run = _RUN.match(text)
        if pip:
            parts.pip.append(PipLine(number, pip.group(1)))
            body.append("")
        elif run:
            parts.runs.append((number, run.group(1)))
            body.append("")
        elif text.lstrip().startswith(("%", "!")):
            body.append("")
        else:
            body.append(text)
    return body


def _cell_lines(lines: list[tuple[int, str]], parts: NotebookParts) -> None:
    """Turn one cell's (file line, text) pairs into a Python unit, collecting magics."""
    body = _cell_body(lines, parts)
    if body is not None:
        # Unit lines are consecutive file lines here, so first_line is enough to map them back.
        parts.units.append(PythonSource("\n".join(body) + "\n", first_line=lines[0][0]))


def split_databricks_source(text: str) -> NotebookParts:
    """``# Databricks notebook source``: cells split by ``# COMMAND ----------``; ``# MAGIC``
    lines carry magics (``%pip``, ``%run``, ``%md``, ``%sql`` ...)."""
    parts = NotebookParts()
    cell: list[tuple[int, str]] = []
    magic_cell = False
    for number, raw in enumerate(text.splitlines(), start=1):
        if number == 1 and raw.lstrip("\ufeff").startswith(DATABRICKS_HEADER):
            continue
        if _COMMAND.match(raw):
            if not magic_cell:
                _cell_lines(cell, parts)
            cell, magic_cell = [], False
            continue
        magic = _MAGIC.match(raw)
        if magic:
            content = magic.group(1)
            stripped = content.strip()
            # A cell whose first MAGIC line is a language switch is not Python at all.
            first_in_cell = not cell or all(not t.strip() for _, t in cell)
            if first_in_cell and _other_language(stripped):
                magic_cell = True
            if magic_cell:
                cell.append((number, ""))
                continue
            pip = _PIP.match(content)
            run = _RUN.match(content)
            if pip:
                parts.pip.append(PipLine(number, pip.group(1)))
            elif run:
                parts.runs.append((number, run.group(1)))
            cell.append((number, ""))
            continue
        cell.append((number, "" if magic_cell else raw))
    if not magic_cell:
        _cell_lines(cell, parts)
    return parts


class NotebookError(ValueError):
    """The .ipynb is not a notebook we can read (bad JSON, wrong shape)."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.line = line


def _locate(text: str, piece: str, start: int) -> int:
    """Offset of the JSON string literal ``piece`` in ``text`` at or after ``start`` (-1 if not
    found): nbformat writes each source line as its own string, usually on its own line."""
    for encoded in (json.dumps(piece, ensure_ascii=False), json.dumps(piece)):
        found = text.find(encoded, start)
        if found >= 0:
            return found
    return -1


def split_ipynb(text: str) -> NotebookParts:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid notebook JSON: {exc.msg}", exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no 'cells' list)")
    parts = NotebookParts()
    metadata = data.get("metadata")
    kernelspec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    language = kernelspec.get("language") if isinstance(kernelspec, dict) else None
    language = language if isinstance(language, str) else "python"
    if language.lower() != "python":  # an R or Scala notebook: nothing for these rules
        return parts
    # Newline offsets, to turn a character offset into a 1-based line number quickly.
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    cursor = 0

    def line_at(offset: int) -> int:
        import bisect

        return bisect.bisect_left(newlines, offset) + 1

    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        pieces = source if isinstance(source, list) else [source]
        if not all(isinstance(p, str) for p in pieces):
            continue
        mapped: list[tuple[int, str]] = []
        for piece in pieces:
            found = _locate(text, piece, cursor)
            if found >= 0:
                cursor = found + 1
                line = line_at(found)
            else:
                line = mapped[-1][0] if mapped else line_at(cursor)
            # One JSON string may hold several lines (source saved as a single string): they all
            # map to that string's line, which is where the user would look.
            for sub in piece.splitlines() or [""]:
                mapped.append((line, sub))
        _ipynb_cell(mapped, parts)
    return parts


def _ipynb_cell(mapped: list[tuple[int, str]], parts: NotebookParts) -> None:
    """Like :func:`_cell_lines` but the unit's lines need not be consecutive in the file, so
    the unit is scanned with a line table instead of an offset."""
    body = _cell_body(mapped, parts)
    if body is not None:
        parts.units.append(
            PythonSource("\n".join(body) + "\n", first_line=1, line_map=[n for n, _ in mapped])
        )
