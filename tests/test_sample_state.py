"""The shipped sample state is what its build script makes, and opens offline."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from cockpit.store import StateStore, latest_schema_version

REPO = Path(__file__).resolve().parent.parent


def logical_dump(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_shipped_sample_matches_a_fresh_build(tmp_path: Path, sample_state: Path):
    out = tmp_path / "rebuilt.db"
    result = subprocess.run(
        [sys.executable, str(REPO / "sample_state" / "build.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    fresh, shipped = logical_dump(out), logical_dump(sample_state)
    assert len(fresh) == len(shipped), (
        "sample_state/kyros.cockpit.db is stale: run sample_state/build.py"
    )
    assert fresh == shipped, "sample_state/kyros.cockpit.db is stale: run sample_state/build.py"


def test_sample_opens_offline_at_the_current_schema(sample_state: Path):
    with StateStore.open(sample_state, readonly=True) as store:
        assert store.schema_version == latest_schema_version()
        assert store.get_meta("migration.from") == "14.3-lts-ml"
        assert store.get_meta("migration.to") == "16.4-lts-ml"
        assert store.events(kinds=["runtime.imported"])
    # A single self-contained file: no WAL travels with it.
    assert not Path(f"{sample_state}-wal").exists()
