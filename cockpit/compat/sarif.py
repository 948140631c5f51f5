"""SARIF 2.1.0 output, for code-scanning UIs. Validated against the OASIS schema in the tests."""

from __future__ import annotations

from typing import Any

from cockpit import __version__
from cockpit.compat.rules import catalog
from cockpit.compat.scan import ScanResult

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
LEVEL = {"blocking": "error", "warning": "warning", "info": "note"}


def to_sarif(result: ScanResult) -> dict[str, Any]:
    from cockpit.compat.workspace_code import RULES as WORKSPACE_RULES

    rules = list(catalog().values())
    rules += [r for code, r in WORKSPACE_RULES.items() if code not in catalog()]
    index = {rule.code: i for i, rule in enumerate(rules)}
    descriptors = [
        {
            "id": rule.code,
            "name": rule.name,
            "shortDescription": {"text": rule.name},
            "fullDescription": {"text": rule.what},
            "help": {"text": f"Fix: {rule.fix}\nSource: {rule.source}"},
            "helpUri": rule.source,
            "defaultConfiguration": {"level": LEVEL[rule.severity]},
            "properties": {"severity": rule.severity, "autofix": rule.autofix},
        }
        for rule in rules
    ]
    results = []
    for f in result.findings:
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": LEVEL[f.severity],
                "message": {"text": f"{f.message} Fix: {f.fix}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(f.path)},
                            "region": {"startLine": f.line, "startColumn": f.column},
                        }
                    }
                ],
                "properties": {"severity": f.severity, "autofix": f.autofix},
            }
        )
    for s in result.suppressed:
        f = s.finding
        results.append(
            {
                "ruleId": f.code,
                "ruleIndex": index[f.code],
                "level": LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(f.path)},
                            "region": {"startLine": f.line, "startColumn": f.column},
                        }
                    }
                ],
                "suppressions": [{"kind": "inSource", "justification": s.reason or "none given"}],
            }
        )
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "migration-cockpit",
                        "version": __version__,
                        "rules": descriptors,
                    }
                },
                "results": results,
                "properties": {
                    "from": result.crossing.from_runtime,
                    "to": result.crossing.to_runtime,
                },
            }
        ],
    }


def _uri(path: str) -> str:
    from urllib.parse import quote

    # Relative paths stay relative (to where `cockpit check` ran); absolute ones become file URIs.
    return "file://" + quote(path) if path.startswith("/") else quote(path)
