"""The MLflow status poll as a :class:`cockpit.polling.PollSource` (the TUI and `cockpit record`
run it on ``[mlflow.old] poll_interval_s``)."""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.mlflow.adapter import NewServer, OldServer
    from cockpit.mlflow.poll_state import PollState
    from cockpit.store import StateStore


# The events that say runs were copied to the new server.
COPY_EVENTS = ("mlflow.sync.finished", "mlflow.mirror.cycle")


class MlflowStatusSource:
    """One recorded dual-server poll per call; connections are made on first use and kept."""

    name = "mlflow"
    # Imported on the main thread before poller threads start (see cockpit.polling).
    IMPORTS = (
        "requests",
        "requests.adapters",
        "urllib3",
        "cockpit.mlflow.adapter",
        "cockpit.mlflow.connection",
        "cockpit.mlflow.bounded",
        "cockpit.mlflow.rest",
        "cockpit.mlflow.status",
        "cockpit.mlflow.poll_state",
        "cockpit.mlflow.schema",
        "cockpit.mlflow.backend",
        "netrc",  # requests reads ~/.netrc per request (trust_env), importing netrc the first time
    )

    def __init__(self, config: CockpitConfig) -> None:
        self.config = config
        self.interval_s = config.mlflow.old.poll_interval_s if config.mlflow.old else 30.0
        self._lock = threading.Lock()
        self._servers: tuple[OldServer, NewServer] | None = None
        # What the previous poll knew, so the next reads only what changed (made on first poll).
        self._state: PollState | None = None
        # The newest copy event (a sync, a mirror cycle) the state has been told of.
        self._copies_seen: int | None = None

    def _connect(self):
        with self._lock:
            if self._servers is None:
                from cockpit.mlflow.connection import open_servers

                self._servers = open_servers(self.config)
            for server in self._servers:
                server.rest.arm()  # each poll is a command of its own: a fresh deadline
            return self._servers

    def reset(self) -> None:
        """Close and drop both connections: the next poll connects from scratch."""
        with self._lock:
            servers, self._servers = self._servers, None
        for server in servers or ():
            with contextlib.suppress(Exception):  # a broken client must not stop the rebuild
                server.close()
        if self._state is not None:
            self._state.reset()  # after a failure the next poll is full

    def poll(self, store: StateStore) -> dict[str, Any]:
        from cockpit.mlflow.poll_state import PollState, reconcile_s_of
        from cockpit.mlflow.status import poll_and_record

        old, new = self._connect()
        if self._state is None:
            self._state = PollState(reconcile_s=reconcile_s_of(self.config))
        # Runs the state remembers as searched for and not found may have been copied since, by
        # a sync or a mirror of this process or another (the mirror forgets in its own state
        # only): search for them again rather than report them missing until the reconcile.
        latest = store.events(kinds=COPY_EVENTS, newest_first=True, limit=1)
        copies = latest[0].id if latest else 0
        if self._copies_seen is not None and copies != self._copies_seen:
            self._state.forget_not_found()
        self._copies_seen = copies
        poll_id, summary = poll_and_record(
            store,
            old,
            new,
            source="poller:mlflow",
            old_db_uri=self.config.db_uri("old"),
            new_db_uri=self.config.db_uri("new"),
            state=self._state,
        )
        return {
            "poll_id": poll_id,
            "drift": summary.drift,
            "missing": summary.missing,
            "incremental": summary.incremental,
        }


class OldSchemaWatchSource:
    """The safeguard: the old backend's alembic revision, checked every few seconds.

    A 2.x/3.x server started on the un-upgraded 1.x database migrates it in place, after which
    the 1.x server refuses to start. The watch records a baseline, and the moment the revision
    moves it records ``mlflow.schema.changed`` (alarm); the "Old MLflow DB untouched" gate fails
    and the TUI raises a notification. Checks that see nothing new write nothing.
    """

    name = "mlflow.old-schema"
    IMPORTS = ("cockpit.errors", "cockpit.mlflow.schema")

    def __init__(self, db_uri: str, interval_s: float) -> None:
        self.db_uri = db_uri
        self.interval_s = interval_s
        self._watches: dict[int, Any] = {}  # one SchemaWatch per store (TUI and recorder differ)
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget the watches (their connections): the next check opens the backend again."""
        with self._lock:
            self._watches.clear()

    def poll(self, store: StateStore) -> dict[str, Any]:
        from cockpit.errors import SourceUnavailableError
        from cockpit.mlflow.schema import SchemaWatch

        with self._lock:
            watch = self._watches.get(id(store))
            if watch is None:
                watch = self._watches[id(store)] = SchemaWatch(
                    store, self.db_uri, label="old", source="poller:mlflow.old-schema"
                )
        check = watch.check()
        if check.error:
            raise SourceUnavailableError(f"cannot read the old backend's schema: {check.error}")
        return {"revision": check.revision, "baseline": check.baseline}


def old_db_uri(config: CockpitConfig) -> str | None:
    """``[mlflow.old] db_uri`` when it names a backend the cockpit reads directly (SQLite,
    PostgreSQL, MySQL/MariaDB)."""
    uri = config.db_uri("old")
    return uri if uri is not None and uri.lower().startswith(_READABLE) else None


_READABLE = ("sqlite:", "postgresql", "mysql")


def poll_sources(config: CockpitConfig) -> list[Any]:
    old, new = config.mlflow.old, config.mlflow.new
    sources: list[Any] = []
    uri = old_db_uri(config)
    if uri is not None and old is not None:
        sources.append(OldSchemaWatchSource(uri, interval_s=min(old.poll_interval_s, 5.0)))
    if old is None or new is None:
        return sources
    from cockpit.mlflow.connection import is_rest_server

    if not (is_rest_server(old) and is_rest_server(new)):
        return sources
    return [MlflowStatusSource(config), *sources]
