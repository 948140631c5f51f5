"""One virtualenv per MLflow release, managed by the cockpit under the user cache dir.

The cockpit never imports the server's ``mlflow``: one Python environment cannot hold 1.x, 2.x
and 3.x at once, and a client of one generation talking to a server of another hides gaps. So
each release gets a virtualenv under ``<user cache>/servers/mlflow-<version>/`` and is run as a
subprocess (:mod:`cockpit.mlflow.servers` runs its server).

Install rules:

* an install is finished only when its marker file exists; a folder without one (a killed
  install) is wiped and redone;
* installs of one version are serialised by an ``flock`` on a sibling lock file, so two pytest
  workers (or two terminals) asking for the same version build it once;
* pins that each generation needs here are applied automatically (1.x needs setuptools<81 for
  pkg_resources; 2.x imports break with SQLAlchemy 2.1);
* the database drivers a server needs for a PostgreSQL or MySQL backend, and boto3 for S3
  artifact roots (:data:`DRIVERS`), are
  recorded in the marker too; an install made before a driver was added gets just the missing
  ones added (under the same lock), never a rebuild, so servers running from it are not pulled
  from under their feet;
* the venv is made by the Python that runs the cockpit, and filled by the cockpit's own pip, so
  pip's wheel cache makes a re-install fast.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cockpit.errors import CockpitError

# The generations the cockpit is tested against; any other exact 1.x-3.x release may be installed.
MLFLOW_V1 = "1.30.1"
MLFLOW_V2 = "2.22.5"
MLFLOW_V3 = "3.17.2"

MARKER = ".cockpit-installed.json"
# Drivers every server venv gets, so `--backend-store-uri postgresql://...` and
# `mysql+pymysql://...` work, and boto3, which a server (and `mlflow` client code run from the
# venv) needs for s3:// artifact roots; versions are the ones tested here (floors, as in
# pyproject.toml). Recorded in the marker: a venv lacking one gets it added in place.
DRIVERS = ("psycopg2-binary>=2.9.13", "pymysql>=1.2.4", "boto3>=1.44.18")
VERSION_RE = re.compile(r"^(?P<major>[1-9])\.(?P<minor>\d+)\.(?P<patch>\d+)$")
# Where the cache lives can be moved (CI disks, tests of the install logic itself).
CACHE_ENV = "COCKPIT_SERVERS_DIR"
INSTALL_TIMEOUT_S = 1200.0
Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """Default progress sink: say nothing."""


# ------------------------------------------------------------------------------ versions & paths
def parse_version(version: str) -> tuple[int, int, int]:
    match = VERSION_RE.match(version)
    if not match or int(match.group("major")) not in (1, 2, 3):
        raise CockpitError(
            f"{version!r} is not an exact MLflow release between 1.x and 3.x (e.g. {MLFLOW_V1})"
        )
    return int(match["major"]), int(match["minor"]), int(match["patch"])


def generation(version: str) -> int:
    return parse_version(version)[0]


def extra_pins(version: str) -> tuple[str, ...]:
    """Requirements installed next to ``mlflow==version`` so its server starts here."""
    major = generation(version)
    if major == 2:
        # 2.x's SQLAlchemy store fails to import with SQLAlchemy 2.1 (measured with 2.22.5).
        return ("sqlalchemy<2.1",)
    if major == 1:
        # 1.x imports pkg_resources: gone from setuptools 81, and a venv made without ensurepip
        # has no setuptools at all (measured with 1.30.1). Releases older than 1.30 were not
        # tried here and may need more.
        return ("setuptools<81",)
    return ()


def servers_root() -> Path:
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_cache_dir("migration-cockpit")) / "servers"


def venv_dir(version: str) -> Path:
    parse_version(version)
    return servers_root() / f"mlflow-{version}"


def venv_python(version: str) -> Path:
    return venv_dir(version) / "bin" / "python"


@dataclass(frozen=True)
class InstalledServer:
    version: str
    path: Path
    pins: tuple[str, ...]
    python: str
    installed_at: float
    install_seconds: float

    @property
    def python_path(self) -> Path:
        return self.path / "bin" / "python"


def installed(version: str) -> InstalledServer | None:
    """The finished install of ``version``, or None (never installed, or killed mid-way)."""
    path = venv_dir(version)
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (path / "bin" / "python").exists():
        return None
    if tuple(data.get("pins", ())) != extra_pins(version):
        # Built with other pins by an older cockpit: rebuilt on the next install.
        return None
    if not set(DRIVERS) <= set(data.get("drivers", ())):
        # Made before a driver was added: install() adds the missing drivers in place.
        return None
    return InstalledServer(
        version=version,
        path=path,
        pins=tuple(data.get("pins", ())),
        python=str(data.get("python", "")),
        installed_at=float(data.get("installed_at", 0.0)),
        install_seconds=float(data.get("install_seconds", 0.0)),
    )


def list_installed() -> list[InstalledServer]:
    root = servers_root()
    if not root.is_dir():
        return []
    found = []
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.startswith("mlflow-"):
            version = child.name.removeprefix("mlflow-")
            if VERSION_RE.match(version):
                item = installed(version)
                if item is not None:
                    found.append(item)
    return sorted(found, key=lambda s: parse_version(s.version))


@contextlib.contextmanager
def install_lock(version: str) -> Iterator[None]:
    root = servers_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"mlflow-{version}.lock", "a+") as fh:
        # Blocks while another process builds the same version; the kernel frees the lock if
        # that process dies, and the marker check below then sees the unfinished folder.
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def install(version: str, *, progress: Progress = _quiet) -> InstalledServer:
    """Install ``mlflow==version`` (plus its pins) into its own virtualenv, once.

    Safe to call from several processes at once; returns at once when already installed.
    """
    parse_version(version)
    done = installed(version)
    if done is not None:
        return done
    try:
        return _install_locked(version, progress)
    except OSError as exc:  # an unwritable or full cache folder: one line, not a traceback
        raise CockpitError(
            f"cannot install mlflow {version} under {servers_root()}: {exc}"
        ) from None


def _install_locked(version: str, progress: Progress) -> InstalledServer:
    with install_lock(version):
        done = installed(version)  # someone else finished it while we waited
        if done is not None:
            return done
        path = venv_dir(version)
        added = _add_missing_drivers(version, progress)
        if added is not None:
            return added
        if path.exists():
            progress(f"removing unfinished install of mlflow {version} at {path}")
            shutil.rmtree(path)
        pins = extra_pins(version)
        requirement = [f"mlflow=={version}", *pins, *DRIVERS]
        progress(
            f"installing {' '.join(requirement)} into {path} "
            "(first time only; about 20-60 s and 0.4-0.9 GB)"
        )
        started = time.monotonic()
        try:
            _build_venv(path, requirement)
        except BaseException:
            # Leave no half-built folder that looks usable; the missing marker would catch it
            # anyway, this just frees the disk at once.
            shutil.rmtree(path, ignore_errors=True)
            raise
        seconds = time.monotonic() - started
        marker = {
            "version": version,
            "pins": list(pins),
            "drivers": list(DRIVERS),
            "python": sys.version.split()[0],
            "installed_at": time.time(),
            "install_seconds": round(seconds, 1),
        }
        tmp = path / (MARKER + ".tmp")
        tmp.write_text(json.dumps(marker, indent=2), encoding="utf-8")
        os.replace(tmp, path / MARKER)  # the marker appears whole or not at all
        progress(f"installed mlflow {version} in {seconds:.0f} s")
    result = installed(version)
    if result is None:  # pragma: no cover - the marker was just written
        raise CockpitError(f"install of mlflow {version} did not complete")
    return result


def _add_missing_drivers(version: str, progress: Progress) -> InstalledServer | None:
    """Add :data:`DRIVERS` to a finished install that predates them (caller holds the lock);
    None when there is no such install (then the caller builds one from scratch)."""
    path = venv_dir(version)
    marker_path = path / MARKER
    try:
        data = json.loads(marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if tuple(data.get("pins", ())) != extra_pins(version) or not (path / "bin" / "python").exists():
        return None
    missing = [d for d in DRIVERS if d not in set(data.get("drivers", ()))]
    if missing:
        progress(f"adding {' '.join(missing)} to mlflow {version} at {path}")
        _pip_install(path, missing)
        data["drivers"] = sorted(set(data.get("drivers", ())) | set(missing))
        tmp = path / (MARKER + ".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, marker_path)
    return installed(version)


_REVISION = re.compile(r"^revision\s*=\s*[\"'](?P<rev>[0-9a-zA-Z_]+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*[\"'](?P<rev>[0-9a-zA-Z_]+)[\"']", re.MULTILINE)


def migration_chain(version: str) -> dict[str, str | None]:
    """revision -> down_revision for every alembic migration shipped with installed ``version``.

    Read from the migration files' text (never imported), so the steps between two revisions
    are known even when a release's `db upgrade` logs nothing (3.x is quiet). Empty when the
    release is not installed.
    """
    server = installed(version)
    if server is None:
        return {}
    chain: dict[str, str | None] = {}
    for folder in server.path.glob("lib/python*/site-packages/mlflow/store/db_migrations/versions"):
        for path in folder.glob("*.py"):
            text = path.read_text(encoding="utf-8", errors="replace")
            rev = _REVISION.search(text)
            if rev is None:
                continue
            down = _DOWN_REVISION.search(text)
            chain[rev["rev"]] = down["rev"] if down else None
    return chain


def head_revision(chain: dict[str, str | None]) -> str | None:
    """The one revision no other migration builds on (None if the chain is empty or forked)."""
    heads = set(chain) - {down for down in chain.values() if down}
    return heads.pop() if len(heads) == 1 else None


def _build_venv(path: Path, requirement: list[str]) -> None:
    import importlib.util

    # The venv is made by the Python that runs the cockpit, so servers use the same interpreter
    # version the cockpit was tested with. The cockpit's own pip installs into it (no ensurepip
    # step, and one shared wheel cache), when it has one.
    have_pip = importlib.util.find_spec("pip") is not None
    venv_cmd = [sys.executable, "-m", "venv", str(path)]
    if have_pip:
        venv_cmd.insert(3, "--without-pip")
    _run(venv_cmd, what=f"create a virtualenv at {path}", timeout=300)
    _pip_install(path, requirement)


def _pip_install(path: Path, requirement: list[str]) -> None:
    import importlib.util

    have_pip = importlib.util.find_spec("pip") is not None
    python = path / "bin" / "python"
    pip_prefix = (
        [sys.executable, "-m", "pip", "--python", str(python)]
        if have_pip
        else [str(python), "-m", "pip"]
    )
    _run(
        [
            *pip_prefix,
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            *requirement,
        ],
        what=f"pip install {' '.join(requirement)}",
        timeout=INSTALL_TIMEOUT_S,
    )


def _run(cmd: list[str], *, what: str, timeout: float) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise CockpitError(f"could not {what}: timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise CockpitError(f"could not {what}: {exc}") from None
    if result.returncode != 0:
        text = f"{result.stdout}\n{result.stderr}"
        # pip prints warnings (index locations, resolver notes) after its error; say the error.
        errors = [line.strip() for line in text.splitlines() if line.strip().startswith("ERROR")]
        tail = errors[0] if errors else _last_line(text) or f"exit {result.returncode}"
        raise CockpitError(f"could not {what}: {tail}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def server_env(version: str) -> dict[str, str]:
    """The environment a server (or ``mlflow db upgrade``) of ``version`` runs with."""
    path = venv_dir(version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON"))}
    # 1.x/2.x start gunicorn by name, so the venv's bin must come first on PATH.
    env["PATH"] = f"{path / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(path)
    env["PYTHONUNBUFFERED"] = "1"
    if generation(version) >= 3:
        # 3.x starts a job-execution worker pool by default (~15 processes, ~2 GiB, ~44 ms per
        # request here); the cockpit needs none of it.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    return env


def run_mlflow_cli(
    version: str, args: list[str], *, timeout: float = 600.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``mlflow <args>`` from the venv of ``version`` (installed on demand by the caller)."""
    server = installed(version)
    if server is None:
        raise CockpitError(
            f"mlflow {version} is not installed (`cockpit servers install {version}`)"
        )
    cmd = [str(server.path / "bin" / "mlflow"), *args]
    try:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=server_env(version),
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        raise CockpitError(
            f"mlflow {version} {' '.join(args[:2])} timed out after {timeout:.0f} s"
        ) from None
