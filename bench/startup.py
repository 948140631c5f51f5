"""Start-up cost, as ratios against baselines measured in the same run.

1. The cockpit TUI's time to first frame on the sample state (`cockpit open ... --offline`, whole
   process: interpreter, CLI, state file, diff, first render) against a bare Textual app with the
   same widgets and the same amount of data, also a whole process. Target <= 2x.
2. `cockpit runtimes diff 14.3-lts-ml 16.4-lts-ml --format json` wall time against
   `python -c pass`. Target <= 4x.
3. `cockpit gates --state sample_state/kyros.cockpit.db --format json` (a CI step's go/no-go)
   against `cockpit runtimes list`. Target <= 2x.

Both apps run on Textual's headless driver and exit right after their first frame.

    .venv/bin/python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_state" / "kyros.cockpit.db"
HEADLESS = {
    "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
    "COCKPIT_EXIT_AFTER_FIRST_FRAME": "1",
}

# A bare Textual app: the same widget tree as the Runtime diff tab, filled with the same number
# of rows, but no CLI, no state file, no manifests, no diff.
BARE_APP = r"""
import os
from textual.app import App
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Select, Static, TabbedContent, TabPane

ROWS = [(f"lib-{i}", "upgraded", "1.0.0", "1.1.0", "notable", "minor") for i in range(424)]
OPTS = [(f"{v}-lts-ml", f"{v}-lts-ml") for v in ("13.3", "14.3", "15.4", "16.4", "17.3")]

class Bare(App):
    def compose(self):
        yield Static("header")
        with TabbedContent():
            with TabPane("Runtime diff"):
                with Horizontal():
                    yield Select(OPTS, value=OPTS[1][1], allow_blank=False)
                    yield Static("->")
                    yield Select(OPTS, value=OPTS[3][1], allow_blank=False)
                    yield Input(placeholder="search")
                    yield Select([("a", "a")])
                    yield Select([("b", "b")])
                with Horizontal():
                    with VerticalScroll():
                        yield Static("system " * 60)
                        yield Static("runway " * 10)
                        yield Static("behaviour " * 600)
                    with Vertical():
                        yield Static("summary")
                        table = DataTable()
                        table.add_columns("library", "change", "from", "to", "severity", "bump")
                        yield table
                        yield Static("detail")
        yield Footer()

    def on_mount(self):
        self.query_one(DataTable).add_rows(ROWS)
        self.call_after_refresh(self.exit)

Bare().run()
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, **(env or {})}, capture_output=True, cwd=REPO)
    if done.returncode not in (0, 1):  # 1: `cockpit gates` says NO-GO, which is an answer
        raise SystemExit(f"{cmd} failed: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - start


def median_of(runs: int, cmd: list[str], env: dict[str, str] | None = None) -> float:
    timed(cmd, env)  # warm the OS file cache and .pyc files
    return statistics.median(timed(cmd, env) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    py = sys.executable

    bare = median_of(args.runs, [py, "-c", BARE_APP], HEADLESS)
    tui = median_of(args.runs, [py, "-m", "cockpit", "open", str(SAMPLE), "--offline"], HEADLESS)
    noop = median_of(args.runs, [py, "-c", "pass"])
    diff = median_of(
        args.runs,
        [py, "-m", "cockpit", "runtimes", "diff", "14.3-lts-ml", "16.4-lts-ml", "--format", "json"],
    )
    listing = median_of(args.runs, [py, "-m", "cockpit", "runtimes", "list"])
    gates = median_of(
        args.runs, [py, "-m", "cockpit", "gates", "--state", str(SAMPLE), "--format", "json"]
    )
    print(f"runs per measurement: {args.runs} (median)")
    print(f"bare Textual app, first frame:      {bare * 1000:7.0f} ms")
    print(
        f"cockpit open (sample), first frame: {tui * 1000:7.0f} ms   ratio {tui / bare:.2f}x  (target <= 2x)"
    )
    print(f"python -c pass:                     {noop * 1000:7.0f} ms")
    print(
        f"cockpit runtimes diff --format json:{diff * 1000:7.0f} ms   ratio {diff / noop:.2f}x  (target <= 4x)"
    )
    print(f"cockpit runtimes list:              {listing * 1000:7.0f} ms")
    print(
        f"cockpit gates --format json:        {gates * 1000:7.0f} ms   ratio {gates / listing:.2f}x  (target <= 2x)"
    )


if __name__ == "__main__":
    main()
