"""The engine never imports Textual; the diff command stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("textual", "mlflow", "pandas", "plotly", "databricks.sdk", "scipy")


def test_no_module_under_cockpit_imports_textual():
    offenders = []
    for path in sorted((REPO / "cockpit").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("textual", "screens", "textual_plotext"):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name}")
    assert offenders == []


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    import json

    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_whole_engine_pulls_in_no_textual():
    code = (
        "import importlib, pkgutil, cockpit\n"
        "for m in pkgutil.walk_packages(cockpit.__path__, 'cockpit.'):\n"
        "    if not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
    )
    loaded = _modules_after(code)
    assert not {m for m in loaded if m == "textual" or m.startswith("textual.")}


def test_runtimes_diff_imports_nothing_heavy():
    code = (
        "import io, contextlib\n"
        "from cockpit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['runtimes', 'diff', '14.3-lts-ml', '16.4-lts-ml', '--format', 'json'])\n"
        "assert rc == 0\n"
    )
    loaded = _modules_after(code)
    heavy = {m for m in loaded for h in HEAVY if m == h or m.startswith(h + ".")}
    assert heavy == set()


def test_building_the_tui_imports_nothing_heavy():
    """Every tab module is imported to build the app; what a tab needs (pandas for statistics,
    the SDK, mlflow, plotly) must be imported in its worker, never at start-up."""
    loaded = _modules_after("from screens.app import discover_tabs\ndiscover_tabs()\n")
    not_for_start = [h for h in (*HEAVY, "numpy", "pydantic") if h != "textual"]
    heavy = {m for m in loaded for h in not_for_start if m == h or m.startswith(h + ".")}
    assert heavy == set()
    assert "textual" in loaded  # the probe did build the UI side


STATS_AND_CHARTS = ("pandas", "scipy", "plotly", "numpy")


def _cli_modules(*argv: str, cwd: Path = REPO) -> set[str]:
    """What a real `cockpit ...` process has loaded when its command returns."""
    code = (
        "import io, contextlib, sys, json\n"
        "from cockpit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main({list(argv)!r})\n"
        "print(json.dumps([rc, sorted(sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd
    )
    import json

    rc, loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert rc in (0, 1), out.stderr  # the command ran (GO/NO-GO, findings or not)
    return set(loaded)


def _heavy(loaded: set[str]) -> set[str]:
    return {m for m in loaded for h in STATS_AND_CHARTS if m == h or m.startswith(h + ".")}


def test_gates_runtimes_rules_and_check_import_no_stats_or_charts(tmp_path):
    """`cockpit gates` reads the stored benchmark verdicts (cockpit.bench.verdicts); these
    commands are run in scripts and CI steps, where 1.5 s of pandas/scipy imports would show."""
    import shutil

    sample = tmp_path / "sample.db"
    shutil.copy(REPO / "sample_state" / "kyros.cockpit.db", sample)
    commands = [
        ("gates", "--state", str(sample), "--format", "json"),
        ("gates", "--state", str(sample)),
        ("runtimes", "list", "--state", str(sample)),
        ("runtimes", "show", "16.4-lts-ml"),
        ("rules", "list"),
        ("rules", "show", "MLF101"),
        ("check", str(REPO / "sample_state" / "pipelines"), "--format", "json"),
    ]
    for argv in commands:
        assert _heavy(_cli_modules(*argv, cwd=tmp_path)) == set(), argv


def test_import_contracts_hold():
    """The layers of CONTRIBUTING.md ("Layers and data flow"), as [tool.importlinter] in
    pyproject.toml states them: the engine never imports the UI, the UI never the CLI layer, a
    module only imports from layers below its own, and no two sibling modules import each
    other (no cycles)."""
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache", str(REPO / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def _thread_workers(tree: ast.AST):
    """Functions that run on a worker thread: ``@work(thread=True)`` methods, and the
    ``*_in_thread`` methods the app hands to ``run_worker(..., thread=True)``."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        threaded = node.name.endswith("_in_thread")
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "id", "") == "work":
                threaded |= any(
                    k.arg == "thread" and getattr(k.value, "value", False) for k in deco.keywords
                )
        if threaded:
            yield node


def test_no_worker_thread_assigns_widget_attributes():
    """A worker hands its outcome to the UI thread (a posted Message, or call_from_thread); it
    never writes an attribute the UI thread reads (``self.x = ...`` on a worker thread)."""
    offenders = []
    for path in sorted((REPO / "screens").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for worker in _thread_workers(tree):
            for node in ast.walk(worker):
                targets = []
                if isinstance(node, ast.Assign):
                    targets = node.targets
                elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                    targets = [node.target]
                for target in targets:
                    for sub in ast.walk(target):
                        if (
                            isinstance(sub, ast.Attribute)
                            and isinstance(sub.value, ast.Name)
                            and sub.value.id == "self"
                        ):
                            offenders.append(
                                f"{path.relative_to(REPO)}:{sub.lineno} {worker.name} "
                                f"sets self.{sub.attr}"
                            )
    assert offenders == []
    # The check sees the workers it is meant to see.
    app = ast.parse((REPO / "screens" / "tabs" / "mlflow_sync.py").read_text(encoding="utf-8"))
    assert "_mirror" in {w.name for w in _thread_workers(app)}


def test_every_engine_package_has_a_layer():
    """A new package or top-level module of cockpit/ is placed in the layers (pyproject.toml,
    at the height of what it imports), so the contracts cover it."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["id"] == "engine-layers")["layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    present = {
        f"cockpit.{p.stem}"
        for p in (REPO / "cockpit").iterdir()
        if (p.suffix == ".py" or (p / "__init__.py").is_file()) and not p.name.startswith("__")
    }
    assert present - placed == set()


def test_the_s3_client_bench_loads_no_s3_client_before_its_measurement():
    """``bench/s3_clients.py`` measures what S3 clients cost in fresh processes: loading it (and
    its shared ``moto_store`` helpers), as ``python bench/s3_clients.py`` does with bench/ first
    on sys.path, must not load boto3 or the cockpit's S3 modules."""
    loaded = _modules_after("import sys\nsys.path.insert(0, 'bench')\nimport s3_clients\n")
    assert {"s3_clients", "moto_store"} <= loaded
    s3 = {
        m
        for m in loaded
        if m.split(".")[0] in ("boto3", "botocore", "s3transfer")
        or m.startswith(("cockpit.mlflow.s3_", "cockpit.s3"))
    }
    assert s3 == set()
