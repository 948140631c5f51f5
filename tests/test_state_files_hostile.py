"""State files archived, locked away or raced over (issue 11, items 7 and 9): each case ends in a
working read-only open or a one-line error with an exit code, never exit 70, never a changed
file. Driven through the real CLI.

The suite runs as root, which ignores file modes; "a user who cannot write" is then root without
the two capabilities that override file permissions (``setpriv --bounding-set``), which makes
the kernel apply the file modes as it would to anyone else."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.store import StateStore

REPO = Path(__file__).resolve().parent.parent
AS_A_USER = (
    ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
)


def cockpit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COCKPIT_DEBUG"}
    return subprocess.run(
        [*AS_A_USER, sys.executable, "-m", "cockpit", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cockpit: error: "), proc.stderr
    return lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_state(folder: Path) -> Path:
    path = folder / "archived.cockpit.db"
    with StateStore.open(path, create=True) as store:
        store.set_meta("migration.name", "archived")
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        store.append_event("compat.scan", {"findings": 3})
    assert path.read_bytes()[18:20] == b"\x02\x02"  # WAL mode in the header
    return path


@pytest.fixture
def archive(tmp_path: Path):
    """A folder nobody may write (restored afterwards so pytest can clean it up)."""
    folder = tmp_path / "archive"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)
    for child in folder.iterdir():
        child.chmod(0o644)


# ----------------------------------------------------------------------------------- item 7
def test_wal_file_in_a_read_only_folder_opens_read_only(archive: Path):
    path = make_state(archive)
    path.chmod(0o444)
    archive.chmod(0o555)
    before = digest(path)
    gates = cockpit("--state", str(path), "gates", "--format", "json")
    assert gates.returncode in (0, 1), gates.stderr  # GO / NO-GO, not "is corrupted"
    assert '"gates"' in gates.stdout
    report = cockpit("--state", str(path), "report", "--format", "markdown")
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("# ") and "archived" in report.stdout
    assert digest(path) == before and sorted(p.name for p in archive.iterdir()) == [path.name]


# ---------------------------------------------------------------------------- item 9 (state)
def test_unreadable_state_file_is_a_one_line_error(tmp_path: Path):
    path = make_state(tmp_path)
    path.chmod(0)
    try:
        line = one_line_error(cockpit("--state", str(path), "gates"))
    finally:
        path.chmod(0o644)
    assert "cannot read" in line and "Permission denied" in line


def test_writable_file_in_a_read_only_folder(archive: Path):
    path = make_state(archive)
    archive.chmod(0o555)
    before = digest(path)
    line = one_line_error(cockpit("--state", str(path), "gates", "--record"))
    assert "nothing recorded" in line and "folder is not writable" in line
    evaluated = cockpit("--state", str(path), "gates", "--format", "json")
    assert evaluated.returncode in (0, 1), evaluated.stderr
    assert digest(path) == before


def test_gates_record_on_a_read_only_file_says_it_recorded_nothing(tmp_path: Path):
    path = make_state(tmp_path)
    path.chmod(0o444)
    before = digest(path)
    line = one_line_error(cockpit("--state", str(path), "gates", "--record"))
    assert "nothing recorded" in line and "not writable" in line
    assert digest(path) == before


def test_newer_schema_is_judged_by_the_applied_migrations_record(tmp_path: Path):
    path = make_state(tmp_path)
    # A newer cockpit took a reserved number below the highest: user_version does not move.
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO cockpit_schema_migrations VALUES (6, '0006_cutover.sql', 0)")
    conn.close()
    before = digest(path)
    for args in (["gates"], ["gates", "--record"]):
        line = one_line_error(cockpit("--state", str(path), *args))
        assert "newer than this cockpit" in line and "6" in line
    assert digest(path) == before


def test_two_recorders_creating_the_same_new_file(tmp_path: Path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ok.py").write_text("import os\n")
    for round_ in range(4):
        path = tmp_path / f"race{round_}.db"
        args = ["--state", str(path), "check", str(tree), "--format", "json", "--record"]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "cockpit", *args],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        for code, stderr in results:
            assert code == 0 and "recorded scan" in stderr, stderr
        with StateStore.open(path, readonly=True) as store:
            scans = store.query_one("SELECT COUNT(*) AS n FROM compat_scans")["n"]
            migrated = store.events(kinds=["store.migrated"])
        assert scans == 4 and len(migrated) == 1
