"""Notebooks as Python units: Databricks source files and ``.ipynb``, with every line mapped back
to the line of the file it came from.

Magic lines (``%pip``, ``%run``, ``%sql`` cells, ``!shell``) are not Python: they become blank lines
in the unit (so line numbers still match) and ``%pip install`` arguments are returned separately
for the requirements scanner.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from cockpit.compat.python_scan import PythonSource
from cockpit.compat.sourcefiles import python_lines

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
    for number, raw in enumerate(python_lines(text), start=1):
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


# A cell's "source" key. Inside a JSON string a quote is escaped, so this only matches a key.
_SOURCE_KEY = re.compile(r'"source"\s*:')


@dataclass(frozen=True)
class SourceLiteral:
    cell: int  # index in the notebook's "cells"
    piece: int  # index in the cell's source list (0 when the source is one string)
    text: str  # the decoded string
    offset: int  # where its JSON literal starts in the file; -1 when not found
    literal: str  # the literal as written in the file ('' when not found)
    ascii_only: bool  # written with non-ASCII escaped (\u00fc) rather than as is


def code_cell_pieces(cell: object) -> list[str] | None:
    """A code cell's source as a list of strings (nbformat's shape), else None."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    pieces = source if isinstance(source, list) else [source]
    return pieces if all(isinstance(p, str) for p in pieces) else None


def source_literals(text: str, cells: list) -> Iterator[SourceLiteral]:
    """Every code cell's source strings, each with where its JSON literal is in ``text``.

    Found by searching forward from the cell's own ``"source":`` key (cells are walked in file
    order, every cell type, so each key found is that cell's): nbformat writes keys sorted, so
    ``outputs`` come before ``source`` and may repeat a source line word for word."""
    cursor = 0
    for index, cell in enumerate(cells):
        if isinstance(cell, dict) and "source" in cell:
            anchor = _SOURCE_KEY.search(text, cursor)
            if anchor is not None:
                cursor = anchor.end()
        pieces = code_cell_pieces(cell)
        for number, piece in enumerate(pieces or []):
            for ascii_only in (False, True):
                literal = json.dumps(piece, ensure_ascii=ascii_only)
                found = text.find(literal, cursor)
                if found >= 0:
                    cursor = found + len(literal)
                    yield SourceLiteral(index, number, piece, found, literal, ascii_only)
                    break
            else:
                yield SourceLiteral(index, number, piece, -1, "", False)


def split_ipynb(text: str) -> NotebookParts:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not valid notebook JSON: {exc.msg}", exc.lineno) from None
    except RecursionError:  # "[" * 100_000: nested deeper than the decoder can follow
        raise NotebookError("not a notebook: JSON nested too deeply to read") from None
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

    def line_at(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    by_cell: dict[int, list[tuple[int, str]]] = {}
    last_line = 1
    for found in source_literals(text, data["cells"]):
        mapped = by_cell.setdefault(found.cell, [])
        # Not found: the line before it, which is where the user would look.
        line = (
            line_at(found.offset) if found.offset >= 0 else (mapped[-1][0] if mapped else last_line)
        )
        last_line = line
        # One JSON string may hold several lines (source saved as a single string): they all
        # map to that string's line.
        for sub in python_lines(found.text) or [""]:
            mapped.append((line, sub))
    for index, mapped in by_cell.items():
        _ipynb_cell(mapped, parts, index)
    return parts


def ipynb_cell_unit(pieces: list[str]) -> str | None:
    """The Python a code cell's source pieces make, magics blanked, one line per source line
    (what the scanner parsed); None for a cell in another language."""
    lines = [sub for piece in pieces for sub in (python_lines(piece) or [""])]
    body = _cell_body([(0, line) for line in lines], NotebookParts())
    return None if body is None else "\n".join(body) + "\n"


def _ipynb_cell(mapped: list[tuple[int, str]], parts: NotebookParts, index: int) -> None:
    """Like :func:`_cell_lines` but the unit's lines need not be consecutive in the file, so
    the unit is scanned with a line table instead of an offset."""
    body = _cell_body(mapped, parts)
    if body is not None:
        parts.units.append(
            PythonSource(
                "\n".join(body) + "\n",
                first_line=1,
                line_map=[n for n, _ in mapped],
                cell=index,
            )
        )
