"""The local state store: one SQLite file holding everything the cockpit knows."""

from cockpit.store.state import (
    FOREVER,
    Event,
    MigrationRoute,
    StateStore,
    latest_schema_version,
    until,
)

__all__ = [
    "FOREVER",
    "Event",
    "MigrationRoute",
    "StateStore",
    "latest_schema_version",
    "until",
]
