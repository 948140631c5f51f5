"""Read the expected findings written into the functional samples."""

from __future__ import annotations

import re
from pathlib import Path

EXPECT = re.compile(r"expect:\s*([A-Z]+\d+(?:\s*,\s*[A-Z]+\d+)*)")
SAMPLES = Path(__file__).resolve().parent / "samples"


def expected_findings(folder: Path) -> set[tuple[str, int, str]]:
    """(path relative to ``folder``, line, code) for every inline ``expect:`` and sidecar row."""
    out: set[tuple[str, int, str]] = set()
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name in ("crossing.txt", "README.md"):
            continue
        rel = path.relative_to(folder).as_posix()
        if path.name.endswith(".expected"):
            target = rel.removesuffix(".expected")
            for row in path.read_text().splitlines():
                if row.strip():
                    line, code = row.split()
                    out.add((target, int(line), code))
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), start=1):
            match = EXPECT.search(line)
            if match:
                for code in match.group(1).split(","):
                    out.add((rel, number, code.strip()))
    return out


def crossing_args(folder: Path) -> tuple[str, str, str | None]:
    parts = (folder / "crossing.txt").read_text().split()
    return parts[0], parts[1], parts[2] if len(parts) > 2 else None


def sample_folders() -> list[Path]:
    return sorted(p for p in SAMPLES.iterdir() if (p / "crossing.txt").is_file())
