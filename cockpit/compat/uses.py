"""What pipelines use: the modules their code imports and the packages they pin.

Collected by the scanner alongside findings (one :class:`Use` per import statement or
requirement line), rolled up per pipeline like findings, stored per scan (``compat_uses``), and
joined with a runtime diff by :mod:`cockpit.compat.impact` ("which changed library does which
pipeline use, and where").
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

IMPORT, PIN = "import", "pin"
# The fields that hold statements (of modules, statements, except handlers and match cases).
_BODIES = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


@dataclass(frozen=True)
class Use:
    name: str  # the module imported ("sklearn.ensemble"), or the PEP 503 name pinned
    kind: str  # IMPORT or PIN
    path: str
    line: int  # 1-based, in the file
    job: str | None = None  # "job:<key>" style key for a job's own library specs, as findings


def imports_in(tree: ast.AST, path: str, file_line: Callable[[int], int]) -> list[Use]:
    """Absolute imports in ``tree``, the first of each module (relative imports are the project's
    own code). Dotted names are kept whole: ``google.protobuf`` and ``google.auth`` come from
    different distributions."""
    out: list[Use] = []
    seen: set[str] = set()
    # Breadth-first like ast.walk, but only through statement lists: an import is a statement,
    # so it only ever sits in a body (or a handler's or match case's), never in an expression.
    # Walking every expression node cost as much as the rest of the scan (bench/scan.py).
    queue = deque([tree])
    while queue:
        node = queue.popleft()
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module] if not node.level and node.module else []
        else:
            for field in node._fields:
                if field in _BODIES:
                    queue.extend(getattr(node, field))
            continue
        for module in modules:
            if module and module not in seen:
                seen.add(module)
                out.append(Use(module, IMPORT, path, file_line(node.lineno)))
    return out
