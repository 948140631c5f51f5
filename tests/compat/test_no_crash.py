"""Whatever a file holds, scanning it never raises: broken input becomes a CPT001 finding."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner, ScanResult

CROSSING = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
SCANNER = Scanner(CROSSING)
KINDS = ("python", "ipynb", "requirements", "pyproject", "setup.cfg", "json")

# Fragments that push the scanners down their interesting paths, mixed with arbitrary text.
FRAGMENTS = st.sampled_from(
    [
        "import mlflow as mf\n",
        "from mlflow.tracking import MlflowClient as C\n",
        "C().list_experiments()\n",
        "# Databricks notebook source\n",
        "# COMMAND ----------\n",
        "# MAGIC %pip install mlflow==1.30.1\n",
        "# MAGIC %sql\n",
        "%run ./other\n",
        "def f(:\n",
        "    x = (\n",
        '{"tasks": [{"new_cluster": {"spark_version": 3}}]}',
        "numpy<1.2; python_version >= '3'\n",
        "# cockpit: ignore[MLF101\n",
        "\x00\ufeff\u2028",
    ]
)
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=40)), max_size=25).map("".join)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _scan(text: str, kind: str, path: str) -> ScanResult:
    result = ScanResult(CROSSING)
    SCANNER.scan_text(path, text, kind, result)
    for finding in result.findings:
        assert finding.line >= 1 and finding.column >= 1
    return result


@SETTINGS
@given(text=TEXT, kind=st.sampled_from(KINDS))
def test_arbitrary_text_never_raises(text, kind):
    _scan(text, kind, {"pyproject": "pyproject.toml", "setup.cfg": "setup.cfg"}.get(kind, "f"))


JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
CELL = st.fixed_dictionaries(
    {
        "cell_type": st.sampled_from(["code", "markdown", "raw", 3]),
        "source": st.one_of(TEXT, st.lists(TEXT, max_size=5), JSON_VALUE),
    }
)


@SETTINGS
@given(cells=st.lists(st.one_of(CELL, JSON_VALUE), max_size=6), extra=JSON_VALUE)
def test_arbitrary_notebooks_never_raise(cells, extra):
    text = json.dumps({"cells": cells, "metadata": extra, "nbformat": 4}, indent=1)
    _scan(text, "ipynb", "nb.ipynb")


@SETTINGS
@given(settings_=JSON_VALUE, clusters=st.lists(JSON_VALUE, max_size=3))
def test_arbitrary_job_json_never_raises(settings_, clusters):
    text = json.dumps({"settings": {"tasks": [settings_], "job_clusters": clusters}})
    _scan(text, "json", "job.json")


def test_unparsable_files_are_findings(tmp_path):
    result = _scan("[project\nname = 1\n", "pyproject", "pyproject.toml")
    assert [(f.code, f.line) for f in result.findings] == [("CPT001", 1)]
    result = _scan("def f(:\n", "python", "x.py")
    assert [(f.code, f.line) for f in result.findings] == [("CPT001", 1)]
    deep = "x = " + "(" * 5000 + ")" * 5000 + "\n"
    assert [f.code for f in _scan(deep, "python", "deep.py").findings] == ["CPT001"]


# Lines that give the .ipynb fixer work (renames), or try to mislead where it writes: magics, a
# line quoting the "source" key, non-ASCII, a line that does not parse.
NB_LINES = st.sampled_from(
    [
        "import mlflow\n",
        "x = mlflow.list_experiments()  # ü 実験\n",
        "mlflow.list_experiments()",
        "c = mlflow.tracking.MlflowClient()\n",
        "c.list_registered_models()\n",
        "%pip install a\n",
        "!ls\n",
        "print('\"source\": 1')\n",
        "def f(:\n",
        "\n",
    ]
)
NB_SOURCE = st.lists(NB_LINES, max_size=5)
NB_CELL = st.fixed_dictionaries(
    {
        "cell_type": st.sampled_from(["code", "code", "markdown"]),
        "metadata": st.just({}),
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"output_type": st.just("stream"), "text": st.lists(NB_LINES, max_size=2)}
            ),
            max_size=1,
        ),
        "source": st.one_of(NB_SOURCE, NB_SOURCE.map("".join)),
    }
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(NB_CELL, min_size=1, max_size=4),
    indent=st.sampled_from([None, 1, 2]),
    ascii_only=st.booleans(),
)
def test_notebook_fixes_touch_only_sources_and_settle_in_one_pass(
    tmp_path_factory, cells, indent, ascii_only
):
    from cockpit.compat import autofix

    notebook = {"cells": cells, "metadata": {"kernelspec": {"language": "python"}}}
    path = tmp_path_factory.mktemp("nb") / "n.ipynb"
    path.write_text(json.dumps(notebook, indent=indent, ensure_ascii=ascii_only), "utf-8")
    autofix.apply(autofix.plan(SCANNER.scan_paths([str(path)])))
    after = json.loads(path.read_text("utf-8"))
    assert [{k: v for k, v in c.items() if k != "source"} for c in after["cells"]] == [
        {k: v for k, v in c.items() if k != "source"} for c in cells
    ]
    again = autofix.plan(SCANNER.scan_paths([str(path)]))
    assert not any(fix.changed for fix in again)
