"""``cockpit mlflow rehearse-db-upgrade`` and ``cockpit mlflow schema-watch``.

Registered into the ``cockpit mlflow`` group by :mod:`cockpit.commands.mlflow`. It is CLI code
(argparse, printing), so it lives in the CLI layer; the engine's half is
:mod:`cockpit.mlflow.rehearsal` and :mod:`cockpit.mlflow.schema`. Imported while ``--help`` is
built, so only the standard library and :mod:`cockpit.errors` at the top.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import positive_float
from cockpit.errors import EXIT_FINDINGS, EXIT_OK, CockpitError, ConfigError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

REHEARSE_EPILOG = """\
The original is only read: a SQLite file is copied with SQLite's backup API; a PostgreSQL or MySQL
database is dumped (pg_dump / mariadb-dump --single-transaction) into a scratch database on the
same server (or --scratch URI), dropped afterwards unless --keep. Only the copy is upgraded, each
alembic step timed; the upgraded schema's indexes and constraints are audited against a fresh
schema made by the same release; the original's fingerprint (file or dump sha256) is compared
before and after. A revision in alembic_version the target does not know (another tool sharing
the table) is reported before anything is copied. The target release is installed into its own
virtualenv on first use (`cockpit servers install VERSION`).
Exit codes: 0 clean (upgrade ran, no table lost rows, no audit finding, the original's schema
revision untouched), 1 not clean or a foreign revision, 2 usage or input error, 3 database
unreachable. A live original may gain rows meanwhile (its own server).

examples:
  cockpit mlflow rehearse-db-upgrade --to 2.22.5        (--db from [mlflow.old] db_uri)
  cockpit mlflow rehearse-db-upgrade --db sqlite:////srv/mlflow/mlflow.db --to 2.22.5 \\
      --keep-copy /tmp/mlflow-upgraded.db --format json
  cockpit mlflow rehearse-db-upgrade --db postgresql://mlflow@db:5432/mlflow --to 2.22.5 \\
      --scratch postgresql://mlflow@scratch-db:5432/rehearsal --keep
"""

WATCH_EPILOG = """\
Reads the backend's alembic revision every --interval seconds (read-only). The first revision
seen is the baseline; if it ever changes (a newer server or `mlflow db upgrade` migrated the
database in place, after which the old server will not start) the watch records an
mlflow.schema.changed event, raises the alarm in the state file and exits 1.
--acknowledge accepts the current revision as the new baseline and clears the alarm.
"""


def register_rehearse(msub: argparse._SubParsersAction) -> None:
    """Add ``rehearse-db-upgrade`` and ``schema-watch`` to the ``cockpit mlflow`` group."""
    rehearse = msub.add_parser(
        "rehearse-db-upgrade",
        help="run a newer release's `mlflow db upgrade` on a copy of the backend DB",
        description="Copy the old backend database, upgrade the copy with the target MLflow "
        "release in its own virtualenv, and record the duration, alembic revisions and row "
        "counts per table before and after. The original is never written.",
        epilog=REHEARSE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rehearse.add_argument(
        "--db",
        metavar="URI",
        help="sqlite:///, postgresql:// or mysql:// backend (default: [mlflow.old] db_uri)",
    )
    rehearse.add_argument("--to", required=True, metavar="VERSION", help="e.g. 2.22.5")
    rehearse.add_argument(
        "--scratch",
        metavar="URI",
        help="PostgreSQL/MySQL: an empty or new database for the copy (default: a new one next "
        "to the original)",
    )
    rehearse.add_argument(
        "--keep", action="store_true", help="keep the upgraded copy (scratch DB or temp file)"
    )
    rehearse.add_argument(
        "--keep-copy", metavar="PATH", help="SQLite: keep the upgraded copy here (a new file)"
    )
    rehearse.add_argument("--format", choices=("table", "json"), default="table")
    rehearse.set_defaults(handler=run_rehearse)

    watch = msub.add_parser(
        "schema-watch",
        help="alarm the moment the old backend DB's schema revision changes",
        epilog=WATCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    watch.add_argument(
        "--db",
        metavar="URI",
        help="sqlite:///, postgresql:// or mysql:// backend (default: [mlflow.old] db_uri)",
    )
    watch.add_argument("--interval", type=positive_float, default=2.0, help="seconds (2)")
    mode = watch.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="check once and exit")
    mode.add_argument(
        "--acknowledge", action="store_true", help="adopt the current revision as baseline"
    )
    watch.set_defaults(handler=run_schema_watch)


def _db_uri(ctx: CliContext) -> str:
    if ctx.args.db:
        return ctx.args.db
    uri = ctx.config.db_uri("old") if ctx.config is not None else None
    if uri is None:
        raise ConfigError(
            "give --db sqlite:///PATH or set db_uri under [mlflow.old] in cockpit.toml"
        )
    return uri


def _progress(message: str) -> None:
    import sys

    print(f"cockpit: {message}", file=sys.stderr, flush=True)


def run_rehearse(ctx: CliContext) -> int:
    from rich.markup import escape

    from cockpit.mlflow.rehearsal import rehearse_db_upgrade
    from cockpit.mlflow.schema import describe_revision

    db_uri = _db_uri(ctx)
    keep = Path(ctx.args.keep_copy) if ctx.args.keep_copy else None
    # Validate the input before the state file is opened, so bad input never creates one.
    from cockpit.mlflow import schema, servers

    servers.parse_version(ctx.args.to)
    schema.check_uri(db_uri)
    if ctx.args.scratch:
        schema.check_uri(ctx.args.scratch)
    if "://" in db_uri and not db_uri.startswith("sqlite"):
        from cockpit.errors import SourceUnavailableError

        try:  # a database that does not answer is not worth a state file
            schema.read_revision(db_uri)
        except schema.SchemaReadError as exc:
            raise SourceUnavailableError(exc.message) from None
    with ctx.open_store() as store:
        result = rehearse_db_upgrade(
            store,
            db_uri,
            ctx.args.to,
            keep_copy=keep,
            scratch_uri=ctx.args.scratch,
            keep=ctx.args.keep,
            progress=_progress,
        )
    if ctx.args.format == "json":
        ctx.print_json(result.to_json())
        return EXIT_OK if result.clean else EXIT_FINDINGS
    from cockpit.output import rich_table
    from cockpit.textsafe import markup as m

    c = ctx.console
    verdict = "[green]clean[/]" if result.clean else "[bold red]NOT clean[/]"
    c.print(f"[bold]DB-upgrade rehearsal[/] → mlflow {m(result.target_version)}: {verdict}")
    c.print(
        f"source   {m(result.source_uri)} (sha256 {result.source_sha256[:12]}…, "
        f"{'unchanged' if result.source_unchanged else 'written by its live server meanwhile'})"
    )
    if result.foreign_revisions:
        c.print(f"[bold red]{escape(result.error or 'foreign alembic revision')}[/]")
        return EXIT_FINDINGS
    c.print(f"pending  {len(result.pending)} migrations to {result.target_version}'s head")
    c.print(f"copy     {result.copy_s:.1f} s ({result.scratch or 'a temp file'})")
    if result.ok:
        c.print(f"upgrade  {result.duration_s:.1f} s, {len(result.migrations)} migrations")
        for src, dst, seconds in result.slowest_steps():
            c.print(f"         {seconds:7.2f} s  {src or '(base)'} → {dst}")
        if result.error:
            c.print(f"[bold red]{escape(result.error)}[/]")
    else:
        c.print(
            f"upgrade  [bold red]failed[/] after {result.duration_s:.1f} s: "
            f"{escape(result.error or '')}"
        )
    if result.audited:
        if result.audit:
            c.print(f"[bold red]audit    {len(result.audit)} schema findings[/] vs a fresh schema:")
            for line in result.audit[:30]:
                c.print(f"         {escape(line)}")
        else:
            c.print("audit    indexes and constraints match a fresh schema of the same release")
    c.print(
        f"revision {describe_revision(result.revision_before)} → "
        f"{describe_revision(result.revision_after) if result.ok else '-'}"
    )
    rows = []
    for name in sorted(set(result.row_counts_before) | set(result.row_counts_after)):
        before = result.row_counts_before.get(name)
        after = result.row_counts_after.get(name) if result.ok else None
        note = ""
        if before is None:
            note = "new table"
        elif result.ok and after is None:
            note = "table dropped"
        elif after is not None and after < before:
            note = "ROWS LOST"
        elif after is not None and after > before:
            note = "rows added"
        rows.append([name, "" if before is None else before, "" if after is None else after, note])
    c.print(rich_table("Rows per table", ["table", "before", "after", ""], rows))
    if result.copy_path:
        c.print(f"upgraded copy kept at {result.copy_path}")
    elif result.scratch:
        state = "kept" if result.scratch_kept else "dropped"
        c.print(f"scratch  {result.scratch} ({state})")
    return EXIT_OK if result.clean else EXIT_FINDINGS


def run_schema_watch(ctx: CliContext) -> int:
    import sys
    import time

    from cockpit.mlflow.schema import SchemaWatch, check_uri, describe_revision, display_uri

    db_uri = _db_uri(ctx)
    check_uri(db_uri)  # a URI we cannot watch is refused before a state file is created
    shown = display_uri(db_uri)
    if "://" in db_uri and not db_uri.startswith("sqlite"):
        # A database server that does not answer now is not worth a state file either.
        from cockpit.errors import SourceUnavailableError
        from cockpit.mlflow.schema import SchemaReadError, read_revision

        try:
            read_revision(db_uri)
        except SchemaReadError as exc:
            raise SourceUnavailableError(exc.message) from None
    with ctx.open_store() as store:
        watch = SchemaWatch(store, db_uri, label="old", source="cli")
        if ctx.args.acknowledge:
            watch.acknowledge()
            print(f"baseline is now {describe_revision(watch.baseline())}")
            return EXIT_OK
        last_error = None
        try:
            while True:
                check = watch.check()
                alarm = watch.alarm()
                if alarm is not None:
                    print(
                        f"ALARM: {shown} schema changed {describe_revision(alarm.baseline)} → "
                        f"{describe_revision(alarm.revision)}; the old server will not start on "
                        "it (acknowledge with --acknowledge)",
                        file=sys.stderr,
                    )
                    return EXIT_FINDINGS
                if check.error:
                    if ctx.args.once:
                        raise CockpitError(check.error)
                    if check.error != last_error:  # once per new problem, not every poll
                        print(f"cockpit: cannot read {shown} now: {check.error}", file=sys.stderr)
                    last_error = check.error
                else:
                    last_error = None
                    if ctx.args.once:
                        print(f"{shown}: {describe_revision(check.revision)} (baseline unchanged)")
                        return EXIT_OK
                time.sleep(ctx.args.interval)
        except KeyboardInterrupt:
            return EXIT_OK
