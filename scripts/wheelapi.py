"""Released wheels, downloaded once and read with griffe: the evidence behind the API rules.

Maintainer tooling only (never imported by ``cockpit``): the scripts beside this file use it to
check what a released package defines. Wheels are fetched with ``pip download --no-deps`` into
``$COCKPIT_MAINT_DIR`` (default ``~/.cache/cockpit-maint``) and unpacked there, so a second run
needs no network. Needs the ``maint`` extra (griffe, mypy).
"""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import griffe

CACHE = Path(os.environ.get("COCKPIT_MAINT_DIR", Path.home() / ".cache" / "cockpit-maint"))

# Distribution -> (import name, platforms to try). torch's Linux wheels on PyPI carry CUDA (GBs);
# its macOS arm64 wheel holds the same Python sources in ~60 MB.
DISTS = {
    "mlflow-skinny": ("mlflow", ("manylinux2014_x86_64",)),
    "numpy": ("numpy", ("manylinux2014_x86_64",)),
    "pandas": ("pandas", ("manylinux2014_x86_64",)),
    "scikit-learn": ("sklearn", ("manylinux2014_x86_64",)),
    "scipy": ("scipy", ("manylinux2014_x86_64",)),
    "pyarrow": ("pyarrow", ("manylinux2014_x86_64",)),
    "torch": ("torch", ("macosx_11_0_arm64",)),
}
# Both runtimes' Pythons: 14.3 LTS ML runs 3.10, 16.4 and 17.3 LTS ML 3.12. Older releases have
# no 3.12 wheels, so 3.10 is the fallback; the Python sources inside are the same either way.
PYTHONS = ("3.12", "3.10")


@dataclass(frozen=True)
class Wheel:
    dist: str
    version: str
    path: Path

    @property
    def sha256(self) -> str:
        return _sha256(self.path)

    def provenance(self) -> dict[str, str]:
        return {"file": self.path.name, "sha256": self.sha256}


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wheel(dist: str, version: str) -> Wheel:
    """The released wheel of ``dist==version``, downloaded on first use."""
    folder = CACHE / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    stem = dist.replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if not found:
        _, platforms = DISTS[dist]
        for python in PYTHONS:
            for platform in platforms:
                cmd = [
                    sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "--python-version", python, "--platform", platform,
                    "-d", str(folder), f"{dist}=={version}",
                ]  # fmt: skip
                if subprocess.run(cmd, capture_output=True, check=False).returncode == 0:
                    break
            found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
            if found:
                break
    if not found:
        raise SystemExit(f"could not download {dist}=={version}")
    return Wheel(dist, version, found[0])


def unpacked(w: Wheel) -> Path:
    target = CACHE / "unpacked" / f"{w.dist}-{w.version}"
    marker = target / ".complete"
    if not marker.exists():
        with zipfile.ZipFile(w.path) as archive:
            archive.extractall(target)
        marker.write_text(w.sha256)
    return target


@cache
def package(dist: str, version: str) -> griffe.Module:
    """The package's API as griffe reads it from the sources (no import, no inspection)."""
    w = wheel(dist, version)
    name, _ = DISTS[dist]
    return griffe.load(
        name,
        search_paths=[str(unpacked(w))],
        allow_inspection=False,
        resolve_aliases=False,
        # Docstrings are not needed and their parsing costs time.
        docstring_parser=None,
    )


def lookup(pkg: griffe.Module, dotted: str) -> griffe.Object | griffe.Alias | None:
    """The object at ``dotted`` (a fully qualified name), following in-package aliases."""
    parts = dotted.split(".")
    if parts[0] != pkg.name:
        return None
    obj: griffe.Object | griffe.Alias = pkg
    for part in parts[1:]:
        try:
            members = obj.all_members if obj.is_class else obj.members
            obj = members[part]
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        except Exception:  # griffe raises a few others on odd inheritance
            return None
    return obj


def resolved(obj):
    try:
        return obj.final_target if obj.is_alias else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def parameters(obj, *, decorated: bool = True) -> tuple[set[str], bool] | None:
    """(names that can be passed by keyword, whether **kwargs is accepted) of a function, or of
    a class's __init__; None when it is neither or cannot be read. ``decorated``: with the
    keywords its decorators accept too (:func:`decorator_keywords`), which is what a call on that
    release can pass; without, the signature as written."""
    target = function_target(obj)
    if target is None:
        return None
    names: set[str] = set()
    var_kw = False
    for p in target.parameters:
        kind = p.kind.value if p.kind is not None else ""
        if kind == "variadic keyword":
            var_kw = True
        elif kind in ("positional or keyword", "keyword-only"):
            names.add(p.name)
    if decorated:
        names |= decorator_keywords(target)
    return names, var_kw


def function_target(obj):
    """The function behind ``obj`` (itself, or a class's __init__), or None."""
    target = resolved(obj)
    if target is None:
        return None
    if target.is_class:
        init = lookup_member(target, "__init__")
        if init is None:
            return None
        target = resolved(init)
        if target is None:
            return None
    return target if target.is_function else None


def decorator_keywords(func) -> set[str]:
    """Keywords that a function's decorators accept on top of its own signature, so an old
    keyword kept working by a decorator is not taken for a removed one. A decorator that keeps an
    old keyword names it in its call (pandas' ``deprecate_kwarg(old_arg_name="quantile", ...)``,
    SciPy's ``_rename_parameter("sample", "data")`` and ``_transition_to_rng("random_state")``,
    click's ``option("--no-conda")``), or its wrapper declares it (MLflow 3's
    ``request_id_backward_compatible``: ``wrapper(*args, request_id=None, **kwargs)``). Either way
    a name may be taken too many (a docstring argument): that only ever drops a rule."""
    out: set[str] = set()
    for decorator in getattr(func, "decorators", None) or ():
        try:
            node = ast.parse(str(decorator.value), mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    name = arg.value.lstrip("-").replace("-", "_")
                    if name.isidentifier():
                        out.add(name)
        path = getattr(decorator, "callable_path", None)
        package = getattr(func, "package", None)
        if path and package is not None:
            out |= _wrapper_keywords(package, path)
    return out


def _wrapper_keywords(pkg, path: str) -> set[str]:
    """Parameter names of the functions defined inside the package's decorator at ``path``."""
    obj = lookup(pkg, path)
    target = resolved(obj) if obj is not None else None
    if target is None or not target.is_function or target.filepath is None:
        return set()
    file = target.filepath if isinstance(target.filepath, Path) else target.filepath[0]
    return set(_nested_parameters(file, target.lineno or 0))


@cache
def _nested_parameters(file: Path, lineno: int) -> tuple[str, ...]:
    if file.suffix != ".py":
        return ()
    tree = ast.parse(file.read_text("utf-8", "replace"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.lineno == lineno:
            names = []
            for inner in ast.walk(node):
                if inner is not node and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    a = inner.args
                    names += [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
            return tuple(names)
    return ()


def lookup_member(cls, name: str):
    try:
        return cls.all_members[name]
    except Exception:
        return None


def dynamic_mention(pkg: griffe.Module, dotted: str) -> str | None:
    """When ``dotted`` is not a static member, the name of the module-level variable that mentions
    it as a string in a module defining ``__getattr__`` (numpy's ``__deprecated_attrs__``, pandas'
    ``__deprecated_num_index_names``, numpy 1.24+'s ``__former_attrs__``), else None."""
    module_path, _, name = dotted.rpartition(".")
    module = lookup(pkg, module_path)
    module = resolved(module) if module is not None else None
    if module is None or not module.is_module or module.filepath is None:
        return None
    path = module.filepath if isinstance(module.filepath, Path) else module.filepath[0]
    if path.suffix != ".py":
        return None
    tree = ast.parse(path.read_text("utf-8", "replace"))
    if not any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in ast.walk(tree)):
        return None
    return _table_for(tree, name)


def _table_for(tree: ast.Module, name: str) -> str | None:
    """The table (module-level variable) holding ``name``; a helper list feeding a dunder table
    (numpy's ``_type_info`` -> ``__former_attrs__``) counts as that table."""
    label = _table_naming(tree, name)
    if label is None:
        return None
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr == "update":
                targets = [func.value]
        value = node.value if isinstance(node, ast.Assign | ast.Expr) else None
        if value is not None and any(
            isinstance(n, ast.Name) and n.id == label for n in ast.walk(value)
        ):
            for target in targets:
                if isinstance(target, ast.Name) and target.id.startswith("__"):
                    return target.id
    return label


def _table_naming(tree: ast.Module, name: str) -> str | None:
    """The module-level variable whose value holds ``name`` as a string."""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.AST | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Attribute) and func.attr in ("update", "extend", "append"):
                targets, value = [func.value], node.value
        if value is None:
            continue
        for sub in ast.walk(value):
            if isinstance(sub, ast.Constant) and sub.value == name:
                for t in targets:
                    base = t.value if isinstance(t, ast.Subscript) else t
                    if isinstance(base, ast.Name):
                        return base.id
        if isinstance(node, ast.Assign):
            for t in targets:
                if (
                    isinstance(t, ast.Subscript)
                    and isinstance(t.slice, ast.Constant)
                    and t.slice.value == name
                    and isinstance(t.value, ast.Name)
                ):
                    return t.value.id
    return None


def griffe_version() -> str:
    from importlib.metadata import version

    return version("griffe")


def module_file(dist: str, version: str, module_path: str) -> Path | None:
    """The source file of a module inside the unpacked wheel (no griffe load needed)."""
    root = unpacked(wheel(dist, version))
    parts = module_path.split(".")
    for candidate in (
        root.joinpath(*parts, "__init__.py"),
        root.joinpath(*parts[:-1], parts[-1] + ".py"),
    ):
        if candidate.is_file():
            return candidate
    return None


def getattr_verdict(dist: str, version: str, module_path: str, name: str) -> str | None:
    """What a module's ``__getattr__`` does for ``name``: "raises" (an expired name kept only for
    its error message), "serves" (still available, usually with a warning) or None (not named)."""
    path = module_file(dist, version, module_path)
    if path is None:
        return None
    tree = ast.parse(path.read_text("utf-8", "replace"))
    # Often defined inside an if/else at module level (numpy), so not only in tree.body.
    getattr_fn = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "__getattr__"),
        None,
    )
    if getattr_fn is None:
        return None
    for node in ast.walk(getattr_fn):
        if isinstance(node, ast.If) and any(
            isinstance(c, ast.Constant) and c.value == name for c in ast.walk(node.test)
        ):
            raises = any(isinstance(s, ast.Raise) for s in node.body)
            returns = any(
                isinstance(s, ast.Return)
                for s in ast.walk(ast.Module(body=node.body, type_ignores=[]))
            )
            if raises and not returns:
                return "raises"
            return "serves"
    # Names kept in module-level tables the __getattr__ consults (numpy 2 keeps its expired
    # names in a sibling module, _expired_attrs_2_0.py).
    trees = [tree] + [
        ast.parse(p.read_text("utf-8", "replace"))
        for p in sorted(path.parent.glob("_expired_attrs*.py"))
    ]
    for each in trees:
        label = _table_for(each, name)
        if label is not None:
            verdict = _table_branch(getattr_fn, label)
            if verdict is not None:
                return verdict
            return "raises" if "former" in label or "expired" in label else "serves"
    return None


def _table_branch(getattr_fn: ast.FunctionDef, label: str) -> str | None:
    """What the ``__getattr__`` does in its ``if name in <label>:`` branch: "serves" (it returns),
    "raises" (it raises, or only warns and falls through to a final raise: numpy 1.26's
    ``__future_scalars__`` warns about ``np.long`` and then raises AttributeError), else None."""
    for node in ast.walk(getattr_fn):
        if not isinstance(node, ast.If) or not any(
            isinstance(n, ast.Name) and n.id == label for n in ast.walk(node.test)
        ):
            continue
        body = ast.Module(body=node.body, type_ignores=[])
        if any(isinstance(s, ast.Return) for s in ast.walk(body)):
            return "serves"
        if any(isinstance(s, ast.Raise) for s in ast.walk(body)):
            return "raises"
        if getattr_fn.body and isinstance(getattr_fn.body[-1], ast.Raise):
            return "raises"
    return None


def module_binds(dist: str, version: str, module_path: str, name: str) -> bool:
    """Whether the module's source binds ``name`` at all (an import of any kind, an assignment,
    a def or class, anywhere at module level including try/if blocks), or has a wildcard import
    that might. The API index keeps only public re-exports; a module that still imports the name
    still serves it as an attribute, so it is not a removal."""
    path = module_file(dist, version, module_path)
    if path is None:
        return False
    tree = ast.parse(path.read_text("utf-8", "replace"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            and node is not tree
        ):
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name == "*" or bound == name:
                    return True
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
            return True
    return False


@dataclass(frozen=True)
class Positional:
    """What can be passed by position to a function, a class's constructor or a method."""

    names: tuple[str, ...]  # in order, without the bound first parameter
    unlimited: bool  # takes *args
    # "self" (an instance method: the receiver is the first argument), "cls", or None.
    bound: str | None
    signature: str  # the parameter list as written, without defaults: "(self, a, /, b, *, c)"
    decorators: tuple[str, ...]  # the decorators as written (a decorator may accept more)


def positional(obj, *, member: bool) -> Positional | None:
    """The positional parameters of ``obj`` (a function or a class), or None when it cannot be
    told from the source: a property, a class with its own ``__new__`` (which may take other
    arguments than ``__init__``), or no readable signature. ``member``: ``obj`` is a class member,
    so a plain function's first parameter is the instance."""
    target = resolved(obj)
    if target is None:
        return None
    func = function_target(target)
    if func is None:
        return None
    labels = set(getattr(func, "labels", ()) or ())
    if "property" in labels or "overload" in labels:
        return None
    # A stub (.pyi) describes a C function's arguments by hand (torch's _VariableFunctions.pyi
    # listed size_average= for binary_cross_entropy_with_logits in 2.0.1, which the C function
    # never took): only signatures from Python sources are evidence.
    filepath = func.filepath[0] if isinstance(func.filepath, list) else func.filepath
    if filepath is None or Path(filepath).suffix != ".py":
        return None
    if target.is_class:
        if lookup_member(target, "__new__") is not None:
            return None
        bound = "init"
    elif not member or "staticmethod" in labels:
        bound = None
    else:
        bound = "cls" if "classmethod" in labels else "self"
    names: list[str] = []
    unlimited = False
    shown: list[str] = []
    seen_kwonly = False
    params = list(func.parameters)
    kinds = [p.kind.value if p.kind is not None else "" for p in params]
    for i, (p, kind) in enumerate(zip(params, kinds, strict=True)):
        if kind == "variadic positional":
            unlimited = True
            shown.append(f"*{p.name}")
            seen_kwonly = True
        elif kind == "variadic keyword":
            shown.append(f"**{p.name}")
        elif kind == "keyword-only":
            if not seen_kwonly:
                shown.append("*")
                seen_kwonly = True
            shown.append(p.name)
        else:
            names.append(p.name)
            shown.append(p.name)
        if kind == "positional-only" and (i + 1 == len(params) or kinds[i + 1] != kind):
            shown.append("/")
    if bound is not None:
        if not names:
            return None  # a method without a first parameter: not something to reason about
        names = names[1:]
    decorators = tuple(str(d.value) for d in getattr(func, "decorators", None) or ())
    return Positional(
        tuple(names),
        unlimited,
        bound if bound in ("self", "cls") else None,
        "(" + ", ".join(shown) + ")",
        decorators,
    )
