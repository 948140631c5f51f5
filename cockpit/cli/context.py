"""What a command handler gets: parsed args, lazy config and state, output helpers."""

from __future__ import annotations

import argparse
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.errors import ConfigError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

DEFAULT_STATE = "cockpit.db"


class CliContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    # ------------------------------------------------------------------ config
    @cached_property
    def config(self) -> CockpitConfig | None:
        """The config if one is given or found in the current folder; None otherwise."""
        from cockpit.config_files import find_config

        path = find_config(getattr(self.args, "config", None))
        if path is None:
            return None
        from cockpit.config import load_config  # pydantic: only when there is a file to read

        return load_config(path)

    def require_config(self) -> CockpitConfig:
        if self.config is None:
            raise ConfigError(
                "no cockpit.toml here and no --config given (`cockpit init` writes one)"
            )
        return self.config

    # ------------------------------------------------------------------ state
    def state_path(self, explicit: str | None = None) -> Path:
        chosen = explicit or getattr(self.args, "state", None)
        if chosen:
            return Path(chosen)
        if self.config is not None:
            return self.config.state_path
        return Path(DEFAULT_STATE)

    def open_store(
        self, *, readonly: bool = False, create: bool = True, explicit: str | None = None
    ) -> StateStore:
        from cockpit.store import StateStore

        store = StateStore.open(self.state_path(explicit), readonly=readonly, create=create)
        if not store.readonly and self.config is not None:
            record_migration_meta(store, self.config)
        return store

    def maybe_store(self, explicit: str | None = None) -> StateStore | None:
        """The state file read-only if it exists, else None (for commands that only enrich)."""
        path = self.state_path(explicit)
        if not path.exists():
            return None
        from cockpit.store import StateStore

        return StateStore.open(path, readonly=True)

    # ------------------------------------------------------------------ output
    def print_json(self, data: Any) -> None:
        # Indented for a person at a terminal; compact (and several times faster: C encoder)
        # when piped into a script or a file.
        from cockpit.textsafe import json_text

        indent = 2 if sys.stdout.isatty() else None
        sys.stdout.write(json_text(data, indent=indent))
        sys.stdout.write("\n")

    @cached_property
    def console(self):  # rich.console.Console, imported only when a command prints rich output
        from cockpit.textsafe import terminal_console

        return terminal_console(highlight=False)


def record_migration_meta(store: StateStore, config: CockpitConfig) -> None:
    """Keep the migration's identity in the state file so it opens offline without a config."""
    wanted = {
        "migration.name": config.migration.name,
        "migration.from": config.migration.from_runtime,
        "migration.to": config.migration.to_runtime,
    }
    current = store.meta()
    if any(current.get(k) != v for k, v in wanted.items()):
        with store.write() as tx:
            for key, value in wanted.items():
                store.set_meta(key, value, conn=tx)
