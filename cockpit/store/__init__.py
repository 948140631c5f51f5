"""The local state store: one SQLite file holding everything the cockpit knows."""

from cockpit.store.state import Event, StateStore, latest_schema_version

__all__ = ["Event", "StateStore", "latest_schema_version"]
