"""Start (and always stop) everything `cockpit demo` runs, on 127.0.0.1 only.

1. a real old-generation MLflow server (1.30.1) and a real new one (2.22.5), each from its own
   virtualenv (installed on first use, with progress), on fresh SQLite backends in the workdir;
2. Kyros' pipelines: the history logged to the old server by MLflow 1.x's own client, then a
   writer that keeps adding runs (production does not stop during a migration);
3. a partial sync, so the new server starts half populated and the drift is real;
4. the Databricks workspace simulator with the Kyros scenario;
5. a `cockpit.toml` for all of it, and a recorder (`cockpit record`) writing the state file.

:meth:`DemoEnvironment.stop` ends every process it started (each in its own process group) and
removes the workdir unless asked to keep it; it is safe to call twice and after a failed start.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cockpit import secrets
from cockpit.errors import CockpitError

Progress = Callable[[str], None]
SYNCED_AT_START = ("kyros/demand-forecast", "kyros/feature-pipeline")
DATABRICKS_TOKEN_ENV = "DATABRICKS_TOKEN"


@dataclass
class DemoEnvironment:
    workdir: Path
    keep: bool = False
    config_path: Path | None = None
    state_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)  # what a cockpit process needs (tokens)
    servers: list = field(default_factory=list)  # ServerHandle
    processes: list[subprocess.Popen] = field(default_factory=list)
    _stopped: bool = False

    def spawn(
        self, cmd: list[str], *, env: dict[str, str] | None = None, log: str
    ) -> subprocess.Popen:
        log_path = self.workdir / "logs" / log
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            cmd,
            env={**os.environ, **self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends it and its children
            preexec_fn=_die_with_parent,
            cwd=self.workdir,
        )
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # Recorder first (it polls the others), then writers, then servers.
        for proc in reversed(self.processes):
            _terminate_group(proc)
        for handle in self.servers:
            handle.stop()
        if not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when the demo process dies, however it
    dies (even SIGKILL), so nothing the demo started outlives it."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _terminate_group(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def _script(name: str) -> Path:
    return Path(str(resources.files("cockpit.demo").joinpath("scripts", name)))


def start(
    workdir: Path,
    *,
    progress: Progress = lambda message: None,
    keep: bool = False,
    live_writes_every_s: float = 20.0,
    recorder: bool = True,
) -> DemoEnvironment:
    from cockpit.mlflow import servers

    workdir.mkdir(parents=True, exist_ok=True)
    demo = DemoEnvironment(workdir=workdir, keep=keep)
    try:
        for version in (servers.MLFLOW_V1, servers.MLFLOW_V2):
            if servers.installed(version) is None:
                progress(
                    f"MLflow {version} is not installed yet: creating its own virtualenv under "
                    f"{servers.venv_dir(version)} (once; about 20-40 s)"
                )
                servers.install(version, progress=progress)
        progress("starting the old MLflow server (1.30.1) and the new one (2.22.5) on 127.0.0.1")
        old = servers.start_server(servers.MLFLOW_V1, workdir / "mlflow-old")
        demo.servers.append(old)
        new = servers.start_server(servers.MLFLOW_V2, workdir / "mlflow-new")
        demo.servers.append(new)

        progress("Kyros' pipelines log their history to the old server (MLflow 1.x client)")
        pipelines = _script("kyros_pipelines.py")
        py = str(servers.venv_python(servers.MLFLOW_V1))
        seeded = subprocess.run(
            [py, str(pipelines), "seed", old.url],
            env={**os.environ, **servers.server_env(servers.MLFLOW_V1)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if seeded.returncode != 0:
            raise CockpitError(
                f"seeding the old server failed: {seeded.stderr.strip().splitlines()[-1:]}"
            )
        if live_writes_every_s > 0:
            demo.spawn(
                [py, str(pipelines), "keep-writing", old.url, str(live_writes_every_s)],
                env=servers.server_env(servers.MLFLOW_V1),
                log="pipelines.log",
            )

        demo.state_path = workdir / "kyros-demo.cockpit.db"
        progress(
            f"copying {', '.join(SYNCED_AT_START)} to the new server (the rest is left to you)"
        )
        _partial_sync(demo, old.url, new.url)

        workspace_url = _start_workspace(demo, progress)

        demo.config_path = workdir / "cockpit.toml"
        demo.config_path.write_text(
            _config_text(old, new, workspace_url, demo.state_path.name), encoding="utf-8"
        )
        if workspace_url:
            _check_workspace_code(demo, progress)
        if recorder:
            progress("starting the recorder (cockpit record)")
            demo.spawn(
                [
                    sys.executable,
                    "-m",
                    "cockpit",
                    "--config",
                    str(demo.config_path),
                    "record",
                    "--quiet",
                ],
                log="recorder.log",
            )
        return demo
    except BaseException:
        demo.stop()
        raise


def _check_workspace_code(demo: DemoEnvironment, progress: Progress) -> None:
    """In the background (the cockpit opens meanwhile): inventory the simulated workspace, then
    scan the code its jobs run into the checklist, so the Checklist tab shows the notebooks'
    findings a few seconds after the demo starts. Output in logs/workspace-check.log."""
    progress("scanning the code the workspace jobs run (in the background)")
    cockpit = (
        f"{shlex.quote(sys.executable)} -m cockpit --config {shlex.quote(str(demo.config_path))}"
    )
    demo.spawn(
        [
            "sh",
            "-c",
            f"{cockpit} inventory --no-history && "
            f"{cockpit} check --workspace --record --format json > /dev/null",
        ],
        log="workspace-check.log",
    )


def _partial_sync(demo: DemoEnvironment, old_url: str, new_url: str) -> None:
    from cockpit.mlflow.adapter import connect_new, connect_old
    from cockpit.mlflow.sync import Syncer, SyncOptions
    from cockpit.store import StateStore

    assert demo.state_path is not None
    with StateStore.open(demo.state_path, create=True) as store:
        store.set_meta("migration.name", "Kyros DBR 16.4 + MLflow 2 cutover (live demo)")
        store.set_meta("migration.from", "14.3-lts-ml")
        store.set_meta("migration.to", "16.4-lts-ml")
        old, new = connect_old(old_url), connect_new(new_url)
        try:
            syncer = Syncer(
                old,
                new,
                store=store,
                options=SyncOptions(experiments=list(SYNCED_AT_START), registry=False),
                source="demo",
            )
            syncer.plan()
            syncer.run()
        finally:
            old.close()
            new.close()


def _start_workspace(demo: DemoEnvironment, progress: Progress) -> str | None:
    """The Databricks workspace simulator with the Kyros scenario, if the feature is installed."""
    try:
        from cockpit.databricks import simulator  # noqa: F401
    except ImportError:
        return None
    import json

    from cockpit.demo.kyros_workspace import write

    scenario = write(demo.workdir / "kyros_workspace.json")
    # The scenario's own admin token: a credential of the local simulator, nothing real.
    token = next(
        t for t, role in json.loads(scenario.read_text())["tokens"].items() if role == "admin"
    )
    secrets.register_secret(token)
    demo.env[DATABRICKS_TOKEN_ENV] = token
    progress("starting the Databricks workspace simulator")
    # Port 0: the simulator binds a free port itself and prints its address. A port picked
    # here and bound by the child later can be taken in between (by a server of another demo
    # or test), and the demo then waited 30 s for someone else's server.
    log = demo.workdir / "logs" / "workspace.log"
    offset = log.stat().st_size if log.exists() else 0  # a kept workdir's log has old lines
    proc = demo.spawn(
        [
            sys.executable,
            "-m",
            "cockpit",
            "sim",
            "workspace",
            "--scenario",
            str(scenario),
            "--port",
            "0",
            "--running-s",
            "60",
        ],
        log="workspace.log",
    )
    url = _served_url(proc, log, offset)
    progress(f"the Databricks workspace simulator serves {url}")
    _wait_http(url + "/api/2.1/clusters/spark-versions", token)
    return url


SERVING = re.compile(r" on (http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)$", re.MULTILINE)


def _served_url(proc: subprocess.Popen, log: Path, offset: int, timeout: float = 30.0) -> str:
    """The address `cockpit sim workspace` says it serves on, read from its log past
    ``offset`` (what this start wrote)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with log.open("rb") as f:
            f.seek(offset)
            match = SERVING.search(f.read().decode("utf-8", errors="replace"))
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise CockpitError(f"the workspace simulator exited ({proc.returncode}); see {log}")
        time.sleep(0.1)
    raise CockpitError(f"the workspace simulator did not start within {timeout:.0f} s; see {log}")


def _wait_http(url: str, token: str, timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise CockpitError(f"{url} did not answer within {timeout:.0f} s")


def _config_text(old, new, workspace_url: str | None, state_name: str) -> str:
    databricks = (
        f'[databricks]\nhost = "{workspace_url}"   # the local simulator; token in ${DATABRICKS_TOKEN_ENV}\n'
        "poll_interval_s = 10\n"
        if workspace_url
        else ""
    )
    return f"""\
# Written by `cockpit demo`: everything below runs on 127.0.0.1 and is removed on exit.
[migration]
name = "Kyros DBR 16.4 + MLflow 2 cutover (live demo)"
from = "14.3-lts-ml"
to = "16.4-lts-ml"

{databricks}
[mlflow.old]
tracking_uri = "{old.url}"
db_uri = "{old.backend_uri}"
poll_interval_s = 5

[mlflow.new]
tracking_uri = "{new.url}"
db_uri = "{new.backend_uri}"
poll_interval_s = 5

[state]
path = "{state_name}"
"""
