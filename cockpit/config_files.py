"""Finding cockpit.toml, kept apart from the pydantic model so that finding none costs nothing.

(`cockpit open FILE` on a machine with no config must not pay for importing pydantic.)
"""

from __future__ import annotations

import os
from pathlib import Path

from cockpit.errors import ConfigError

CONFIG_NAME = "cockpit.toml"


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """``--config`` if given, else ``./cockpit.toml`` if present, else None."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        return path
    candidate = Path(CONFIG_NAME)  # relative, so messages say "cockpit.toml:7", not a long path
    return candidate if candidate.is_file() else None
