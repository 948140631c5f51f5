"""The old backend's schema watch runs as a poll source: a moved revision fails its gate."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cockpit.config import parse_config
from cockpit.cutover.gates import evaluate
from cockpit.polling import Poller, configured_sources
from cockpit.store import StateStore


def backend(path: Path, revision: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
    conn.execute("DELETE FROM alembic_version")
    conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    conn.commit()
    conn.close()


def test_schema_watch_source_raises_the_alarm(tmp_path: Path):
    (tmp_path / "old").mkdir()
    backend(tmp_path / "old" / "mlflow.db", "97727af70f4d")
    config_path = tmp_path / "cockpit.toml"
    config_path.write_text(
        """
[migration]
name = "schema"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "http://127.0.0.1:9"
db_uri = "sqlite:///old/mlflow.db"     # relative to this file
poll_interval_s = 30
"""
    )
    from cockpit.config import load_config

    config = load_config(config_path)
    sources = configured_sources(config)
    watch = next(s for s in sources if s.name == "mlflow.old-schema")
    assert watch.interval_s == 5.0
    store = StateStore.open(tmp_path / "s.db", create=True)
    poller = Poller(watch, store)
    assert poller.poll_once().status.status == "ok"
    gate = next(g for g in evaluate(store, config) if g.id == "old-schema")
    assert gate.status == "pass" and "97727af70f4d" in gate.evidence
    # A 2.x server started on it by mistake migrates it in place:
    backend(tmp_path / "old" / "mlflow.db", "0584bdc529eb")
    poller.poll_once()
    changed = store.events(kinds=["mlflow.schema.changed"])
    assert changed and changed[-1].payload["to"] == "0584bdc529eb"
    gate = next(g for g in evaluate(store, config) if g.id == "old-schema")
    assert gate.status == "fail" and "ALARM" in gate.evidence
    store.close()


def test_no_db_uri_no_watch():
    config = parse_config(
        """
[migration]
name = "x"
from = "14.3-lts-ml"
to = "16.4-lts-ml"
[mlflow.old]
tracking_uri = "http://127.0.0.1:9"
"""
    )
    assert [s.name for s in configured_sources(config)] == []
