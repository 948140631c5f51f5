"""``cockpit rules list|show CODE``: the compatibility rule catalog."""

from __future__ import annotations

import argparse

from cockpit.errors import EXIT_OK

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rules",
        help="list the compatibility rules, or show one",
        description="The rules `cockpit check` applies: stable codes, what changed, the fix, "
        "the version it applies to and its source.",
    )
    rsub = parser.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    lst = rsub.add_parser("list", help="every rule with its severity and version")
    lst.add_argument("--format", choices=("table", "json"), default="table")
    lst.set_defaults(handler=run_list)
    show = rsub.add_parser("show", help="one rule: what changed, fix, source")
    show.add_argument("code", metavar="CODE", help="e.g. MLF101 or mlflow-list-experiments-removed")
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=run_show)


def _applies(rule) -> str:
    return f"{rule.applies.package} {rule.applies.introduced}" if rule.applies else "always"


def run_list(ctx) -> int:
    from cockpit.compat.rules import catalog

    rules = list(catalog().values())
    if ctx.args.format == "json":
        ctx.print_json({"rules": [r.to_json() for r in rules]})
        return EXIT_OK
    from rich.table import Table

    from cockpit.compat.report import SEVERITY_STYLE

    table = Table(header_style="bold")
    for column in ("code", "name", "severity", "applies from", "autofix"):
        table.add_column(column)
    for r in rules:
        style = SEVERITY_STYLE.get(r.severity, "")
        table.add_row(
            r.code, r.name, f"[{style}]{r.severity}[/]", _applies(r), "yes" if r.autofix else ""
        )
    ctx.console.print(table)
    return EXIT_OK


def run_show(ctx) -> int:
    from cockpit.compat.rules import get_rule, reference_entry

    rule = get_rule(ctx.args.code)
    ref = reference_entry(rule.ref) if rule.ref else None
    if ctx.args.format == "json":
        ctx.print_json({**rule.to_json(), "reference": ref})
        return EXIT_OK
    lines = [
        f"{rule.code} {rule.name}",
        f"severity: {rule.severity}",
        f"applies:  {_applies(rule)} (when the migration crosses it)",
        f"autofix:  {'yes' if rule.autofix else 'no'}",
        "",
        f"what: {rule.what}",
        f"fix:  {rule.fix}",
        f"source: {rule.source}",
    ]
    if ref is not None:
        lines += ["", f"built from reference entry {rule.ref}: {ref.get('what', '')}"]
        see = ref.get("see_also") or []
        lines += [f"see also: {url}" for url in see]
    print("\n".join(lines))
    return EXIT_OK
