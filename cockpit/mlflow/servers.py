"""Real MLflow servers of any generation, each run from its own virtualenv (:mod:`.venvs`).

Run rules: 127.0.0.1 only, a free port, a SQLite backend (or a PostgreSQL/MySQL database given
as ``backend_uri``, passed in the environment, never on the command line) and a local artifact
store served by the server (``--serve-artifacts``; or an ``s3://`` root it does not serve),
stdout/stderr captured to files, and an HTTP access log written
by the server itself (gunicorn's ``--access-logfile`` on 1.x/2.x, uvicorn's access logger routed
to a file on 3.x), so a test can prove from the server's own log which requests reached it.
Each server runs in its own process group, led by a small supervisor that ends the group if the
process that started it dies; :meth:`ServerHandle.stop` stops the group. A data folder is served
by one server at a time, and an older ``mlflow.db`` is never migrated in place unless asked.

The install side (versions, pins, the cache, ``mlflow db upgrade``) lives in :mod:`.venvs`; its
public names are re-exported here, so ``servers.install(...)`` and ``servers.MLFLOW_V1`` work.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import CockpitError, SourceUnavailableError
from cockpit.mlflow.venvs import (
    CACHE_ENV,
    INSTALL_TIMEOUT_S,
    MARKER,
    MLFLOW_V1,
    MLFLOW_V2,
    MLFLOW_V3,
    VERSION_RE,
    InstalledServer,
    Progress,
    _last_line,
    _quiet,
    extra_pins,
    generation,
    head_revision,
    install,
    install_lock,
    installed,
    list_installed,
    migration_chain,
    parse_version,
    run_mlflow_cli,
    server_env,
    servers_root,
    venv_dir,
    venv_python,
)

__all__ = [
    "CACHE_ENV",
    "INSTALL_TIMEOUT_S",
    "MARKER",
    "MLFLOW_V1",
    "MLFLOW_V2",
    "MLFLOW_V3",
    "STATE_FILE",
    "VERSION_RE",
    "AccessRecord",
    "InstalledServer",
    "Progress",
    "ServerHandle",
    "attach",
    "check_backend",
    "extra_pins",
    "free_port",
    "generation",
    "head_revision",
    "install",
    "install_lock",
    "installed",
    "list_installed",
    "migration_chain",
    "parse_version",
    "port_free",
    "run_mlflow_cli",
    "server_command",
    "server_env",
    "server_environment",
    "server_s3_env",
    "server_s3_env_names",
    "servers_root",
    "start_server",
    "venv_dir",
    "venv_python",
]

# In a server's data folder while it runs: which version serves it, where, and its pid.
STATE_FILE = "server.json"
START_TIMEOUT_S = 120.0
WORKER_TIMEOUT_S = 600  # gunicorn's --timeout for 1.x/2.x servers (see server_command)
# One request line as both gunicorn's default access format and uvicorn's access logger print it.
ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# MLflow's S3 settings a server reads from its environment, by generation, as grepped in the
# tested releases' own code (mlflow/environment_variables.py, used by
# store/artifact/s3_artifact_repo.py and optimized_s3_artifact_repo.py): 1.30.1 reads the endpoint,
# TLS skip and upload extra args (JSON of boto3 ExtraArgs, e.g. server-side encryption); 2.22.5
# adds the boto addressing style (path/virtual); 3.17.2 adds the expected bucket owner. The venv
# environment drops every MLFLOW_* variable (server_env), so these are passed on by name.
_S3_ENV_V1 = ("MLFLOW_S3_ENDPOINT_URL", "MLFLOW_S3_IGNORE_TLS", "MLFLOW_S3_UPLOAD_EXTRA_ARGS")
_S3_ENV_V2 = (*_S3_ENV_V1, "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE")
_S3_ENV_V3 = (*_S3_ENV_V2, "MLFLOW_S3_EXPECTED_BUCKET_OWNER")
SERVER_S3_ENV: dict[int, tuple[str, ...]] = {1: _S3_ENV_V1, 2: _S3_ENV_V2, 3: _S3_ENV_V3}
# POSTs that only read (search); every other POST, and every PUT/PATCH/DELETE, writes.
READ_ONLY_POST_SUFFIXES = (
    "/runs/search",
    "/experiments/search",
    "/registered-models/search",
    "/model-versions/search",
    "/logged-models/search",
    "/datasets/search",
    "/traces/search",
)


# ------------------------------------------------------------------------------ running
@dataclass(frozen=True)
class AccessRecord:
    """One request line from a server's own access log."""

    method: str
    path: str
    status: int

    @property
    def is_write(self) -> bool:
        if self.method not in WRITE_METHODS:
            return False
        route = self.path.split("?", 1)[0]
        return not (self.method == "POST" and route.endswith(READ_ONLY_POST_SUFFIXES))


@dataclass
class ServerHandle:
    """A running (or stopped) MLflow server started by :func:`start_server`."""

    version: str
    url: str
    port: int
    backend_db_path: Path
    artifact_root: Path
    data_dir: Path
    stdout_log: Path
    stderr_log: Path
    access_log: Path
    pid: int
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    # A PostgreSQL/MySQL backend URI; None for the data folder's SQLite file.
    backend_store_uri: str | None = None
    # True for a handle found through the data folder's state file (see attach()).
    _attached: bool = field(default=False, repr=False, compare=False)
    # True when start_server made data_dir itself (no folder given): removed by stop().
    _temporary: bool = field(default=False, repr=False, compare=False)

    @property
    def backend_uri(self) -> str:
        return self.backend_store_uri or f"sqlite:///{self.backend_db_path}"

    @property
    def generation(self) -> int:
        return generation(self.version)

    def is_running(self) -> bool:
        if self._attached:
            return _group_alive(self.pid)
        return self._process is not None and self._process.poll() is None

    def access_records(self, since: int = 0) -> list[AccessRecord]:
        """Requests the server logged so far, in order; ``since`` skips that many first ones.

        Take ``mark = handle.access_mark()`` before an action, then
        ``handle.write_requests(since=mark)`` is exactly what the action wrote.
        """
        try:
            text = self.access_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            match = ACCESS_LINE.search(line)
            if match:
                out.append(AccessRecord(match["method"], match["path"], int(match["status"])))
        return out[since:]

    def write_requests(self, since: int = 0) -> list[AccessRecord]:
        return [r for r in self.access_records(since) if r.is_write]

    def access_mark(self, timeout_s: float = 30.0, settle_s: float = 0.5) -> int:
        """How many requests the log holds once every request answered so far is in it.

        A worker logs a request after answering it, and 1.x/2.x servers run two workers, so
        ``len(access_records())`` right after a client's last answer can miss that request, or
        count it after a later one. A marker request is sent and waited for (whatever its
        worker answered before is logged), then ``settle_s`` lets the other worker catch up.
        """
        marker = f"/health?cockpit-mark={os.urandom(8).hex()}"
        with contextlib.suppress(OSError):  # a 404 (1.x has no /health) is logged all the same
            urllib.request.urlopen(self.url + marker, timeout=timeout_s).close()
        deadline = time.monotonic() + timeout_s
        while not any(r.path == marker for r in self.access_records()):
            if time.monotonic() > deadline:
                raise CockpitError(f"the access log of {self.url} never showed {marker}")
            time.sleep(0.05)
        time.sleep(settle_s)
        return len(self.access_records())

    @property
    def state_file(self) -> Path:
        return self.data_dir / STATE_FILE

    def write_state_file(self) -> None:
        """Say in the data folder which server serves it, so another process can find it."""
        data = {
            "version": self.version,
            "url": self.url,
            "port": self.port,
            "pid": self.pid,
            "started_at": time.time(),
        }
        if self.backend_store_uri:
            from cockpit.mlflow import dbtools

            # Never the password: this file sits in a plain folder.
            data["backend_uri"] = dbtools.parse(self.backend_store_uri).display
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the whole process group (the CLI, gunicorn/uvicorn and their workers)."""
        proc = self._process
        if proc is None and not self._attached:
            return
        pgid = self.pid
        if proc is not None:
            if proc.poll() is None:
                _signal_group(pgid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    _signal_group(pgid, signal.SIGKILL)
                    proc.wait(timeout=10)
        else:
            # Started by another process (`servers start --detach`): not our child to wait on.
            _signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        # Workers can outlive the leader by a moment; make sure none keeps the port or the DB
        # (a restart on the same data folder, or a DB copy, must not race a dying worker).
        _signal_group(pgid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._process = None
        self._attached = False
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        if self._temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def attach(data_dir: Path) -> ServerHandle | None:
    """The server that is serving ``data_dir`` right now, or None.

    A state file whose process is gone, or whose process is not that version's mlflow (the pid
    was reused), is stale: it is removed and None returned.
    """
    data_dir = Path(data_dir).resolve()
    path = data_dir / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        version, pid, port = str(data["version"]), int(data["pid"]), int(data["port"])
        parse_version(version)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, CockpitError):
        path.unlink(missing_ok=True)
        return None
    if not _group_alive(pid) or not _is_mlflow_of(pid, version):
        path.unlink(missing_ok=True)
        return None
    logs = data_dir / "logs"
    return ServerHandle(
        version=version,
        url=f"http://127.0.0.1:{port}",
        port=port,
        backend_db_path=data_dir / "mlflow.db",
        artifact_root=data_dir / "artifacts",
        data_dir=data_dir,
        stdout_log=logs / "stdout.log",
        stderr_log=logs / "stderr.log",
        access_log=logs / "access.log",
        pid=pid,
        backend_store_uri=data.get("backend_uri") or None,
        _attached=True,
    )


def _is_mlflow_of(pid: int, version: str) -> bool:
    if not Path("/proc").is_dir():
        return True  # not Linux: trust the live process group named in the state file
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(venv_dir(version)).encode() in cmdline


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return any(process_alive_in_group(entry, pgid) for entry in proc.iterdir())


def _stat_fields(path: Path) -> list[str] | None:
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_alive_in_group(entry: Path, pgid: int) -> bool:
    """Whether ``/proc/<pid>`` is a process of group ``pgid`` that has not finished exiting.

    A process whose main thread shows ``Z`` may still have threads tearing down, and they hold
    its open files (a listening socket included) until the last one exits: CI saw a port still
    listened on after every process of the group looked like a zombie. So a zombie counts as
    gone only when none of its threads is still running.
    """
    if not entry.name.isdigit():
        return False
    fields = _stat_fields(entry / "stat")
    if fields is None or int(fields[2]) != pgid:
        return False
    if fields[0] != "Z":
        return True
    try:
        tasks = list((entry / "task").iterdir())
    except OSError:
        return False
    return any((f := _stat_fields(t / "stat")) is not None and f[0] not in "ZX" for t in tasks)


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_command(
    version: str,
    *,
    port: int,
    db_path: Path,
    artifact_root: Path,
    access_log: Path,
    workers: int,
    log_config: Path | None = None,
    artifact_uri: str | None = None,
    artifacts_destination: str | None = None,
) -> list[str]:
    """The ``mlflow server`` command line for ``version`` (exposed for tests and `--dry-run`).

    The backend store is not on it: a PostgreSQL/MySQL URI carries the database password, and
    every user of the machine can read a command line (``ps``, ``/proc/<pid>/cmdline``). It goes
    in the environment instead, as ``MLFLOW_BACKEND_STORE_URI`` (:func:`server_environment`),
    which every generation's ``mlflow server`` reads (1.30.1 included).

    ``artifact_uri`` (``s3://bucket/prefix``) makes a server that does not proxy artifacts: it
    hands its clients that root, and they read and write the store themselves.
    ``artifacts_destination`` (``s3://bucket/prefix``) keeps the proxy but stores what it serves
    there instead of in ``artifact_root``: the server itself writes to S3."""
    # The console script, not `python -m mlflow`: 1.x has no mlflow.__main__.
    cmd = [
        str(venv_dir(version) / "bin" / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if artifact_uri is not None:
        cmd += ["--default-artifact-root", artifact_uri]
        if generation(version) >= 2:
            cmd.append("--no-serve-artifacts")  # 2.x and later proxy by default; 1.x does not
    else:
        cmd += [
            "--serve-artifacts",
            "--artifacts-destination",
            artifacts_destination or str(artifact_root),
            "--default-artifact-root",
            "mlflow-artifacts:/",
        ]
    cmd += ["--workers", str(workers)]
    if generation(version) >= 3:
        # 3.x serves through uvicorn; its access logger is pointed at a file by a log config.
        if log_config is not None:
            cmd += ["--uvicorn-opts", f"--log-config {shlex.quote(str(log_config))}"]
    else:
        # gunicorn kills a worker silent for 30 s by default: on a busy machine a 1.x worker's
        # boot (importing mlflow.server after the fork) or a long artifact upload took that, and
        # 1.x booted, was killed and booted again until the start gave up. Observed in CI.
        opts = f"--access-logfile {shlex.quote(str(access_log))} --timeout {WORKER_TIMEOUT_S}"
        cmd += ["--gunicorn-opts", opts]
    return cmd


def server_s3_env_names(version: str) -> tuple[str, ...]:
    """MLflow's S3 variables the server of ``version`` reads (see :data:`SERVER_S3_ENV`)."""
    return SERVER_S3_ENV[min(generation(version), max(SERVER_S3_ENV))]


def server_s3_env(version: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """Those of ``version``'s S3 variables set in ``environ`` (default: this process's), to hand
    to its server: without them it would write S3 objects without the upload extra args
    (server-side encryption), or address a bucket in the wrong style."""
    source = os.environ if environ is None else environ
    return {k: source[k] for k in server_s3_env_names(version) if k in source}


def server_environment(
    version: str,
    *,
    db_path: Path,
    backend_uri: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of ``mlflow server``: the venv's (:func:`server_env`), the backend store
    URI (never on the command line), and ``extra_env`` (e.g. ``MLFLOW_S3_ENDPOINT_URL`` and the
    AWS variables of a server whose artifacts are in S3)."""
    env = server_env(version)
    env.update(extra_env or {})
    env["MLFLOW_BACKEND_STORE_URI"] = backend_uri or f"sqlite:///{db_path}"
    return env


def _uvicorn_log_config(access_log: Path) -> dict:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "access": {"format": "%(asctime)s %(message)s"},
        },
        "handlers": {
            "default": {"class": "logging.StreamHandler", "formatter": "default"},
            "access": {
                "class": "logging.FileHandler",
                "formatter": "access",
                "filename": str(access_log),
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def start_server(
    version: str,
    data_dir: Path | None = None,
    *,
    port: int | None = None,
    workers: int | None = None,
    install_if_missing: bool = True,
    allow_db_upgrade: bool = False,
    tie_to_parent: bool = True,
    progress: Progress = _quiet,
    timeout: float = START_TIMEOUT_S,
    backend_uri: str | None = None,
    artifact_uri: str | None = None,
    extra_env: dict[str, str] | None = None,
    artifacts_destination: str | None = None,
) -> ServerHandle:
    """Start ``mlflow server`` of ``version`` on 127.0.0.1 and wait until /health answers 200.

    ``data_dir`` holds ``mlflow.db``, ``artifacts/`` and ``logs/``; an existing folder is reused
    (same experiments as last time), a missing one is created, None makes a fresh temp folder.

    An existing ``mlflow.db`` at an older schema revision is refused unless
    ``allow_db_upgrade``: the server would migrate it in place, silently, and a server of the
    older generation would never start on it again.

    ``tie_to_parent`` (default) stops the server when this process dies without stopping it;
    pass False for a server meant to outlive it (``cockpit servers start --detach``).

    ``backend_uri`` puts the tracking store in a PostgreSQL or MySQL database instead of
    ``data_dir/mlflow.db`` (the same in-place-migration check applies); artifacts and logs stay
    in ``data_dir``.

    ``artifact_uri`` (``s3://...``) serves no artifacts: runs get roots under it and clients use
    the store directly; ``extra_env`` reaches the server process only (its endpoint, credentials).
    ``artifacts_destination`` (``s3://...``) proxies artifacts as usual but keeps them in S3.
    """
    parse_version(version)
    if installed(version) is None:
        if not install_if_missing:
            raise CockpitError(
                f"mlflow {version} is not installed (`cockpit servers install {version}`)"
            )
        install(version, progress=progress)
    temporary = data_dir is None
    if data_dir is None:
        data_dir = Path(tempfile.mkdtemp(prefix=f"cockpit-mlflow-{version}-"))
    data_dir = Path(data_dir).resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise CockpitError(f"--data {data_dir} exists and is not a folder")
    running = attach(data_dir)
    if running is not None:
        raise CockpitError(
            f"mlflow {running.version} already serves {data_dir} at {running.url} "
            f"(pid {running.pid}); stop it first (`cockpit servers stop --data {data_dir}`)"
        )
    if artifact_uri is not None and not artifact_uri.startswith("s3://"):
        raise CockpitError("artifact_uri must be an s3://bucket/prefix URI")
    if artifacts_destination is not None and not artifacts_destination.startswith("s3://"):
        raise CockpitError("artifacts_destination must be an s3://bucket/prefix URI")
    if artifact_uri is not None and artifacts_destination is not None:
        raise CockpitError(
            "an S3 artifact root the server does not serve and an S3 destination it serves "
            "exclude each other; give one"
        )
    if backend_uri is not None and backend_uri.startswith("sqlite:"):
        raise CockpitError(
            "a SQLite backend lives in the data folder (--data); backend_uri is for PostgreSQL "
            "or MySQL"
        )
    check_backend(version, backend_uri or data_dir / "mlflow.db", allow_db_upgrade=allow_db_upgrade)
    artifact_root = data_dir / "artifacts"
    logs = data_dir / "logs"
    artifact_root.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    # 3.x (uvicorn) is one process per worker with no shared state to need more for tests; 1.x
    # and 2.x gunicorn sync workers serve one request each, so two keep concurrent clients moving.
    workers = workers or (1 if generation(version) >= 3 else 2)
    access_log = logs / "access.log"
    log_config = None
    if generation(version) >= 3:
        log_config = logs / "uvicorn-log-config.json"
        log_config.write_text(json.dumps(_uvicorn_log_config(access_log)), encoding="utf-8")

    if port and not port_free(port):
        raise SourceUnavailableError(f"port {port} is already in use on 127.0.0.1")
    attempts = 1 if port else 3
    last_error: CockpitError | None = None
    for _ in range(attempts):
        chosen = port or free_port()
        try:
            return _launch(
                version,
                chosen,
                data_dir,
                artifact_root,
                logs,
                access_log,
                workers,
                log_config,
                timeout,
                progress,
                temporary,
                tie_to_parent,
                backend_uri,
                artifact_uri,
                extra_env,
                artifacts_destination,
            )
        except _PortTaken as exc:
            last_error = SourceUnavailableError(f"port {chosen} is already in use ({exc})")
    assert last_error is not None
    raise last_error


def check_backend(version: str, db_path: Path | str, *, allow_db_upgrade: bool = False) -> None:
    """Refuse a backend that ``version``'s server would migrate in place, or cannot read.

    ``db_path`` is the SQLite file, or a PostgreSQL/MySQL URI (read read-only)."""
    from cockpit.mlflow import schema

    if isinstance(db_path, str):
        revision = schema.read_revision(db_path)
        db_path = schema.display_uri(db_path)  # type: ignore[assignment]
    elif not db_path.exists() or db_path.stat().st_size == 0:
        return
    else:
        revision = schema.read_revision(db_path)
    if revision is None:
        return
    chain = migration_chain(version)
    head = head_revision(chain)
    if head is None or revision == head:
        return
    if revision not in chain:
        raise CockpitError(
            f"{db_path} is at schema revision {revision}, which mlflow {version} does not know "
            "(was it upgraded by a newer release?)"
        )
    if not allow_db_upgrade:
        raise CockpitError(
            f"{db_path} is at schema revision {schema.describe_revision(revision)}; mlflow "
            f"{version} would migrate it in place to {head}, after which older servers refuse "
            "to start on it. Rehearse on a copy (`cockpit mlflow rehearse-db-upgrade`), or pass "
            "--allow-db-upgrade if this database may be upgraded"
        )


class _PortTaken(Exception):
    pass


def _launch(
    version: str,
    port: int,
    data_dir: Path,
    artifact_root: Path,
    logs: Path,
    access_log: Path,
    workers: int,
    log_config: Path | None,
    timeout: float,
    progress: Progress,
    temporary: bool = False,
    tie_to_parent: bool = True,
    backend_uri: str | None = None,
    artifact_uri: str | None = None,
    extra_env: dict[str, str] | None = None,
    artifacts_destination: str | None = None,
) -> ServerHandle:
    db_path = data_dir / "mlflow.db"
    cmd = server_command(
        version,
        port=port,
        db_path=db_path,
        artifact_root=artifact_root,
        access_log=access_log,
        workers=workers,
        log_config=log_config,
        artifact_uri=artifact_uri,
        artifacts_destination=artifacts_destination,
    )
    env = server_environment(version, db_path=db_path, backend_uri=backend_uri, extra_env=extra_env)
    stdout_log, stderr_log = logs / "stdout.log", logs / "stderr.log"
    url = f"http://127.0.0.1:{port}"
    progress(f"starting mlflow {version} server at {url} (data in {data_dir})")
    # The logs are appended to across restarts on one data folder; only this run's part counts.
    offset = stderr_log.stat().st_size if stderr_log.exists() else 0
    if tie_to_parent:
        # Group leader = a tiny supervisor in the server's own Python, which takes the group
        # down if this process dies without stopping it (kill -9, a crashed test run), so no
        # orphaned server keeps its port and half a gigabyte.
        cmd = [str(venv_python(version)), "-c", _SUPERVISOR, str(os.getpid()), *cmd]
    with stdout_log.open("ab") as out, stderr_log.open("ab") as err:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=data_dir,
            start_new_session=True,  # its own process group, so stop() reaches every worker
        )
    handle = ServerHandle(
        version=version,
        url=url,
        port=port,
        backend_db_path=db_path,
        artifact_root=artifact_root,
        data_dir=data_dir,
        stdout_log=stdout_log,
        stderr_log=stderr_log,
        access_log=access_log,
        pid=proc.pid,
        _process=proc,
        _temporary=temporary,
        backend_store_uri=backend_uri,
    )
    try:
        return _wait_ready(handle, proc, timeout, progress, offset)
    except BaseException:
        # Ctrl-C or any failure while waiting: never leave a half-started server behind.
        handle.stop()
        raise


def _wait_ready(
    handle: ServerHandle,
    proc: subprocess.Popen[bytes],
    timeout: float,
    progress: Progress,
    log_offset: int,
) -> ServerHandle:
    version, port, url, stderr_log = handle.version, handle.port, handle.url, handle.stderr_log
    # A server that fails to start keeps its folder, temporary or not: the log says why, and
    # a retry on another port reuses it.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            handle._temporary = False
            handle.stop()
            with stderr_log.open("rb") as fh:
                fh.seek(log_offset)
                text = fh.read().decode("utf-8", errors="replace")
            lowered = text.lower()
            # uvicorn says "address already in use"; gunicorn "Connection in use" (5 retries).
            if "address already in use" in lowered or "connection in use" in lowered:
                raise _PortTaken(str(port))
            tail = _last_line(text) or f"exit code {proc.returncode}"
            raise SourceUnavailableError(
                f"mlflow {version} server exited before it was ready: {tail} (log: {stderr_log})"
            )
        if _healthy(url):
            handle.write_state_file()
            progress(f"mlflow {version} server ready at {url}")
            return handle
        time.sleep(0.2)
    handle._temporary = False
    handle.stop()
    raise SourceUnavailableError(
        f"mlflow {version} server did not answer /health within {timeout:.0f} s (log: {stderr_log})"
    )


# Runs as the server's process-group leader: starts the mlflow command (argv[2:]) and waits for
# it; a SIGTERM to the group reaches the command too, so the supervisor just keeps waiting for
# it to finish shutting down. If the cockpit process (argv[1]) goes away first, it stops the
# group itself: SIGTERM, then SIGKILL after 10 s.
_SUPERVISOR = """\
import os, signal, subprocess, sys, time
owner = int(sys.argv[1])
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
def default_signals():
    # Ignored signals stay ignored across exec; the server must get its normal ones back.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
child = subprocess.Popen(sys.argv[2:], preexec_fn=default_signals)
def owner_alive():
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return os.getppid() == owner
while child.poll() is None:
    if not owner_alive():
        os.killpg(0, signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            pass
        os.killpg(0, signal.SIGKILL)
    time.sleep(0.5)
sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
"""


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False
