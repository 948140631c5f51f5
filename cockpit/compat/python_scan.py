"""Python source scanner: resolves imports, aliases and instances with ``ast``, then matches the
catalog's ``symbols``, ``modules`` and ``kwargs``.

Resolution is deliberately simple and flow-insensitive within a file: one namespace per file
(not per function), bindings applied in source order. That is enough for pipeline code
(``import mlflow as mf``, ``from mlflow.tracking import MlflowClient as C; C().list_experiments()``,
``self.client = MlflowClient()`` in ``__init__`` used in another method) and keeps the scan close
to the cost of parsing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cockpit.compat.findings import Finding, make
from cockpit.compat.rules import Rule, catalog
from cockpit.compat.sourcefiles import python_lines
from cockpit.compat.uses import Use, imports_in

# Public re-exports of one class: every spelling is folded to the first, which the rules use.
CANONICAL = {
    "mlflow.tracking.MlflowClient": "mlflow.MlflowClient",
    "mlflow.tracking.client.MlflowClient": "mlflow.MlflowClient",
    "mlflow.client.MlflowClient": "mlflow.MlflowClient",
    "pandas.core.frame.DataFrame": "pandas.DataFrame",
    "pandas.core.series.Series": "pandas.Series",
}
# What calling a name returns, so ``df = pd.read_csv(...); df.append(...)`` resolves.
RETURNS = {
    "mlflow.MlflowClient": "mlflow.MlflowClient",
    "pandas.DataFrame": "pandas.DataFrame",
    "pandas.Series": "pandas.Series",
    "pandas.read_csv": "pandas.DataFrame",
    "pandas.read_parquet": "pandas.DataFrame",
    "pandas.read_json": "pandas.DataFrame",
    "pandas.read_sql": "pandas.DataFrame",
    "pandas.read_excel": "pandas.DataFrame",
    "pandas.concat": "pandas.DataFrame",
    "configparser.ConfigParser": "configparser.ConfigParser",
    # Removed in 3.12 itself (PY304), but until then a subclass of ConfigParser that adds nothing:
    # ``SafeConfigParser().readfp(f)`` calls ConfigParser.readfp, also gone (PYS031).
    "configparser.SafeConfigParser": "configparser.ConfigParser",
}
# Methods whose result type is known whatever the receiver (Spark DataFrame -> pandas).
METHOD_RETURNS = {"toPandas": "pandas.DataFrame", "to_pandas": "pandas.DataFrame"}
# Methods that return the same kind of object as their receiver, so chains keep their type.
SAME_TYPE_METHODS = frozenset(
    {
        "append",
        "assign",
        "astype",
        "copy",
        "drop",
        "drop_duplicates",
        "dropna",
        "fillna",
        "head",
        "merge",
        "query",
        "rename",
        "reset_index",
        "sample",
        "set_index",
        "sort_values",
        "tail",
    }
)

_REF, _INST = 0, 1  # binding kinds: a reference to a module/function/class, or an instance of one


def _canon(name: str) -> str:
    for old, new in CANONICAL.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old) :]
    return name


@dataclass
class Matchers:
    """The applicable rules, indexed for the scanner."""

    symbols: dict[str, Rule] = field(default_factory=dict)
    modules: dict[str, Rule] = field(default_factory=dict)
    kwargs: dict[str, list[tuple[str, Rule]]] = field(default_factory=dict)
    # Calls whose later arguments became keyword-only: call -> [(spec, rule)], spec being the
    # rule's {"max", "bound", "moved"}; and the last names of those calls, checked before any
    # resolution so that an ordinary call costs one set lookup.
    positional: dict[str, list[tuple[dict[str, Any], Rule]]] = field(default_factory=dict)
    positional_names: frozenset[str] = frozenset()
    renames: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> {old: new}
    # Classes whose members a rule names: calling one makes an instance, and a user class that
    # derives from one makes ``self`` one of them (minus what the user class defines itself).
    classes: set[str] = field(default_factory=set)
    # String arguments that break a call: call -> [(position, keyword, pattern, rule)].
    strings: dict[str, list[tuple[int, str | None, re.Pattern[str], Rule]]] = field(
        default_factory=dict
    )
    trigger: re.Pattern[str] | None = None
    string_words: frozenset[str] = frozenset()  # builtins whose string arguments rules check

    @classmethod
    def build(cls, rules: Iterable[Rule], sources: dict[str, str] | None = None) -> Matchers:
        """``sources``: the source side's version of each package, for the positional rules'
        autofix (offered only when that release names argument k as the rule does)."""
        m = cls()
        words: set[str] = set()
        for rule in rules:
            match = rule.match
            # Every resolution starts at an import of a rule's root module, so a file that never
            # names one of those roots cannot match: only the roots are trigger words.
            for symbol in match.get("symbols", ()):
                m.symbols[symbol] = rule
                words.add(symbol.split(".", 1)[0])
            for module in match.get("modules", ()):
                m.modules[module] = rule
                words.add(module.split(".", 1)[0])
            for item in match.get("kwargs", ()):
                m.kwargs.setdefault(item["call"], []).append((item["keyword"], rule))
                words.add(item["call"].split(".", 1)[0])
            for item in match.get("positional", ()):
                source = (sources or {}).get(rule.applies.package) if rule.applies else None
                source = source.split("+", 1)[0] if source else None  # torch's "2.0.1+cpu"
                item = {
                    **item,
                    "fixable": source is not None and source in item.get("names_in", ()),
                }
                m.positional.setdefault(item["call"], []).append((item, rule))
                words.add(item["call"].split(".", 1)[0])
                m.positional_names = m.positional_names | {item["call"].rsplit(".", 1)[-1]}
            if match.get("rename"):
                m.renames[rule.code] = dict(match["rename"])
            m.classes.update(match.get("classes", ()))
            for item in match.get("strings", ()):
                spec = (item["arg"], item.get("keyword"), re.compile(item["regex"]), rule)
                m.strings.setdefault(item["call"], []).append(spec)
                root, _, name = item["call"].partition(".")
                # A builtin is never imported: the call's own name is what a file must contain.
                words.add(name if root == "builtins" else root)
                if root == "builtins":
                    m.string_words = m.string_words | {name + "("}
        if words:
            words.update(METHOD_RETURNS)
            alternatives = "|".join(sorted(map(re.escape, words)))
            m.trigger = re.compile(rf"\b(?:{alternatives})\b")
        return m

    def module_rule(self, qualname: str) -> Rule | None:
        name = qualname
        while True:
            rule = self.modules.get(name)
            if rule is not None:
                return rule
            cut = name.rfind(".")
            if cut < 0:
                return None
            name = name[:cut]


def default_matchers() -> Matchers:
    return Matchers.build(catalog().values())


class _Resolver(ast.NodeVisitor):
    """Walks one file (or the cells of one notebook, sharing bindings across cells)."""

    def __init__(self, matchers: Matchers, path: str) -> None:
        self.m = matchers
        self.path = path
        self.bindings: dict[str, tuple[int, str]] = {}
        self.findings: list[Finding] = []
        self._seen: set[tuple] = set()
        self.unit = PythonSource("")
        self._unit_lines: list[str] | None = None  # split only when a finding needs a column
        # Inside a class deriving from a rule's class: (that class, names the class defines).
        self._class: tuple[str, frozenset[str]] | None = None
        # Module-level functions of the file, and what their call sites in the file pass:
        # ``def f(client): client.list_experiments()`` called as ``f(MlflowClient())``.
        self._functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self._passed: dict[str, dict[str, set[tuple[int, str] | None]]] = {}
        self._inferred: dict[str, dict[str, tuple[int, str]]] = {}
        # For the positional rules' autofix: the file is one unit (not notebook cells sharing
        # names), and the names its module-level imports bind once and nothing rebinds.
        self.single_unit = False
        self._tree: ast.Module | None = None
        self._exact: frozenset[str] | None = None

    def names_bound_in(self, text: str) -> bool:
        """Whether ``text`` names a binding made by an earlier unit (a notebook's earlier cell)."""
        return any(key.split(".", 1)[0] in text for key in self.bindings)

    def _record_call(self, node: ast.Call) -> None:
        """Remember what a call of one of the file's functions passes to each parameter."""
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in self._functions:
            return
        if func.id in self.bindings:
            return  # the name was rebound to something else
        args = self._functions[func.id].args
        params = [a.arg for a in [*args.posonlyargs, *args.args]]
        passed = self._passed.setdefault(func.id, {})
        for index, arg in enumerate(node.args):
            if isinstance(arg, ast.Starred):
                break
            if index < len(params):
                value = self.resolve(arg)
                passed.setdefault(params[index], set()).add(
                    value if value and value[0] == _INST else None
                )
        for kw in node.keywords:
            if kw.arg is not None:
                value = self.resolve(kw.value)
                passed.setdefault(kw.arg, set()).add(value if value and value[0] == _INST else None)

    def revisit_inferred(self) -> None:
        """Walk again the functions whose parameters every call site in the file passes the same
        kind of instance, with those parameters bound (findings are deduplicated)."""
        for name, passed in self._passed.items():
            known: dict[str, tuple[int, str]] = {
                param: value
                for param, values in passed.items()
                if len(values) == 1 and (value := next(iter(values))) is not None
            }
            if not known:
                continue
            node = self._functions[name]
            self._inferred[name] = known
            outer = self.bindings
            self.bindings = dict(outer)
            try:
                self._visit_function(node)
            finally:
                self.bindings = outer
                self._inferred.pop(name, None)

    def file_line(self, unit_line: int) -> int:
        return self.unit.file_line(unit_line)

    # ------------------------------------------------------------------ traversal
    # ast.NodeVisitor looks the method up by name on every node and visits every expr_context and
    # operator leaf; this dispatch table does the lookup once per node type and skips leaves,
    # which is most of what keeps the scan within ~2x of ast.parse (bench/scan.py).
    _dispatch: dict[type, Any] = {}  # a visit method, or _LEAF

    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        method: Any = self._dispatch.get(kind)
        if method is None:
            method = (
                _LEAF
                if kind in _LEAVES
                else getattr(type(self), "visit_" + kind.__name__, type(self).generic_visit)
            )
            self._dispatch[kind] = method
        if method is not _LEAF:
            method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)

    def _may_matter(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        """Whether a function's text names anything bound (or a method with a known result):
        if not, nothing in it can resolve, and its local bindings cannot leak out."""
        lines = self._lines()
        start, end = node.lineno - 1, getattr(node, "end_lineno", None) or len(lines)
        text = "\n".join(lines[start:end])
        roots = {key.split(".", 1)[0] for key in self.bindings}
        if (
            any(word in text for word in roots)
            or any(w in text for w in METHOD_RETURNS)
            or any(w in text for w in self.m.string_words)
        ):
            return True
        # An import inside the function can bind a rule's module (Horovod's training functions
        # import horovod.torch where they run): a trigger word means it may matter.
        return self.m.trigger is not None and self.m.trigger.search(text) is not None

    def _lines(self) -> list[str]:
        if self._unit_lines is None:
            self._unit_lines = python_lines(self.unit.text)
        return self._unit_lines

    # ------------------------------------------------------------------ reporting
    def _column(self, unit_line: int, byte_offset: int) -> int:
        """ast offsets are UTF-8 bytes; findings (and SARIF) count characters."""
        lines = self._lines()
        index = unit_line - 1
        if 0 <= index < len(lines):
            text = lines[index]
            if not text.isascii():
                return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "replace")) + 1
        return byte_offset + 1

    def _report(self, rule: Rule, node: ast.AST, message: str, **extra) -> None:
        unit_line = getattr(node, "lineno", 1)
        line = self.file_line(unit_line)
        column = self._column(unit_line, getattr(node, "col_offset", 0))
        # One finding per line and rule, except that each fixable occurrence is its own, so one
        # `cockpit fix` fixes them all (two renames on a line; two notebook cells that a
        # minified .ipynb puts on one file line).
        place = (self.unit.cell, unit_line) if self.unit.cell is not None else None
        key = (line, rule.code, place, column if extra.get("autofix") else None)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(make(rule, self.path, line, column, message, **extra))

    # ------------------------------------------------------------------ resolution
    def _key(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            inner = self._key(node.value)
            return f"{inner}.{node.attr}" if inner else None
        return None

    def resolve(self, node: ast.expr) -> tuple[int, str] | None:
        if isinstance(node, ast.Name):
            return self.bindings.get(node.id)
        if isinstance(node, ast.Attribute):
            key = self._key(node)
            if key is not None and key in self.bindings:
                return self.bindings[key]
            base = self.resolve(node.value)
            if base is None:
                return None
            # A method looked up on an instance is a reference to the class's attribute.
            return (_REF, _canon(f"{base[1]}.{node.attr}"))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "super" and self._class is not None:
                return (_INST, self._class[0])
            if isinstance(func, ast.Attribute) and func.attr in METHOD_RETURNS:
                return (_INST, METHOD_RETURNS[func.attr])
            target = self.resolve(func)
            if target is None:
                return None
            kind, name = target
            if kind == _REF and name in RETURNS:
                return (_INST, RETURNS[name])
            if kind == _REF and name in self.m.classes:
                return (_INST, name)
            if isinstance(func, ast.Attribute) and func.attr in SAME_TYPE_METHODS:
                owner = self.resolve(func.value)
                if owner is not None and owner[0] == _INST:
                    return owner
        return None

    def _check_name(self, node: ast.expr) -> bool:
        """Report ``node`` if it refers to a rule's symbol or module; True when reported."""
        target = self.resolve(node)
        if target is None or target[0] != _REF:
            return False
        name = target[1]
        rule = self.m.symbols.get(name)
        if rule is not None:
            extra = {}
            renames = self.m.renames.get(rule.code)
            if isinstance(node, ast.Attribute) and renames and node.attr in renames:
                unit_line = node.end_lineno or node.lineno
                start = (node.end_col_offset or 0) - len(node.attr.encode("utf-8"))
                data = {
                    "rename": [node.attr, renames[node.attr]],
                    "name_line": self.file_line(unit_line),
                    "name_column": self._column(unit_line, start),
                }
                if self.unit.cell is not None:
                    # .ipynb: lines of the file are JSON, so the fix finds the name in its cell.
                    data.update(cell=self.unit.cell, cell_line=unit_line)
                extra = {"autofix": True, "data": data}
            self._report(rule, node, f"{name} — {rule.what}", **extra)
            return True
        rule = self.m.module_rule(name)
        if rule is not None:
            self._report(rule, node, f"{name} — {rule.what}")
            return True
        return False

    # ------------------------------------------------------------------ visitors
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            full = _canon(alias.name)
            if alias.asname:
                self.bindings[alias.asname] = (_REF, full)
            else:
                root = full.split(".", 1)[0]
                self.bindings[root] = (_REF, root)
            rule = self.m.module_rule(full)
            if rule is not None:
                self._report(rule, alias, f"import {alias.name} — {rule.what}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return  # relative imports are the project's own code
        module = _canon(node.module)
        rule = self.m.module_rule(module)
        if rule is not None:
            self._report(rule, node, f"from {node.module} import … — {rule.what}")
        for alias in node.names:
            if alias.name == "*":
                continue
            full = _canon(f"{module}.{alias.name}")
            self.bindings[alias.asname or alias.name] = (_REF, full)
            rule = self.m.symbols.get(full) or self.m.module_rule(full)
            if rule is not None:
                self._report(rule, alias, f"{full} — {rule.what}")

    def _bind(self, target: ast.expr, value: tuple[int, str] | None) -> None:
        key = self._key(target)
        if key is None:
            if isinstance(target, ast.Tuple | ast.List):
                for element in target.elts:
                    self._bind(element, None)
            return
        if value is None:
            self.bindings.pop(key, None)
        else:
            self.bindings[key] = value

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = self.resolve(node.value)
        for target in node.targets:
            if not isinstance(target, ast.Name):
                self.visit(target)
            self._bind(target, value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            value = self.resolve(node.value)
        else:
            value = self._instance_of(node.annotation)
        self._bind(node.target, value)

    def _instance_of(self, annotation: ast.expr | None) -> tuple[int, str] | None:
        if annotation is None:
            return None
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            try:
                annotation = ast.parse(annotation.value, mode="eval").body
            except SyntaxError:
                return None
        target = self.resolve(annotation)
        if target is not None and target[0] == _REF and target[1] in RETURNS:
            return (_INST, target[1])
        return None

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        cls, self._class = self._class, None  # a nested function's self is not the class's
        try:
            self._visit_function_in(node, cls)
        finally:
            self._class = cls

    def _visit_function_in(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, cls: tuple[str, frozenset[str]] | None
    ) -> None:
        if (
            cls is None
            and node.name not in self._inferred
            and not node.decorator_list
            and not self._may_matter(node)
        ):
            return
        for decorator in node.decorator_list:
            self.visit(decorator)
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self.visit(default)
        typed: dict[str, tuple[int, str] | None] = {}
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            if arg.annotation is not None:
                self.visit(arg.annotation)
            typed[arg.arg] = self._instance_of(arg.annotation)
        if node.returns is not None:
            self.visit(node.returns)
        # Plain names bound inside a function are its locals: restore the outer ones afterwards.
        # Attribute bindings (self.client = ...) outlive the call, so they are kept.
        outer = self.bindings
        self.bindings = dict(outer)
        typed.update(self._inferred.get(node.name, {}))  # from the file's own call sites
        for name, value in typed.items():  # parameters shadow outer names
            if value is None:
                self.bindings.pop(name, None)
            else:
                self.bindings[name] = value
        own: list[str] = []
        positional = [*args.posonlyargs, *args.args]
        if cls is not None and positional and not _is_static(node):
            # A method of a class deriving from a rule's class: ``self`` is an instance of that
            # class, except for what the user's class defines itself (its own method of a
            # removed name is not the removed API).
            me = positional[0].arg
            self.bindings[me] = (_INST, cls[0])
            own = [f"{me}.{name}" for name in cls[1]]
            for key in own:
                self.bindings[key] = _OWN
            self._class = cls
        for statement in node.body:
            self.visit(statement)
        self._class = None
        inner = self.bindings
        self.bindings = outer
        for key in own:
            if inner.get(key) is _OWN:
                del inner[key]
        for key, value in inner.items():
            if "." in key:
                outer[key] = value

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Module(self, node: ast.Module) -> None:
        self._tree, self._exact = node, None
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                self._functions[statement.name] = statement
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(k.value for k in node.keywords)]:
            self.visit(expr)
        base = None
        for expr in node.bases:
            target = self.resolve(expr)
            if target is not None and target[0] == _REF and target[1] in self.m.classes:
                base = target[1]
                break
        outer = self._class
        self._class = (base, _defined_names(node)) if base is not None else None
        try:
            for statement in node.body:
                self.visit(statement)
        finally:
            self._class = outer

    def _visit_with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                if not isinstance(item.optional_vars, ast.Name):
                    self.visit(item.optional_vars)
                value = self.resolve(item.context_expr)
                # Context managers of these classes return themselves from __enter__.
                self._bind(item.optional_vars, value if value and value[0] == _INST else None)
        for statement in node.body:
            self.visit(statement)

    visit_With = _visit_with
    visit_AsyncWith = _visit_with

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # A reported dotted name needs no second look at its parts, but a call inside the chain
        # is code of its own (``SafeConfigParser().readfp``: the constructor is a finding too).
        if not self._check_name(node) or not isinstance(node.value, ast.Name | ast.Attribute):
            self.visit(node.value)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.bindings:
            self._check_name(node)

    def _check_strings(self, node: ast.Call) -> None:
        """A literal string argument that the target rejects (a file mode, a regex)."""
        func = node.func
        target = self.resolve(func)
        if target is not None and target[0] == _REF:
            name = target[1]
        elif isinstance(func, ast.Name) and func.id not in self.bindings:
            name = f"builtins.{func.id}"
        else:
            return
        for position, keyword, pattern, rule in self.m.strings.get(name, ()):
            value = node.args[position] if position < len(node.args) else None
            if value is None and keyword is not None:
                value = next((k.value for k in node.keywords if k.arg == keyword), None)
            if (
                isinstance(value, ast.Constant)
                and isinstance(value.value, str)
                and pattern.search(value.value)
            ):
                shown = name.removeprefix("builtins.")
                self._report(rule, value, f"{shown}({value.value!r}) — {rule.what}")

    def _check_positional(self, node: ast.Call) -> None:
        """A call passing more arguments by position than the target takes (the rest became
        keyword-only). Not when an argument is ``*splat`` (the count is unknown), and a method
        only when its receiver resolves: an instance (bound) or the class itself (the instance
        is then the first argument)."""
        func = node.func
        last = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if last not in self.m.positional_names:
            return
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            return
        target = self.resolve(func)
        if target is None or target[0] != _REF:
            return
        specs = self.m.positional.get(target[1])
        if not specs:
            return
        receiver = None
        if isinstance(func, ast.Attribute) and self._key(func) not in self.bindings:
            receiver = self.resolve(func.value)
        count = len(node.args)
        best: tuple[int, int, dict[str, Any], Rule] | None = None
        for spec, rule in specs:
            limit, first = spec["max"], 0
            if spec.get("bound") == "self":
                if receiver is None:
                    continue  # ``f = obj.method; f(...)``: bound or not cannot be told
                if receiver[0] == _REF:
                    first = 1  # ``Class.method(obj, ...)``: obj is the first argument
            if count > limit + first and (best is None or limit < best[0]):
                best = (limit, first, spec, rule)
        if best is None:
            return
        limit, first, spec, rule = best
        moved = spec.get("moved") or []
        names = moved[: count - limit - first] or moved
        fix = self._keyword_fix(node, spec, limit + first)
        taken = [n for n in names if n in spec.get("keywords", ())]
        gone = [n for n in names if n not in taken]
        if spec.get("reordered"):
            advice = "pass the arguments by keyword, checking each against the new signature"
        else:
            parts = [f"pass {', '.join(n + '=' for n in taken)} by keyword"] if taken else []
            if gone:
                parts.append(f"{', '.join(gone)}: no longer taken")
            advice = "; ".join(parts)
        self._report(
            rule,
            node.args[limit + first],
            f"{target[1]}() with {count - first} positional arguments: {advice} — {rule.what}",
            **({"autofix": True, "data": {"keywords": fix}} if fix else {}),
        )

    def _keyword_fix(self, node: ast.Call, spec: dict[str, Any], start: int) -> list | None:
        """[[line, column, name], ...]: where to write ``name=`` before each argument past the
        limit, or None unless that is certainly right: the source release names argument k as
        the rule does (``fixable``), the target release takes each name by keyword, the call
        is not a method on an inferred instance, and its name or root is bound once in the
        whole file, by a module-level import (nothing rebinds or shadows it anywhere)."""
        if spec.get("reordered") or not spec.get("fixable") or spec.get("bound") == "self":
            return None
        if not self.single_unit:
            return None
        if any(kw.arg is None for kw in node.keywords):
            return None  # **kwargs might already carry one of the names
        extra = node.args[start:]  # start == the limit: no bound receiver here
        names = (spec.get("moved") or [])[: len(extra)]
        if len(names) != len(extra):
            return None
        taken = {kw.arg for kw in node.keywords}
        if any(n not in spec.get("keywords", ()) or n in taken for n in names):
            return None
        # A parenthesised argument, ``f(x, (1))``: ast places it inside its brackets, where
        # ``name=`` would not parse (and would sink every other fix of the file with it).
        before = [node.func, *node.args][start : start + len(extra)]
        calls_paren = 1 if start == 0 else 0  # the call's own "(" precedes its first argument
        for prev, arg in zip(before, extra, strict=True):
            if self._text_between(prev, arg).count("(") != (
                calls_paren if prev is node.func else 0
            ):
                return None
        root: ast.expr = node.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or root.id not in self._exact_roots():
            return None
        return [
            [self.file_line(arg.lineno), self._column(arg.lineno, arg.col_offset), name]
            for arg, name in zip(extra, names, strict=True)
        ]

    def _text_between(self, first: ast.expr, second: ast.expr) -> str:
        """The source between the end of ``first`` and the start of ``second`` (ast offsets
        are UTF-8 bytes)."""
        lines = self._lines()
        end_line, end_col = first.end_lineno or first.lineno, first.end_col_offset or 0
        start_line, start_col = second.lineno, second.col_offset
        if not (0 < end_line <= start_line <= len(lines)):
            return "("  # cannot be told: treat as parenthesised (no fix)
        chunk = [line.encode("utf-8") for line in lines[end_line - 1 : start_line]]
        if len(chunk) == 1:
            return chunk[0][end_col:start_col].decode("utf-8", "replace")
        middle = b"\n".join([chunk[0][end_col:], *chunk[1:-1], chunk[-1][:start_col]])
        return middle.decode("utf-8", "replace")

    def _exact_roots(self) -> frozenset[str]:
        if self._exact is None:
            self._exact = _single_import_roots(self._tree) if self._tree else frozenset()
        return self._exact

    def visit_Call(self, node: ast.Call) -> None:
        if self._functions:
            self._record_call(node)
        if node.args and self.m.positional_names:
            self._check_positional(node)
        if self.m.strings:
            self._check_strings(node)
        if node.keywords:
            target = self.resolve(node.func)
            if target is not None and target[0] == _REF:
                for keyword, rule in self.m.kwargs.get(target[1], ()):
                    for kw in node.keywords:
                        if kw.arg == keyword:
                            self._report(rule, kw, f"{target[1]}({keyword}=…) — {rule.what}")
        self.generic_visit(node)


def _single_import_roots(tree: ast.Module) -> frozenset[str]:
    """Names bound exactly once in the whole module, by an import statement at module level:
    no assignment, parameter, def, class, loop or ``with`` target, ``global``, ``del``, second
    import or attribute assignment (``pq.read_table = ...``) anywhere, and no ``import *``.
    What such a name resolves to is certain wherever it is used."""
    counts: dict[str, int] = {}

    def bound(name: str, times: int = 1) -> None:
        counts[name] = counts.get(name, 0) + times

    patched: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                bound(node.id)
        elif isinstance(node, ast.Attribute):
            if not isinstance(node.ctx, ast.Load):
                base: ast.expr = node
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name):
                    patched.add(base.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound(node.name)
        elif isinstance(node, ast.arg):
            bound(node.arg)
        elif isinstance(node, ast.alias):
            if node.name == "*":
                return frozenset()
            bound(node.asname or node.name.split(".", 1)[0])
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound(node.rest)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            for name in node.names:
                bound(name, 2)
    top: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Import) or (
            isinstance(statement, ast.ImportFrom) and not statement.level
        ):
            top.update(a.asname or a.name.split(".", 1)[0] for a in statement.names)
    return frozenset(n for n in top if counts.get(n) == 1 and n not in patched)


_LEAF = object()
# Binding of ``self.<name>`` for a name the user's class defines: resolves to nothing any rule has.
_OWN = (_REF, "<defined by the user's class>")


def _is_static(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
        for d in node.decorator_list
    )


def _defined_names(node: ast.ClassDef) -> frozenset[str]:
    """Names a class body defines (methods, attributes), which shadow its bases'."""
    names: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(statement.name)
        elif isinstance(statement, ast.Assign):
            names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
        elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            names.add(statement.target.id)
    return frozenset(names)


# Node types with nothing inside for the scanner: contexts, operators, constants.
_LEAVES = frozenset(
    {
        ast.Load,
        ast.Store,
        ast.Del,
        ast.Constant,
        ast.Pass,
        ast.Break,
        ast.Continue,
        *ast.operator.__subclasses__(),
        *ast.unaryop.__subclasses__(),
        *ast.cmpop.__subclasses__(),
        *ast.boolop.__subclasses__(),
    }
)


@dataclass
class PythonSource:
    """One unit of Python to scan: a whole file, or one notebook cell placed at ``first_line``."""

    text: str
    first_line: int = 1
    # For units whose lines are not consecutive in the file (.ipynb): file line of each line.
    line_map: list[int] | None = None
    cell: int | None = None  # .ipynb: index of the cell in the notebook's "cells" list

    def file_line(self, unit_line: int) -> int:
        if self.line_map is not None:
            if not self.line_map:
                return 1
            return self.line_map[min(max(unit_line, 1), len(self.line_map)) - 1]
        return unit_line + self.first_line - 1


def scan_python(
    path: str,
    units: list[PythonSource],
    matchers: Matchers,
    parse_error: Rule | None,
    uses: list[Use] | None = None,
) -> list[Finding]:
    """Scan the units in order with one shared namespace; a unit that does not parse gives one
    CPT001 finding at the reported line (mapped into the file) and the rest still scan.
    ``uses``: collects the modules the units import (from the same parse)."""
    resolver = _Resolver(matchers, path)
    resolver.single_unit = len(units) == 1 and units[0].cell is None and units[0].line_map is None
    first_use = len(uses) if uses is not None else 0
    for unit in units:
        try:
            tree = ast.parse(unit.text, filename=path)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
            if parse_error is not None:
                line = unit.file_line(getattr(exc, "lineno", None) or 1)
                column = getattr(exc, "offset", None) or 1
                reason = getattr(exc, "msg", None) or str(exc)
                resolver.findings.append(
                    make(
                        parse_error,
                        path,
                        line,
                        column,
                        f"cannot parse as Python: {reason}",
                    )
                )
            continue
        if uses is not None:
            known = {u.name for u in uses[first_use:]}
            uses += [u for u in imports_in(tree, path, unit.file_line) if u.name not in known]
        if matchers.trigger is None or not (
            matchers.trigger.search(unit.text) or resolver.names_bound_in(unit.text)
        ):
            continue  # nothing any rule could resolve to: parsing was the whole check
        resolver.unit = unit
        resolver._unit_lines = None
        try:
            resolver.visit(tree)
            resolver.revisit_inferred()
        except RecursionError:
            # Pathologically deep expressions: report rather than crash.
            if parse_error is not None:
                resolver.findings.append(
                    make(parse_error, path, unit.file_line(1), 1, "too deeply nested to scan")
                )
    return resolver.findings
