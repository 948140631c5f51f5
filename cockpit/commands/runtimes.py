"""``cockpit runtimes list|show|diff|import``: what changes between two runtimes, with sources."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.cli.argtypes import add_text_or_json
from cockpit.errors import EXIT_OK, CockpitError

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 10
SEVERITY_STYLE = {"breaking": "bold red", "notable": "yellow", "info": "cyan", "none": "dim"}

DIFF_EPILOG = """\
The JSON shape (--format json) is documented in the README: from, to, system[], libraries[],
counts, behavior_changes[] (each with its source URL), support[], sources[], notes[].

severity of a library change: removed, major bump, 0.x minor bump, or a minor bump of a package
whose own policy allows breaking minors (torch) = breaking; minor bump or downgrade = notable;
patch, local tag or added = info.

examples:
  cockpit runtimes diff 14.3-lts-ml 16.4-lts-ml
  cockpit runtimes diff 14.3-lts-ml 16.4-lts-ml --only breaking --format markdown
  cockpit runtimes diff 14.3-lts-ml 16.4-lts-ml --used-by   (what the pipelines use, and where)
  cockpit runtimes diff 16.4-lts-ml my-image --format json   (my-image from `runtimes import`)
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "runtimes",
        help="list runtimes, diff two of them, import a custom one",
        description="Databricks Runtime manifests: the bundled LTS releases (13.3 to 17.3, "
        "standard and ML, each fact with its source) plus any imported or probed into the state file.",
    )
    rsub = parser.add_subparsers(dest="runtimes_command", metavar="ACTION", required=True)

    lst = rsub.add_parser("list", help="every known runtime id with its support dates")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(handler=run_list)

    show = rsub.add_parser("show", help="one runtime's system, libraries and sources")
    show.add_argument("runtime")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=run_show)

    diff = rsub.add_parser(
        "diff",
        help="what changes from one runtime to another",
        epilog=DIFF_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument("from_runtime", metavar="FROM", help="e.g. 14.3-lts-ml")
    diff.add_argument("to_runtime", metavar="TO", help="e.g. 16.4-lts-ml")
    diff.add_argument(
        "--only",
        choices=("breaking", "changed"),
        help="breaking: only breaking-risk library changes; changed: hide unchanged libraries",
    )
    diff.add_argument(
        "--used-by",
        action="store_true",
        help="only changed libraries the scanned pipelines import or pin (the state file's latest "
        "`check --record`), each with the pipelines and one file:line per pipeline",
    )
    diff.add_argument("--format", choices=("table", "json", "markdown", "csv"), default="table")
    diff.set_defaults(handler=run_diff)

    imp = rsub.add_parser(
        "import",
        help="import pip freeze / pip list JSON / manifest JSON as a runtime",
        description="Store a custom runtime in the state file so it can be diffed. FILE may be "
        "`pip freeze` output, `pip list --format json` output, or a manifest JSON ('-' for stdin).",
    )
    imp.add_argument("file", metavar="FILE")
    imp.add_argument("--name", required=True, help="the id to diff it by, e.g. kyros-custom-16.4")
    imp.add_argument(
        "--base",
        metavar="RUNTIME",
        help="a runtime the image is built on (e.g. 16.4-lts-ml): its system facts, version, "
        "support dates and behaviour changes are kept; the libraries come from FILE",
    )
    add_text_or_json(imp, "the imported runtime's id, library count and state file")
    imp.set_defaults(handler=run_import)


def _store_for_lookup(ctx: CliContext):
    """The state file read-only, for imported/probed runtimes; None when there is none."""
    return ctx.maybe_store()


def _load(ctx: CliContext, runtime_id: str):
    from cockpit.runtimes.manifest import bundled_ids, load_runtime

    if runtime_id in bundled_ids():
        return load_runtime(runtime_id)
    store = _store_for_lookup(ctx)
    try:
        return load_runtime(runtime_id, store)
    finally:
        if store is not None:
            store.close()


def run_list(ctx: CliContext) -> int:
    from cockpit.runtimes.manifest import all_runtime_ids, load_runtime

    store = _store_for_lookup(ctx)
    try:
        rows = []
        for runtime_id in all_runtime_ids(store):
            m = load_runtime(runtime_id, store)
            rows.append(
                {
                    "id": m.id,
                    "origin": m.origin,
                    "python": m.system.get("python"),
                    "libraries": len(m.python_libraries),
                    "release_date": m.release_date,
                    "end_of_support": m.end_of_support,
                }
            )
    finally:
        if store is not None:
            store.close()
    if ctx.args.format == "json":
        ctx.print_json({"runtimes": rows})
        return EXIT_OK
    from cockpit.output import rich_table

    columns = list(rows[0].keys()) if rows else ["id"]
    ctx.console.print(rich_table("Runtimes", columns, [list(r.values()) for r in rows]))
    return EXIT_OK


def run_show(ctx: CliContext) -> int:
    manifest = _load(ctx, ctx.args.runtime)
    if ctx.args.format == "json":
        ctx.print_json(manifest.to_json())
        return EXIT_OK
    from cockpit.output import rich_table
    from cockpit.textsafe import markup as m

    c = ctx.console
    # Imported and probed manifests come from clusters and files: their text is data.
    c.print(f"[bold]{m(manifest.name)}[/] ({m(manifest.id)}, {m(manifest.origin)})")
    c.print(rich_table("System", ["component", "value"], list(manifest.system.items())))
    libs = sorted(manifest.python_libraries.items())
    c.print(rich_table(f"Python libraries ({len(libs)})", ["name", "version"], libs))
    for source in manifest.sources:
        c.print(f"source: {m(source)}")
    if manifest.notes:
        c.print(f"[dim]notes: {m(manifest.notes, multiline=True)}[/]")
    return EXIT_OK


def run_diff(ctx: CliContext) -> int:
    from cockpit.runtimes.diff import diff_runtimes

    old = _load(ctx, ctx.args.from_runtime)
    new = _load(ctx, ctx.args.to_runtime)
    diff = diff_runtimes(old, new)
    fmt, only = ctx.args.format, ctx.args.only
    libs = diff.filtered(only)
    usage = _used_by(ctx, diff) if getattr(ctx.args, "used_by", False) else None
    if usage is not None:
        # "Which changes hit my pipelines": an unchanged library is not news.
        libs = tuple(x for x in libs if x.name in usage and x.kind != "unchanged")
    if fmt == "json":
        data = diff.to_json(only)
        if usage is not None:
            data["libraries"] = [
                {**lib, "used_by": [site.to_json() for site in usage[lib["name"]]]}
                for lib in data["libraries"]
                if lib["name"] in usage and lib["kind"] != "unchanged"
            ]
        ctx.print_json(data)
        return EXIT_OK
    lib_columns = ["library", "change", "from", "to", "severity", "bump"]
    lib_rows = [[x.name, x.kind, x.old, x.new, x.severity, x.bump] for x in libs]
    if usage is not None:
        lib_columns.append("used by")
        for row, x in zip(lib_rows, libs, strict=True):
            row.append(_sites_text(usage[x.name]))
    sys_columns = ["component", "from", "to", "changed"]
    sys_rows = [[s.component, s.old, s.new, "yes" if s.changed else ""] for s in diff.system]
    if fmt == "csv":
        from cockpit.output import csv_text, write

        write(csv_text(lib_columns, lib_rows))
        return EXIT_OK
    if fmt == "markdown":
        from cockpit.output import markdown_table, write

        write(_markdown(diff, sys_columns, sys_rows, lib_columns, lib_rows, markdown_table))
        return EXIT_OK
    _print_rich(ctx, diff, sys_columns, sys_rows, lib_columns, libs, lib_rows)
    return EXIT_OK


def _used_by(ctx, diff):
    """Library -> sites, from the state file's latest scan; a one-line error without one."""
    from cockpit.compat.impact import used_by
    from cockpit.compat.records import load_uses

    store = ctx.maybe_store()
    if store is None:
        raise CockpitError(
            f"--used-by needs a state file with a recorded scan ({ctx.state_path()} does not "
            "exist): run `cockpit check PATH --record` first"
        )
    try:
        uses = load_uses(store)
    finally:
        store.close()
    if uses is None:
        raise CockpitError(
            f"--used-by: {store.path} holds no scan with imports recorded: "
            "run `cockpit check PATH --record` first"
        )
    return used_by(diff, uses)


def _sites_text(sites) -> str:
    return "; ".join(f"{s.pipeline} ({s.where})" for s in sites)


def _markdown(diff, sys_columns, sys_rows, lib_columns, lib_rows, markdown_table) -> str:
    counts = diff.counts()
    parts = [
        f"# Runtime diff: {diff.from_id} → {diff.to_id}",
        "",
        "## System",
        markdown_table(sys_columns, sys_rows),
        "",
        f"## Python libraries ({counts['upgraded']} upgraded, {counts['downgraded']} downgraded, "
        f"{counts['added']} added, {counts['removed']} removed, {counts['unchanged']} unchanged)",
        markdown_table(lib_columns, lib_rows),
        "",
        "## Behaviour changes",
    ]
    parts += [
        f"- **{b.title}** ({b.release}): {b.detail} — <{b.source}>" for b in diff.behavior_changes
    ]
    parts += ["", "## Support"]
    parts += [
        f"- {r.runtime_id}: end of support {r.end_of_support or 'unknown'}" for r in diff.runway
    ]
    parts += ["", "## Sources"] + [f"- <{s}>" for s in diff.sources]
    return "\n".join(parts)


def _print_rich(ctx: CliContext, diff, sys_columns, sys_rows, lib_columns, libs, rows) -> None:
    from cockpit.output import rich_table
    from cockpit.textsafe import markup as m
    from cockpit.textsafe import safe_url

    c = ctx.console
    c.print(f"[bold]Runtime diff[/] {m(diff.from_id)} → {m(diff.to_id)}")
    c.print(rich_table("System", sys_columns, sys_rows))
    styles = [SEVERITY_STYLE.get(x.severity) for x in libs]
    counts = diff.counts()
    title = (
        f"Python libraries: {counts['breaking']} breaking-risk, {counts['notable']} notable, "
        f"{counts['info']} info, {counts['unchanged']} unchanged"
    )
    c.print(rich_table(title, lib_columns, rows, styles))
    c.print(f"[bold]Behaviour changes[/] ({len(diff.behavior_changes)})")
    for b in diff.behavior_changes:
        # A terminal link only to an http(s) URL, and one that cannot close the markup tag.
        url = safe_url(b.source)
        link = f"[link={url}]{m(b.source)}[/link]" if url and "]" not in url else m(b.source)
        c.print(f" • [bold]{m(b.title)}[/] [dim]({m(b.release)})[/]\n   {m(b.detail)}\n   {link}")
    for r in diff.runway:
        left = f"{r.days_left} days left" if r.days_left is not None else "unknown"
        c.print(f"support: {m(r.runtime_id)} until {m(r.end_of_support or '?')} ({left})")


def run_import(ctx: CliContext) -> int:
    import sys
    from pathlib import Path

    from cockpit.runtimes.importer import parse_runtime_text, store_manifest
    from cockpit.runtimes.manifest import RUNTIME_ID_PATTERN, bundled_ids

    name = ctx.args.name
    if not RUNTIME_ID_PATTERN.match(name):
        raise CockpitError(f"--name {name!r} is not a usable id (letters, digits, . _ + -)")
    if name in bundled_ids():
        raise CockpitError(f"--name {name!r} is a bundled LTS runtime; pick another name")
    if ctx.args.file == "-":
        text = sys.stdin.read()
    else:
        path = Path(ctx.args.file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CockpitError(f"cannot read {path}: {exc}") from None
    manifest = parse_runtime_text(text, name=name)
    if ctx.args.base:
        from cockpit.runtimes.importer import inherit_base

        manifest = inherit_base(manifest, _load(ctx, ctx.args.base))
    with ctx.open_store() as store:
        store_manifest(store, name, manifest, origin="import")
        where = store.path
    n = len(manifest["python_libraries"])
    ctx.say(f"imported {name}: {n} libraries into {where}")
    if ctx.wants_json:
        ctx.print_json({"id": name, "libraries": n, "base": ctx.args.base, "state": str(where)})
    return EXIT_OK
