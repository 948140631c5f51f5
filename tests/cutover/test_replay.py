"""Time travel: the as-of view at time T equals the state that was recorded at T.

The sample-state builder writes a whole migration (runtimes, checklist scans and sign-offs,
workspace inventory and runs, MLflow polls/syncs/verify, benchmarks) with a fixed clock and saves
a copy of the file after each step. For every copy, the final file viewed as of the copy's last
moment must show exactly what the copy shows as it is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cockpit.cutover.asof import state_at
from cockpit.store import StateStore

REPO = Path(__file__).resolve().parents[2]


def test_as_of_view_equals_the_state_recorded_then(tmp_path: Path):
    final, snapshots = tmp_path / "final.db", tmp_path / "snapshots"
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "sample_state" / "build.py"),
            "-o",
            str(final),
            "--snapshots",
            str(snapshots),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    copies = sorted(snapshots.glob("*.db"))
    assert len(copies) >= 3
    with StateStore.open(final, readonly=True) as whole:
        compared = 0
        for copy in copies[:-1]:  # the last copy is the final file itself
            with StateStore.open(copy, readonly=True) as then:
                moment = then.events(newest_first=True, limit=1)[0].ts
                # The copy holds nothing after `moment`; viewing it at `moment` only fixes "today"
                # (the support runway counts days from the moment shown).
                assert then.events(newest_first=True, limit=1)[0].ts == moment
                recorded = state_at(then, None, moment)
            replayed = state_at(whole, None, moment)
            for part in recorded:
                assert replayed[part] == recorded[part], (
                    f"{copy.stem}: {part} differs as of {moment}"
                )
            compared += 1
        assert compared == len(copies) - 1
