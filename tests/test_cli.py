"""The CLI as a user runs it: output formats, exit codes, one-line errors, --help that teaches."""

from __future__ import annotations

import csv
import io
import json

import pytest


def test_reference_diff_json(cli):
    result = cli("runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cockpit"] == {"command": "runtimes diff", "version": "0.1.0", "exit_code": 0}
    assert set(data) == {
        "cockpit",
        "from",
        "to",
        "system",
        "libraries",
        "counts",
        "behavior_changes",
        "support",
        "sources",
        "notes",
    }
    system = {s["component"]: s for s in data["system"]}
    assert (system["python"]["old"], system["python"]["new"]) == ("3.10.12", "3.12.3")
    assert (system["os"]["old_short"], system["os"]["new_short"]) == (
        "Ubuntu 22.04",
        "Ubuntu 24.04",
    )
    assert (system["java"]["old_short"], system["java"]["new_short"]) == ("8", "17")
    libs = {x["name"]: x for x in data["libraries"]}
    assert libs["horovod"]["kind"] == "removed"
    assert (libs["torch"]["old"], libs["torch"]["new"], libs["torch"]["severity"]) == (
        "2.0.1+cpu",
        "2.6.0+cpu",
        "breaking",
    )
    assert (libs["mlflow-skinny"]["old"], libs["mlflow-skinny"]["new"]) == ("2.9.2", "2.21.3")
    assert (libs["numpy"]["old"], libs["numpy"]["new"]) == ("1.23.5", "1.26.4")
    assert libs["pandas"]["kind"] == "unchanged"
    assert data["behavior_changes"] and all(
        b["source"].startswith("https://") for b in data["behavior_changes"]
    )


def test_only_breaking_and_other_formats(cli):
    result = cli(
        "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--only", "breaking", "--format", "csv"
    )
    assert result.returncode == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and {r["severity"] for r in rows} == {"breaking"}
    md = cli(
        "runtimes",
        "diff",
        "14.3-lts-ml",
        "16.4-lts-ml",
        "--only",
        "changed",
        "--format",
        "markdown",
    )
    assert md.returncode == 0
    assert md.stdout.startswith("# Runtime diff: 14.3-lts-ml → 16.4-lts-ml")
    assert "| horovod | removed |" in md.stdout and "| pandas |" not in md.stdout
    table = cli("runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml")
    assert (
        table.returncode == 0 and "horovod" in table.stdout and "Behaviour changes" in table.stdout
    )


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["runtimes", "diff", "14.3-lts-ml", "16.4-ml"], 2, "did you mean 16.4-lts"),
        (["runtimes", "diff", "14.3-lts-ml"], 2, "the following arguments are required"),
        (["runtimes", "diff", "a", "b", "--format", "xml"], 2, "invalid choice"),
        (["nonsense"], 2, "invalid choice"),
        (
            ["--config", "/nonexistent/cockpit.toml", "runtimes", "list"],
            2,
            "config file /nonexistent/cockpit.toml not found",
        ),
    ],
)
def test_usage_errors_are_one_line(cli, args, code, needle):
    result = cli(*args)
    assert result.returncode == code, result.stderr
    if needle:
        assert needle in result.stderr
        assert result.stderr.startswith("cockpit: error: ")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr


def test_bad_config_is_one_line_exit_2(tmp_path, cli):
    (tmp_path / "cockpit.toml").write_text("[migration]\nname = 'x'\nfrom = '14.3-lts-ml'\n")
    result = cli("open", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr == "cockpit: error: cockpit.toml:1: migration.to: required key is missing\n"
    )


@pytest.mark.parametrize("content", [b"garbage" * 100, b""])
def test_bad_state_file_is_one_line_exit_2_and_untouched(tmp_path, cli, content):
    bad = tmp_path / "bad.db"
    bad.write_bytes(content)
    result = cli("open", str(bad), "--offline")
    assert result.returncode == 2
    assert result.stderr.startswith("cockpit: error: ") and result.stderr.count("\n") == 1
    assert bad.read_bytes() == content


def test_init_writes_a_valid_template_and_refuses_to_overwrite(tmp_path, cli):
    result = cli("init", cwd=tmp_path)
    assert result.returncode == 0
    from cockpit.config import load_config

    assert load_config(tmp_path / "cockpit.toml").migration.to_runtime == "16.4-lts-ml"
    again = cli("init", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr


def test_help_teaches(cli):
    top = cli("--help")
    assert top.returncode == 0
    for word in ("runtimes", "open", "init", "exit codes", "examples"):
        assert word in top.stdout
    diff_help = cli("runtimes", "diff", "--help")
    assert "--only" in diff_help.stdout and "severity" in diff_help.stdout


def test_runtimes_show_and_list(cli):
    show = cli("runtimes", "show", "16.4-lts-ml", "--format", "json")
    data = json.loads(show.stdout)
    assert data["system"]["python"] == "3.12.3" and data["sources"]
    listing = json.loads(cli("runtimes", "list", "--format", "json").stdout)["runtimes"]
    assert [r["id"] for r in listing][:2] == ["13.3-lts", "13.3-lts-ml"]


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("cockpit ")
