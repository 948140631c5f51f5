"""The MLflow status poll as a :class:`cockpit.polling.PollSource` (the TUI and `cockpit record`
run it on ``[mlflow.old] poll_interval_s``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore


class MlflowStatusSource:
    """One recorded dual-server poll per call; connections are made on first use and kept."""

    name = "mlflow"

    def __init__(self, config: CockpitConfig) -> None:
        self.config = config
        self.interval_s = config.mlflow.old.poll_interval_s if config.mlflow.old else 30.0
        self._lock = threading.Lock()
        self._servers = None

    def _connect(self):
        with self._lock:
            if self._servers is None:
                from cockpit.mlflow.adapter import connect_new, connect_old

                old_cfg, new_cfg = self.config.mlflow.old, self.config.mlflow.new
                self._servers = (
                    connect_old(old_cfg.tracking_uri, token=old_cfg.token()),
                    connect_new(new_cfg.tracking_uri, token=new_cfg.token()),
                )
            return self._servers

    def poll(self, store: StateStore) -> dict[str, Any]:
        from cockpit.mlflow.status import poll_and_record

        old, new = self._connect()
        poll_id, summary = poll_and_record(
            store,
            old,
            new,
            source="poller:mlflow",
            old_db_uri=self.config.mlflow.old.db_uri,
            new_db_uri=self.config.mlflow.new.db_uri,
        )
        return {"poll_id": poll_id, "drift": summary.drift, "missing": summary.missing}


def poll_sources(config: CockpitConfig) -> list[MlflowStatusSource]:
    old, new = config.mlflow.old, config.mlflow.new
    if old is None or new is None:
        return []
    if not (old.tracking_uri.startswith("http") and new.tracking_uri.startswith("http")):
        return []
    return [MlflowStatusSource(config)]
