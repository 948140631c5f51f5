"""``cockpit.toml``: what the migration is, where its sources are, and the gate thresholds.

Validated with pydantic; an invalid file gives one line naming the bad field and its line number.
Tokens are never in this file: ``mlflow.*.token_env`` names an environment variable, and the
Databricks token comes from the environment or ``~/.databrickscfg`` through the SDK's own auth.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit import secrets
from cockpit.config_files import CONFIG_NAME, find_config
from cockpit.errors import ConfigError
from cockpit.gate_thresholds import DEFAULTS as GATE_DEFAULTS

__all__ = ["CONFIG_NAME", "CockpitConfig", "find_config", "load_config", "parse_config"]
RUNTIME_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class _Section(BaseModel):
    # Unknown keys are errors: a typo in a threshold must not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MigrationSection(_Section):
    name: str = Field(min_length=1)
    from_runtime: str = Field(alias="from")
    to_runtime: str = Field(alias="to")

    @field_validator("from_runtime", "to_runtime")
    @classmethod
    def _runtime_id(cls, value: str) -> str:
        if not RUNTIME_ID.match(value):
            raise ValueError(f"{value!r} is not a runtime id (e.g. 14.3-lts-ml)")
        return value


class DatabricksSection(_Section):
    profile: str | None = None
    host: str | None = None
    poll_interval_s: Annotated[float, Field(gt=0)] = 60.0

    @model_validator(mode="after")
    def _one_of(self) -> DatabricksSection:
        if self.profile and self.host:
            raise ValueError("set either profile or host, not both")
        if self.host and not re.match(r"^https?://", self.host):
            raise ValueError(f"host must start with https:// (got {self.host!r})")
        return self


class MlflowServerSection(_Section):
    # Left out in one of the two sections: that server is MLFLOW_TRACKING_URI's.
    tracking_uri: str = ""
    token_env: str | None = None
    # Credentials and TLS the MLflow way (cockpit/mlflow/connection.py): variable *names* only.
    username_env: str | None = None
    password_env: str | None = None
    insecure_tls: bool = False
    ca_bundle: str | None = None
    retries: Annotated[int, Field(ge=0, le=20)] = 7
    db_uri: str | None = None
    poll_interval_s: Annotated[float, Field(gt=0)] = 30.0
    # The background status poll reads only what changed since its previous poll, and all of
    # both servers at least this often: what it cannot see incrementally (a settled run deleted
    # or edited late) shows within this time (cockpit/mlflow/poll_state.py). Read from [mlflow.old].
    status_reconcile_s: Annotated[float, Field(gt=0)] = 900.0
    # Bounds on what one server may take (cockpit/mlflow/bounded.py): one request, headers and
    # body, ends within timeout_s; one command (a sync, a verify, a poll) within deadline_s; one
    # JSON answer is at most max_response_mb.
    timeout_s: Annotated[float, Field(gt=0)] = 60.0
    deadline_s: Annotated[float, Field(gt=0)] = 24 * 3600.0
    max_response_mb: Annotated[float, Field(gt=0)] = 256.0
    # s3:// artifact roots (cockpit/mlflow/s3_artifacts.py): a profile *name* from ~/.aws and the
    # endpoint of an S3-compatible store, and whether its TLS certificate goes unchecked (a
    # self-signed MinIO); left out, AWS_PROFILE / MLFLOW_S3_ENDPOINT_URL / MLFLOW_S3_IGNORE_TLS
    # apply.
    aws_profile: str | None = None
    s3_endpoint_url: str | None = None
    s3_ignore_tls: bool | None = None

    _uri_from_env: bool = PrivateAttr(default=False)

    @property
    def tracking_uri_from_env(self) -> bool:
        return self._uri_from_env

    @field_validator("tracking_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        # Credentials embedded in the URI are a token like any other: registered for scrubbing
        # before anything (this check included) could echo them.
        _register_uri_secrets(value)
        if value == "":
            return value  # filled from MLFLOW_TRACKING_URI by MlflowSection
        if not re.match(r"^(https?|file|sqlite)://", value) and not value.startswith("databricks"):
            # Never echoed: what was pasted here may be the token itself.
            raise ValueError("tracking_uri must be an http(s):// URL (the value is not shown)")
        return value.rstrip("/")

    @field_validator("token_env", "username_env", "password_env")
    @classmethod
    def _env_name(cls, value: str | None, info) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
            raise ValueError(
                f"{info.field_name} is the *name* of an environment variable (e.g. "
                "MLFLOW_OLD_TOKEN), never the secret itself"
            )
        return value

    @model_validator(mode="after")
    def _pairs(self) -> MlflowServerSection:
        if bool(self.username_env) != bool(self.password_env):
            raise ValueError("username_env and password_env go together (HTTP basic auth)")
        if self.insecure_tls and self.ca_bundle:
            raise ValueError("insecure_tls and ca_bundle exclude each other")
        return self

    def token(self) -> str | None:
        """The token, read from the environment at the moment it is needed, never stored."""
        if not self.token_env:
            return None
        value = os.environ.get(self.token_env)
        secrets.register_secret(value)
        return value


def _register_uri_secrets(value: str) -> None:
    """A password, a long user name (a token pasted as ``https://<token>@host``) and query
    values of a URI are secrets; short user names are left alone (they are not tokens, and
    scrubbing them would mangle ordinary words)."""
    parts = urlsplit(value if "://" in value else f"x://{value}")
    try:
        user, password = parts.username, parts.password
    except ValueError:
        user = password = None
    secrets.register_secret(unquote(password or ""))
    if user and len(user) >= 16:
        secrets.register_secret(unquote(user))
    for _, query_value in parse_qsl(parts.query):
        secrets.register_secret(query_value)


class MlflowSection(_Section):
    old: MlflowServerSection | None = None
    new: MlflowServerSection | None = None
    map_stages_to_aliases: bool = True

    @model_validator(mode="after")
    def _uri_from_mlflow_env(self) -> MlflowSection:
        """One server may be MLflow's own MLFLOW_TRACKING_URI (and take MLflow's variables)."""
        unset = [
            s for s in ("old", "new") if getattr(self, s) and not getattr(self, s).tracking_uri
        ]
        if len(unset) > 1:
            raise ValueError(
                "tracking_uri is missing in both [mlflow.old] and [mlflow.new]; only one server "
                "can come from MLFLOW_TRACKING_URI"
            )
        if unset:
            env_uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
            if not env_uri:
                raise ValueError(
                    f"[mlflow.{unset[0]}] has no tracking_uri and MLFLOW_TRACKING_URI is not set"
                )
            section = getattr(self, unset[0])
            section.tracking_uri = MlflowServerSection._uri(env_uri)
            section._uri_from_env = True
        return self


class PipelineSection(_Section):
    name: str = Field(min_length=1)
    path: str | None = None
    bundle: str | None = None
    job: str | None = None
    owner: str | None = None


class PipelinesSection(_Section):
    sources: list[str] = Field(default_factory=list)
    bundles: list[str] = Field(default_factory=list)
    folders: list[PipelineSection] = Field(default_factory=list)
    # The MLflow client the pipelines use today when it is not the runtime's preinstalled one
    # (e.g. "1.30.1" pinned on 14.3 LTS ML): decides which MLflow rules `cockpit check` applies.
    mlflow_from: str | None = None
    # Scanned files larger than this are not read (a CPT002 finding says so); None: 16 MiB.
    max_file_bytes: Annotated[int, Field(ge=1)] | None = None


class GatesSection(_Section):
    drift_zero_polls: Annotated[int, Field(ge=1)] = GATE_DEFAULTS.drift_zero_polls
    min_support_runway_days: Annotated[int, Field(ge=0)] = GATE_DEFAULTS.min_support_runway_days
    require_db_rehearsal: bool = GATE_DEFAULTS.require_db_rehearsal
    require_verify: bool = GATE_DEFAULTS.require_verify


class BenchmarkPipeline(_Section):
    threshold: Annotated[float, Field(gt=1.0)] | None = None
    min_runs: Annotated[int, Field(ge=2)] | None = None
    metrics: list[dict[str, Any]] = Field(default_factory=list)
    # The MLflow experiment (same name on both servers) whose runs carry the metrics above.
    experiment: str | None = None


class BenchmarksSection(_Section):
    threshold: Annotated[float, Field(gt=1.0)] = 1.10
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    min_runs: Annotated[int, Field(ge=2)] = 5
    pipelines: dict[str, BenchmarkPipeline] = Field(default_factory=dict)


class ChecklistSection(_Section):
    manual_items: list[str] = Field(
        default_factory=lambda: [
            "ran green on the target runtime",
            "tracking URI switched to the new server",
            "owner signed off",
        ]
    )


class PackagingSection(_Section):
    # The private package index (the workspace's default repository): PyPI requirements with no
    # index of their own install from it. Credentials never go here (pip reads them elsewhere).
    index_url: str | None = None
    # Library sources allowed (`cockpit packaging audit`); any other source is a finding.
    policy: list[str] = Field(default_factory=list)

    @field_validator("policy")
    @classmethod
    def _known_sources(cls, value: list[str]) -> list[str]:
        from cockpit.packaging.sources import SOURCES

        for source in value:
            if source not in SOURCES:
                raise ValueError(f"unknown source {source!r} (one of {', '.join(SOURCES)})")
        return value


class StateSection(_Section):
    path: str = "cockpit.db"


class CockpitConfig(_Section):
    migration: MigrationSection
    databricks: DatabricksSection = Field(default_factory=DatabricksSection)
    mlflow: MlflowSection = Field(default_factory=MlflowSection)
    pipelines: PipelinesSection = Field(default_factory=PipelinesSection)
    checklist: ChecklistSection = Field(default_factory=ChecklistSection)
    gates: GatesSection = Field(default_factory=GatesSection)
    benchmarks: BenchmarksSection = Field(default_factory=BenchmarksSection)
    packaging: PackagingSection = Field(default_factory=PackagingSection)
    state: StateSection = Field(default_factory=StateSection)

    # Where the file was read from; relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, relative: str) -> Path:
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_path(self) -> Path:
        return self.resolve(self.state.path)

    def db_uri(self, side: str) -> str | None:
        """``[mlflow.<side>] db_uri`` ("old" or "new"), with a relative SQLite path taken relative
        to cockpit.toml like every path in it (not to wherever the cockpit was started)."""
        server = getattr(self.mlflow, side)
        if server is None or not server.db_uri:
            return None
        uri = server.db_uri
        prefix = "sqlite:///"
        raw = uri[len(prefix) :] if uri.startswith(prefix) else ""
        if not raw or raw.startswith(("/", ":memory:")):
            return uri
        return f"{prefix}{self.resolve(raw)}"


# ------------------------------------------------------------------------------------- loading
def load_config(path: str | os.PathLike[str]) -> CockpitConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    return parse_config(text, source=str(path), base_dir=path.parent)


def parse_config(
    text: str, *, source: str = CONFIG_NAME, base_dir: Path | None = None
) -> CockpitConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        config = CockpitConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = ".".join(loc) or "(top level)"
        line = locate_key(text, loc)
        where = f"{source}:{line}" if line else source
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; `cockpit init` writes a commented template)"
        elif err["type"] == "missing":
            message = "required key is missing"
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{where}: {field}: {message}{extra}") from None
    config.base_dir = base_dir or Path(".")
    for server in (config.mlflow.old, config.mlflow.new):
        if server is not None:
            server.token()  # registers the value for scrubbing, if set
    return config


def locate_key(text: str, loc: list[str]) -> int | None:
    """Best-effort line number (1-based) of a dotted key in TOML text, for error messages.

    Walks the table headers: ``["mlflow", "old", "tracking_uri"]`` is found as the line
    ``tracking_uri = ...`` under ``[mlflow.old]``; when the key itself is absent, the header's line.
    """
    lines = text.splitlines()
    names = [p for p in loc if not p.isdigit()]
    best: int | None = None
    for split in range(len(names), 0, -1):
        table, key = names[:split], names[split:]
        header = re.compile(r"^\s*\[\[?\s*" + r"\s*\.\s*".join(map(re.escape, table)) + r"\s*\]\]?")
        for i, line in enumerate(lines):
            if header.match(line):
                if not key:
                    return i + 1
                best = best or i + 1
                for j in range(i + 1, len(lines)):
                    if lines[j].lstrip().startswith("["):
                        break
                    if re.match(rf"^\s*\"?{re.escape(key[0])}\"?\s*=", lines[j]):
                        return j + 1
        if best:
            return best
    # Top-level key (no table) or a table we could not find.
    if names:
        for i, line in enumerate(lines):
            if re.match(rf"^\s*\"?{re.escape(names[-1])}\"?\s*=", line):
                return i + 1
    return None


# The [gates] values are the defaults the config model has (cockpit.gate_thresholds), not a copy.
TEMPLATE = f"""\
# cockpit.toml — Migration Cockpit configuration.
# Tokens never go in this file: name the environment variable that holds each one.

[migration]
name = "Kyros DBR 16.4 + MLflow 2 cutover"
from = "14.3-lts-ml"      # `cockpit runtimes list` shows the ids
to = "16.4-lts-ml"

[databricks]
profile = "kyros-prod"    # a profile in ~/.databrickscfg; or: host = "https://<workspace>"
poll_interval_s = 60

[mlflow.old]              # the production server, never written to by the cockpit
tracking_uri = "https://mlflow-old.example"
token_env = "MLFLOW_OLD_TOKEN"   # the variable's name, never the token
# db_uri = "sqlite:////path/to/mlflow.db"   # optional: schema checks and upgrade rehearsals
poll_interval_s = 30
# status_reconcile_s = 900   # live polls read only what changed; a full poll this often

[mlflow.new]
tracking_uri = "https://mlflow-new.example"   # left out: MLFLOW_TRACKING_URI and MLflow's variables
token_env = "MLFLOW_NEW_TOKEN"
# username_env = "MLFLOW_NEW_USER"       # basic auth instead (names of variables, never values)
# password_env = "MLFLOW_NEW_PASSWORD"
# ca_bundle = "certs/internal-ca.pem"    # verify TLS with this CA; or: insecure_tls = true
# retries = 7                            # per request, with backoff; timeout_s = 60 per request
# aws_profile = "artifacts"              # s3:// artifact roots (either server): a ~/.aws profile name
# s3_endpoint_url = "https://s3.internal.example"   # S3-compatible store; default MLFLOW_S3_ENDPOINT_URL
# s3_ignore_tls = true                   # its certificate is self-signed; default MLFLOW_S3_IGNORE_TLS

[pipelines]
sources = ["pipelines/"]          # folders and files scanned by `cockpit check`
bundles = ["databricks.yml"]      # Asset Bundles; each job becomes a pipeline

[checklist]
manual_items = ["ran green on the target runtime", "tracking URI switched to the new server", "owner signed off"]

[gates]
drift_zero_polls = {GATE_DEFAULTS.drift_zero_polls}              # MLflow drift must be zero for this many polls in a row
min_support_runway_days = {GATE_DEFAULTS.min_support_runway_days}     # the target runtime must be supported at least this long

[benchmarks]
threshold = 1.10                  # new/old median ratio that counts as a regression
alpha = 0.05                      # significance level for the Mann-Whitney U test
min_runs = 5                      # fewer runs per runtime -> "insufficient data"

[packaging]                       # `cockpit packaging audit`
# index_url = "https://pypi.kyros.example/simple"   # the private index (workspace default repo)
# policy = ["private-index", "bundle-artifact"]     # library sources allowed; others are findings

[state]
path = "cockpit.db"               # the state file, relative to this config
"""
