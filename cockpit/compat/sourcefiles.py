"""Reading and finding files of a scanned tree, bounded and confined.

A scanned tree is outside input: a FIFO named ``x.py`` would block ``read()`` for ever, a link
``z.py -> /dev/zero`` never ends, a 1 GB file would be read whole, a link loop raises ELOOP, and a
bundle's ``include: ["../s/*.yml"]`` or ``["/usr/lib/**"]`` points outside the bundle. So:

- only regular files are read (checked with ``stat`` before opening and ``fstat`` after, the open
  non-blocking so even a FIFO swapped in between cannot hang), at most ``max_bytes`` of them;
- Python is decoded as Python decodes it (``tokenize.detect_encoding``: a UTF-8 BOM or a
  ``# -*- coding: latin-1 -*-`` cookie), everything else as UTF-8;
- include globs are matched by walking the bundle root without following links, with a budget
  on entries visited, and every match must resolve inside the root.
"""

from __future__ import annotations

import errno
import fnmatch
import io
import os
import re
import stat
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

# Notebooks with embedded outputs are the largest sources in practice (a few MB); 16 MiB leaves
# room while keeping a hostile file from costing more than that much memory.
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
# Entries an include glob may visit before it is given up (a bundle has hundreds of files).
GLOB_VISIT_BUDGET = 50_000

_KINDS = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a folder"),
)


class NotRead(Exception):
    """The file was deliberately not read (not a regular file, over the size cap, a link loop,
    outside the root). ``reason`` is one line for a finding."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def read_bytes(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The file's bytes if it is a regular file of at most ``max_bytes``; else :class:`NotRead`.

    Other failures (permission, vanished) stay ``OSError`` for the caller's own message."""
    try:
        st = os.stat(path)  # follows links: a link to /dev/zero is judged by what it points at
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRead("a symbolic link loop: not read") from None
        raise
    if not stat.S_ISREG(st.st_mode):
        raise NotRead(f"{_kind(st.st_mode)}, not a regular file: not read")
    if st.st_size > max_bytes:
        raise NotRead(_over_cap(st.st_size, max_bytes))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)  # what was opened, in case the path was swapped after the stat
        if not stat.S_ISREG(st.st_mode):
            raise NotRead(f"{_kind(st.st_mode)}, not a regular file: not read")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:  # grew since the stat
        raise NotRead(_over_cap(size, max_bytes))
    return b"".join(chunks)


def _over_cap(size: int, cap: int) -> str:
    return (
        f"{size:,} bytes, over the {cap:,}-byte scan cap: not read "
        "(raise it with --max-file-bytes or [pipelines] max_file_bytes)"
    )


def decode(data: bytes, *, python: bool) -> str:
    """Text as Python reads a source file (BOM, coding cookie), or UTF-8 for other formats.

    Raises UnicodeDecodeError / SyntaxError (an unknown cookie) like the callers expect."""
    if not python:
        return data.decode("utf-8")
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    # "utf-8-sig" (detected from a BOM) drops the BOM, as the interpreter does.
    return data.decode(encoding)


def read_text(
    path: str | os.PathLike[str], *, python: bool, max_bytes: int = DEFAULT_MAX_BYTES
) -> str:
    return decode(read_bytes(path, max_bytes), python=python)


# ------------------------------------------------------------------------------- confinement
def inside(path: str | os.PathLike[str], roots: list[str]) -> bool:
    """True when ``path`` resolves (links followed) to a place inside one of ``roots``
    (themselves resolved)."""
    real = os.path.realpath(path)
    for root in roots:
        base = os.path.realpath(root)
        if real == base or real.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def through_link(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """True when ``path`` itself, or a folder between ``root`` (which may be a link the user
    named) and it, is a symbolic link."""
    current = Path(os.path.abspath(path))
    stop = Path(os.path.abspath(root))
    if current.is_symlink():
        return True
    while current != stop and current.parent != current:
        current = current.parent
        if current != stop and current.is_symlink():
            return True
    return False


def python_lines(text: str, *, keepends: bool = False) -> list[str]:
    """``text`` split where Python ends a line ("\n", "\r\n", "\r") and nowhere else:
    ``str.splitlines`` also splits on form feed, U+0085, U+2028 and friends, which Python keeps
    inside a line (and inside string literals), so line numbers drift from the interpreter's."""
    lines = _PY_LINE.findall(text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


_PY_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


# ------------------------------------------------------------------------------ bounded glob
@dataclass
class GlobResult:
    matches: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path or pattern, reason)


def _segment_regex(segment: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(segment))


def confined_glob(root: str, pattern: str, budget: int = GLOB_VISIT_BUDGET) -> GlobResult:
    """Files under ``root`` matching ``pattern`` (``*``, ``?``, ``[..]``, ``**``), as
    ``glob.glob(root/pattern, recursive=True)`` would find them, but confined and bounded:
    an absolute pattern or one with ``..`` is refused; folders are walked without following
    links; a match that resolves outside ``root`` is refused; at most ``budget`` entries are
    visited."""
    out = GlobResult()
    parts = [p for p in pattern.replace("\\", "/").split("/") if p not in ("", ".")]
    if pattern.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", pattern) or ".." in parts:
        out.refused.append((pattern, "points outside the bundle root: not read"))
        return out
    if not parts:
        return out
    # The literal folders before the first wildcard: walk only from there.
    fixed: list[str] = []
    for part in parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    start = os.path.join(root, *fixed) if fixed else root
    rest = parts[len(fixed) :]
    real_root = os.path.realpath(root)
    if not rest:  # no wildcard: one path
        candidates = [start] if os.path.lexists(start) else []
    else:
        candidates = []
        regexes = [None if p == "**" else _segment_regex(p) for p in rest]
        deep = "**" in rest
        visited = 0
        for folder, dirs, names in os.walk(start, followlinks=False):
            visited += len(dirs) + len(names)
            if visited > budget:
                out.refused.append(
                    (pattern, f"visits over {budget:,} entries: given up, nothing matched read")
                )
                return GlobResult(refused=out.refused)
            rel = os.path.relpath(folder, start)
            depth = 0 if rel == "." else rel.count(os.sep) + 1
            if not deep and depth >= len(rest) - 1:
                dirs[:] = []  # deeper folders cannot match a pattern without **
            dirs.sort()
            for name in sorted(names):
                rel_parts = ([] if rel == "." else rel.split(os.sep)) + [name]
                if _match(rel_parts, regexes, rest):
                    candidates.append(os.path.join(folder, name))
    for candidate in sorted(candidates):
        shown = os.path.normpath(candidate).replace(os.sep, "/")
        if not inside(candidate, [real_root]):
            out.refused.append((shown, "resolves outside the bundle root: not read"))
        else:
            out.matches.append(shown)
    return out


def _match(names: list[str], regexes: list, raw: list[str]) -> bool:
    """``names`` (path segments) against pattern segments, ``None`` standing for ``**``.
    Like glob, a wildcard does not match a name starting with "." unless the pattern does."""
    if not regexes:
        return not names
    if regexes[0] is None:  # **: zero or more folders
        if _match(names, regexes[1:], raw[1:]):
            return True
        return bool(names) and not names[0].startswith(".") and _match(names[1:], regexes, raw)
    if not names:
        return False
    if names[0].startswith(".") and not raw[0].startswith("."):
        return False
    return bool(regexes[0].match(names[0])) and _match(names[1:], regexes[1:], raw[1:])
