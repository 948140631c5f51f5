"""`cockpit completion bash|zsh|fish`: TAB completion from the parser, through the real CLI.

bash is driven for real (the hook sourced, its completion function called as bash calls it);
zsh and fish are not installed here, so their hooks are checked for what they register and
the cockpit is asked exactly as their hooks ask it (argcomplete's protocol: ``_ARGCOMPLETE``,
``COMP_LINE``, ``COMP_POINT``, ``_ARGCOMPLETE_SHELL``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin, where the `cockpit` entry point is


def _bash_complete(line: str, cwd: Path = REPO) -> list[str]:
    words = line.split(" ")
    script = f"""
eval "$(cockpit completion bash)"
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9
COMP_WORDS=({" ".join(repr(w) for w in words)}); COMP_CWORD={len(words) - 1}
_python_argcomplete cockpit {words[-1]!r} {words[-2]!r} 2>/dev/null
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    return [w.strip() for w in out.stdout.splitlines() if w.strip()]


def _asked_like(shell: str, line: str, tmp_path: Path, cwd: Path = REPO) -> list[str]:
    target = tmp_path / f"{shell}.out"
    env = {
        **os.environ,
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_SHELL": shell,
        "_ARGCOMPLETE_IFS": "\n",
        "_ARGCOMPLETE_SUPPRESS_SPACE": "1",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(target),
    }
    subprocess.run(
        [str(BIN / "cockpit")], cwd=cwd, env=env, capture_output=True, timeout=60, check=True
    )
    return [w.split("\t")[0].split(":")[0] for w in target.read_text().splitlines() if w]


def test_bash_completes_commands_options_runtime_ids_and_rule_codes():
    assert shutil.which("bash")
    assert "gates" in _bash_complete("cockpit ga")
    assert set(_bash_complete("cockpit mlflow s")) == {"status", "sync", "schema-watch"}
    assert "--format" in _bash_complete("cockpit gates --fo")
    assert set(_bash_complete("cockpit gates --format ")) == {"table", "json"}
    assert "--state" in _bash_complete("cockpit runtimes list --st")  # global options too
    assert set(_bash_complete("cockpit runtimes diff 14.3-lts-ml 16.")) == {
        "16.4-lts",
        "16.4-lts-ml",
    }
    assert {"MLF101", "MLF102"} <= set(_bash_complete("cockpit rules show MLF10"))
    assert {"bash", "zsh", "fish"} <= set(_bash_complete("cockpit completion "))


def test_zsh_and_fish_hooks_and_answers(tmp_path, cli):
    zsh = cli("completion", "zsh")
    fish = cli("completion", "fish")
    assert zsh.returncode == fish.returncode == 0
    assert zsh.stdout.startswith("#compdef cockpit") and '_ARGCOMPLETE_SHELL="zsh"' in zsh.stdout
    assert "complete --command cockpit" in fish.stdout and "_ARGCOMPLETE_SHELL fish" in fish.stdout
    for shell in ("zsh", "fish"):
        assert "sign-off" in _asked_like(shell, "cockpit checklist s", tmp_path)
        assert "MLF101" in _asked_like(shell, "cockpit rules show MLF10", tmp_path)
        assert "17.3-lts-ml" in _asked_like(shell, "cockpit check --to 17", tmp_path)
    bad = cli("completion", "tcsh")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_runtime_ids_from_the_state_file(tmp_path, cli):
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("numpy==2.0.0\n", encoding="utf-8")
    state = tmp_path / "s.db"
    imported = cli("runtimes", "import", str(freeze), "--name", "kyros-img", "--state", str(state))
    assert imported.returncode == 0, imported.stderr
    line = f"cockpit runtimes diff --state {state} 16.4-lts-ml kyr"
    assert _bash_complete(line, cwd=tmp_path) == ["kyros-img"]
    assert _asked_like("fish", line, tmp_path, cwd=tmp_path) == ["kyros-img"]
