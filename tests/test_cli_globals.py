"""Global options anywhere, in every command's help, and the one JSON envelope (real CLI)."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

from cockpit.cli import build_parser
from cockpit.cli.globals import GLOBAL_OPTIONS, GROUP_TITLE, subparsers_of

REPO = Path(__file__).resolve().parent.parent
SAMPLE_STATE = REPO / "sample_state" / "kyros.cockpit.db"


def _leaves(parser, path=()):
    children = subparsers_of(parser)
    if not children:
        yield path, parser
    for name, child in children:
        yield from _leaves(child, (*path, name))


def test_every_command_shows_and_takes_the_global_options():
    parser = build_parser(None)
    leaves = list(_leaves(parser))
    assert len(leaves) > 25  # every command and action, UI ones included
    for path, leaf in leaves:
        text = leaf.format_help()
        assert GROUP_TITLE in text, path
        for option in GLOBAL_OPTIONS:
            assert option.flag in text, (path, option.flag)
            action = leaf._option_string_actions[option.flag]
            # Same dest as the top level's, and no default that would erase a value given
            # before the command (argparse copies a sub-parser's defaults over it).
            assert (action.dest, action.default) == (option.dest, argparse.SUPPRESS), path


def test_state_before_or_after_the_command_is_the_same(cli, tmp_path):
    state = str(SAMPLE_STATE)
    # One moment for all four: at "now" the runway gate counts days left from today's date,
    # and a run crossing UTC midnight would answer differently.
    at = ("--as-of", "2026-11-20T12:00:00")
    runs = [
        cli("--state", state, "gates", "--format", "json", *at),
        cli("gates", "--state", state, "--format", "json", *at),
        cli("--format", "json", "gates", "--state", state, *at),
        cli("gates", "--format=json", f"--state={state}", *at),
    ]
    bodies = [json.loads(r.stdout) for r in runs]
    assert {r.returncode for r in runs} == {1}  # the sample is NO-GO
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["cockpit"]["command"] == "gates" and len(bodies[0]["gates"]) == 8
    # Nested commands take them between their words too.
    nested = cli("runtimes", "--state", state, "list", "--format", "json")
    assert nested.returncode == 0, nested.stderr
    ids = [r["id"] for r in json.loads(nested.stdout)["runtimes"]]
    assert "16.4-lts-ml" in ids


def test_config_after_the_command(cli, tmp_path):
    config = tmp_path / "elsewhere.toml"
    init = cli("init", str(config), "--format", "json", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert json.loads(init.stdout) == {
        "cockpit": {"command": "init", "version": "0.1.0", "exit_code": 0},
        "path": str(config),
    }
    state = tmp_path / "given.db"
    gates = cli("gates", "--config", str(config), "--state", str(state), cwd=REPO)
    # The config was read (its route) but the state file given after the command wins.
    assert gates.returncode == 2 and f"no state file at {state}" in gates.stderr


def test_format_before_the_command_is_checked_against_the_commands_choices(cli):
    bad = cli("--format", "csv", "gates", "--state", str(SAMPLE_STATE))
    assert bad.returncode == 2
    assert "invalid choice: 'csv'" in bad.stderr and len(bad.stderr.splitlines()) == 1
    none = cli("--format", "json", "sim", "workspace", "--scenario", "x")
    assert none.returncode == 2 and "`cockpit sim workspace` has no --format" in none.stderr
    # After the command wins over before it.
    both = cli("--format", "json", "rules", "list", "--format", "table")
    assert both.returncode == 0 and "MLF101" in both.stdout
    assert not both.stdout.lstrip().startswith("{")


def test_errors_under_json_are_an_envelope_with_the_same_exit_code(cli, tmp_path):
    missing = cli("gates", "--state", str(tmp_path / "none.db"), "--format", "json")
    assert missing.returncode == 2
    body = json.loads(missing.stdout)
    assert body["cockpit"]["exit_code"] == 2 and body["cockpit"]["command"] == "gates"
    assert body["cockpit"]["error"] == f"no state file at {tmp_path / 'none.db'}"
    assert missing.stderr.startswith("cockpit: error: no state file")
    usage = cli("rules", "show", "--format", "json")  # CODE missing: argparse's own error
    assert usage.returncode == 2
    assert json.loads(usage.stdout)["cockpit"]["error"].startswith("the following arguments")
    unknown = cli("rules", "show", "NOPE999", "--format", "json")
    assert unknown.returncode == 2 and "NOPE999" in json.loads(unknown.stdout)["cockpit"]["error"]


def test_fix_reports_in_json(cli, tmp_path):
    root = tmp_path / "p"
    root.mkdir()
    (root / "train.py").write_text(
        "import mlflow\n\nfor e in mlflow.list_experiments():\n    print(e)\n", encoding="utf-8"
    )
    shown = cli("fix", ".", "--mlflow-from", "1.30.1", "--format", "json", cwd=root)
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert body["cockpit"]["command"] == "fix" and body["applied"] is False
    assert body["fixable"] == 1 and body["files"][0]["path"].endswith("train.py")
    assert body["files"][0]["fixed"][0]["code"] == "MLF101"
    assert "+for e in mlflow.search_experiments():" in body["files"][0]["diff"]
    assert "list_experiments" in (root / "train.py").read_text()  # nothing written
    applied = cli("fix", ".", "--mlflow-from", "1.30.1", "--apply", "--format", "json", cwd=root)
    assert json.loads(applied.stdout)["applied"] is True
    assert "search_experiments" in (root / "train.py").read_text()


def test_runtimes_import_reports_in_json(cli, tmp_path):
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("numpy==2.0.0\ntorch==2.6.0\n", encoding="utf-8")
    state = tmp_path / "s.db"
    out = cli(
        "runtimes",
        "import",
        str(freeze),
        "--name",
        "img-1",
        "--format",
        "json",
        "--state",
        str(state),
    )
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert (body["id"], body["libraries"], body["state"]) == ("img-1", 2, str(state))
    assert "imported img-1" in out.stderr  # the human line moved to stderr


def test_sample_copy_gates_json_in_a_pipe_is_compact(cli, tmp_path):
    copy = tmp_path / "copy.db"
    shutil.copy(SAMPLE_STATE, copy)
    out = cli("gates", "--state", str(copy), "--format", "json")
    assert out.stdout.count("\n") == 1  # one compact line when piped
    assert Path(copy).stat().st_size == SAMPLE_STATE.stat().st_size


def _piped(*args: str, columns: str | None = None):
    """The real CLI with stdout a pipe; COLUMNS only when given (other tests in this worker
    may have left one in os.environ: Textual's test driver sets it)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "CI")}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tables_are_full_width_when_piped():
    # `cockpit inventory --stored` used to cut job names to "kyros-…" at 80 columns in a pipe.
    stored = _piped("inventory", "--stored", "--state", str(SAMPLE_STATE))
    assert stored.returncode == 0, stored.stderr
    assert "…" not in stored.stdout
    assert "kyros-churn-train" in stored.stdout
    assert max(len(line) for line in stored.stdout.splitlines()) > 80
    # An explicit COLUMNS (a narrow terminal) is still honoured.
    narrow = _piped("inventory", "--stored", "--state", str(SAMPLE_STATE), columns="60")
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60


def test_check_findings_compact_in_a_narrow_terminal():
    pipelines = "sample_state/pipelines"  # relative (cwd is the repo): short head lines
    wide = _piped("check", pipelines, "--mlflow-from", "1.30.1")
    narrow = _piped("check", pipelines, "--mlflow-from", "1.30.1", columns="70")
    assert wide.returncode == narrow.returncode == 1
    assert "┃" in wide.stdout or "│" in wide.stdout  # the table when there is room
    lines = narrow.stdout.splitlines()
    assert "│" not in narrow.stdout and max(len(line) for line in lines) <= 70
    # One line per finding (severity, code, where), its message indented below it.
    heads = [
        i for i, line in enumerate(lines) if re.match(r"(blocking|warning|info) [A-Z]+\d+ ", line)
    ]
    # (a long path may wrap onto a second head line)
    assert heads and all(any(x.startswith("    ") for x in lines[i + 1 : i + 3]) for i in heads)
    assert "MLF101" in narrow.stdout
