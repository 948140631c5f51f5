"""Errors a user can act on.

Every failure a user can cause (bad config, bad state file, unknown runtime, unreachable server)
is raised as a :class:`CockpitError`. The CLI prints its message on one line and exits with its
``exit_code``; the TUI shows it as a notification. Nothing else should reach the user as a
traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


class CockpitError(Exception):
    """An error with a one-line message meant for the user."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        # One line, always: multi-line messages would break scripts that grep stderr.
        return " ".join(str(self).split())


class ConfigError(CockpitError):
    """The configuration file is missing, malformed or invalid."""


class StateError(CockpitError):
    """The state file cannot be opened as a cockpit state file."""


class StateUnreadableError(StateError):
    """The state file is damaged or cannot be read as one: nothing more can be shown from it.
    Other state errors (a refused write, a missing record) concern one action only."""


class ReadOnlyError(StateError):
    """A write was attempted on a state file opened read-only."""


class UnknownRuntimeError(CockpitError):
    """A runtime id matches neither a bundled manifest nor one imported into the state file."""


class SourceUnavailableError(CockpitError):
    """A remote source (Databricks workspace, MLflow server) could not be reached or refused us."""

    exit_code = 3
