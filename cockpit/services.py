"""What the CLI and the TUI act with, built one way from cockpit.toml and the environment.

A command handler reaches it as ``ctx.services`` (:class:`cockpit.cli.context.CliContext`), a tab
as ``view.services`` (:class:`screens.tabs.base.ViewContext`); pollers get the same builders
through :mod:`cockpit.mlflow.sources` and :mod:`cockpit.databricks.sources`. So the two front ends
cannot disagree on who is acting, which day it is, how a server is connected and validated, or
which options a copy runs with: each of those is decided here, once.

Light at import time (stdlib and :mod:`cockpit.errors`): the clients' modules are imported when
a client is built.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from cockpit.errors import ConfigError
from cockpit.timefmt import utc_day

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.mlflow.adapter import NewServer, OldServer
    from cockpit.mlflow.mirror import Mirror, MirrorCycle
    from cockpit.mlflow.sync import SyncOptions
    from cockpit.mlflow.verify import VerifyReport
    from cockpit.store import StateStore

USER_ENV = "COCKPIT_USER"
# Parallel requests of a copy, a verify or a status poll (`--workers`; the TUI uses the default).
DEFAULT_WORKERS = 4


def current_user(environ: Mapping[str, str] | None = None) -> str:
    """Who is acting, for the history: ``COCKPIT_USER`` wins (a shared screen, a CI job), else
    the login name, else "unknown"."""
    env = os.environ if environ is None else environ
    name = (env.get(USER_ENV) or "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Services:
    """Builders for the clients and settings an action needs. ``config`` may be None (no
    cockpit.toml): what needs one raises :class:`ConfigError` saying so."""

    config: CockpitConfig | None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)

    # ------------------------------------------------------------------ who and when
    def user(self) -> str:
        return current_user(self.environ)

    def today(self, as_of: float | None = None) -> dt.date:
        """The day, in UTC like every time the cockpit shows (:func:`cockpit.timefmt.utc_day`):
        the state file is shared across time zones."""
        return utc_day(as_of)

    # ------------------------------------------------------------------ config
    def require_config(self) -> CockpitConfig:
        if self.config is None:
            raise ConfigError(
                "no cockpit.toml here and no --config given (`cockpit init` writes one)"
            )
        return self.config

    def mlflow_configured(self) -> bool:
        """Both ``[mlflow.old]`` and ``[mlflow.new]`` are set (what a copy needs)."""
        config = self.config
        return config is not None and None not in (config.mlflow.old, config.mlflow.new)

    # ------------------------------------------------------------------ MLflow
    def mlflow_servers(self, *, workers: int = DEFAULT_WORKERS) -> tuple[OldServer, NewServer]:
        """Both servers, checked and resolved by :func:`cockpit.mlflow.connection.connection_of`
        (each with its own credentials, TLS, retries and limits, read from the environment now);
        each client's command deadline starts with its first call."""
        from cockpit.mlflow.connection import open_servers

        return open_servers(self.require_config(), pool_size=max(16, workers * 2))

    def mirror_interval_s(self) -> float:
        """Seconds between mirror cycles unless told otherwise: the old server's poll interval."""
        old = self.require_config().mlflow.old
        if old is None:
            raise ConfigError(
                "[mlflow.old] is not set in cockpit.toml (tracking_uri of the server)"
            )
        return old.poll_interval_s

    def sync_options(
        self,
        *,
        experiments: list[str] | None = None,
        workers: int = DEFAULT_WORKERS,
        dry_run: bool = False,
        registry: bool = True,
        rest_history: bool = False,
    ) -> SyncOptions:
        """How a copy (sync, mirror) runs: the caller's choices, the config's for the rest."""
        from cockpit.mlflow.sources import old_db_uri
        from cockpit.mlflow.sync import SyncOptions

        config = self.require_config()
        return SyncOptions(
            experiments=experiments,
            workers=workers,
            dry_run=dry_run,
            registry=registry,
            map_stages_to_aliases=config.mlflow.map_stages_to_aliases,
            history_db=None if rest_history else old_db_uri(config),
        )

    def mirror(
        self,
        old: OldServer,
        new: NewServer,
        store: StateStore,
        *,
        source: str,
        options: SyncOptions | None = None,
        interval_s: float | None = None,
        on_cycle: Callable[[MirrorCycle], None] | None = None,
    ) -> Mirror:
        """A mirror (copy, poll, wait; again until stopped) as both front ends run it: the
        config's backend databases for history and polls, its reconcile period, its interval
        unless told otherwise, and :meth:`sync_options` unless given."""
        from cockpit.mlflow.mirror import Mirror
        from cockpit.mlflow.poll_state import reconcile_s_of

        config = self.require_config()
        return Mirror(
            old,
            new,
            store,
            interval_s=interval_s or self.mirror_interval_s(),
            options=options or self.sync_options(),
            old_db_uri=config.db_uri("old"),
            new_db_uri=config.db_uri("new"),
            source=source,
            on_cycle=on_cycle,
            reconcile_s=reconcile_s_of(config),
        )

    def verify(
        self,
        old: OldServer,
        new: NewServer,
        *,
        experiments: list[str] | None = None,
        workers: int = DEFAULT_WORKERS,
        artifacts: bool = True,
        rest_history: bool = False,
        progress: Callable[[int | None, int | None, str | None], None] | None = None,
    ) -> VerifyReport:
        """A deep verify that expects what a copy with the same options writes (stages as
        aliases or not, histories from the old backend database when the config names one)."""
        from cockpit.mlflow.verify import verify

        options = self.sync_options(
            experiments=experiments, workers=workers, rest_history=rest_history
        )
        return verify(
            old,
            new,
            experiments=options.experiments,
            workers=options.workers,
            map_stages_to_aliases=options.map_stages_to_aliases,
            artifacts=artifacts,
            history_db=options.history_db,
            progress=progress,
        )

    # ------------------------------------------------------------------ Databricks
    def workspace(
        self,
        *,
        host: str | None = None,
        profile: str | None = None,
        retry_timeout_s: int | None = None,
    ) -> WorkspaceAdapter:
        """The workspace named by ``host`` or ``profile``, else ``[databricks]``, else the SDK's
        own defaults (environment, ~/.databrickscfg). The token is never read here: the SDK's
        auth reads it at the moment of use."""
        from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter
        from cockpit.databricks.sources import options_from_config

        if host or profile:
            options = ConnectOptions(host=host, profile=profile)
        elif self.config is not None:
            options = options_from_config(self.config.databricks)
        else:
            options = ConnectOptions()
        if retry_timeout_s is not None:
            options = replace(options, retry_timeout_s=retry_timeout_s)
        return WorkspaceAdapter.connect(options)
