"""Workspace failures a user can act on (bad token, wrong host, missing permission, rate limit)."""

from __future__ import annotations

from cockpit.errors import CockpitError, SourceUnavailableError


class WorkspaceError(SourceUnavailableError):
    """The workspace could not be reached or refused the cockpit (exit code 3)."""


class WorkspaceInputError(CockpitError):
    """What the user asked for is wrong: unknown job, bad spark_version, bad profile (exit 2)."""
