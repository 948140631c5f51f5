"""How to reach one MLflow server: URL, credentials, TLS, retries, timeout, resolved once.

Per server in cockpit.toml (``[mlflow.old]`` / ``[mlflow.new]``):

* ``token_env``: the *name* of the variable holding a bearer token;
* ``username_env`` + ``password_env``: the names of the variables holding HTTP basic auth
  credentials (MLflow's own ``--app-name basic-auth`` server);
* ``insecure_tls = true``: do not verify the server's certificate; ``ca_bundle = "path"``: verify
  it against this CA bundle (relative to cockpit.toml); the two exclude each other;
* ``retries`` (default 7, as MLflow's ``MLFLOW_HTTP_REQUEST_MAX_RETRIES``) and ``timeout_s``.

The server that ``MLFLOW_TRACKING_URI`` names (a section whose ``tracking_uri`` equals it, or the
one section that leaves ``tracking_uri`` out) also takes MLflow's own variables, as an MLflow
client would: ``MLFLOW_TRACKING_TOKEN``, ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``, ``MLFLOW_TRACKING_INSECURE_TLS``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``. What the section names itself wins. As in MLflow's client,
basic auth wins over a token when both are set, and insecure TLS with a CA bundle is an error.

Every credential value is registered with :mod:`cockpit.secrets` the moment it is read, and none
is kept anywhere but in the HTTP session (see ``tests/mlflow/test_auth_tls.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cockpit import secrets
from cockpit.errors import ConfigError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig, MlflowServerSection
    from cockpit.mlflow.adapter import NewServer, OldServer

Side = Literal["old", "new"]
ENV_URI = "MLFLOW_TRACKING_URI"
ENV_TOKEN = "MLFLOW_TRACKING_TOKEN"
ENV_USERNAME = "MLFLOW_TRACKING_USERNAME"
ENV_PASSWORD = "MLFLOW_TRACKING_PASSWORD"
ENV_INSECURE = "MLFLOW_TRACKING_INSECURE_TLS"
ENV_CERT = "MLFLOW_TRACKING_SERVER_CERT_PATH"
# MLflow's defaults (mlflow/environment_variables.py, 2.22.5): MLFLOW_HTTP_REQUEST_MAX_RETRIES 7,
# MLFLOW_HTTP_REQUEST_TIMEOUT 120 s. The backoff here doubles from 0.5 s up to 10 s with full
# jitter: a refused port is given up after about 25 s (MLflow's factor 2 would wait ~4 min; the
# Databricks SDK gives up after 60 s), long enough for a server restart, short enough for a poll.
DEFAULT_RETRIES = 7
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 10.0


@dataclass(frozen=True)
class ServerConnection:
    """Everything needed to open one server's session. ``repr`` never shows a credential."""

    url: str
    token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    verify: bool | str = True  # False: insecure_tls; a path: the CA bundle
    retries: int = DEFAULT_RETRIES
    timeout_s: float = 60.0
    from_mlflow_env: bool = False  # MLflow's own variables applied to this server
    # timeout_s, deadline_s, max_response_mb (cockpit/mlflow/bounded.py); None: the defaults
    limits: Any = None
    # Where s3:// artifact roots are reached (cockpit/mlflow/s3_artifacts.py); None: from env
    s3: Any = None

    @property
    def auth_kind(self) -> str:
        return "basic" if self.basic_auth else "token" if self.token else "none"


def _flag(name: str, raw: str) -> bool:
    # MLflow's _BooleanEnvironmentVariable: true/false/1/0, anything else is an error.
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise ConfigError(f"{name} must be true, false, 1 or 0 (got {raw!r})")


def _env(name: str | None) -> str | None:
    if not name:
        return None
    value = os.environ.get(name) or None
    secrets.register_secret(value)
    return value


def names_mlflow_env(section: MlflowServerSection) -> bool:
    """Is this the server MLFLOW_TRACKING_URI names (so MLflow's variables apply to it)?"""
    if section.tracking_uri_from_env:
        return True
    env_uri = os.environ.get(ENV_URI, "").strip().rstrip("/")
    return bool(env_uri) and env_uri == section.tracking_uri.rstrip("/")


def resolve(
    section: MlflowServerSection, side: str, resolve_path=lambda p: Path(p)
) -> ServerConnection:
    """The connection for ``[mlflow.<side>]``, reading credentials from the environment now."""
    from cockpit.mlflow.bounded import Limits
    from cockpit.mlflow.s3_artifacts import S3Settings

    from_env = names_mlflow_env(section)
    token = _env(section.token_env) if section.token_env else None
    username = password = None
    if section.username_env:
        username, password = _env(section.username_env), _env(section.password_env)
        if not username or not password:
            missing = section.username_env if not username else section.password_env
            raise ConfigError(f"[mlflow.{side}] basic auth: the variable {missing} is not set")
    if from_env:
        if not section.token_env:
            token = _env(ENV_TOKEN)
        if not section.username_env:
            username, password = os.environ.get(ENV_USERNAME) or None, _env(ENV_PASSWORD)
            if bool(username) != bool(password):
                raise ConfigError(
                    f"{ENV_USERNAME} and {ENV_PASSWORD} go together: one of them is not set"
                )
    if username and len(username) >= 16:
        secrets.register_secret(username)  # a token passed as the user name
    basic = (username, password) if username and password else None

    insecure = section.insecure_tls
    ca_bundle: str | None = str(resolve_path(section.ca_bundle)) if section.ca_bundle else None
    if from_env:
        if not section.insecure_tls and ENV_INSECURE in os.environ:
            insecure = _flag(ENV_INSECURE, os.environ[ENV_INSECURE])
        if not section.ca_bundle and os.environ.get(ENV_CERT):
            ca_bundle = os.environ[ENV_CERT]
    if insecure and ca_bundle:
        raise ConfigError(
            f"[mlflow.{side}]: insecure_tls and a CA bundle exclude each other (MLflow refuses "
            "MLFLOW_TRACKING_INSECURE_TLS with MLFLOW_TRACKING_SERVER_CERT_PATH too)"
        )
    if ca_bundle and not Path(ca_bundle).is_file():
        raise ConfigError(f"[mlflow.{side}] CA bundle {ca_bundle} is not a file")
    verify: bool | str = False if insecure else (ca_bundle or True)
    return ServerConnection(
        url=section.tracking_uri,
        token=token,
        basic_auth=basic,
        verify=verify,
        retries=section.retries,
        timeout_s=section.timeout_s,
        from_mlflow_env=from_env,
        limits=Limits.of(section),
        s3=S3Settings.of(section),
    )


def is_rest_server(section: MlflowServerSection) -> bool:
    """The cockpit talks to a tracking server over REST: an http(s) URI, not a local store."""
    return section.tracking_uri.startswith(("http://", "https://"))


def connection_of(config: CockpitConfig, side: Side) -> ServerConnection:
    """``[mlflow.<side>]``, checked (set, an http(s) server) and resolved: the one way every
    client of a configured server is made (CLI, TUI, pollers, benchmark import)."""
    section = getattr(config.mlflow, side)
    if section is None:
        raise ConfigError(
            f"[mlflow.{side}] is not set in cockpit.toml (tracking_uri of the server)"
        )
    if not is_rest_server(section):
        # Not echoed: a pasted token may be in it.
        scheme = section.tracking_uri.split(":", 1)[0][:20]
        raise ConfigError(
            f"[mlflow.{side}] tracking_uri ({scheme}:...) is not an http(s) server; "
            "the cockpit talks REST"
        )
    return resolve(section, side, config.resolve)


def _client(conn: ServerConnection, *, read_only: bool, pool_size: int):
    from cockpit.mlflow.rest import RestClient, RetryPolicy

    return RestClient(
        conn.url,
        token=conn.token,
        basic_auth=conn.basic_auth,
        verify=conn.verify,
        read_only=read_only,
        pool_size=pool_size,
        limits=conn.limits,  # carries timeout_s (per request) and the command's deadline_s
        retry=RetryPolicy(
            attempts=conn.retries + 1, base_delay_s=BACKOFF_BASE_S, max_delay_s=BACKOFF_MAX_S
        ),
    )


def open_old(conn: ServerConnection, *, pool_size: int = 16) -> OldServer:
    from cockpit.mlflow.adapter import OldServer

    return OldServer(_client(conn, read_only=True, pool_size=pool_size), s3=conn.s3)


def open_new(conn: ServerConnection, *, pool_size: int = 16) -> NewServer:
    from cockpit.mlflow.adapter import NewServer

    return NewServer(_client(conn, read_only=False, pool_size=pool_size), s3=conn.s3)


def open_servers(config: CockpitConfig, *, pool_size: int = 16) -> tuple[OldServer, NewServer]:
    """Both servers of cockpit.toml, each with its own credentials, TLS, retries and timeout.
    Both sections are checked before either server is contacted: a mistake in [mlflow.new] is
    said at once, not after the old server has been waited for."""
    old, new = connection_of(config, "old"), connection_of(config, "new")
    return open_old(old, pool_size=pool_size), open_new(new, pool_size=pool_size)
