"""Build sample_state/kyros.cockpit.db: the fictional Kyros Insights migration (14.3 LTS ML ->
16.4 LTS ML, MLflow 1.x -> 2.x).

Reproducible, never hand-edited: every step in ``sample_state/steps/`` (run in name order) writes
through the engine's own functions with a fixed clock, so rebuilding gives the same content.
``tests/test_sample_state.py`` checks the shipped file matches a fresh build.

    python sample_state/build.py            # rebuild the shipped file
    python sample_state/build.py -o X.db    # build elsewhere
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cockpit.store import StateStore  # noqa: E402

DEFAULT_OUT = HERE / "kyros.cockpit.db"
# The sample's story starts here; every timestamp is derived from it.
EPOCH = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()


@dataclass
class FixedClock:
    """Advances one second per reading, so events keep their order and the file its content."""

    now: float = EPOCH
    step: float = 1.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SampleContext:
    store: StateStore
    clock: FixedClock
    root: Path = HERE  # sample_state/: sample pipelines, scenarios, cockpit.toml live here
    notes: list[str] = field(default_factory=list)


def steps() -> list[Path]:
    return sorted((HERE / "steps").glob("s[0-9][0-9]_*.py"))


def build(out: Path, snapshots: Path | None = None) -> Path:
    tmp = out.with_suffix(".building")
    for stale in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        stale.unlink(missing_ok=True)
    clock = FixedClock()
    store = StateStore.open(tmp, create=True, clock=clock)
    ctx = SampleContext(store=store, clock=clock)
    for path in steps():
        spec = importlib.util.spec_from_file_location(f"sample_step_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"step {path.stem}", file=sys.stderr)
        module.build(ctx)
        if snapshots is not None:
            # The file as it was after this step: what time travel must reproduce.
            snapshots.mkdir(parents=True, exist_ok=True)
            snapshot = sqlite3.connect(snapshots / f"{path.stem}.db")
            with store._lock:
                store._conn.backup(snapshot)
            snapshot.close()
    store.checkpoint()
    # Ship a single self-contained file: leave WAL mode so no -wal/-shm files travel with it.
    with store._lock:
        store._conn.execute("PRAGMA journal_mode=DELETE")
        store._conn.execute("VACUUM")
    store.close()
    tmp.replace(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--snapshots", type=Path, help="also save a copy of the file after each step (replay tests)"
    )
    args = parser.parse_args()
    print(build(args.out, args.snapshots))


if __name__ == "__main__":
    main()
