"""Output of ``cockpit check``: JSON (documented shape), markdown and a rich table."""

from __future__ import annotations

from typing import Any

from cockpit.compat.scan import ScanResult

MARKDOWN_ESCAPE = str.maketrans({"|": "\\|", "\n": " "})


def to_json(result: ScanResult) -> dict[str, Any]:
    crossing = result.crossing
    return {
        "from": crossing.from_runtime,
        "to": crossing.to_runtime,
        "versions": {k: list(v) for k, v in sorted(crossing.versions.items()) if k in _SHOWN},
        "counts": result.counts(),
        "files": len(result.files),
        "findings": [f.to_json() for f in result.findings],
        "suppressed": [{**s.finding.to_json(), "reason": s.reason} for s in result.suppressed],
    }


_SHOWN = {"runtime", "python", "mlflow", "pandas", "numpy", "scikit-learn"}


def to_markdown(result: ScanResult) -> str:
    counts = result.counts()
    lines = [
        f"# Compatibility check: {result.crossing.label()}",
        "",
        f"{len(result.files)} files · {counts['blocking']} blocking · {counts['warning']} "
        f"warning · {counts['info']} info · {len(result.suppressed)} suppressed",
        "",
    ]
    if not result.findings:
        lines.append("No findings.")
        return "\n".join(lines) + "\n"
    lines += [
        "| Severity | Code | Where | Message | Fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in result.findings:
        where = f"`{f.path}:{f.line}:{f.column}`"
        code = f"[{f.code}]({f.source}) {f.name}"
        lines.append(
            f"| {f.severity} | {code.translate(MARKDOWN_ESCAPE)} | {where} | "
            f"{f.message.translate(MARKDOWN_ESCAPE)} | {f.fix.translate(MARKDOWN_ESCAPE)} |"
        )
    return "\n".join(lines) + "\n"


SEVERITY_STYLE = {"blocking": "bold red", "warning": "yellow", "info": "cyan"}


def render_table(result: ScanResult, console) -> None:
    from rich.table import Table

    counts = result.counts()
    console.print(
        f"[bold]{result.crossing.label()}[/]: {len(result.files)} files, "
        f"[bold red]{counts['blocking']} blocking[/], [yellow]{counts['warning']} warning[/], "
        f"[cyan]{counts['info']} info[/], {len(result.suppressed)} suppressed"
    )
    if not result.findings:
        return
    table = Table(show_lines=False, header_style="bold")
    table.add_column("severity")
    table.add_column("code")
    table.add_column("where", overflow="fold")
    table.add_column("message", overflow="fold")
    for f in result.findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        fixable = " [green](fixable)[/]" if f.autofix else ""
        table.add_row(
            f"[{style}]{f.severity}[/]",
            f"{f.code}\n[dim]{f.name}[/]",
            f"{f.path}:{f.line}:{f.column}",
            f"{f.message}{fixable}\n[dim]fix: {f.fix}[/]",
        )
    console.print(table)
