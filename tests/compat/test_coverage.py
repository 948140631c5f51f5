"""`cockpit rules coverage`: every reference-catalog entry is a rule or has its reason."""

from __future__ import annotations

import json

from cockpit.compat.coverage import coverage, reference_entries


def test_every_catalog_entry_is_a_rule_or_has_a_reason():
    rows = coverage()
    assert len(rows) == len(reference_entries()) >= 214
    for row in rows:
        assert row.rules or row.reason, row.ref
        assert not (row.rules and row.reason), row.ref
    by_ref = {r.ref: r for r in rows}
    retracted = by_ref["mlflow2-client-download-artifacts-removed"]
    assert retracted.rules == [] and retracted.reason.startswith("retracted")
    # Catalog entries become rules by reference or by the symbols the rules match.
    assert "MLF101" in by_ref["mlflow2-list-experiments-removed"].rules
    assert {"PYS119", "PYS129"} <= set(by_ref["py312-unittest-aliases-removed"].rules)
    assert "PYS051" in by_ref["py312-gzip-filename-attribute-removed"].rules


def test_coverage_command_for_each_jump(cli):
    for args, label in (
        ([], "14.3-lts-ml -> 16.4-lts-ml"),
        (["--from", "16.4-lts-ml", "--to", "17.3-lts-ml"], "16.4-lts-ml -> 17.3-lts-ml"),
        (["--mlflow-from", "2.21.3", "--mlflow-to", "3.0.1"], "(MLflow 2.21.3 -> 3.0.1)"),
    ):
        proc = cli("rules", "coverage", "--format", "json", *args)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert label in data["crossing"]
        assert (
            data["entries"] == data["with_rules"] + data["without_rules"] == len(data["coverage"])
        )
        assert data["rules_applying"] <= data["rules"]
        assert data["rules_applying_by_family"]["stdlib"] > 100
    # MLflow 2 -> 3: the recipes removal applies, the 1.x -> 2.x list_* removals still apply
    # (the target lacks them) and stdlib removals apply to a 3.12 target whatever the source.
    data = json.loads(
        cli(
            "rules", "coverage", "--format", "json", "--from", "16.4-lts-ml", "--to", "17.3-lts-ml"
        ).stdout
    )
    rows = {r["ref"]: r for r in data["coverage"]}
    assert "MLF301" in rows["mlflow3-recipes-removed"]["applies"]
    assert "MLF101" in rows["mlflow2-list-experiments-removed"]["applies"]
    table = cli("rules", "coverage", "--uncovered")
    assert table.returncode == 0 and "retracted" in table.stdout


def test_keyword_only_arguments_are_covered_by_the_positional_rules():
    """pandas 2.0 made most arguments keyword-only: the catalog entry is covered by the rules
    generated from the signatures in the 1.5.3 and 2.0.0 wheels, which apply to 16.4 -> 17.3
    (pandas 1.5.3 -> 2.2.3) and not to 14.3 -> 16.4 (1.5.3 on both)."""
    from cockpit.compat.rules import build_crossing, catalog

    rows = {r.ref: r for r in coverage(build_crossing("16.4-lts-ml", "17.3-lts-ml"))}
    row = rows["pandas2-keyword-only-arguments"]
    assert row.reason is None and len(row.rules) >= 10
    assert set(row.applies) == set(row.rules)
    rules = [catalog()[code] for code in row.rules]
    assert {r.match["positional"][0]["call"] for r in rules} >= {
        "pandas.read_csv",
        "pandas.concat",
        "pandas.DataFrame.drop",
        "pandas.DataFrame.where",
    }
    assert all(r.severity == "blocking" and r.applies.introduced == "2.0.0" for r in rules)
    earlier = {r.ref: r for r in coverage(build_crossing("14.3-lts-ml", "16.4-lts-ml"))}
    assert earlier["pandas2-keyword-only-arguments"].applies == []
