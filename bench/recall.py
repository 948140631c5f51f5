"""Recall of `cockpit check` on a corpus of Kyros-era (MLflow 1.x, DBR 14.3) pipeline code that the
test suite does not contain, and its blocking findings on modern code with look-alike names.

The legacy corpus marks each line that breaks on DBR 16.4 LTS ML with a `# breaks: why` comment,
written before the scan was run (the scanner ignores comments). With the default configuration
(14.3-lts-ml -> 16.4-lts-ml, no --mlflow-from):

* recall: marked lines with at least one blocking finding on them / marked lines;
* blocking findings on unmarked lines of the legacy corpus (listed: each is a false alarm or a
  break the corpus author missed);
* blocking findings on the modern corpus (target: none).

    .venv/bin/python bench/recall.py [--corpus bench/corpus]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cockpit.compat.rules import build_crossing  # noqa: E402
from cockpit.compat.scan import Scanner  # noqa: E402

MARK = "# breaks:"


def marked(root: Path) -> dict[tuple[str, int], str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".txt"):
            for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
                if MARK in line:
                    out[(path.relative_to(root).as_posix(), number)] = line.split(MARK, 1)[
                        1
                    ].strip()
    return out


def scan(root: Path):
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return Scanner(crossing).scan_paths(["."])
    finally:
        os.chdir(cwd)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(REPO / "bench" / "corpus"))
    args = parser.parse_args()
    legacy, modern = Path(args.corpus) / "kyros_1x", Path(args.corpus) / "modern"
    expected = marked(legacy)
    result = scan(legacy)
    blocking = {}
    for f in result.findings:
        if f.severity == "blocking":
            blocking.setdefault((f.path, f.line), []).append(f.code)
    hit = [k for k in expected if k in blocking]
    missed = [k for k in expected if k not in blocking]
    extra = {k: v for k, v in blocking.items() if k not in expected}
    files = len({p for p, _ in expected})
    print(
        f"legacy corpus: {len(result.files)} files, {len(expected)} marked breaking lines in {files} files"
    )
    print(
        f"recall: {len(hit)}/{len(expected)} = {100 * len(hit) / len(expected):.1f}%  (target >= 95%)"
    )
    for key in missed:
        print(f"  missed {key[0]}:{key[1]}  ({expected[key]})")
    print(f"blocking findings on unmarked legacy lines: {len(extra)}")
    for (path, line), codes in sorted(extra.items()):
        print(f"  {path}:{line} {','.join(codes)}")
    modern_result = scan(modern)
    modern_blocking = [f for f in modern_result.findings if f.severity == "blocking"]
    print(
        f"modern corpus: {len(modern_result.files)} files, {len(modern_blocking)} blocking findings (target 0)"
    )
    for f in modern_blocking:
        print(f"  {f.path}:{f.line} {f.code} {f.message[:100]}")
    others = [f for f in modern_result.findings if f.severity != "blocking"]
    print(f"  (non-blocking findings there: {len(others)}: {sorted({f.code for f in others})})")
    ok = len(hit) >= 0.95 * len(expected) and not modern_blocking
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
