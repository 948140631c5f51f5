"""The runtime diff joined with the scans: for each library, the pipelines that import or pin
it, with one place each does (``cockpit runtimes diff --used-by``, the Runtime diff tab's "used
by" column, the report's runtime section)."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.compat.records import StoredUse
from cockpit.runtimes.diff import RuntimeDiff
from cockpit.runtimes.import_names import distributions_for


@dataclass(frozen=True)
class UseSite:
    pipeline_id: str
    pipeline: str
    kind: str  # "import" or "pin"
    module: str  # what the code imports ("sklearn.ensemble") or the name pinned
    path: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def to_json(self) -> dict[str, object]:
        return {
            "pipeline": self.pipeline,
            "pipeline_id": self.pipeline_id,
            "kind": self.kind,
            "module": self.module,
            "path": self.path,
            "line": self.line,
        }


def used_by(diff: RuntimeDiff, uses: list[StoredUse]) -> dict[str, tuple[UseSite, ...]]:
    """Library name -> one site per pipeline using it (an import before a pin, then the first
    by path and line), pipelines sorted by name. Libraries nobody uses are absent."""
    known = frozenset(lib.name for lib in diff.libraries)
    best: dict[tuple[str, str], UseSite] = {}
    for use in uses:
        dists = (
            distributions_for(use.name, known)
            if use.kind == "import"
            else ((use.name,) if use.name in known else ())
        )
        site = UseSite(use.pipeline_id, use.pipeline, use.kind, use.name, use.path, use.line)
        for dist in dists:
            key = (dist, use.pipeline_id)
            old = best.get(key)
            if old is None or _rank(site) < _rank(old):
                best[key] = site
    out: dict[str, list[UseSite]] = {}
    for (dist, _pipeline), site in best.items():
        out.setdefault(dist, []).append(site)
    return {
        dist: tuple(sorted(sites, key=lambda s: (s.pipeline, s.pipeline_id)))
        for dist, sites in sorted(out.items())
    }


def _rank(site: UseSite) -> tuple[int, str, int]:
    return (0 if site.kind == "import" else 1, site.path, site.line)


def used_by_label(sites: tuple[UseSite, ...], width: int | None = None) -> str:
    """ "kyros-churn-train, kyros-forecast +2" style: the pipelines, shortened to ``width``."""
    names = [s.pipeline for s in sites]
    text = ", ".join(names)
    if width is None or len(text) <= width:
        return text
    shown: list[str] = []
    for name in names:
        rest = len(names) - len(shown) - 1
        candidate = ", ".join([*shown, name]) + (f" +{rest}" if rest else "")
        if len(candidate) > width and shown:
            break
        shown.append(name)
    rest = len(names) - len(shown)
    return ", ".join(shown) + (f" +{rest}" if rest else "")
