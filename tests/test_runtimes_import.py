"""`cockpit runtimes import`: pip freeze, pip list JSON and manifest JSON, then diff them."""

from __future__ import annotations

import json

import pytest

from cockpit.errors import CockpitError
from cockpit.runtimes.importer import parse_runtime_text

FREEZE = """\
# captured on a cluster
Scikit_Learn==1.4.2
numpy==1.26.4
-e git+https://example.invalid/x.git#egg=x
mypkg @ file:///tmp/mypkg-1.0-py3-none-any.whl
torch==2.6.0+cpu ; python_version >= "3.9"
not a requirement line
"""


def test_parse_freeze():
    m = parse_runtime_text(FREEZE, name="img")
    assert m["python_libraries"] == {
        "scikit-learn": "1.4.2",
        "numpy": "1.26.4",
        "mypkg": "unknown",
        "torch": "2.6.0+cpu",
    }
    assert "1 line(s)" in m["notes"]


def test_parse_pip_list_json_and_manifest():
    listing = json.dumps([{"name": "NumPy", "version": "2.0.0"}])
    assert parse_runtime_text(listing, name="a")["python_libraries"] == {"numpy": "2.0.0"}
    manifest = json.dumps(
        {"name": "custom", "system": {"python": "3.12.3"}, "python_libraries": {"A_B": "1"}}
    )
    parsed = parse_runtime_text(manifest, name="b")
    assert parsed["python_libraries"] == {"a-b": "1"} and parsed["system"] == {"python": "3.12.3"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("{not json", "not valid"),
        ('{"x": 1}', "neither"),
        ('[{"name": "a"}]', "no name/version"),
        ("hello\nworld\n", "no `name==version` lines"),
    ],
)
def test_bad_inputs(text, message):
    with pytest.raises(CockpitError, match=message):
        parse_runtime_text(text, name="x")


def test_cli_import_then_diff(tmp_path, cli):
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("torch==2.7.0+cpu\nnumpy==2.1.0\nhorovod==0.28.1\n")
    state = tmp_path / "s.db"
    result = cli("--state", str(state), "runtimes", "import", str(freeze), "--name", "kyros-img")
    assert result.returncode == 0, result.stderr
    assert "imported kyros-img: 3 libraries" in result.stdout
    result = cli(
        "--state", str(state), "runtimes", "diff", "16.4-lts-ml", "kyros-img", "--format", "json"
    )
    assert result.returncode == 0, result.stderr
    libs = {x["name"]: x for x in json.loads(result.stdout)["libraries"]}
    assert libs["torch"]["kind"] == "upgraded" and libs["horovod"]["kind"] == "added"
    listed = json.loads(cli("--state", str(state), "runtimes", "list", "--format", "json").stdout)[
        "runtimes"
    ]
    assert {"id": "kyros-img", "origin": "import"}.items() <= next(
        r for r in listed if r["id"] == "kyros-img"
    ).items()


def test_cli_import_refuses_bundled_names_and_bad_files(tmp_path, cli):
    freeze = tmp_path / "f.txt"
    freeze.write_text("numpy==1.0\n")
    state = str(tmp_path / "s.db")
    result = cli("--state", state, "runtimes", "import", str(freeze), "--name", "16.4-lts-ml")
    assert result.returncode == 2 and "bundled" in result.stderr
    result = cli(
        "--state", state, "runtimes", "import", str(tmp_path / "missing.txt"), "--name", "x"
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_cli_import_with_base_keeps_system_facts(tmp_path, cli):
    freeze = tmp_path / "f.txt"
    freeze.write_text("numpy==2.1.0\n")
    state = str(tmp_path / "s.db")
    result = cli(
        "--state",
        state,
        "runtimes",
        "import",
        str(freeze),
        "--name",
        "img",
        "--base",
        "16.4-lts-ml",
    )
    assert result.returncode == 0, result.stderr
    shown = json.loads(cli("--state", state, "runtimes", "show", "img", "--format", "json").stdout)
    assert shown["system"]["python"] == "3.12.3" and shown["end_of_support"] == "2028-05-09"
    assert shown["python_libraries"] == {"numpy": "2.1.0"}
    assert "inherited from 16.4-lts-ml" in shown["notes"]
    bad = cli(
        "--state", state, "runtimes", "import", str(freeze), "--name", "img2", "--base", "16.4"
    )
    assert bad.returncode == 2 and "did you mean" in bad.stderr
