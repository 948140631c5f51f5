"""`cockpit fix` round-trips: after --apply a re-check finds nothing auto-fixable, untouched
files stay byte-identical, comments and formatting survive, and a second run changes nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cockpit.compat import autofix
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner

HERE = Path(__file__).resolve().parent
SOURCES = {
    "samples": HERE / "samples",
    "kyros": HERE.parent.parent / "sample_state" / "pipelines",
}


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def check_json(cli, root: Path) -> dict:
    proc = cli("check", ".", "--mlflow-from", "1.30.1", "--format", "json", cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_apply_then_recheck_leaves_nothing_fixable(cli, tmp_path, name):
    root = tmp_path / name
    shutil.copytree(SOURCES[name], root)
    before_check = check_json(cli, root)
    fixable = [f for f in before_check["findings"] if f["autofix"]]
    assert fixable, "the sample should exercise autofix"
    before = snapshot(root)

    shown = cli("fix", ".", "--mlflow-from", "1.30.1", cwd=root)
    assert shown.returncode == 0, shown.stderr
    assert "+++ b/" in shown.stdout
    assert snapshot(root) == before, "without --apply nothing is written"

    applied = cli("fix", ".", "--mlflow-from", "1.30.1", "--apply", cwd=root)
    assert applied.returncode == 0, applied.stderr
    assert f"fixed {len(fixable)} findings" in applied.stderr

    after_check = check_json(cli, root)
    assert [f for f in after_check["findings"] if f["autofix"]] == []
    # Only the fixable findings went away; everything else is still reported.
    remaining = {(f["path"], f["line"], f["code"]) for f in after_check["findings"]}
    expected = {
        (f["path"], f["line"], f["code"]) for f in before_check["findings"] if not f["autofix"]
    }
    assert remaining == expected

    after = snapshot(root)
    touched = {f["path"].removeprefix("./") for f in fixable}
    for path, content in before.items():
        if path not in touched:
            assert after[path] == content, f"{path} has nothing to fix and must not change"
    again = cli("fix", ".", "--mlflow-from", "1.30.1", "--apply", cwd=root)
    assert "fixed 0 findings in 0 files" in again.stderr
    assert snapshot(root) == after


def fix_text(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode())
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"mlflow": ("1.30.1", None)})
    fixes = autofix.plan(Scanner(crossing).scan_paths([str(path)]))
    autofix.apply(fixes)
    return path.read_bytes().decode()


def test_python_formatting_and_comments_survive(tmp_path):
    source = (
        "import mlflow as mf  # the 1.x client\r\n"
        "from mlflow.tracking import MlflowClient\r\n"
        "\r\n"
        "c = MlflowClient()\r\n"
        "names = [e.name for e in c.list_experiments(  # all of them\r\n"
        "    view_type=1)]\r\n"
        "mf . list_experiments ()   # odd spacing stays odd\r\n"
        "from mlflow import list_experiments  # not rewritten: the local name would change\r\n"
        "list_experiments()\r\n"
    )
    fixed = fix_text(tmp_path, "client.py", source)
    assert fixed == source.replace("c.list_experiments(", "c.search_experiments(").replace(
        "mf . list_experiments ()", "mf . search_experiments ()"
    )


def test_notebook_cells_are_fixed_and_nothing_else_moves(tmp_path):
    """An .ipynb as nbformat writes it: keys sorted (outputs before source, here repeating a
    source line word for word), one string per line, plus a cell saved as one string, a magic
    line, non-ASCII escaped by another writer, and a markdown cell quoting the old name."""
    lines = ["import mlflow\n", "names = mlflow.list_experiments()  # ü\n", "print(names)"]
    notebook = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["mlflow.list_experiments()"]},
            {
                "cell_type": "code",
                "execution_count": 1,
                "metadata": {},
                "outputs": [
                    {"name": "stdout", "output_type": "stream", "text": [lines[1]]},
                ],
                "source": lines,
            },
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": "%pip install x\nc = mlflow.tracking.MlflowClient()\n"
                "c.list_registered_models()",
            },
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for ascii_only in (False, True):
        text = json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=ascii_only) + "\n"
        fixed = fix_text(tmp_path, f"nb{ascii_only}.ipynb", text)
        expected = json.loads(text)
        expected["cells"][1]["source"][1] = lines[1].replace(
            "list_experiments", "search_experiments"
        )
        expected["cells"][2]["source"] = expected["cells"][2]["source"].replace(
            "list_registered_models", "search_registered_models"
        )
        assert json.loads(fixed) == expected  # outputs and the markdown cell untouched
        # Only the two source strings changed, written the way the file writes strings.
        changed = [
            (a, b) for a, b in zip(text.splitlines(), fixed.splitlines(), strict=True) if a != b
        ]
        assert len(changed) == 2
        assert ("\\u00fc" in changed[0][1]) == ascii_only


def test_every_occurrence_is_fixed_in_one_pass(tmp_path):
    """Two renames on one line of a .py, and a minified .ipynb (the whole file on one line, a
    cell saved as one string): one `fix` gets them all, so a second finds nothing to do."""
    source = "import mlflow\na = mlflow.list_experiments(); b = mlflow.list_experiments()\n"
    assert fix_text(tmp_path, "two.py", source) == source.replace("list_exp", "search_exp")
    cell = "import mlflow\nx = mlflow.list_experiments()\ny = mlflow.list_experiments()\n"
    notebook = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": cell},
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": [cell]},
        ],
        "metadata": {"kernelspec": {"language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    fixed = json.loads(fix_text(tmp_path, "min.ipynb", json.dumps(notebook)))
    renamed = cell.replace("list_exp", "search_exp")
    assert [c["source"] for c in fixed["cells"]] == [renamed, [renamed]]


def test_yaml_comments_and_quotes_survive(tmp_path):
    source = (
        "# bundle\n"
        "resources:\n"
        "  jobs:\n"
        "    j:  # the job\n"
        "      name: j\n"
        "      tasks:\n"
        "        - task_key: t\n"
        "          new_cluster:\n"
        "            spark_version: '14.3.x-cpu-ml-scala2.12'   # pinned\n"
        "            num_workers: 1\n"
        "        - task_key: u\n"
        '          new_cluster: {spark_version: "14.3.x-scala2.12", num_workers: 1}\n'
    )
    fixed = fix_text(tmp_path, "databricks.yml", source)
    # The ML key has a same-flavour target; the standard one does not exist on 16.4 ML: untouched.
    assert fixed == source.replace("'14.3.x-cpu-ml-scala2.12'", "'16.4.x-cpu-ml-scala2.12'")


def test_file_without_fixes_is_byte_identical(tmp_path):
    source = "import mlflow\n\n\nmlflow.search_experiments()   # fine\n"
    assert fix_text(tmp_path, "fine.py", source) == source


def test_write_failure_is_a_cockpit_error(tmp_path):
    from cockpit.errors import CockpitError

    gone = tmp_path / "moved-away" / "a.py"  # its folder vanished between plan and apply
    fix = autofix.FileFix(str(gone), "a\n", "b\n")
    with pytest.raises(CockpitError, match="cannot write next to it"):
        autofix.apply([fix])


def test_positional_arguments_become_keywords_only_where_the_target_is_certain(tmp_path):
    """pyarrow 9.0 made read_table's arguments after ``source`` keyword-only (8.0.0 on 14.3,
    15.0.2 on 16.4): ``name=`` is written with the 8.0.0 names, comments and spacing kept."""
    source = (
        "import pyarrow.parquet as pq\r\n"
        "from pyarrow.parquet import read_table\r\n"
        "\r\n"
        "t = pq.read_table(path, ['a', 'b'],  # the columns\r\n"
        "                  True)\r\n"
        "u = read_table(path, None, False)\r\n"
        "v = pq.read_table(path, columns=['a'])\r\n"
        # 15.0.2 has no metadata= at all: reported, never rewritten into a call that fails too.
        "w = read_table(path, None, False, None)\r\n"
    )
    fixed = fix_text(tmp_path, "job.py", source)
    assert fixed == (
        source.replace("path, ['a', 'b']", "path, columns=['a', 'b']")
        .replace("                  True)", "                  use_threads=True)")
        .replace(
            "u = read_table(path, None, False)",
            "u = read_table(path, columns=None, use_threads=False)",
        )
    )
    # A second pass has nothing left to do.
    assert fix_text(tmp_path, "job.py", fixed) == fixed


def test_a_parenthesised_argument_is_not_rewritten_and_does_not_stop_the_others(tmp_path):
    """``f(x, (cols))``: ast places the argument inside its brackets, where ``name=`` would not
    parse; that call is reported without a fix, and the file's other calls are still fixed."""
    source = (
        "import pyarrow.parquet as pq\n"
        "a = pq.read_table(path, (cols))\n"
        "b = pq.read_table(path, cols)\n"
    )
    fixed = fix_text(tmp_path, "job.py", source)
    assert fixed == source.replace("path, cols)", "path, columns=cols)")
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    path = tmp_path / "job.py"
    path.write_text(source)
    found = [f for f in Scanner(crossing).scan_paths([str(path)]).findings if f.line == 2]
    assert [f.autofix for f in found if "read_table" in f.message] == [False]


def test_a_rule_for_arguments_no_longer_taken_at_all_offers_no_autofix():
    """Only arguments the newer release still takes can be named: a rule whose moved arguments
    are all gone (torch's schedulers' ``verbose``) is listed without autofix."""
    from cockpit.compat.rules import catalog, generated_file

    raws = [
        r for r in generated_file("library_removals.json")["rules"] if r["kind"] == "positional"
    ]
    gone = [r["code"] for r in raws if r.get("names_in") and not r.get("keywords")]
    named = [r["code"] for r in raws if r.get("names_in") and r.get("keywords")]
    assert gone and named
    rules = catalog()
    assert not any(rules[code].autofix for code in gone)
    assert all(rules[code].autofix for code in named)


@pytest.mark.parametrize(
    "source",
    [
        # The name is bound twice: which read_table runs is not certain.
        "try:\n    import fastpq as pq\nexcept ImportError:\n    import pyarrow.parquet as pq\n"
        "pq.read_table(p, ['a'])\n",
        # Rebound by an assignment, or shadowed by a parameter somewhere in the file.
        "import pyarrow.parquet as pq\npq.read_table(p, ['a'])\npq = None\n",
        "import pyarrow.parquet as pq\ndef f(pq):\n    return pq\npq.read_table(p, ['a'])\n",
        # Patched: ``pq.read_table = ...`` anywhere.
        "import pyarrow.parquet as pq\npq.read_table = reader\npq.read_table(p, ['a'])\n",
        # A wildcard import may rebind anything.
        "import pyarrow.parquet as pq\nfrom helpers import *\npq.read_table(p, ['a'])\n",
        # **kwargs may already carry the name.
        "import pyarrow.parquet as pq\npq.read_table(p, ['a'], **options)\n",
    ],
)
def test_no_positional_autofix_when_the_target_is_not_certain(tmp_path, source):
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    path = tmp_path / "job.py"
    path.write_text(source)
    result = Scanner(crossing).scan_paths([str(path)])
    found = [f for f in result.findings if "read_table" in f.message]
    assert found, "the call is still reported"
    assert not any(f.autofix for f in found)
    assert fix_text(tmp_path, "job.py", source) == source


def test_no_positional_autofix_from_a_release_that_names_the_arguments_differently(tmp_path):
    """The names are those of the release the rule was read from; a source runtime with another
    release of the package (not one whose signature starts the same way) gets no autofix."""
    source = "import pyarrow.parquet as pq\npq.read_table(p, ['a'])\n"
    path = tmp_path / "job.py"
    path.write_text(source)
    # pyarrow 14.0.1 on 15.4 already took them by keyword; no autofix is offered from it.
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml", overrides={"pyarrow": ("14.0.1", None)})
    found = [f for f in Scanner(crossing).scan_paths([str(path)]).findings]
    assert [f.autofix for f in found if "read_table" in f.message] == [False]
