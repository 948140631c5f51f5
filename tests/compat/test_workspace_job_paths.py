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


def _object(location: str, text: str):
    from cockpit.databricks.workspace_code import OK, CodeObject

    return CodeObject(
        location=location,
        kind="file",
        language="",
        status=OK,
        message="",
        modified_at=0,
        size=len(text),
        sha256="",
        text=text,
    )


def test_two_jobs_sharing_a_requirements_file_both_own_what_it_includes():
    """The second job to reach a shared requirements file owns it under the path it was
    scanned at, and owns the files it includes too (each scanned once)."""
    from cockpit.compat.scan import ScanResult
    from cockpit.compat.workspace_code import _Walker

    crossing = build_crossing("14.3-lts-ml", "16.4-lts-ml")
    a, b = "/Shared/envs/a.txt", "/Shared/envs/b.txt"
    objects = {a: _object(a, "-r b.txt\nmlflow==1.30.1\n"), b: _object(b, "pandas<3\n")}
    walker = _Walker(Scanner(crossing), ScanResult(crossing=crossing), objects)
    first = walker.requirements(a, "/Workspace/Shared/envs/a.txt")
    second = walker.requirements(a, "/Workspace/Shared/envs/a.txt")
    assert first == second == ["/Workspace/Shared/envs/a.txt", "/Workspace/Shared/envs/b.txt"]
    assert sorted(walker.scanned) == [a, b]
