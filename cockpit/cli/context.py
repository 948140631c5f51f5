"""What a command handler gets: parsed args, lazy config and state, the services (clients, user,
date; :mod:`cockpit.services`, shared with the TUI), output helpers."""

from __future__ import annotations

import argparse
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.services import Services
    from cockpit.store import StateStore

DEFAULT_STATE = "cockpit.db"


class CliContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # What the command reports in JSON; written by the CLI once the exit code is known, so
        # the envelope can carry it (cockpit.cli.envelope).
        self.json_result: Any = None
        self.has_json_result = False

    @property
    def wants_json(self) -> bool:
        return getattr(self.args, "format", None) == "json"

    @property
    def command(self) -> str | None:
        return getattr(self.args, "cli_command", None)

    # ------------------------------------------------------------------ config
    @cached_property
    def config(self) -> CockpitConfig | None:
        """The config if one is given or found in the current folder; None otherwise."""
        from cockpit.config_files import find_config

        path = find_config(getattr(self.args, "config", None))
        if path is None:
            return None
        from cockpit.config import load_config  # pydantic: only when there is a file to read

        config = load_config(path)
        profile = getattr(self.args, "profile", None)
        if profile:
            # The global --profile names the workspace: the profile's host, not the file's.
            config.databricks.profile, config.databricks.host = profile, None
        return config

    def require_config(self) -> CockpitConfig:
        return self.services.require_config()

    @cached_property
    def services(self) -> Services:
        """Clients, sync options, user and date, built from the config and the environment the
        same way the TUI builds them."""
        from cockpit.services import Services

        return Services(self.config)

    # ------------------------------------------------------------------ state
    def state_path(self, explicit: str | None = None) -> Path:
        chosen = explicit or getattr(self.args, "state", None)
        if chosen:
            return Path(chosen)
        if self.config is not None:
            return self.config.state_path
        return Path(DEFAULT_STATE)

    def open_store(
        self,
        *,
        readonly: bool = False,
        create: bool = True,
        explicit: str | None = None,
        defer_check: bool = False,
    ) -> StateStore:
        from cockpit.store import StateStore

        store = StateStore.open(
            self.state_path(explicit), readonly=readonly, create=create, defer_check=defer_check
        )
        if not store.readonly and self.config is not None:
            record_migration_meta(store, self.config)
        return store

    def maybe_store(self, explicit: str | None = None) -> StateStore | None:
        """The state file read-only if it exists, else None (for commands that only enrich)."""
        path = self.state_path(explicit)
        # An empty file is one another process is creating right now: nothing to enrich with.
        if not path.exists() or (path.is_file() and path.stat().st_size == 0):
            return None
        from cockpit.store import StateStore

        return StateStore.open(path, readonly=True)

    # ------------------------------------------------------------------ output
    def print_json(self, data: Any) -> None:
        """The command's result. Under ``--format json`` it becomes the JSON envelope, written
        when the command returns; other JSON-based formats (SARIF) are written as they are."""
        if not self.wants_json:
            from cockpit.cli.envelope import write_json

            write_json(data)
            return
        if self.has_json_result:
            raise RuntimeError("a command reports one JSON result")
        self.json_result, self.has_json_result = data, True

    def flush_json(self, exit_code: int, error: str | None = None) -> None:
        from cockpit.cli.envelope import envelope, write_json

        write_json(envelope(self.command, exit_code, self.json_result, error))
        self.has_json_result = False

    def say(self, text: str) -> None:
        """A human line: stdout normally; stderr under --format json, so stdout stays JSON."""
        from cockpit.textsafe import terminal

        print(terminal(text), file=sys.stderr if self.wants_json else sys.stdout, flush=True)

    @cached_property
    def console(self):  # rich.console.Console, imported only when a command prints rich output
        from cockpit.cli.tables import stdout_console

        return stdout_console()  # terminal-safe (cockpit.textsafe), sized for where it goes


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
