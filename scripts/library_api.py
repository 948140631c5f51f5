"""A library release's public API as an index of dotted paths, read with griffe from its wheel.

Maintainer tooling only. Public means: a module path with no ``_`` component (up to a depth per
library), names a module defines without a leading underscore, names it re-exports through
``__all__`` (or, in a package's ``__init__``, imports from inside the package), and the public
members of public classes, inherited ones included. Functions and constructors also record the
parameters that can be passed by keyword and whether ``**kwargs`` is accepted, so removed
keyword arguments can be diffed too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import griffe
import wheelapi


@dataclass
class Entry:
    kind: str  # module, class, function, attribute
    params: list[str] | None = None
    var_kw: bool = False
    getattr_module: bool = False  # a module with a __getattr__ (names may be served dynamically)
    # Keywords its decorators accept on top of ``params`` (an old keyword a decorator still maps
    # to the new one: pandas' deprecate_kwarg, SciPy's _rename_parameter, MLflow 3's request_id).
    extra: list[str] | None = None
    # What can be passed by position (wheelapi.positional): the names in order without the
    # bound self/cls, whether *args is taken, which first parameter is bound, the parameter list
    # as written and the decorators. None when it cannot be told from the source.
    positional: list[str] | None = None
    var_pos: bool = False
    bound: str | None = None
    signature: str | None = None
    decorators: list[str] | None = None

    def takes(self, keyword: str) -> bool:
        return keyword in (self.params or ()) or keyword in (self.extra or ())


def _exports(module) -> set[str] | None:
    try:
        exports = module.exports
    except Exception:
        return None
    if exports is None:
        return None
    return {str(getattr(e, "name", e)) for e in exports}


def _params(obj) -> tuple[list[str] | None, bool, list[str] | None]:
    """(params, var_kw, extra) for an Entry: the signature as written, and what its decorators
    add, kept apart so that a decorator of the older release never makes a removal."""
    got = wheelapi.parameters(obj, decorated=False)
    if got is None:
        return None, False, None
    target = wheelapi.function_target(obj)
    extra = sorted(wheelapi.decorator_keywords(target) - got[0]) if target is not None else []
    return sorted(got[0]), got[1], extra or None


def _positional(obj, member: bool) -> dict:
    got = wheelapi.positional(obj, member=member)
    if got is None:
        return {}
    return {
        "positional": list(got.names),
        "var_pos": got.unlimited,
        "bound": got.bound,
        "signature": got.signature,
        "decorators": list(got.decorators) or None,
    }


def build_index(
    dist: str, version: str, depth: int, roots: tuple[str, ...] | None
) -> dict[str, Entry]:
    pkg = wheelapi.package(dist, version)
    index: dict[str, Entry] = {}

    def add_class(path: str, cls) -> None:
        try:
            members = dict(cls.all_members)
        except Exception:
            members = dict(cls.members)
        for name, member in members.items():
            if name.startswith("_"):
                continue
            target = wheelapi.resolved(member)
            if target is None:
                index[f"{path}.{name}"] = Entry("attribute")
                continue
            if target.is_function:
                params, var_kw, extra = _params(target)
                index[f"{path}.{name}"] = Entry(
                    "function", params, var_kw, extra=extra, **_positional(target, True)
                )
            else:
                index[f"{path}.{name}"] = Entry("attribute")

    def visit_module(path: str, module, level: int) -> None:
        has_getattr = "__getattr__" in module.members
        index[path] = Entry("module", getattr_module=has_getattr)
        exports = _exports(module)
        is_init = module.is_init_module if hasattr(module, "is_init_module") else False
        for name, member in list(module.members.items()):
            if name.startswith("_"):
                continue
            sub = f"{path}.{name}"
            if member.is_alias:
                in_package = str(member.target_path).startswith(pkg.name + ".")
                # A package's __init__ re-exports what it imports from inside the package (its
                # __all__ is often built dynamically, which griffe cannot always follow).
                public = (exports is not None and name in exports) or (is_init and in_package)
                if not public:
                    continue
                target = wheelapi.resolved(member)
                if target is None:
                    index[sub] = Entry("attribute")  # e.g. a name from a compiled module
                    continue
                if target.is_module:
                    continue  # reached through its own path
                member = target
            if member.is_module:
                if level < depth and (
                    roots is None
                    or any(
                        sub == r or sub.startswith(r + ".") or r.startswith(sub + ".")
                        for r in roots
                    )
                ):
                    visit_module(sub, member, level + 1)
                continue
            if member.is_class:
                params, var_kw, extra = _params(member)
                index[sub] = Entry(
                    "class", params, var_kw, extra=extra, **_positional(member, False)
                )
                add_class(sub, member)
            elif member.is_function:
                params, var_kw, extra = _params(member)
                index[sub] = Entry(
                    "function", params, var_kw, extra=extra, **_positional(member, False)
                )
            else:
                index[sub] = Entry("attribute")

    visit_module(pkg.name, pkg, 0)
    return index


def cached_index(
    dist: str, version: str, depth: int, roots: tuple[str, ...] | None
) -> dict[str, Entry]:
    # v2: entries record the keywords decorators accept (``extra``); v3: what can be passed by
    # position (``positional``). Older caches lack them.
    key = f"{dist}-{version}-d{depth}-{'_'.join(roots or ('all',))}-v3"
    path = wheelapi.CACHE / "index" / f"{key}.json"
    if path.exists():
        return {k: Entry(**v) for k, v in json.loads(path.read_text()).items()}
    index = build_index(dist, version, depth, roots)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({k: v.__dict__ for k, v in index.items()}))
    return index


def module_source(dist: str, version: str, module_path: str) -> Path | None:
    pkg = wheelapi.package(dist, version)
    module = wheelapi.lookup(pkg, module_path)
    module = wheelapi.resolved(module) if module is not None else None
    if module is None or not module.is_module or module.filepath is None:
        return None
    return module.filepath if isinstance(module.filepath, Path) else module.filepath[0]


__all__ = ["Entry", "build_index", "cached_index", "griffe"]
