"""Generate cockpit/runtimes/data/import_names.json: which distribution each top-level import name
comes from, for every library the bundled runtime manifests list (``import sklearn`` is
scikit-learn, ``import yaml`` is PyYAML), as ``importlib.metadata.packages_distributions()`` says
for installed packages.

    python scripts/gen_import_names.py [SIMPLE_INDEX_DIR ...] [--python PYTHON ...]

Two inputs, merged:
1. released wheels of those libraries, found in local PEP 503 "simple" indexes (a folder per
   project with an index.html linking the files): each wheel's ``top_level.txt``, else the
   top-level entries of its ``RECORD`` (what ``packages_distributions()`` reads once installed);
2. ``packages_distributions()`` of the given interpreters (virtualenvs that have them installed).
Only distributions a bundled manifest lists are kept; names equal to their distribution's PEP 503
name are left out (the lookup falls back to the name itself). The scan reads only the JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "cockpit" / "runtimes" / "data"
OUT = DATA / "import_names.json"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def manifest_names() -> set[str]:
    names: set[str] = set()
    for path in DATA.glob("*-lts*.json"):
        names |= set(json.loads(path.read_text())["python_libraries"])
    return names


def wheel_of(index: Path, name: str) -> Path | None:
    page = index / name / "index.html"
    if not page.is_file():
        return None
    links = re.findall(r'href="([^"#]+\.whl)', page.read_text())
    if not links:
        return None
    path = Path(unquote(urljoin(page.as_uri(), links[-1])).removeprefix("file://"))
    return path if path.is_file() else None


def top_level(wheel: Path) -> set[str]:
    """Import names a wheel installs, from its RECORD: top-level packages and modules, and for a
    namespace package (a top folder without ``__init__.py``: google, azure, databricks) the
    packages one level down ("google.protobuf"), since the top name alone says nothing."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
    packages: dict[str, set[str]] = {}
    out: set[str] = set()
    for entry in names:
        parts = entry.split("/")
        first = parts[0]
        if first.endswith((".dist-info", ".data")) or first.startswith("."):
            continue
        if len(parts) == 1:
            stem = first.split(".")[0]
            if first.endswith((".py", ".so", ".pyd")) and stem.isidentifier():
                out.add(stem)
            continue
        packages.setdefault(first, set()).add("/".join(parts[1:]))
    for top, inner in packages.items():
        if not top.isidentifier():
            continue
        if "__init__.py" in inner or any(i.startswith("__init__.") for i in inner):
            out.add(top)
            continue
        subs = {i.split("/")[0] for i in inner if "/" in i}
        subs |= {i.split(".")[0] for i in inner if "/" not in i and i.endswith((".py", ".so"))}
        out |= {f"{top}.{s}" for s in subs if s.isidentifier()} or {top}
    return out


# Distributions in the manifests with no wheel in the local indexes, whose import name differs
# from their own name, as each project documents it.
CURATED = {
    "imblearn": (["imbalanced-learn"], "https://imbalanced-learn.org/stable/install.html"),
    "snappy": (["python-snappy"], "https://github.com/intake/python-snappy#usage"),
    "tree": (["dm-tree"], "https://github.com/google-deepmind/tree#usage"),
}

PROBE = (
    "import json; from importlib.metadata import packages_distributions as p; "
    "print(json.dumps(p()))"
)


def main(argv: list[str]) -> int:
    indexes, pythons = [], []
    it = iter(argv)
    for arg in it:
        if arg == "--python":
            pythons.append(next(it))
        else:
            indexes.append(Path(arg))
    wanted = manifest_names()
    modules: dict[str, set[str]] = {}
    seen_dists: set[str] = set()
    for name in sorted(wanted):
        for index in indexes:
            wheel = wheel_of(index, name)
            if wheel is not None:
                seen_dists.add(name)
                for module in top_level(wheel):
                    modules.setdefault(module, set()).add(name)
                break
    for python in pythons:
        found = json.loads(
            subprocess.run([python, "-c", PROBE], capture_output=True, text=True, check=True).stdout
        )
        for module, dists in found.items():
            for dist in dists:
                if canonical(dist) in wanted and module.isidentifier():
                    seen_dists.add(canonical(dist))
                    modules.setdefault(module, set()).add(canonical(dist))
    for module, (dists, _source) in CURATED.items():
        modules.setdefault(module, set()).update(d for d in dists if d in wanted)
    kept = {
        m: sorted(d)
        for m, d in sorted(modules.items())
        if not m.startswith("_") and d != {canonical(m)}
    }
    OUT.write_text(
        json.dumps(
            {
                "about": "top-level import name -> distributions providing it (PEP 503 names), "
                "from the released wheels' top_level.txt / RECORD and importlib.metadata."
                "packages_distributions(); generated by scripts/gen_import_names.py. Names "
                "that equal their distribution's name are not listed.",
                "generated": datetime.now(UTC).strftime("%Y-%m-%d"),
                "distributions_read": len(seen_dists),
                "distributions_listed": len(wanted),
                "modules": kept,
                "curated_sources": {m: src for m, (_d, src) in CURATED.items()},
            },
            indent=1,
            sort_keys=False,
        )
        + "\n"
    )
    print(f"{OUT}: {len(kept)} import names from {len(seen_dists)}/{len(wanted)} distributions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
