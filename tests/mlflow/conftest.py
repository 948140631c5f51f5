"""Real MLflow servers of each generation for the MLflow tests, from their own virtualenvs.

* ``mlflow_v1`` (1.30.1), ``mlflow_v2`` (2.22.5), ``mlflow_v3`` (3.17.2): one running server per
  test session (per xdist worker), each on a fresh SQLite backend and artifact folder. Tests share
  it, so they create their own experiments (unique names) rather than expect an empty server.
* ``mlflow_server_factory(version, data_dir=None, **kw)``: a server of its own for a test that
  needs a fresh backend, a given data folder, or to stop/restart a server; all are stopped when
  the test ends.
* ``s3_store``: moto's standalone S3 server on 127.0.0.1 (``moto_server``, once per session) and
  this test's AWS variables set in the environment; ``s3_store.bucket(label)`` makes a bucket.

Virtualenvs are cached under the user cache dir and installed on first use (a cold install of
all three, with an empty pip cache, took about 100 s and 2.1 GB here); concurrent pytest-xdist
workers share one install through the file lock in :mod:`cockpit.mlflow.servers`.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cockpit.mlflow import dbservers, servers
from cockpit.mlflow.dbservers import DatabaseServer
from cockpit.mlflow.servers import ServerHandle


def _say(config: pytest.Config) -> Callable[[str], None]:
    """Progress lines that reach the terminal even while pytest captures output."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        if capture is not None:
            with capture.global_and_fixture_disabled():
                print(f"\n[mlflow servers] {message}", flush=True)
        else:
            print(f"[mlflow servers] {message}", flush=True)

    return say


def _ensure_installed(version: str, config: pytest.Config) -> None:
    if servers.installed(version) is None:
        say = _say(config)
        say(f"mlflow {version} is not installed yet; installing it once (cached afterwards)")
        servers.install(version, progress=say)


def _session_server(
    version: str, request: pytest.FixtureRequest, factory: pytest.TempPathFactory
) -> Iterator[ServerHandle]:
    _ensure_installed(version, request.config)
    handle = servers.start_server(version, factory.mktemp(f"mlflow-{version}"))
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def mlflow_v1(request, tmp_path_factory) -> Iterator[ServerHandle]:
    yield from _session_server(servers.MLFLOW_V1, request, tmp_path_factory)


@pytest.fixture(scope="session")
def mlflow_v2(request, tmp_path_factory) -> Iterator[ServerHandle]:
    yield from _session_server(servers.MLFLOW_V2, request, tmp_path_factory)


@pytest.fixture(scope="session")
def mlflow_v3(request, tmp_path_factory) -> Iterator[ServerHandle]:
    yield from _session_server(servers.MLFLOW_V3, request, tmp_path_factory)


@pytest.fixture
def mlflow_server_factory(request, tmp_path) -> Iterator[Callable[..., ServerHandle]]:
    started: list[ServerHandle] = []
    counter = itertools.count(1)

    def start(version: str, data_dir: Path | None = None, **kwargs) -> ServerHandle:
        _ensure_installed(version, request.config)
        folder = data_dir or tmp_path / f"mlflow-{version}-{next(counter)}"
        handle = servers.start_server(version, folder, **kwargs)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()


# ------------------------------------------------------------------ database servers (one each)
@pytest.fixture(scope="session")
def postgres_server(request) -> Iterator[DatabaseServer]:
    """A real PostgreSQL server (Debian's binaries) on a free 127.0.0.1 port, once per session
    (per xdist worker); tests create databases of their own on it (:func:`fresh_database`)."""
    _say(request.config)("starting PostgreSQL for this session")
    server = dbservers.start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mariadb_server(request) -> Iterator[DatabaseServer]:
    """A real MariaDB server (Debian's `mariadb-server`, installed by `./dev test`), once per
    session (per xdist worker)."""
    _say(request.config)("starting MariaDB for this session")
    server = dbservers.start_mariadb()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["postgresql", "mysql"])
def db_server(request) -> DatabaseServer:
    """Each test using it runs once on PostgreSQL and once on MariaDB."""
    name = "postgres_server" if request.param == "postgresql" else "mariadb_server"
    return request.getfixturevalue(name)


_db_names = itertools.count(1)


@pytest.fixture
def make_database() -> Iterator[Callable[[DatabaseServer, str], str]]:
    """``make_database(server, label)``: a new empty database with a unique name (its MLflow
    URI); dropped when the test ends."""
    made: list[tuple[DatabaseServer, str]] = []

    def make(server: DatabaseServer, label: str) -> str:
        name = f"{label}_{os.getpid()}_{next(_db_names)}"
        made.append((server, name))
        return server.create_database(name)

    yield make
    for server, name in made:
        if server.is_running():
            server.drop_database(name)


# ------------------------------------------------------------------ S3 (moto's standalone server)
@dataclass(frozen=True)
class S3Store:
    """moto's S3 server on 127.0.0.1 and the AWS variables a client needs to use it."""

    endpoint: str
    env: dict[str, str]

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=self.env["AWS_DEFAULT_REGION"],
        )

    def bucket(self, label: str) -> str:
        name = f"{label}-{os.getpid()}-{next(_db_names)}".lower()
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def moto_server(request) -> Iterator[str]:
    """moto's standalone S3 server (a real HTTP S3 endpoint, no AWS account), once per session."""
    from moto.server import ThreadedMotoServer

    port = servers.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(moto_server, monkeypatch) -> S3Store:
    """The AWS configuration of this test in the environment (the cockpit's subprocesses and
    boto3 read it as they would in production): moto's endpoint through MLflow's
    ``MLFLOW_S3_ENDPOINT_URL``, and a secret key unique to the test, so a test can look for it
    in everything the cockpit wrote."""
    env = {
        "AWS_ACCESS_KEY_ID": f"AKIATEST{uuid.uuid4().hex[:12].upper()}",
        "AWS_SECRET_ACCESS_KEY": f"moto-secret-{uuid.uuid4().hex}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": moto_server,
    }
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return S3Store(moto_server, env)
