"""Which distribution an import name comes from: ``sklearn`` is scikit-learn, ``yaml`` is PyYAML.

The table (``data/import_names.json``) is ``importlib.metadata.packages_distributions()`` for the
libraries the bundled runtimes list, read from their released wheels by
``scripts/gen_import_names.py``; a name not in it is its own distribution (PEP 503 normalised),
as for most packages (``mlflow``, ``pandas``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from cockpit.runtimes.manifest import canonicalize_name


@cache
def import_table() -> dict[str, tuple[str, ...]]:
    text = resources.files("cockpit.runtimes").joinpath("data", "import_names.json").read_text()
    return {k: tuple(v) for k, v in json.loads(text)["modules"].items()}


def distributions_for(module: str, known: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The distributions in ``known`` (PEP 503 names, e.g. a runtime's libraries) that provide
    the dotted ``module``: the longest prefix the table lists (``google.protobuf`` before
    ``google``), then the top-level name itself."""
    table = import_table()
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        dists = table.get(".".join(parts[:n]))
        if dists:
            hit = tuple(d for d in dists if d in known)
            if hit:
                return hit
    own = canonicalize_name(parts[0])
    return (own,) if own in known else ()
