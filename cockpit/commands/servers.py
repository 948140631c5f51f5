"""``cockpit servers install|list|start|remove``: MLflow servers of any generation, locally.

Each MLflow release runs from its own virtualenv under the user cache dir, so the 1.x production
server, the 2.x target and a 3.x preview can run side by side for rehearsals, demos and tests.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 45
# What `mlflow server` itself reads when --backend-store-uri is left out.
BACKEND_ENV = "MLFLOW_BACKEND_STORE_URI"

EPILOG = """\
Virtualenvs live under the user cache dir (COCKPIT_SERVERS_DIR overrides it). Tested releases:
1.30.1, 2.22.5 and 3.17.2; needed pins are added automatically (1.x: setuptools<81,
2.x: sqlalchemy<2.1). A cold install takes 10-60 s and 0.4-0.8 GB per release.
Servers listen on 127.0.0.1 only. By default the backend is SQLite and the served artifacts
live under --data; --backend-store-uri (or MLFLOW_BACKEND_STORE_URI) names a PostgreSQL or
MySQL store, --artifacts-destination s3://... keeps served artifacts in S3, and
--default-artifact-root s3://... has clients write to S3 themselves. The MLflow S3 variables
the started release reads (MLFLOW_S3_ENDPOINT_URL, MLFLOW_S3_IGNORE_TLS,
MLFLOW_S3_UPLOAD_EXTRA_ARGS, ...) are passed on from the environment.

examples:
  cockpit servers install 1.30.1
  cockpit servers start 1.30.1 --port 5001 --data ./old-server     (Ctrl-C stops it)
  cockpit servers start 2.22.5 --data ./new-server --detach
  cockpit servers stop --data ./new-server
  cockpit servers list --format json
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "servers",
        help="install and run MLflow servers of any generation (own virtualenvs)",
        description="Manage local MLflow servers, one virtualenv per release.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = parser.add_subparsers(dest="servers_command", metavar="ACTION", required=True)

    inst = ssub.add_parser("install", help="install an MLflow release into its own virtualenv")
    inst.add_argument("version", metavar="VERSION", help="exact release, e.g. 2.22.5")
    add_text_or_json(inst)
    inst.set_defaults(handler=run_install)

    lst = ssub.add_parser("list", help="installed releases")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(handler=run_list)

    start = ssub.add_parser(
        "start",
        help="run a server in the foreground until Ctrl-C",
        description="Start `mlflow server` of VERSION on 127.0.0.1 (installing it first if "
        "needed) with a SQLite backend and served artifacts under --data; Ctrl-C stops it and "
        "every worker cleanly.",
    )
    start.add_argument("version", metavar="VERSION")
    start.add_argument("--port", type=_port, help="port (default: a free one)")
    start.add_argument(
        "--data",
        metavar="DIR",
        help="folder for mlflow.db, artifacts/ and logs/ (reused if it exists; default: a new "
        "temporary folder, deleted when the server stops)",
    )
    start.add_argument("--workers", type=_port, help="server workers (default 2; 3.x: 1)")
    start.add_argument(
        "--backend-store-uri",
        metavar="URI",
        help="keep the tracking store in this PostgreSQL or MySQL database "
        "(postgresql://USER[:PW]@HOST:PORT/DB, mysql+pymysql://...) instead of --data's mlflow.db; "
        "default: MLFLOW_BACKEND_STORE_URI, as for `mlflow server` (a password given here is "
        "visible to every user in ps; the variable is not)",
    )
    start.add_argument(
        "--default-artifact-root",
        metavar="S3_URI",
        help="serve no artifacts: hand clients roots under this s3://bucket/prefix (the server "
        "and its clients use the standard AWS configuration and MLflow's MLFLOW_S3_* variables)",
    )
    start.add_argument(
        "--artifacts-destination",
        metavar="S3_URI",
        help="proxy artifacts as usual but keep them under this s3://bucket/prefix instead of "
        "--data (the server writes them, with the AWS configuration and the MLFLOW_S3_* and "
        "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE variables its release reads)",
    )
    start.add_argument(
        "--allow-db-upgrade",
        action="store_true",
        help="let this release migrate an older mlflow.db in --data in place (refused otherwise: "
        "older servers never start on it again)",
    )
    start.add_argument(
        "--detach",
        action="store_true",
        help="return once the server is ready and leave it running (stop it with `cockpit "
        "servers stop --data DIR`)",
    )
    start.set_defaults(handler=run_start)

    stop = ssub.add_parser("stop", help="stop the server serving a data folder")
    stop.add_argument("--data", metavar="DIR", required=True, help="the folder it serves")
    add_text_or_json(stop)
    stop.set_defaults(handler=run_stop)

    remove = ssub.add_parser("remove", help="delete an installed release's virtualenv")
    remove.add_argument("version", metavar="VERSION")
    add_text_or_json(remove)
    remove.set_defaults(handler=run_remove)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 1 and 65535")
    return value


def _progress(message: str) -> None:
    import sys

    print(f"cockpit: {message}", file=sys.stderr, flush=True)


def run_install(ctx: CliContext) -> int:
    from cockpit.mlflow import servers

    servers.parse_version(ctx.args.version)
    already = servers.installed(ctx.args.version)
    item = servers.install(ctx.args.version, progress=_progress)
    word = "already installed" if already else "installed"
    ctx.say(f"mlflow {item.version} {word} at {item.path}")
    if ctx.wants_json:
        ctx.print_json({"version": item.version, "installed": not already, "path": str(item.path)})
    return EXIT_OK


def run_list(ctx: CliContext) -> int:
    from cockpit.mlflow import servers

    tested = {servers.MLFLOW_V1, servers.MLFLOW_V2, servers.MLFLOW_V3}
    rows: list[dict[str, Any]] = [
        {
            "version": s.version,
            "generation": servers.generation(s.version),
            "tested": s.version in tested,
            "pins": list(s.pins),
            "python": s.python,
            "install_seconds": s.install_seconds,
            "path": str(s.path),
        }
        for s in servers.list_installed()
    ]
    if ctx.args.format == "json":
        ctx.print_json({"servers": rows})
        return EXIT_OK
    if not rows:
        print(f"no MLflow servers installed under {servers.servers_root()}")
        return EXIT_OK
    from cockpit.output import rich_table

    columns = ["version", "generation", "tested", "pins", "path"]
    body = [
        [
            r["version"],
            r["generation"],
            "yes" if r["tested"] else "",
            " ".join(r["pins"]),
            r["path"],
        ]
        for r in rows
    ]
    ctx.console.print(rich_table("MLflow servers", columns, body))
    return EXIT_OK


def run_start(ctx: CliContext) -> int:
    import signal
    import sys
    import threading
    from pathlib import Path

    from cockpit.mlflow import servers

    servers.parse_version(ctx.args.version)
    data = Path(ctx.args.data) if ctx.args.data else None
    backend_uri = ctx.args.backend_store_uri or os.environ.get(BACKEND_ENV) or None
    if ctx.args.backend_store_uri and _has_password(ctx.args.backend_store_uri):
        _progress(
            f"the password in --backend-store-uri is on this command line, which every user can "
            f"read (ps); pass the URI in {BACKEND_ENV} instead"
        )
    # The server may reach S3 itself (listing an s3:// root, writing what it proxies to an s3://
    # destination, a run whose experiment has an s3:// location); MLflow's own S3 variables, which
    # the venv environment leaves out (it drops every MLFLOW_*), are passed on: exactly those the
    # release reads (endpoint, TLS skip, upload extra args such as server-side encryption,
    # addressing style, expected bucket owner).
    extra_env = servers.server_s3_env(ctx.args.version)
    stop = threading.Event()
    # SIGTERM (e.g. from a supervisor) stops as cleanly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handle = None
    try:
        handle = servers.start_server(
            ctx.args.version,
            data,
            port=ctx.args.port,
            workers=ctx.args.workers,
            allow_db_upgrade=ctx.args.allow_db_upgrade,
            tie_to_parent=not ctx.args.detach,
            progress=_progress,
            backend_uri=backend_uri,
            artifact_uri=ctx.args.default_artifact_root,
            extra_env=extra_env,
            artifacts_destination=ctx.args.artifacts_destination,
        )
        print(f"mlflow {handle.version} serving at {handle.url}", flush=True)
        print(f"  backend   {_shown(handle.backend_uri)}", flush=True)
        artifacts = ctx.args.default_artifact_root or ctx.args.artifacts_destination
        print(f"  artifacts {artifacts or handle.artifact_root}", flush=True)
        print(f"  logs      {handle.stderr_log.parent}", flush=True)
        if ctx.args.detach:
            print(f"  pid       {handle.pid} (stop: cockpit servers stop --data {handle.data_dir})")
            handle = None  # left running on purpose
            return EXIT_OK
        print("Ctrl-C to stop", flush=True)
        while not stop.is_set():
            if not handle.is_running():
                raise CockpitError(
                    f"mlflow {handle.version} server exited on its own (log: {handle.stderr_log})"
                )
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if handle is not None:
            handle.stop()
            print(f"mlflow {handle.version} at {handle.url} stopped", file=sys.stderr, flush=True)
        signal.signal(signal.SIGTERM, previous)
    return EXIT_OK


def _has_password(uri: str) -> bool:
    from cockpit.mlflow import dbtools

    try:
        return dbtools.parse(uri).password is not None
    except CockpitError:
        return False


def _shown(uri: str) -> str:
    from cockpit.mlflow.schema import display_uri

    return display_uri(uri)


def run_stop(ctx: CliContext) -> int:
    from pathlib import Path

    from cockpit.mlflow import servers

    data = Path(ctx.args.data)
    if not data.is_dir():
        raise CockpitError(f"--data {data} is not a folder")
    handle = servers.attach(data)
    if handle is None:
        raise CockpitError(f"no running server serves {data.resolve()}")
    handle.stop()
    ctx.say(f"stopped mlflow {handle.version} at {handle.url}")
    if ctx.wants_json:
        ctx.print_json({"version": handle.version, "url": handle.url, "stopped": True})
    return EXIT_OK


def run_remove(ctx: CliContext) -> int:
    import shutil

    from cockpit.mlflow import servers

    servers.parse_version(ctx.args.version)
    if (
        servers.installed(ctx.args.version) is None
        and not servers.venv_dir(ctx.args.version).exists()
    ):
        raise CockpitError(f"mlflow {ctx.args.version} is not installed")
    with servers.install_lock(ctx.args.version):
        shutil.rmtree(servers.venv_dir(ctx.args.version), ignore_errors=True)
    ctx.say(f"removed mlflow {ctx.args.version}")
    if ctx.wants_json:
        ctx.print_json({"version": ctx.args.version, "removed": True})
    return EXIT_OK
