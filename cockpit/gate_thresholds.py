"""The ``[gates]`` thresholds and their defaults, written once: the config model takes its
defaults from here, ``cockpit init`` writes them into the template, and the gates evaluate with
them when there is no config.

A plain dataclass with no imports beyond the standard library: the TUI evaluates the gates at
start-up, and pydantic (the config model's import cost) must stay off that path when there is no
config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig


@dataclass(frozen=True)
class Thresholds:
    drift_zero_polls: int = 3  # MLflow drift must be zero for this many polls in a row
    min_support_runway_days: int = 365  # the target runtime must be supported this long
    require_db_rehearsal: bool = True
    require_verify: bool = True

    @classmethod
    def from_config(cls, config: CockpitConfig | None) -> Thresholds:
        if config is None:
            return cls()
        g = config.gates
        return cls(
            drift_zero_polls=g.drift_zero_polls,
            min_support_runway_days=g.min_support_runway_days,
            require_db_rehearsal=g.require_db_rehearsal,
            require_verify=g.require_verify,
        )


DEFAULTS = Thresholds()
