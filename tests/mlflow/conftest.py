"""Real MLflow servers of each generation for the MLflow tests, from their own virtualenvs.

* ``mlflow_v1`` (1.30.1), ``mlflow_v2`` (2.22.5), ``mlflow_v3`` (3.17.2): one running server per
  test session (per xdist worker), each on a fresh SQLite backend and artifact folder. Tests share
  it, so they create their own experiments (unique names) rather than expect an empty server.
* ``mlflow_server_factory(version, data_dir=None, **kw)``: a server of its own for a test that
  needs a fresh backend, a given data folder, or to stop/restart a server; all are stopped when
  the test ends.

Virtualenvs are cached under the user cache dir and installed on first use (a cold install of
all three, with an empty pip cache, took about 100 s and 2.1 GB here); concurrent pytest-xdist
workers share one install through the file lock in :mod:`cockpit.mlflow.servers`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
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
