"""A job read from a workspace names workspace paths: a relative reference the server chose
(a task's file, an environment's ``-r`` include) never probes the local file system, while the
same references in a bundle resolve next to its file."""

from __future__ import annotations

from pathlib import Path

from cockpit.compat.jobs import JobChecker, JobInfo
from cockpit.compat.rules import build_crossing
from cockpit.compat.scan import Scanner

SETTINGS = {
    "name": "score",
    "tasks": [
        {
            "task_key": "t",
            "spark_python_task": {"python_file": "../outside.py"},
            "environment_key": "e",
        }
    ],
    "environments": [{"environment_key": "e", "spec": {"dependencies": ["-r ../outside.txt"]}}],
}


def _files(base_dir: Path | None) -> list[str]:
    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    checker = JobChecker(crossing, Scanner(crossing).rules)
    info = JobInfo(key="score", name="score", path="workspace:score", line=1)
    checker.check_job(info, SETTINGS, info.path, {}, base_dir, [])
    return info.files


def test_a_workspace_jobs_relative_references_never_touch_local_files(tmp_path, monkeypatch):
    (tmp_path / "outside.py").write_text("print(1)\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("mlflow==1.30.1\n", encoding="utf-8")
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    assert _files(None) == []
    # The same references in a bundle's file resolve next to it (what a workspace job was
    # given before: Path("."), the current folder).
    assert sorted(_files(Path("."))) == ["../outside.py", "../outside.txt"]
