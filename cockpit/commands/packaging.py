"""``cockpit packaging audit``: where every job's libraries come from, and what will not work on
the target runtime."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cockpit.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 24

EPILOG = """\
Reads the Asset Bundles (databricks.yml, include:, artifacts:, sync:) and Jobs API JSON under
PATH (default: [pipelines] sources and bundles) and the workspace jobs the inventory stored, and
lists each job's libraries by source: runtime, pypi, private-index, bundle-artifact, bundle-file,
uc-volume, workspace-files, dbfs, cloud-storage, maven, cran. Sources that will not work on the
target are findings (PKG101 DBFS libraries from 16.0, PKG102 a runtime library the target no
longer ships); with [packaging] policy (or --policy) any other source is a finding (PKG201).
Exit 1 on a blocking finding.

examples:
  cockpit packaging audit pipelines --format table
  cockpit packaging audit --policy private-index --policy bundle-artifact --format json
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "packaging",
        help="audit where every job's libraries come from",
        description="The packaging path: every job's library sources and what breaks on the target.",
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    audit = verbs.add_parser(
        "audit",
        help="every job's library sources, the rules of the target runtime, the policy",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    audit.add_argument("paths", nargs="*", metavar="PATH", help="bundles, job JSON or folders")
    audit.add_argument(
        "--policy",
        action="append",
        metavar="SOURCE",
        help="an allowed source (repeat it); overrides [packaging] policy",
    )
    audit.add_argument("--index-url", help="the private index (overrides [packaging] index_url)")
    audit.add_argument(
        "--no-stored", action="store_true", help="leave out the workspace jobs of the state file"
    )
    audit.add_argument("--format", choices=("table", "json"), default="table")
    audit.add_argument(
        "--from", dest="from_runtime", metavar="RUNTIME", help="default: [migration] from"
    )
    audit.add_argument("--to", dest="to_runtime", metavar="RUNTIME", help="default: [migration] to")
    audit.set_defaults(handler=run_audit)


def run_audit(ctx: CliContext) -> int:
    from pathlib import Path

    from cockpit.cli.crossing_args import DEFAULT_FROM, DEFAULT_TO
    from cockpit.errors import CockpitError
    from cockpit.packaging.audit import audit

    args = ctx.args
    config = ctx.config
    paths = list(args.paths)
    if not paths and config is not None:
        sources = [*config.pipelines.sources, *config.pipelines.bundles]
        paths = [str(config.resolve(p)) for p in sources if config.resolve(p).exists()]
    store = None if args.no_stored else ctx.maybe_store()
    if not paths and store is None:
        raise CockpitError(
            "nothing to audit: give PATH, list [pipelines] sources, or record an inventory"
        )
    from_rt = args.from_runtime or (config.migration.from_runtime if config else DEFAULT_FROM)
    to_rt = args.to_runtime or (config.migration.to_runtime if config else DEFAULT_TO)
    policy = args.policy if args.policy else (config.packaging.policy if config else [])
    index_url = args.index_url or (config.packaging.index_url if config else None)
    try:
        result = audit(
            [Path(p) for p in paths],
            from_runtime=from_rt,
            to_runtime=to_rt,
            policy=policy,
            index_url=index_url,
            store=store,
        )
    finally:
        if store is not None:
            store.close()
    if args.format == "json":
        ctx.print_json(result.to_json())
    else:
        _table(ctx, result)
    return EXIT_FINDINGS if result.blocking else EXIT_OK


def _table(ctx: CliContext, result) -> None:
    from cockpit.output import rich_table  # escapes every cell and the title itself
    from cockpit.textsafe import markup

    console = ctx.console
    rows, styles = [], []
    for job in result.jobs:
        counts = job.counts()
        summary = ", ".join(f"{source} {n}" for source, n in sorted(counts.items()))
        problems = result.findings_of(job)
        rows.append(
            (
                job.name,
                job.origin,
                summary or "runtime only (installs nothing)",
                ", ".join(sorted({f.code for f in problems})) or "ok",
            )
        )
        styles.append("red" if any(f.severity == "blocking" for f in problems) else None)
    policy = ", ".join(result.policy) or "none"
    console.print(
        rich_table(
            f"Library sources: {result.from_runtime} -> {result.to_runtime} (policy: {policy})",
            ("job", "from", "sources", "findings"),
            rows,
            styles,
        )
    )
    detail = [
        (
            lib.job,
            lib.task,
            lib.kind,
            lib.spec,
            lib.source,
            lib.via,
            f"{lib.path}:{lib.line}",
        )
        for job in result.jobs
        for lib in job.libraries
    ]
    if detail:
        console.print(
            rich_table(
                "Libraries",
                ("job", "task", "kind", "library", "source", "how", "where"),
                detail,
            )
        )
    for finding in result.findings:
        style = "bold red" if finding.severity == "blocking" else "yellow"
        console.print(
            f"[{style}]{finding.code}[/] {markup(finding.name)} ({finding.origin}) "
            f"{markup(finding.path)}:{finding.line}: {markup(finding.message)}\n"
            f"  source: {markup(finding.source)}"
        )
    console.print(
        f"{len(result.jobs)} jobs, {sum(len(j.libraries) for j in result.jobs)} libraries, "
        f"{len(result.findings)} findings ({result.blocking} blocking)"
    )
