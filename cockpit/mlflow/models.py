"""What crosses the MLflow adapter boundary: servers, experiments, runs, metrics, artifacts, models.

The adapter turns each server generation's JSON into these, so sync, verify and status never see
a generation's quirks (int64 as strings, omitted zero sizes, preview registry routes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

# Tags the cockpit writes on destination objects. They are how a lost state file still causes no
# duplicate: the destination itself says which source object each copy came from.
TAG_SOURCE_EXPERIMENT = "cockpit.source_experiment_id"
# Experiment ids are only unique per server: the source server's URL scopes them.
TAG_SOURCE_SERVER = "cockpit.source_server"
TAG_SOURCE_RUN = "cockpit.source_run_id"
TAG_FINGERPRINT = "cockpit.sync_fingerprint"
TAG_SOURCE_VERSION = "cockpit.source_version"
TAG_PREFIX = "cockpit."
PARENT_TAG = "mlflow.parentRunId"
RUN_NAME_TAG = "mlflow.runName"
STAGES = ("None", "Staging", "Production", "Archived")


@dataclass(frozen=True)
class Capabilities:
    """What one server actually serves (probed, not assumed from its version number)."""

    experiments_search: bool = True  # POST experiments/search (1.28+)
    experiments_list: bool = False  # GET experiments/list (1.x only)
    registry_prefix: str = "/api/2.0/mlflow"  # 1.x also serves /api/2.0/preview/mlflow
    registry: bool = True
    aliases: bool = False  # registered-models/alias (2.3+)
    stages: bool = True  # model-versions/transition-stage
    artifact_proxy: bool = True  # /api/2.0/mlflow-artifacts/artifacts (--serve-artifacts)


@dataclass(frozen=True)
class ServerInfo:
    url: str
    generation: int  # 1, 2 or 3
    version: str | None  # exact version when the server says (/version, 2.x+); None on 1.x
    capabilities: Capabilities

    @property
    def label(self) -> str:
        return f"MLflow {self.version or f'{self.generation}.x'}"


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    lifecycle_stage: str
    artifact_location: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def deleted(self) -> bool:
        return self.lifecycle_stage == "deleted"


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    timestamp: int
    step: int

    def identity(self) -> tuple[str, int, int, str]:
        """Comparable identity: NaN equals NaN here (it never does as a float)."""
        return (self.key, self.step, self.timestamp, float_key(self.value))


@dataclass(frozen=True)
class Run:
    run_id: str
    experiment_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str
    artifact_uri: str
    user_id: str = ""
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, MetricPoint] = field(default_factory=dict)  # latest value per key

    @property
    def deleted(self) -> bool:
        return self.lifecycle_stage == "deleted"

    @property
    def source_run_id(self) -> str | None:
        return self.tags.get(TAG_SOURCE_RUN)


@dataclass(frozen=True)
class ArtifactFile:
    path: str  # relative to the run's artifact root, "/"-separated
    size: int


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    source: str
    run_id: str
    stage: str
    status: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        return int(self.version)


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version


def float_key(value: float) -> str:
    """A string that compares metric values exactly, NaN and ±inf included."""
    if math.isnan(value):
        return "nan"
    return repr(float(value))


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags without the cockpit's own bookkeeping tags."""
    return {k: v for k, v in tags.items() if not k.startswith(TAG_PREFIX)}
