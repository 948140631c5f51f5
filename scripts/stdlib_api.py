"""The standard library's API for a given Python version, from typeshed's stubs.

Maintainer tooling only. typeshed is read from mypy's wheel (``mypy/typeshed``) through
``typeshed_client``, which applies ``stdlib/VERSIONS`` and evaluates the stubs'
``sys.version_info`` / ``sys.platform`` guards for the version asked (Linux, as on Databricks).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import mypy
import typeshed_client as tc

TYPESHED = Path(mypy.__file__).parent / "typeshed" / "stdlib"


def typeshed_provenance() -> dict[str, str]:
    from importlib.metadata import version

    return {
        "typeshed": f"the copy inside mypy {version('mypy')} (mypy/typeshed/stdlib)",
        "reader": f"typeshed_client {version('typeshed_client')}",
    }


@cache
def context(version: str) -> tc.SearchContext:
    major, minor = (int(x) for x in version.split(".")[:2])
    # No search path: only typeshed's stdlib, never what happens to be installed.
    return tc.get_search_context(
        typeshed=TYPESHED, search_path=[], version=(major, minor), platform="linux"
    )


@cache
def modules(version: str) -> frozenset[str]:
    """Every stdlib module typeshed has for ``version`` (VERSIONS applied); only stubs under
    typeshed's stdlib folder (the search path would add site-packages)."""
    ctx = context(version)
    out = set()
    for name, path in tc.get_all_stub_files(search_context=ctx):
        if Path(path).resolve().is_relative_to(TYPESHED.resolve()):
            out.add(str(name))
    return frozenset(out)


@cache
def names(version: str, module: str) -> dict | None:
    try:
        return tc.get_stub_names(module, search_context=context(version))
    except Exception:
        return None


def split(version: str, dotted: str) -> tuple[str, list[str]] | None:
    """``gzip.GzipFile.filename`` -> ("gzip", ["GzipFile", "filename"]): the longest module
    prefix that exists for ``version`` (or for 3.10, so removed modules still split)."""
    parts = dotted.split(".")
    known = modules(version) | modules("3.10")
    for cut in range(len(parts), 0, -1):
        head = ".".join(parts[:cut])
        if head in known:
            return head, parts[cut:]
    return None


def present(version: str, dotted: str) -> bool:
    where = split(version, dotted)
    if where is None:
        return False
    module, attrs = where
    if module not in modules(version):
        return False
    table = names(version, module)
    if table is None:
        return False
    if len(attrs) == 2 and isinstance(getattr(table.get(attrs[0]), "ast", None), ast.ClassDef):
        return attrs[1] in class_members(version, module, attrs[0])  # inherited members count
    for attr in attrs:
        info = table.get(attr) if table is not None else None
        if info is None:
            return False
        table = info.child_nodes
    return True


def parameters(version: str, dotted: str) -> tuple[set[str], bool] | None:
    """(keyword-capable parameter names over all overloads, **kwargs accepted) of a function,
    method or class constructor; None when it is none of those."""
    where = split(version, dotted)
    if where is None or where[0] not in modules(version):
        return None
    module, attrs = where
    table = names(version, module)
    info = None
    for attr in attrs:
        if table is None:
            return None
        info = table.get(attr)
        if info is None:
            return None
        table = info.child_nodes
    if info is None:
        return None
    node = info.ast
    if isinstance(node, ast.ClassDef):
        init = (info.child_nodes or {}).get("__init__")
        if init is None:
            return None
        node = init.ast
    defs: list[ast.AST] = []
    if isinstance(node, tc.OverloadedName):
        defs = [
            d for d in node.definitions if isinstance(d, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        defs = [node]
    if not defs:
        return None
    keywords: set[str] = set()
    var_kw = False
    for d in defs:
        a = d.args
        for arg in [*a.args, *a.kwonlyargs]:
            # typeshed's old-style positional-only parameters are spelled __name.
            if not (arg.arg.startswith("__") and not arg.arg.endswith("__")):
                keywords.add(arg.arg)
        if a.kwarg is not None:
            var_kw = True
    keywords.discard("self")
    keywords.discard("cls")
    return keywords, var_kw


def is_class(version: str, dotted: str) -> bool:
    where = split(version, dotted)
    if where is None or where[0] not in modules(version):
        return False
    module, attrs = where
    table = names(version, module)
    info = None
    for attr in attrs:
        if table is None:
            return False
        info = table.get(attr)
        if info is None:
            return False
        table = info.child_nodes
    return info is not None and isinstance(info.ast, ast.ClassDef)


def _resolve_class(version: str, module: str, expr: ast.expr) -> tuple[str, str] | None:
    """(module, class name) that a base-class expression in ``module``'s stub refers to."""
    if isinstance(expr, ast.Subscript):
        return _resolve_class(version, module, expr.value)
    table = names(version, module) or {}
    if isinstance(expr, ast.Name):
        info = table.get(expr.id)
        if info is None:
            return None
        if isinstance(info.ast, ast.ClassDef):
            return module, expr.id
        if isinstance(info.ast, tc.ImportedName) and info.ast.name:
            return ".".join(info.ast.module_name), info.ast.name
        return None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        info = table.get(expr.value.id)
        if info is not None and isinstance(info.ast, tc.ImportedName) and info.ast.name is None:
            return ".".join(info.ast.module_name), expr.attr
        return None
    return None


@cache
def class_members(version: str, module: str, cls: str) -> dict[str, str]:
    """Public members of a class with inheritance: member -> the class path defining it
    (the nearest in the MRO), for classes whose stubs typeshed has."""
    if module not in modules(version):
        return {}
    table = names(version, module) or {}
    info = table.get(cls)
    if info is None or not isinstance(info.ast, ast.ClassDef):
        return {}
    out: dict[str, str] = {}
    for base in reversed(info.ast.bases):
        where = _resolve_class(version, module, base)
        if where is not None and where != (module, cls):
            out.update(class_members(version, *where))
    for name, child in (info.child_nodes or {}).items():
        if not name.startswith("_") and child.is_exported:
            out[name] = f"{module}.{cls}"
    return out
