"""Generate the third-party removal rules: public APIs that the libraries pipelines import lose
between the versions the runtimes preinstall (and MLflow 1.x -> 2.x -> 3.x).

    .venv-maint/bin/python scripts/gen_library_removals.py   # writes cockpit/compat/data/library_removals.json

Three inputs, each checked against the released wheels (read statically with griffe, see
wheelapi.py), in this order (a symbol is taken once):
1. the reference catalogs (data/reference/*.yaml): entries with ``removed_in`` whose symbols are
   Python names or ``call(keyword=...)``; an entry whose claim the wheels do not confirm is left out
   and listed as unconfirmed (``cockpit rules coverage`` shows why);
2. scripts/expired_deprecations.yaml: removals of names the older release served dynamically;
3. the API diff of each pair of releases: public modules, names, class members and keyword
   parameters that the older release has and the newer lacks (and no later checked release
   brings back). Paths under a module with a ``__getattr__`` in the newer release are skipped
   (it may still serve them), and so are packaging/test modules;
4. in the same diff, functions, constructors and methods that take fewer arguments by position
   in the newer release (parameters that became keyword-only: pyarrow.parquet.read_table's
   ``columns`` in 9.0, pandas 2.0's keyword-only arguments): "passing more than N positional
   arguments to X breaks", with both signatures as evidence. The catalog entries of kind
   ``argument`` that name plain functions (pandas2-keyword-only-arguments) are confirmed the same
   way.
Codes are kept for the same symbol across runs. The scan reads only the JSON.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import library_api
import rule_identity
import wheelapi
from hand_rules import hand_rules, hand_written

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "cockpit" / "compat" / "data"
OUT = DATA / "library_removals.json"

# package (as the runtime manifests name it) -> how to read it. Versions: what 14.3, 16.4 and 17.3
# LTS ML preinstall (cockpit/runtimes/data/*-lts-ml.json); MLflow also 1.30.1 and 2.0.1 (1.x -> 2.x).
LIBS = {
    "mlflow": {
        "dist": "mlflow-skinny", "prefix": "MLA", "depth": 2, "roots": None,
        "versions": ["1.30.1", "2.0.1", "2.9.2", "2.21.3", "3.0.1"],
        "pairs": [("1.30.1", "2.0.1"), ("2.9.2", "2.21.3"), ("2.21.3", "3.0.1")],
        "notes": "https://github.com/mlflow/mlflow/blob/master/CHANGELOG.md",
    },
    "numpy": {
        "dist": "numpy", "prefix": "NPY", "depth": 2, "roots": None,
        "versions": ["1.23.5", "1.26.4", "2.1.3"],
        "pairs": [("1.23.5", "1.26.4"), ("1.26.4", "2.1.3")],
        "notes": "https://numpy.org/doc/stable/release.html",
    },
    "pandas": {
        "dist": "pandas", "prefix": "PDA", "depth": 2, "roots": None,
        "versions": ["1.5.3", "2.0.0", "2.2.3"],
        "pairs": [("1.5.3", "2.2.3")],
        "notes": "https://pandas.pydata.org/docs/whatsnew/index.html",
    },
    "scikit-learn": {
        "dist": "scikit-learn", "prefix": "SKL", "depth": 2, "roots": None,
        "versions": ["1.1.1", "1.4.2", "1.6.1"],
        "pairs": [("1.1.1", "1.4.2"), ("1.4.2", "1.6.1")],
        "notes": "https://scikit-learn.org/stable/whats_new.html",
    },
    "scipy": {
        "dist": "scipy", "prefix": "SCP", "depth": 2, "roots": None,
        "versions": ["1.10.0", "1.13.1", "1.15.1"],
        "pairs": [("1.10.0", "1.13.1"), ("1.13.1", "1.15.1")],
        "notes": "https://docs.scipy.org/doc/scipy/release.html",
    },
    "pyarrow": {
        "dist": "pyarrow", "prefix": "PAR", "depth": 2, "roots": None,
        "versions": ["8.0.0", "15.0.2", "19.0.1"],
        "pairs": [("8.0.0", "15.0.2"), ("15.0.2", "19.0.1")],
        # Read only to date the arguments that became keyword-only (9.0: read_table,
        # ParquetFile, write_dataset); 14.0.1 is what 15.4 LTS ML preinstalls.
        "bisect": ["9.0.0", "14.0.1"],
        "notes": "https://arrow.apache.org/release/",
    },
    "torch": {
        "dist": "torch", "prefix": "TCH", "depth": 3,
        "roots": ("torch.nn", "torch.optim", "torch.utils.data", "torch.cuda", "torch.distributed", "torch.onnx", "torch.jit", "torch.autograd"),
        "versions": ["2.0.1", "2.6.0", "2.7.0"],
        "pairs": [("2.0.1", "2.6.0"), ("2.6.0", "2.7.0")],
        "notes": "https://github.com/pytorch/pytorch/releases",
    },
}  # fmt: skip
SKIP_PARTS = {
    "setup",
    "tests",
    "test",
    "testing",
    "conftest",
    "bench",
    "benchmarks",
    "f2py",
    "version",
}
CATALOGS = ["libraries.yaml", "mlflow-1-to-2.yaml", "mlflow-2-to-3.yaml"]
SYMBOL = re.compile(r"^([A-Za-z_][\w.]*[A-Za-z_0-9])(?:\(([^)]*)\))?$")


def _vt(v: str) -> tuple[int, ...]:
    out = [int("".join(c for c in p if c.isdigit()) or 0) for p in str(v).split(".")]
    while len(out) > 1 and out[-1] == 0:
        out.pop()
    return tuple(out)


def covered(name: str, keyword: str | None, hand: set) -> bool:
    # The scanner folds re-exports of a class to one spelling (mlflow.tracking.MlflowClient ->
    # mlflow.MlflowClient): compare in that spelling.
    from cockpit.compat.python_scan import _canon

    name = _canon(name)
    if (name, keyword) in hand:
        return True
    parts = name.split(".")
    return any((".".join(parts[:i]), None) in hand for i in range(1, len(parts)))


_indexes: dict = {}


def index(package: str, version: str) -> dict:
    spec = LIBS[package]
    key = (package, version)
    if key not in _indexes:
        _indexes[key] = library_api.cached_index(
            spec["dist"], version, spec["depth"], spec["roots"]
        )
    return _indexes[key]


def has(
    package: str, kind: str, symbol: str, keyword: str | None, version: str
) -> tuple[bool, str]:
    """Whether the release has the symbol (or takes the keyword), from its API index; a name a
    module's __getattr__ serves counts as present, one it raises for as absent."""
    idx = index(package, version)
    if kind == "keyword":
        entry = idx.get(symbol)
        if entry is None or entry.params is None:
            return False, f"{symbol} not found"
        if entry.takes(keyword):
            return True, f"{symbol} takes {keyword}=" + (
                "" if keyword in entry.params else " (through a decorator)"
            )
        return False, f"{symbol} has no {keyword} parameter" + (
            " (takes **kwargs)" if entry.var_kw else ""
        )
    if symbol in idx:
        return True, "defined"
    parent, _, name = symbol.rpartition(".")
    if parent in idx and idx[parent].kind == "module":
        verdict = wheelapi.getattr_verdict(LIBS[package]["dist"], version, parent, name)
        if verdict == "serves":
            return True, "served by the module's __getattr__"
        if verdict == "raises":
            return False, "raises from the module's __getattr__"
    return False, "not defined"


def confirm(
    package: str, kind: str, symbol: str, keyword: str | None, present: str, absent: list[str]
) -> str | None:
    """None when the wheels confirm the removal, else why not."""
    got, how = has(package, kind, symbol, keyword, present)
    if not got:
        return f"not in {package} {present} ({how})"
    for version in absent:
        got, how = has(package, kind, symbol, keyword, version)
        if got:
            return f"still in {package} {version} ({how})"
    return None


def same_positions(old, earlier: dict) -> list[str]:
    """The releases (of ``earlier``: version -> entry) whose positional parameters start with
    the same names as ``old``'s, so that argument k means the same parameter there: an autofix
    writing ``name=value`` is right only for code written against one of them."""
    return [
        v
        for v, e in earlier.items()
        if e is not None
        and e.positional is not None
        and e.positional[: len(old.positional)] == old.positional
    ]


def positional_change(old, new, later: list) -> dict | None:
    """How many arguments ``new`` still takes by position when that is fewer than ``old`` did
    (and no later release takes more again), with what moved; None when nothing shrank or when
    it cannot be told for certain from the source (*args in either, a decorator that handles
    positional arguments itself, an unreadable signature)."""
    if old is None or new is None or old.positional is None or new.positional is None:
        return None
    if old.kind not in ("function", "class") or old.kind != new.kind or old.bound != new.bound:
        return None
    if old.var_pos or new.var_pos or len(new.positional) >= len(old.positional):
        return None
    # pandas' deprecate_nonkeyword_arguments, scikit-learn's _deprecate_positional_args: such a
    # decorator in the newer release still takes the old positional arguments (with a warning).
    if any(re.search(r"positional|nonkeyword", d, re.I) for d in new.decorators or ()):
        return None
    # A click command (mlflow.cli.run) is called with an argv list, not its parameters.
    if any(
        re.search(r"^click\.|\bcommand\b|\boption\(|\bargument\(", d)
        for d in [*(old.decorators or ()), *(new.decorators or ())]
    ):
        return None
    limit = len(new.positional)
    for entry in later:
        if entry is None or entry.positional is None or entry.var_pos:
            return None
        if len(entry.positional) > limit:
            return None  # takes them by position again later
    moved = old.positional[limit:]
    # The arguments it still takes by position mean what they meant (numpy 1.24 dropped
    # histogram's normed, 4th: density moved up). If not, naming the extra ones is not enough.
    reordered = any(
        e.positional[:limit] != old.positional[:limit] for e in [new, *later] if e is not None
    )
    return {
        "reordered": reordered,
        "max_positional": limit,
        "old_positional": len(old.positional),
        "moved": moved,
        # Of the moved names, those the newer releases take by keyword: passing them as
        # ``name=value`` is the fix (a name one lacks, or takes only through **kwargs, is not).
        "keywords": [n for n in moved if all(e.takes(n) for e in [new, *later])],
        "bound": new.bound,
        "signatures": [old.signature, new.signature],
    }


def split_symbol(text: str) -> list[tuple[str, str, str | None]]:
    """A catalog symbol -> [(kind, name, keyword)]: ``a.b.c`` or ``a.b(x=..., y=...)``."""
    m = SYMBOL.match(str(text).strip())
    if not m:
        return []
    name, args = m.group(1), m.group(2)
    if args is None:
        return [("symbol", name, None)]
    keywords = re.findall(r"(\w+)\s*=", args)
    return [("keyword", name, k) for k in keywords]


def catalog_rows(hand: set, unconfirmed: list, done: list[str]) -> list[dict]:
    rows = []
    loader = YAML(typ="safe", pure=True)
    for file in CATALOGS:
        for entry in loader.load((DATA / "reference" / file).read_text("utf-8")) or []:
            applies = entry.get("applies") or {}
            package = applies.get("package")
            if entry.get("retracted") or package not in done or not applies.get("removed_in"):
                continue
            if entry.get("detectable_by") not in ("import", "call", "attribute", "argument"):
                continue
            introduced = str(applies["removed_in"])
            versions = LIBS[package]["versions"]
            before = [v for v in versions if _vt(v) < _vt(introduced)]
            after = [v for v in versions if _vt(v) >= _vt(introduced)]
            for raw in entry.get("symbols") or ():
                for kind, name, keyword in split_symbol(raw):
                    if not name.startswith(
                        LIBS[package]["dist"].split("-")[0].replace("scikit", "sklearn")
                    ) and not name.startswith(
                        ("mlflow", "pandas", "numpy", "sklearn", "scipy", "pyarrow", "torch")
                    ):
                        continue
                    if covered(name, keyword, hand):
                        continue
                    if not before or not after:
                        unconfirmed.append(
                            {
                                "ref": entry["id"],
                                "symbol": raw,
                                "why": "no checked release on both sides",
                            }
                        )
                        continue
                    entry_before = index(package, before[-1]).get(name)
                    if kind == "symbol" and entry.get("detectable_by") == "argument":
                        # "Now rejects positional arguments": a claim about the signature.
                        change = positional_change(
                            entry_before,
                            index(package, after[0]).get(name),
                            [index(package, v).get(name) for v in after[1:]],
                        )
                        if change is None:
                            unconfirmed.append({"ref": entry["id"], "symbol": raw, "why": (
                                f"takes as many arguments by position in {package} {after[0]} as "
                                f"in {before[-1]} (or cannot be told from the source)")})  # fmt: skip
                            continue
                        parent = name.rsplit(".", 1)[0]
                        owner_entry = index(package, after[0]).get(parent)
                        rows.append({
                            "package": package, "kind": "positional", "symbol": name,
                            "keyword": None, "introduced": introduced, "present": before[-1],
                            "absent": after, "ref": entry["id"], "what": None,
                            "fix": None, "source": entry["source"],
                            "owner": parent if owner_entry and owner_entry.kind == "class" else None,
                            **change,
                            "names_in": same_positions(
                                entry_before, {v: index(package, v).get(name) for v in before}
                            ),
                        })  # fmt: skip
                        continue
                    if (
                        kind == "symbol"
                        and entry_before is not None
                        and entry_before.kind == "module"
                    ):
                        kind = "module"
                    why = confirm(package, kind, name, keyword, before[-1], after)
                    if why is not None:
                        unconfirmed.append({"ref": entry["id"], "symbol": raw, "why": why})
                        continue
                    rows.append({
                        "package": package, "kind": {"symbol": "attribute"}.get(kind, kind),
                        "symbol": name, "keyword": keyword, "introduced": introduced,
                        "present": before[-1], "absent": after, "ref": entry["id"],
                        "what": entry["what"], "fix": entry.get("replacement"), "source": entry["source"],
                    })  # fmt: skip
    return rows


def curated_rows(hand: set, unconfirmed: list, done: list[str]) -> list[dict]:
    rows = []
    items = YAML(typ="safe", pure=True).load(
        (Path(__file__).parent / "expired_deprecations.yaml").read_text("utf-8")
    )
    for item in items:
        package = item["package"]
        if package not in done:
            continue
        later = [v for v in LIBS[package]["versions"] if _vt(v) >= _vt(item["absent"])]
        for name in item["symbols"]:
            if covered(name, None, hand):
                continue
            # A name can come back (np.bool returned in NumPy 2.0 as an alias of np.bool_): the
            # rule then covers only the releases before that.
            restored = next((v for v in later if has(package, "symbol", name, None, v)[0]), None)
            absent = [v for v in later if restored is None or _vt(v) < _vt(restored)]
            why = confirm(package, "symbol", name, None, item["present"], absent)
            if why is not None:
                unconfirmed.append(
                    {"ref": "scripts/expired_deprecations.yaml", "symbol": name, "why": why}
                )
                continue
            rows.append({
                "package": package, "kind": "attribute", "symbol": name, "keyword": None,
                "introduced": str(item["introduced"]), "present": item["present"], "absent": absent,
                "restored": restored,
                "ref": None, "what": item["what"], "fix": item["fix"], "source": item["source"],
            })  # fmt: skip
    return rows


def diff_rows(package: str, hand: set) -> list[dict]:
    spec = LIBS[package]
    idx = {
        v: library_api.cached_index(spec["dist"], v, spec["depth"], spec["roots"])
        for v in spec["versions"]
    }
    rows = []
    for old_v, new_v in spec["pairs"]:
        old, new = idx[old_v], idx[new_v]
        later = [v for v in spec["versions"] if _vt(v) > _vt(new_v)]
        for path, entry in old.items():
            parts = path.split(".")
            if SKIP_PARTS & set(parts):
                continue
            parent = ".".join(parts[:-1])
            if path not in new:
                if parent not in new:
                    continue  # the parent's removal covers it
                if new[parent].kind == "module" and wheelapi.module_binds(
                    spec["dist"], new_v, parent, parts[-1]
                ):
                    continue  # still bound in the module (an import the index does not list)
                if new[parent].kind == "module" and new[parent].getattr_module:
                    # The newer module has a __getattr__: gone only if it raises for the name.
                    verdict = wheelapi.getattr_verdict(spec["dist"], new_v, parent, parts[-1])
                    if verdict != "raises":
                        continue
                if old.get(parent) and old[parent].kind != new[parent].kind:
                    continue
                if any(path in idx[v] for v in later):
                    continue  # back again in a later release
                kind = "module" if entry.kind == "module" else "attribute"
                rows.append({"package": package, "kind": kind, "symbol": path, "keyword": None,
                             "introduced": new_v, "present": old_v, "absent": [new_v, *later],
                             "owner": parent if new[parent].kind == "class" else None})  # fmt: skip
                continue
            now = new[path]
            change = positional_change(entry, now, [idx[v].get(path) for v in later])
            first = new_v
            if change is not None:
                # The first release in between that already takes no more (pyarrow 9.0 for
                # read_table, not the 15.0.2 of the pair): that is when it breaks.
                between = sorted(
                    (v for v in [*spec["versions"], *spec.get("bisect", ())]
                     if _vt(old_v) < _vt(v) < _vt(new_v)), key=_vt)  # fmt: skip
                for i, v in enumerate(between):
                    rest = [index(package, w).get(path) for w in between[i + 1 :]]
                    earlier = positional_change(
                        entry,
                        index(package, v).get(path),
                        [*rest, now, *(idx[w].get(path) for w in later)],
                    )
                    if (
                        earlier is not None
                        and earlier["max_positional"] == change["max_positional"]
                    ):
                        change, first = earlier, v
                        break
                rows.append({"package": package, "kind": "positional", "symbol": path, "keyword": None,
                             "introduced": first, "present": old_v,
                             "absent": sorted({first, *(v for v in between if _vt(v) > _vt(first)), new_v, *later}, key=_vt),
                             "owner": parent if new.get(parent) and new[parent].kind == "class" else None,
                             **change, "names_in": same_positions(entry, {
                                 v: idx[v].get(path) for v in spec["versions"] if _vt(v) <= _vt(old_v)})})  # fmt: skip
            if entry.params is None or now.params is None or now.var_kw:
                continue
            # A keyword a decorator of the newer release still accepts is not gone.
            for keyword in sorted(set(entry.params) - set(now.params) - set(now.extra or ())):
                if keyword.startswith("_") or any(
                    idx[v].get(path)
                    and (
                        idx[v][path].params is None
                        or idx[v][path].takes(keyword)
                        or idx[v][path].var_kw
                    )
                    for v in later
                ):
                    continue
                rows.append({"package": package, "kind": "keyword", "symbol": path, "keyword": keyword,
                             "introduced": new_v, "present": old_v, "absent": [new_v, *later],
                             "owner": parent if new.get(parent) and new[parent].kind == "class" else None})  # fmt: skip
    return [r for r in rows if not covered(r["symbol"], r["keyword"], hand)]


def rule_key(rule: dict) -> tuple:
    """What a code stands for: the symbol, the keyword, and for a positional rule its limit."""
    return (rule["symbol"], rule["keyword"], rule.get("max_positional"))


def main() -> int:
    only = sys.argv[1:] or list(LIBS)
    hand = hand_written()
    unconfirmed: list[dict] = []
    previous: dict = {}
    if OUT.exists():
        before = json.loads(OUT.read_text("utf-8"))
        # A folded code keeps standing for its own spelling, so each run folds it the same way
        # (and never hands its number to something else).
        for code, entry in (before.get("retired") or {}).items():
            if entry.get("symbol"):
                previous[rule_key(entry)] = code
        for rule in before["rules"]:
            previous[rule_key(rule)] = rule["code"]
    order = ["numpy", "mlflow", "pandas", "scikit-learn", "scipy", "pyarrow", "torch"]
    only = [p for p in order if p in only]
    done: list[str] = []
    for package in only:
        print(f"diffing {package} ...", flush=True)
        done.append(package)
        unconfirmed = []
        rows = catalog_rows(hand, unconfirmed, done) + curated_rows(hand, unconfirmed, done)
        for each in done:
            rows += diff_rows(each, hand)
        write(rows, previous, unconfirmed, done)
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def positional_rule(row: dict, spec: dict) -> dict:
    """A rule for arguments a function no longer takes by position, with both signatures and
    both wheels (file and sha256) as its evidence."""
    symbol, package, n = row["symbol"], row["package"], row["max_positional"]
    present, introduced = row["present"], row["introduced"]
    moved, keywords = row["moved"], row["keywords"]
    gone = [m for m in moved if m not in keywords]
    # What became keyword-only, and what the newer release does not take by keyword at all
    # (removed or renamed: pyarrow 15's read_table has no metadata=).
    changes = []
    if keywords:
        changes.append(f"{', '.join(keywords)} became keyword-only")
    if gone:
        changes.append(f"{', '.join(gone)} {'is' if len(gone) == 1 else 'are'} no longer taken")
    what = (
        f"Passing more than {_plural(n, 'positional argument')} to {symbol}() breaks in "
        f"{package} {introduced} (TypeError): {package} {present} took "
        f"{row['old_positional']}; {'; '.join(changes)}."
    ) + (f" {row['what']}" if row.get("what") else "")
    if row["reordered"]:
        what += " The parameters before them changed too (`cockpit rules show` compares both signatures)."
        fix = f"Rewrite the call with keywords, checking each argument against {symbol} in {package} {introduced}."
    else:
        fix = f"Pass {', '.join(f'{k}=' for k in keywords)} by keyword" if keywords else ""
        if gone:
            fix += ("; " if fix else "") + (
                f"drop {', '.join(gone)} or use what replaces "
                f"{'it' if len(gone) == 1 else 'them'} in {package} {introduced}"
            )
        fix = fix[0].upper() + fix[1:] + "."
    slug = re.sub(r"[^a-z0-9]+", "-", symbol.lower())
    return {
        "name": f"{package}-keyword-only-{slug}-max-{n}",
        "package": package,
        "kind": "positional",
        "symbol": symbol,
        "symbols": row["symbols"] if len(row["symbols"]) > 1 else None,
        "keyword": None,
        "owner": row.get("owner"),
        "introduced": introduced,
        "restored": None,
        "max_positional": n,
        # A method called on an instance: the instance is not one of the n.
        "bound": row.get("bound"),
        "moved": moved,
        "keywords": keywords,
        # Releases in which argument k names the same parameter as in the old signature: the
        # autofix (``name=value``) is offered only for code coming from one of them.
        "reordered": row["reordered"],
        "names_in": [] if row["reordered"] else row["names_in"],
        "what": what,
        "fix": fix,
        "source": row.get("source") or spec["notes"],
        "ref": row.get("ref"),
        "evidence": {
            "present": f"{spec['dist']} {present}",
            "absent": [f"{spec['dist']} {v}" for v in row["absent"]],
            "how": "reference catalog entry, confirmed in the wheels' signatures" if row.get("ref")
            else "API diff of the two wheels' signatures",
            "signatures": {
                f"{spec['dist']} {present}": row["signatures"][0],
                f"{spec['dist']} {row['absent'][0]}": row["signatures"][1],
            },
            # Keys of provenance.wheels (file and sha256 of each wheel read).
            "wheels": [f"{spec['dist']}=={v}" for v in (present, row["absent"][0])],
        },
    }  # fmt: skip


def group_aliases(rows: list[dict]) -> list[dict]:
    """One positional rule for the spellings of one function: a library re-exports it under
    several paths (pandas.DataFrame.drop is also pandas.core.api.DataFrame.drop), and a method
    is inherited by several classes; the rows of those paths agree on everything but the path.
    The shortest path names the rule; the scanner matches every one (``symbols``)."""
    out: list[dict] = []
    groups: dict[tuple, dict] = {}
    for row in rows:
        if row["kind"] != "positional":
            out.append(row)
            continue
        # A method inherited by a family of classes (Index.get_loc, CategoricalIndex.get_loc,
        # ...) is one function too: same name, same signatures, same bound first parameter.
        key = (
            row["package"], row["introduced"], row["max_positional"], row.get("bound"),
            tuple(row["moved"]), tuple(row["signatures"]), row["symbol"].rsplit(".", 1)[-1],
            row.get("ref"),
        )  # fmt: skip
        if key in groups:
            group = groups[key]
            if row["symbol"] not in group["symbols"]:
                group["symbols"].append(row["symbol"])
            continue
        group = {**row, "symbols": [row["symbol"]]}
        groups[key] = group
        out.append(group)
    for group in groups.values():
        group["symbols"].sort(key=lambda s: (len(s), s))
        group["symbol"] = group["symbols"][0]
    return out


def one_rule_per_object(rules: list[dict], old: dict) -> tuple[list[dict], dict, dict]:
    """One rule per removed object (rule_identity.py): spellings that a package binds to the
    function of a same-named submodule are added, rules about the same object are folded into
    one (the folded codes become aliases), generated rules a hand-written rule already covers
    are folded into it, and a class member that subclasses still have says so."""
    dist_of = {name: spec["dist"] for name, spec in LIBS.items()}
    for rule in rules:
        present = rule["evidence"]["present"].rsplit(" ", 1)[-1]
        spellings = rule.get("symbols") or [rule["symbol"]]
        extra = []
        for spelling in spellings:
            alt = rule_identity.shadowing_function(dist_of[rule["package"]], present, spelling)
            if (
                alt
                and alt not in spellings
                and all(
                    rule_identity.shadowing_function(
                        dist_of[rule["package"]], v.rsplit(" ", 1)[-1], spelling
                    )
                    for v in rule["evidence"]["absent"]
                )
            ):
                extra.append(alt)
        if extra:
            rule["symbols"] = [*spellings, *extra]
            rule["evidence"]["also_named"] = {
                alt: f"{alt.rsplit('.', 1)[0]} binds {alt} to the function "
                f"{alt}.{alt.rsplit('.', 1)[-1]} (`from .{alt.rsplit('.', 1)[-1]} import "
                f"{alt.rsplit('.', 1)[-1]}`), shadowing the module of that name"
                for alt in extra
            }
    by_code = {r["code"]: r for r in rules}
    rules, folded = rule_identity.fold(rules, dist_of)
    rules, to_hand, hand_spellings = rule_identity.fold_into_hand(rules, hand_rules(), LIBS)
    for rule in rules:
        note_subclasses_keeping(rule)
    retired = dict(old.get("retired") or {})
    for code, now in {**folded, **to_hand}.items():
        gone = by_code[code]
        why = (
            f"the same removal as {now}, written by hand for the canonical spelling"
            if code in to_hand
            else f"the same {'function' if gone['kind'] == 'positional' else gone['kind']}"
            f" as {now} under another spelling"
        )
        # Its name too: a suppression may name the rule (`ignore[pandas-...]`), not its code.
        retired[code] = {
            "now": now, "why": why, "name": gone["name"], "symbol": gone["symbol"],
            "keyword": gone["keyword"], "max_positional": gone.get("max_positional"),
        }  # fmt: skip
    current = {r["code"] for r in rules}
    for code in list(retired):
        if code in current:
            del retired[code]  # stands for a rule again
            continue
        now, hops = retired[code]["now"], 0
        while now in retired and hops < 10:  # a code folded into one folded later
            now, hops = retired[now]["now"], hops + 1
        retired[code]["now"] = now
    return rules, dict(sorted(retired.items())), hand_spellings


def note_subclasses_keeping(rule: dict) -> None:
    """A member gone from a class that some of its public subclasses still have (SciPy 1.11
    made ``spmatrix`` a mixin: ``spmatrix.toarray`` is gone from the class, while every
    ``csr_matrix``, an ``spmatrix`` too, keeps it). The rule matches the class's own spelling, an
    instance made from that class and ``self`` in a class deriving from it (all of which lose the
    member), never an instance of those subclasses; its text says so, with them as evidence."""
    if rule["kind"] != "attribute" or not rule.get("owner"):
        return
    spec = LIBS[rule["package"]]
    name = rule["symbol"].rsplit(".", 1)[-1]
    spellings = set(rule.get("symbols") or [rule["symbol"]])
    kept: dict[str, list[str]] = {}
    for release in rule["evidence"]["absent"]:
        version = release.rsplit(" ", 1)[-1]
        found = rule_identity.subclasses_keeping(spec["dist"], version, rule["owner"], name)
        kept[release] = [c for c in found if f"{c}.{name}" not in spellings]
    if not all(kept.values()):
        return
    first = next(iter(kept.values()))
    shown = ", ".join(c.rsplit(".", 1)[-1] for c in first[:4]) + (", …" if len(first) > 4 else "")
    rule["what"] += (
        f" The class {rule['owner']} lost it, not its subclasses {shown}: their instances keep "
        f"{name} and this rule does not flag them; it flags {rule['owner']}.{name} itself and "
        f"classes deriving from {rule['owner']} without such a subclass."
    )
    rule["evidence"]["still_on"] = kept
    rule["evidence"]["how"] += "; the subclasses that keep it read from the same wheels"
    if rule["fix"].startswith("See the "):  # a fix written from the release notes stays
        example = first[0].rsplit(".", 1)[-1]
        rule["fix"] = (
            f"Call {name} on the object (an instance of {example} or another subclass that "
            f"keeps it), not through {rule['owner']}; a class of your own should derive from "
            f"such a subclass rather than from {rule['owner']} alone."
        )


def write(rows, previous, unconfirmed, only) -> None:
    rules, seen = [], set()
    used: dict[str, set[int]] = {}
    for code in previous.values():
        used.setdefault(code[:3], set()).add(int(code[3:]))
    given: set[str] = set()
    from cockpit.compat.python_scan import _canon

    unique: dict[tuple, dict] = {}
    for r in rows:  # the first row for a key wins (catalog, then curated, then the diff)
        r = {**r, "symbol": _canon(r["symbol"])}
        unique.setdefault(rule_key(r), r)
    for row in group_aliases(list(unique.values())):
        key = rule_key(row)
        if key in seen:
            continue
        seen.add(key)
        spec = LIBS[row["package"]]
        code = previous.get(key)
        if code is None or code in given:
            numbers = used.setdefault(spec["prefix"], set())
            number = max(numbers, default=0) + 1
            numbers.add(number)
            code = f"{spec['prefix']}{number:03d}"
        given.add(code)
        if row["kind"] == "positional":
            rules.append({"code": code, **positional_rule(row, spec)})
            continue
        symbol, keyword = row["symbol"], row["keyword"]
        label = f"{symbol}({keyword}=…)" if keyword else symbol
        generic = {
            "module": f"The {symbol} module is gone from {row['package']} {row['introduced']}.",
            "attribute": f"{symbol} is gone from {row['package']} {row['introduced']}.",
            "keyword": f"{symbol}() no longer takes {keyword}= in {row['package']} {row['introduced']}.",
        }[row["kind"]]
        slug = re.sub(r"[^a-z0-9]+", "-", (symbol + ("-" + keyword if keyword else "")).lower())
        rules.append({
            "code": code,
            "name": f"{row['package']}-removed-{slug}".strip("-"),
            "package": row["package"],
            "kind": row["kind"],
            "symbol": symbol,
            "keyword": keyword,
            "owner": row.get("owner"),
            "introduced": row["introduced"],
            "restored": row.get("restored"),
            "what": generic + (f" {row['what']}" if row.get("what") else ""),
            "fix": row.get("fix") or f"See the {row['package']} release notes for what replaces {label}.",
            "source": row.get("source") or spec["notes"],
            "ref": row.get("ref"),
            "evidence": {
                "present": f"{spec['dist']} {row['present']}",
                "absent": [f"{spec['dist']} {v}" for v in row["absent"]],
                "how": "reference catalog entry, confirmed in the wheels" if row.get("ref")
                else "release notes, confirmed in the wheels" if row.get("source")
                else "API diff of the two wheels",
            },
        })  # fmt: skip
    old = json.loads(OUT.read_text("utf-8")) if OUT.exists() else {}
    rules, retired, hand_spellings = one_rule_per_object(rules, old)
    if old and sys.argv[1:]:
        # A partial run keeps the other libraries' rules.
        keep = [r for r in old["rules"] if r["package"] not in only and rule_key(r) not in seen]
        rules = keep + rules
        for code, entry in (old.get("hand_spellings") or {}).items():
            if entry.get("package") not in only and code not in hand_spellings:
                hand_spellings[code] = entry
    rules.sort(key=lambda r: (r["code"][:3], int(r["code"][3:])))
    wheels: dict[str, dict[str, str]] = {}
    for package in only:
        spec = LIBS[package]
        for v in sorted([*spec["versions"], *spec.get("bisect", ())], key=_vt):
            wheels.setdefault(f"{spec['dist']}=={v}", wheelapi.wheel(spec["dist"], v).provenance())
    document = {
        "about": "Public APIs of the libraries pipelines import that are gone from a later release, "
        "read from the released wheels.",
        "generated_by": "scripts/gen_library_removals.py",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provenance": {
            "method": f"griffe {wheelapi.griffe_version()} reading each wheel statically (pip download --no-deps)",
            "wheels": wheels,
            # Decisions about what a rule claims, with why (each rule's evidence has the detail).
            "identity": "one rule per removed object: every spelling resolved with griffe to "
            "where the older wheel defines it (rules' 'targets'); rules about the same object, "
            "keyword and releases folded into one, their codes kept in 'retired'",
            "class_members_kept_by_subclasses": {
                "codes": [r["code"] for r in rules if r["evidence"].get("still_on")],
                "why": "a member gone from a class that public subclasses still have (SciPy 1.11 "
                "made spmatrix a mixin: spmatrix.toarray is gone, csr_matrix(...).toarray() is "
                "not). Kept as blocking rules because what they flag does break (the class's own "
                "attribute, an instance of that class, self in a class deriving from it alone); "
                "an instance of a subclass that keeps the member is never flagged. Their text "
                "names those subclasses, read from the same wheels (evidence 'still_on').",
            },
        },
        "unconfirmed": unconfirmed,
        # Codes folded into another rule (same object under another spelling): a suppression
        # naming one still applies to the rule it went into; `cockpit rules show` explains it.
        "retired": retired,
        # Spellings of hand-written rules' APIs (data/rules.yaml) found through other imports.
        "hand_spellings": hand_spellings,
        "rules": rules,
    }
    OUT.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for r in rules:
        counts[r["package"]] = counts.get(r["package"], 0) + 1
    print(
        f"wrote {OUT.relative_to(ROOT)}: {len(rules)} rules {counts}; {len(unconfirmed)} unconfirmed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
