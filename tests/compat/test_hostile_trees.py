"""Hostile and odd files in scanned trees and bundles (issue 11, items 2, 3, 8 and the scan parts
of 9), each driven through the real CLI on a crafted tree.

Hang guards: every run has a subprocess timeout; a hang fails the test instead of blocking the
suite. Speeds are not asserted here (they are measured and quoted in the README)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cockpit.compat.sourcefiles import confined_glob

REPO = Path(__file__).resolve().parents[2]
LIST_EXPERIMENTS = "import mlflow\nmlflow.list_experiments()\n"


def check_json(*args: str, cwd: Path | None = None, timeout: float = 60) -> tuple[int, dict, str]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cockpit",
            "check",
            *args,
            "--mlflow-from",
            "1.30.1",
            "--format",
            "json",
        ],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def by_code(data: dict, code: str) -> dict[str, dict]:
    return {Path(f["path"]).name: f for f in data["findings"] if f["code"] == code}


# ----------------------------------------------------------------------------------- item 3
def test_fifo_dev_zero_link_loop_and_1gb_file_finish_with_findings_and_bounded_memory(
    tmp_path: Path,
):
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "x.py")  # read() on it would block for ever
    (tree / "z.py").symlink_to("/dev/zero")  # read() would never end
    (tree / "loop.py").symlink_to("loop.py")  # ELOOP
    (tree / "a.ipynb").symlink_to("b.ipynb")
    (tree / "b.ipynb").symlink_to("a.ipynb")
    with open(tree / "big.py", "wb") as fh:  # 1 GB, sparse: costs no disk
        fh.truncate(1 << 30)
    (tree / "real.py").write_text(LIST_EXPERIMENTS)
    # The child's peak RSS, measured by a wrapper whose only child is the cockpit process.
    probe = (
        "import resource, subprocess, sys;"
        "p = subprocess.run([sys.executable, '-m', 'cockpit', 'check', sys.argv[1],"
        " '--mlflow-from', '1.30.1', '--format', 'json'], capture_output=True, text=True, timeout=60);"
        "sys.stderr.write(p.stderr);"
        "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
        "print(p.stdout)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, str(tree)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
    )
    head, _, body = proc.stdout.partition("\n")
    code, peak_kib = (int(x) for x in head.split())
    data = json.loads(body)
    assert code == 1, proc.stderr  # the real finding in real.py is blocking
    assert peak_kib < 250 * 1024, f"peak RSS {peak_kib} KiB"  # a whole 1 GB read would be >1 GB
    skipped = by_code(data, "CPT002")
    assert set(skipped) == {"x.py", "z.py", "loop.py", "a.ipynb", "b.ipynb", "big.py"}
    assert "FIFO" in skipped["x.py"]["message"]
    assert "character device" in skipped["z.py"]["message"]
    assert "loop" in skipped["loop.py"]["message"]
    assert "1,073,741,824 bytes" in skipped["big.py"]["message"]
    assert by_code(data, "MLF101").keys() == {"real.py"}
    assert all(f["severity"] == "warning" for f in skipped.values())


def test_size_cap_is_configurable(tmp_path: Path):
    (tmp_path / "a.py").write_text(LIST_EXPERIMENTS + "#" * 5000 + "\n")
    code, data, _ = check_json(str(tmp_path), "--max-file-bytes", "1000")
    assert (
        code == 0 and "over the 1,000-byte scan cap" in by_code(data, "CPT002")["a.py"]["message"]
    )
    code, data, _ = check_json(str(tmp_path), "--max-file-bytes", "10000")
    assert code == 1 and "a.py" in by_code(data, "MLF101")
    (tmp_path / "cockpit.toml").write_text(
        '[migration]\nname = "m"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n\n'
        '[pipelines]\nsources = ["."]\nmax_file_bytes = 1000\n'
    )
    code, data, _ = check_json(cwd=tmp_path)
    assert code == 0 and "a.py" in by_code(data, "CPT002")


def test_fix_never_writes_through_a_link_or_outside_the_roots(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "shared.py"
    target.write_text(LIST_EXPERIMENTS)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "linked.py").symlink_to(target)  # read (it is a regular file), never written
    (tree / "own.py").write_text(LIST_EXPERIMENTS)
    before = target.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "cockpit", "fix", str(tree), "--mlflow-from", "1.30.1", "--apply"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == before and (tree / "linked.py").is_symlink()
    assert "search_experiments" in (tree / "own.py").read_text()
    assert "linked.py" in proc.stderr and "symbolic link" in proc.stderr


# ----------------------------------------------------------------------------------- item 2
BUNDLE = """\
bundle:
  name: b
include:
  - ../s/*.yml
  - /dev/zero
  - /usr/lib/**
  - resources/*.yml
"""
JOB = """\
resources:
  jobs:
    {name}:
      name: {name}
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 14.3.x-cpu-ml-scala2.12
"""


def test_bundle_includes_are_confined_to_the_bundle_root(tmp_path: Path):
    side = tmp_path / "s"
    side.mkdir()
    (side / "other.yml").write_text(JOB.format(name="outside_job"))
    bundle = tmp_path / "bundle"
    (bundle / "resources").mkdir(parents=True)
    (bundle / "databricks.yml").write_text(BUNDLE)
    (bundle / "resources" / "own.yml").write_text(JOB.format(name="own_job"))
    (bundle / "resources" / "linked.yml").symlink_to(side / "other.yml")
    (bundle / "resources" / "zero.yml").symlink_to("/dev/zero")
    before = (side / "other.yml").read_bytes()

    code, data, stderr = check_json(str(bundle / "databricks.yml"), timeout=60)
    assert code == 1, stderr
    jobs = {f.get("job") for f in data["findings"] if f["code"] == "JOB101"}
    assert jobs == {"own_job"}  # nothing from outside the root was read
    refused = [f for f in data["findings"] if f["code"] == "CPT002"]
    messages = " ".join(f["message"] for f in refused)
    assert "../s/*.yml" in messages and "/dev/zero" in messages and "/usr/lib/**" in messages
    assert "linked.yml" in messages and "zero.yml" in messages
    assert all(f["path"].endswith(("databricks.yml", "zero.yml")) for f in refused)

    fix = subprocess.run(
        [sys.executable, "-m", "cockpit", "fix", str(bundle / "databricks.yml"), "--apply"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fix.returncode == 0, fix.stderr
    assert (side / "other.yml").read_bytes() == before
    assert "16.4.x-cpu-ml-scala2.12" in (bundle / "resources" / "own.yml").read_text()


def test_recursive_include_globs_are_bounded_and_never_follow_links(tmp_path: Path):
    root = tmp_path / "b"
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "j.yml").write_text("x: 1\n")
    (root / "deep" / "up").symlink_to(root)  # a loop a following walk would go round
    (root / "deep" / "usr").symlink_to("/usr")  # a huge tree a following walk would read
    found = confined_glob(str(root), "**/*.yml")
    assert [Path(m).name for m in found.matches] == ["j.yml"] and not found.refused
    for i in range(120):
        (root / "deep" / f"f{i}.txt").write_text("")
    bounded = confined_glob(str(root), "**/*.yml", budget=100)
    assert not bounded.matches and "given up" in bounded.refused[0][1]


# ----------------------------------------------------------------------------------- item 8
def test_line_separators_inside_strings_do_not_shift_lines(tmp_path: Path):
    # U+2028, U+0085 and form feed split a line for str.splitlines, not for Python.
    (tmp_path / "s.py").write_text(
        "import mlflow\n"
        's = "a\u2028b\x85c\x0cd"\n'
        "mlflow.search_runs()  # cockpit: ignore[MLF101] this line only\n"
        "mlflow.list_experiments()\n",
        encoding="utf-8",
    )
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": [
                    's = "a\u2028b\x0cc"\n',
                    "import mlflow\n",
                    "mlflow.list_experiments()\n",
                ],
            }
        ],
        "metadata": {"kernelspec": {"language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "n.ipynb").write_text(json.dumps(notebook, indent=1, ensure_ascii=False))
    code, data, _ = check_json(str(tmp_path))
    lines = {(Path(f["path"]).name, f["line"], f["code"]) for f in data["findings"]}
    assert ("s.py", 4, "MLF101") in lines  # not silenced by line 3's own comment
    assert not by_code(data, "CPT001")  # the notebook's string is one line for Python
    nb_line = next(ln for name, ln, c in lines if name == "n.ipynb" and c == "MLF101")
    text = (tmp_path / "n.ipynb").read_text()
    assert text.split("\n")[nb_line - 1].strip().startswith('"mlflow.list_experiments()')
    assert code == 1


# ---------------------------------------------------------------------------- item 9 (scan)
def test_bom_and_coding_cookie_sources_are_decoded_as_python_does(tmp_path: Path):
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + LIST_EXPERIMENTS.encode())
    (tmp_path / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nimport mlflow\nname = '\xe9t\xe9'\nmlflow.list_experiments()\n"
    )
    code, data, _ = check_json(str(tmp_path))
    assert code == 1 and not by_code(data, "CPT001"), data["findings"]
    assert {(Path(f["path"]).name, f["line"]) for f in data["findings"]} >= {
        ("bom.py", 2),
        ("latin.py", 4),
    }


def test_deeply_nested_notebook_and_pyproject_are_findings_not_crashes(tmp_path: Path):
    (tmp_path / "deep.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "pyproject.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    code, data, stderr = check_json(str(tmp_path))
    assert code == 1 and "internal error" not in stderr
    assert set(by_code(data, "CPT001")) == {"deep.ipynb", "pyproject.toml"}


def test_requirement_line_continuations_are_joined(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text(
        "pandas==1.5.3 \\\n    --hash=sha256:abc\nmlflow\\\n==1.30.1\n"
    )
    _, data, _ = check_json(str(tmp_path))
    mlflow = [f for f in data["findings"] if "mlflow" in f["message"].lower()]
    assert mlflow and all(f["line"] == 3 for f in mlflow), data["findings"]
    assert any("1.30.1" in f["message"] for f in mlflow)
