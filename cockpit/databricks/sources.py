"""The workspace as a poll source (see :mod:`cockpit.polling`): each poll refreshes the inventory
and fetches the runs newer than the last poll. The TUI and ``cockpit record`` drive it through
:class:`cockpit.polling.Poller`, which keeps polls from overlapping and backs off on failure.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.databricks.adapter import ConnectOptions

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig, DatabricksSection
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.store import StateStore

SOURCE_NAME = "databricks"
WORKSPACE_POLL_IMPORTS = (
    "requests",
    "requests.adapters",
    "urllib3",
    "databricks.sdk",
    "databricks.sdk.config",
    "databricks.sdk.errors",
    "databricks.sdk.service.compute",
    "databricks.sdk.service.jobs",
    "cockpit.databricks.adapter",
    "cockpit.databricks.clusters",
    "cockpit.databricks.history",
    "cockpit.databricks.inventory",
    "cockpit.runtimes.manifest",  # spark_version keys to runtime ids, on the first poll
    "netrc",  # requests reads ~/.netrc per request (trust_env), importing netrc the first time
)


def sync_workspace(
    adapter: WorkspaceAdapter,
    store: StateStore,
    *,
    history: bool = True,
    source: str = "cli",
    progress: Callable[[int | None, int | None, str | None], None] | None = None,
) -> dict[str, Any]:
    """One full refresh: inventory (jobs, versions, clusters), then new runs. Returns a summary.
    ``progress(done, total, label)`` hears of each phase and of the runs stored so far."""
    from cockpit.databricks.history import sync_history
    from cockpit.databricks.inventory import fetch_inventory, record_inventory

    step = progress or (lambda done, total, label: None)
    step(None, None, "reading jobs")
    inventory = fetch_inventory(adapter)
    summary = record_inventory(store, inventory, source=source)
    if history:
        names = {j.job_id: j.name for j in inventory.jobs}
        step(0, None, f"{len(inventory.jobs)} jobs; reading runs")
        runs = sync_history(
            adapter, store, job_names=names, source=source, on_batch=lambda n: step(n, None, None)
        )
        summary["new_runs"] = runs.new_runs
        summary["active_runs"] = runs.active
    return summary


@dataclass
class WorkspaceSource:
    """A :class:`cockpit.polling.PollSource` for one workspace."""

    options: ConnectOptions
    interval_s: float = 60.0
    name: str = SOURCE_NAME
    history: bool = True
    _adapter: WorkspaceAdapter | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # Imported on the main thread before poller threads start (cockpit.polling): the SDK pulls in
    # requests, and two threads importing it at once can leave a half-initialised module behind.
    IMPORTS = WORKSPACE_POLL_IMPORTS

    def reset(self) -> None:
        """Drop the client: the next poll connects from scratch (after an internal error)."""
        with self._lock:
            self._adapter = None

    def adapter(self) -> WorkspaceAdapter:
        # Connect once (SDK import, auth resolution); a failed connect is retried next poll.
        with self._lock:
            if self._adapter is None:
                from cockpit.databricks.adapter import WorkspaceAdapter

                self._adapter = WorkspaceAdapter.connect(self.options)
            return self._adapter

    def poll(self, store: StateStore) -> dict[str, Any]:
        return sync_workspace(
            self.adapter(), store, history=self.history, source=f"poller:{self.name}"
        )


def options_from_config(section: DatabricksSection, **overrides: Any) -> ConnectOptions:
    values: dict[str, Any] = {"host": section.host, "profile": section.profile}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ConnectOptions(**values)


def poll_sources(config: CockpitConfig) -> list[WorkspaceSource]:
    section = config.databricks
    if not (section.host or section.profile):
        return []
    return [WorkspaceSource(options_from_config(section), interval_s=section.poll_interval_s)]
