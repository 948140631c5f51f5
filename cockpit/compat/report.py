"""Output of ``cockpit check``: JSON (documented shape), markdown and a rich table."""

from __future__ import annotations

from typing import Any

from cockpit.compat.scan import ScanResult
from cockpit.textsafe import markup, md_code, md_link, md_text


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
        "notes": [n.to_json() for n in result.notes],
    }


_SHOWN = {"runtime", "python", "mlflow", "pandas", "numpy", "scikit-learn"}


def to_markdown(result: ScanResult) -> str:
    counts = result.counts()
    lines = [
        f"# Compatibility check: {md_text(result.crossing.label())}",
        "",
        f"{len(result.files)} files · {counts['blocking']} blocking · {counts['warning']} "
        f"warning · {counts['info']} info · {len(result.suppressed)} suppressed",
        "",
    ]
    if not result.findings:
        lines.append("No findings.")
        return "\n".join(lines + _markdown_notes(result)) + "\n"
    lines += [
        "| Severity | Code | Where | Message | Fix |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in result.findings:
        where = md_code(f"{f.path}:{f.line}:{f.column}")
        code = f"{md_link(f.code, f.source)} {md_text(f.name)}"
        lines.append(
            f"| {md_text(f.severity)} | {code} | {where} | {md_text(f.message)} | "
            f"{md_text(f.fix)} |"
        )
    return "\n".join(lines + _markdown_notes(result)) + "\n"


def _markdown_notes(result: ScanResult) -> list[str]:
    """Code the scan could not check (SQL notebooks, Git tasks), said rather than skipped."""
    if not result.notes:
        return []
    out = ["", "## Not checked", ""]
    for note in result.notes:
        out.append(f"- {md_code(note.path)}: {md_text(note.message)}")
    return out


SEVERITY_STYLE = {"blocking": "bold red", "warning": "yellow", "info": "cyan"}


# Below this many columns a table squeezes every message into a narrow column, one word per
# line; one line per finding with its message below reads better.
COMPACT_BELOW = 100


def render_table(result: ScanResult, console) -> None:
    from rich.table import Table

    counts = result.counts()
    console.print(
        f"[bold]{markup(result.crossing.label())}[/]: {len(result.files)} files, "
        f"[bold red]{counts['blocking']} blocking[/], [yellow]{counts['warning']} warning[/], "
        f"[cyan]{counts['info']} info[/], {len(result.suppressed)} suppressed"
        + (f", {len(result.notes)} not checked (see notes)" if result.notes else "")
    )
    for note in result.notes:
        console.print(f"[dim]note: {markup(note.path)}: {markup(note.message)}[/]")
    if not result.findings:
        return
    if console.width < COMPACT_BELOW:
        _render_compact(result, console)
        return
    table = Table(show_lines=False, header_style="bold")
    table.add_column("severity")
    table.add_column("code")
    table.add_column("where", overflow="fold")
    table.add_column("message", overflow="fold")
    for f in result.findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        fixable = " [green](fixable)[/]" if f.autofix else ""
        # Paths, messages (which quote the scanned code) and names are data, never markup.
        table.add_row(
            f"[{style}]{markup(f.severity)}[/]" if style else markup(f.severity),
            f"{markup(f.code)}\n[dim]{markup(f.name)}[/]",
            markup(f"{f.path}:{f.line}:{f.column}"),
            f"{markup(f.message)}{fixable}\n[dim]fix: {markup(f.fix)}[/]",
        )
    console.print(table)


def _render_compact(result: ScanResult, console) -> None:
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    for f in result.findings:
        style = SEVERITY_STYLE.get(f.severity, "")
        fixable = " [green](fixable)[/]" if f.autofix else ""
        where = escape(f"{f.path}:{f.line}:{f.column}")
        console.print(f"[{style}]{f.severity}[/] [bold]{f.code}[/] {where}{fixable}")
        body = Text(f.message)
        body.append(f"\nfix: {f.fix}", style="dim")
        console.print(Padding(body, (0, 0, 0, 4)))  # wrapped lines keep the indent
