"""``cockpit fix``: mechanical rewrites for findings whose rule says it is safe.

* Python (files and Databricks notebook source): renamed APIs (``list_experiments`` ->
  ``search_experiments`` ...), rewritten with libcst so formatting and comments stay as they were.
  Only attribute accesses the scanner resolved are touched; ``from mlflow import
  list_experiments`` would need the local name changed too, so the scanner never marks it fixable.
* Jupyter notebooks (``.ipynb``): the same renames inside code cells, written back by replacing
  only the JSON strings of the changed source lines.
* Bundles (YAML) and job JSON: ``spark_version`` retargeted to the same-flavour key of the target
  runtime, at the exact characters ruamel.yaml located, so comments, order and quoting stay.

Every edit is checked against the text it replaces first; anything that does not match exactly
is left alone and reported, never guessed at.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.compat import sourcefiles
from cockpit.compat.findings import Finding
from cockpit.compat.scan import ScanResult
from cockpit.compat.sourcefiles import python_lines
from cockpit.errors import CockpitError


@dataclass
class FileFix:
    path: str
    before: str
    after: str
    fixed: list[Finding] = field(default_factory=list)
    skipped: list[tuple[Finding, str]] = field(default_factory=list)
    bom: bool = False  # the file starts with a UTF-8 BOM: kept when written back

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.path.lstrip('/')}",
                tofile=f"b/{self.path.lstrip('/')}",
            )
        )


def plan(result: ScanResult) -> list[FileFix]:
    """What `cockpit fix` would change, file by file (nothing is written)."""
    by_path: dict[str, list[Finding]] = {}
    for finding in result.findings:
        if finding.autofix:
            by_path.setdefault(finding.path, []).append(finding)
    fixes = []
    for path, findings in sorted(by_path.items()):
        refusal = _write_refusal(path, result.roots)
        if refusal is not None:
            fix = FileFix(path, "", "")
            fix.skipped = [(f, refusal) for f in findings]
            fixes.append(fix)
            continue
        try:
            # Bytes, decoded by hand: \r\n stays as it is (an untouched line must stay
            # byte-identical), and only what the scanner would read is read.
            text = sourcefiles.read_bytes(path).decode("utf-8")
        except (OSError, UnicodeDecodeError, sourcefiles.NotRead) as exc:
            fix = FileFix(path, "", "")
            why = exc.reason if isinstance(exc, sourcefiles.NotRead) else exc
            fix.skipped = [(f, f"cannot read the file: {why}") for f in findings]
            fixes.append(fix)
            continue
        bom = text.startswith("\ufeff")
        text = text.removeprefix("\ufeff")  # the scanner's columns do not count the BOM
        if path.endswith(".ipynb"):
            fix = _fix_ipynb(path, text, findings)
        elif any("rename" in f.data or "keywords" in f.data for f in findings):
            fix = _fix_python(path, text, findings)
        else:
            fix = _fix_spark_versions(path, text, findings)
        fix.bom = bom
        fixes.append(fix)
    return fixes


def _write_refusal(path: str, roots: list[str]) -> str | None:
    """Why ``path`` must not be rewritten, or None: `fix` writes only inside the scanned roots,
    and never through a symbolic link (the link's target may be anyone's file)."""
    absolute = os.path.abspath(path)
    owner = next(
        (r for r in roots if absolute == r or absolute.startswith(r.rstrip(os.sep) + os.sep)),
        None,
    )
    if owner is None:
        return "outside the scanned folders: not rewritten"
    if sourcefiles.through_link(path, owner):
        return "reached through a symbolic link: not rewritten"
    if not sourcefiles.inside(path, roots):
        return "resolves outside the scanned folders: not rewritten"
    return None


def apply(fixes: list[FileFix]) -> int:
    """Write every changed file atomically; returns how many files were written."""
    written = 0
    for fix in fixes:
        if not fix.changed:
            continue
        target = Path(fix.path)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        except OSError as exc:
            raise CockpitError(
                f"{fix.path}: cannot write next to it ({exc.strerror}); {written} files were "
                "fixed before it, the rest left as they were"
            ) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(("\ufeff" if fix.bom else "") + fix.after)
            os.chmod(tmp, target.stat().st_mode & 0o7777)
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise CockpitError(
                f"{fix.path}: cannot write ({exc.strerror}); {written} files were fixed before "
                "it, the rest left as they were"
            ) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written += 1
    return written


# --------------------------------------------------------------------------- Python (libcst)
def _segments(text: str) -> list[tuple[int, str]]:
    """(first line, text) pieces rewritten independently: the cells of a Databricks notebook
    (so one cell that does not parse does not block the others), or the whole file."""
    from cockpit.compat.notebooks import _COMMAND, is_databricks_source

    if not is_databricks_source(text):
        return [(1, text)]
    pieces: list[tuple[int, str]] = []
    start, current = 1, list[str]()
    for number, line in enumerate(python_lines(text, keepends=True), start=1):
        if _COMMAND.match(line.rstrip("\r\n")):
            pieces.append((start, "".join(current)))
            pieces.append((number, line))  # the separator itself, untouched
            start, current = number + 1, []
        else:
            current.append(line)
    pieces.append((start, "".join(current)))
    return pieces


def _fix_python(path: str, text: str, findings: list[Finding]) -> FileFix:
    fix = FileFix(path, text, text)
    wanted: dict[tuple[int, int], Finding] = {}
    keywords: list[Finding] = []
    for f in findings:
        if "rename" in f.data:
            wanted[(f.data["name_line"], f.data["name_column"])] = f
        elif "keywords" in f.data:
            keywords.append(f)
        else:
            fix.skipped.append((f, "not a rename"))
    # Keywords first, on lines without a rename: inserting text moves the columns after it,
    # never the lines, so the renames' positions stay valid.
    text = _insert_keywords(text, keywords, {line for line, _ in wanted}, fix)
    done: set[tuple[int, int]] = set()
    out = []
    for first, piece in _segments(text):
        end = first + piece.count("\n")
        local = {
            (line - first + 1, column): finding
            for (line, column), finding in wanted.items()
            if first <= line <= end
        }
        if not local:
            out.append(piece)
            continue
        rewritten, hit, error = _rename(piece, local)
        if error:
            fix.skipped += [(f, f"libcst cannot parse it ({error})") for f in local.values()]
        done.update((line + first - 1, column) for line, column in hit)
        out.append(rewritten)
    fix.after = "".join(out)
    for key, finding in wanted.items():
        if key in done:
            fix.fixed.append(finding)
        elif not any(finding is f for f, _ in fix.skipped):
            fix.skipped.append((finding, "the attribute was not where the scan found it"))
    return fix


def _insert_keywords(text: str, findings: list[Finding], busy: set[int], fix: FileFix) -> str:
    """Write ``name=`` before each positional argument that became keyword-only, at the
    positions the scan found (``data["keywords"]``: [[line, column, name], ...]). An argument
    that is not where the scan found it, a line a rename also changes, or a result that no
    longer parses leaves the file as it was, with the reason listed."""
    import ast

    if not findings:
        return text
    lines = python_lines(text, keepends=True)
    edits: list[tuple[int, int, str, Finding]] = []
    for f in findings:
        spots = f.data["keywords"]
        if any(line in busy for line, _, _ in spots):
            fix.skipped.append((f, "a rename on the same line: fix again after this one"))
            continue
        ok = all(
            0 < line <= len(lines)
            and 0 < column <= len(lines[line - 1])
            and lines[line - 1][column - 1] not in " \t,()=\r\n"
            and not lines[line - 1][: column - 1].rstrip().endswith(("=", "*"))
            for line, column, _ in spots
        )
        if not ok:
            fix.skipped.append((f, "the arguments were not where the scan found them"))
            continue
        edits += [(line, column, name, f) for line, column, name in spots]
    # Right to left within a line, so earlier columns stay valid.
    for line, column, name, _ in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        current = lines[line - 1]
        lines[line - 1] = current[: column - 1] + f"{name}=" + current[column - 1 :]
    after = "".join(lines)
    done = list(dict.fromkeys(f for _, _, _, f in edits))
    try:
        ast.parse(after)
    except SyntaxError as exc:
        fix.skipped += [(f, f"the result would not parse ({exc.msg})") for f in done]
        return text
    fix.fixed += done
    return after


def _rename(
    source: str, wanted: dict[tuple[int, int], Finding]
) -> tuple[str, set[tuple[int, int]], str | None]:
    """Rename the attributes at ``wanted`` positions (line, 1-based column) in ``source``."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        return source, set(), exc.message
    done: set[tuple[int, int]] = set()

    class Renamer(cst.CSTTransformer):
        METADATA_DEPENDENCIES = (PositionProvider,)

        def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute):
            start = self.get_metadata(PositionProvider, original.attr).start
            key = (start.line, start.column + 1)
            finding = wanted.get(key)
            if finding is None:
                return updated
            old, new = finding.data["rename"]
            if original.attr.value != old:
                return updated
            done.add(key)
            return updated.with_changes(attr=updated.attr.with_changes(value=new))

    return MetadataWrapper(module).visit(Renamer()).code, done, None


# --------------------------------------------------------------------------- .ipynb
def _fix_ipynb(path: str, text: str, findings: list[Finding]) -> FileFix:
    """Renames inside notebook cells. Each cell is rewritten as the Python the scanner parsed
    (libcst, as for .py), then only the JSON string literals of changed source lines are
    replaced in the file, so outputs, metadata and the file's own formatting stay byte for byte.
    The result must load as the original notebook with only those lines changed, or nothing is
    written."""
    import copy
    import json

    from cockpit.compat.notebooks import code_cell_pieces, ipynb_cell_unit, source_literals

    fix = FileFix(path, text, text)
    by_cell: dict[int, dict[tuple[int, int], Finding]] = {}
    for f in findings:
        if "rename" in f.data and "cell" in f.data:
            key = (f.data["cell_line"], f.data["name_column"])
            by_cell.setdefault(f.data["cell"], {})[key] = f
        else:
            fix.skipped.append((f, "not a rename in a notebook cell"))
    try:
        data = json.loads(text)
        cells = data["cells"]
        if not isinstance(cells, list):
            raise TypeError("'cells' is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        fix.skipped += [
            (f, f"not a notebook ({exc})") for c in by_cell.values() for f in c.values()
        ]
        return fix
    wanted_data = copy.deepcopy(data)
    new_pieces: dict[int, list[str]] = {}
    for index, wanted in sorted(by_cell.items()):
        pieces = code_cell_pieces(cells[index] if 0 <= index < len(cells) else None)
        unit = ipynb_cell_unit(pieces) if pieces is not None else None
        if pieces is None or unit is None:
            fix.skipped += [(f, "the cell is not where the scan found it") for f in wanted.values()]
            continue
        rewritten, hit, error = _rename(unit, wanted)
        if error:
            fix.skipped += [(f, f"libcst cannot parse it ({error})") for f in wanted.values()]
            continue
        fix.fixed += [f for key, f in wanted.items() if key in hit]
        fix.skipped += [
            (f, "the attribute was not where the scan found it")
            for key, f in wanted.items()
            if key not in hit
        ]
        new_pieces[index] = _replace_lines(pieces, unit.split("\n"), rewritten.split("\n"))
        source = wanted_data["cells"][index]["source"]
        wanted_data["cells"][index]["source"] = (
            new_pieces[index] if isinstance(source, list) else "".join(new_pieces[index])
        )
    # Each changed source string is replaced at its own literal in the file (found as the scan
    # found it), re-encoded the way the file wrote it.
    edits = [
        (lit.offset, lit.literal, json.dumps(after, ensure_ascii=lit.ascii_only))
        for lit in source_literals(text, cells)
        if lit.cell in new_pieces
        and lit.offset >= 0
        and (after := new_pieces[lit.cell][lit.piece]) != lit.text
    ]
    after_text = text
    for offset, old, new in sorted(edits, reverse=True):
        after_text = after_text[:offset] + new + after_text[offset + len(old) :]
    try:
        placed = json.loads(after_text) == wanted_data
    except ValueError:
        placed = False
    if not placed:
        fix.skipped += [(f, "could not place the edit in the file safely") for f in fix.fixed]
        fix.fixed = []
        return fix
    fix.after = after_text
    return fix


def _replace_lines(pieces: list[str], before: list[str], after: list[str]) -> list[str]:
    """``pieces`` with each changed unit line replaced in place, line endings kept. Unit lines
    are the pieces' lines in order (``ipynb_cell_unit``); a rename never adds or removes one."""
    out, line = [], 0
    for piece in pieces:
        parts = python_lines(piece, keepends=True)
        for i, part in enumerate(parts):
            body = part.rstrip("\r\n")
            if line < len(after) and before[line] != after[line] and body == before[line]:
                parts[i] = after[line] + part[len(body) :]
            line += 1
        line += 0 if parts else 1  # an empty piece still counted as one unit line
        out.append("".join(parts))
    return out


# --------------------------------------------------------------------------- YAML / JSON
def _fix_spark_versions(path: str, text: str, findings: list[Finding]) -> FileFix:
    fix = FileFix(path, text, text)
    lines = text.splitlines(keepends=True)
    edits: dict[tuple[int, int], tuple[str, str, list[Finding]]] = {}
    for f in findings:
        old, new = f.data.get("old"), f.data.get("new")
        if not old or not new:
            fix.skipped.append((f, "no safe target value"))
            continue
        key = (f.line, f.column)
        if key in edits:
            edits[key][2].append(f)  # one variable default shared by several jobs
        else:
            edits[key] = (old, new, [f])
    # Right to left within a line, so earlier columns stay valid.
    for (line, column), (old, new, items) in sorted(edits.items(), reverse=True):
        index = line - 1
        if not 0 <= index < len(lines):
            fix.skipped += [(f, "line out of range") for f in items]
            continue
        current = lines[index]
        start = column - 1
        if current[start : start + 1] in ("'", '"'):
            start += 1
        if current[start : start + len(old)] != old:
            fix.skipped += [(f, f"expected {old!r} at {line}:{column}") for f in items]
            continue
        lines[index] = current[:start] + new + current[start + len(old) :]
        fix.fixed += items
    fix.after = "".join(lines)
    return fix
