"""``cockpit rules list|show CODE``: the compatibility rule catalog."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cockpit.errors import EXIT_OK

if TYPE_CHECKING:
    from cockpit.cli.context import CliContext

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "rules",
        help="list the compatibility rules, show one, or the catalog coverage",
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
    cov = rsub.add_parser(
        "coverage",
        help="every reference-catalog entry: the rules built from it, or why none can be",
        description="Accounts for every entry of the bundled breaking-change catalogs: the rules "
        "built from it (and which of them apply to the crossing), or the reason it cannot be "
        "checked statically.",
    )
    from cockpit.cli.crossing_args import add_crossing_options

    add_crossing_options(cov)
    cov.add_argument("--format", choices=("table", "json"), default="table")
    cov.add_argument(
        "--uncovered", action="store_true", help="only the entries no rule checks, with why"
    )
    cov.set_defaults(handler=run_coverage)


def _applies(rule) -> str:
    return f"{rule.applies.package} {rule.applies.introduced}" if rule.applies else "always"


def _outside_catalog() -> list:
    """The workspace checks (WSP*: what the cockpit could read in a workspace) and the
    packaging audit's rules (PKG*: how jobs install libraries). Neither is about an API of a
    release, so they live outside the catalog the scanner matches against."""
    from cockpit.compat.workspace_code import RULES as WORKSPACE_RULES
    from cockpit.packaging.audit import RULES as PACKAGING_RULES

    return [*WORKSPACE_RULES.values(), *PACKAGING_RULES.values()]


def _listed() -> list:
    """Every code a finding can carry: the catalog's rules, then the WSP* and PKG* checks."""
    from cockpit.compat.rules import catalog

    return [*catalog().values(), *_outside_catalog()]


def _find(code: str):
    from cockpit.compat.rules import get_rule

    wanted = code.strip()
    for rule in _outside_catalog():
        if wanted.upper() == rule.code or wanted.lower() == rule.name:
            return rule
    return get_rule(wanted)


def _retired() -> list[dict[str, str]]:
    """Codes folded into another rule (one rule per API): each still names that rule."""
    from cockpit.compat.rules import aliases

    return [{"code": code, "now": now, "why": why} for code, (now, why) in aliases().items()]


def run_list(ctx: CliContext) -> int:
    rules = _listed()
    if ctx.args.format == "json":
        ctx.print_json({"rules": [r.to_json() for r in rules], "retired": _retired()})
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
    retired = _retired()
    if retired:
        ctx.console.print(
            f"{len(retired)} older codes were folded into the rules above (the same API under "
            "another import path); suppressions naming them still apply, and "
            "`cockpit rules show CODE` names the rule each one went into.",
            highlight=False,
        )
    return EXIT_OK


def _verification_lines(record) -> list[str]:
    """How a removal rule was checked against the released packages, in a few lines."""
    if record is None:
        return ["verified: no (not an API removal, so nothing to check against releases)"]
    status = "passed" if record["ok"] else "FAILED"
    lines = [
        f"verified: {status} on {record['generated_at']} by {record['generated_by']}",
        f"  present in {record['present_in']}; absent from {', '.join(record['absent_in'])}",
    ]
    for row in record["checked"]:
        what = f"{row['name']}({row['keyword']}=)" if row.get("keyword") else row["name"]
        results = "; ".join(f"{v}: {how}" for v, how in row["results"].items())
        lines.append(f"  {what}: {results}")
    family = "python" if record.get("package") == "python" else "libraries"
    lines.append(f"  how: {record['method'][family]}")
    return lines


def _generated_lines(record) -> list[str]:
    """A generated rule is its own verification: the diff that produced it, and from what."""
    evidence = record.get("evidence") or {}
    lines = [
        f"verified: generated on {record['generated_at']} by {record['generated_by']} "
        "from the released packages themselves",
        f"  present: {evidence.get('present')}",
        f"  absent:  {', '.join(map(str, evidence.get('absent') or []))}",
    ]
    # Arguments that became keyword-only: the two signatures compared, and the wheels read.
    for release, signature in (evidence.get("signatures") or {}).items():
        lines.append(f"  signature in {release}: {signature}")
    # A class member that subclasses keep: where it still is (so instances of those are fine).
    for release, classes in (evidence.get("still_on") or {}).items():
        lines.append(f"  still on in {release}: {', '.join(classes)}")
    files = (record.get("provenance") or {}).get("wheels") or {}
    for release in evidence.get("wheels") or ():
        wheel = files.get(release) or {}
        lines.append(f"  wheel {release}: {wheel.get('file')} sha256 {wheel.get('sha256')}")
    for key, value in (record.get("provenance") or {}).items():
        if isinstance(value, str):
            lines.append(f"  {key}: {value}")
    return lines


def run_show(ctx: CliContext) -> int:
    from cockpit.compat.rules import aliases, generated_evidence, reference_entry, verification

    rule = _find(ctx.args.code)
    asked = ctx.args.code.strip().upper()
    folded = aliases().get(asked) if asked != rule.code else None
    ref = reference_entry(rule.ref) if rule.ref else None
    # Catalog, workspace and packaging rules are written by hand; the others are generated.
    generated = rule.family not in ("catalog", "workspace", "packaging")
    if generated:
        record = generated_evidence(rule.code)
    else:
        record = verification(rule.code) if rule.removal else None
    if ctx.args.format == "json":
        extra = {"folded": {"code": asked, "why": folded[1]}} if folded else {}
        ctx.print_json({**rule.to_json(), "reference": ref, "verification": record, **extra})
        return EXIT_OK
    lines = [
        *(
            [
                f"{asked} is now {rule.code}: {folded[1]} (suppressions naming {asked} still apply)",
                "",
            ]
            if folded
            else []
        ),
        f"{rule.code} {rule.name}",
        f"severity: {rule.severity}",
        f"applies:  {_applies(rule)} "
        + (
            "(whenever the target has that version or later: an API removal)"
            if rule.removal
            else "(when the migration crosses it)"
        ),
        f"autofix:  {'yes' if rule.autofix else 'no'}",
        "",
        f"what: {rule.what}",
        f"fix:  {rule.fix}",
        f"source: {rule.source}",
        "",
        *(_generated_lines(record) if generated else _verification_lines(record)),
    ]
    if ref is not None:
        lines += ["", f"built from reference entry {rule.ref}: {ref.get('what', '')}"]
        see = ref.get("see_also") or []
        lines += [f"see also: {url}" for url in see]
    print("\n".join(lines))
    return EXIT_OK


def run_coverage(ctx: CliContext) -> int:
    from cockpit.cli.crossing_args import crossing_from_args
    from cockpit.compat.coverage import coverage
    from cockpit.compat.rules import catalog

    crossing = crossing_from_args(ctx)
    rows = coverage(crossing)
    shown = [r for r in rows if not r.rules] if ctx.args.uncovered else rows
    applying = [r for r in catalog().values() if crossing.applies(r)]
    summary: dict[str, Any] = {
        "crossing": crossing.label(),
        "entries": len(rows),
        "with_rules": sum(1 for r in rows if r.rules),
        "without_rules": sum(1 for r in rows if not r.rules),
        "rules": len(catalog()),
        "rules_applying": len(applying),
        "rules_by_family": _families(catalog().values()),
        "rules_applying_by_family": _families(applying),
    }
    if ctx.args.format == "json":
        ctx.print_json({**summary, "coverage": [r.to_json() for r in shown]})
        return EXIT_OK
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("reference entry", "package", "rules (applying)", "why no rule"):
        table.add_column(column, overflow="fold")
    for row in shown:
        codes = ", ".join(f"{c}*" if c in row.applies else c for c in row.rules)
        table.add_row(escape(row.ref), escape(row.package), codes, escape(row.reason or ""))
    ctx.console.print(table)
    ctx.console.print(
        f"{summary['entries']} catalog entries: {summary['with_rules']} checked by rules, "
        f"{summary['without_rules']} with the reason they cannot be. "
        f"{summary['rules_applying']} of {summary['rules']} rules apply to {escape(summary['crossing'])} "
        f"(* marks them above): "
        + ", ".join(f"{n} {k}" for k, n in summary["rules_applying_by_family"].items()),
        highlight=False,
    )
    return EXIT_OK


def _families(rules) -> dict[str, int]:
    out: dict[str, int] = {}
    for rule in rules:
        out[rule.family] = out.get(rule.family, 0) + 1
    return out
