"""Every API-removal rule carries a passing check against the released packages
(``scripts/verify_rules.py`` wrote ``cockpit/compat/data/verification.json``; no network here),
and nothing built from a retracted catalog entry ships."""

from __future__ import annotations

import json

from cockpit.compat.rules import RETIRED, catalog, reference_entry, verification


def _claims(rule) -> list[tuple[str, str, str | None]]:
    match = rule.match
    out = [("symbol", s, None) for s in match.get("symbols", ())]
    out += [("module", m, None) for m in match.get("modules", ())]
    out += [("keyword", k["call"], k["keyword"]) for k in match.get("kwargs", ())]
    return out


def test_every_catalog_removal_rule_has_a_passing_verification_of_what_it_matches():
    removals = [r for r in catalog().values() if r.removal and r.family == "catalog"]
    assert len(removals) >= 20
    for rule in removals:
        record = verification(rule.code)
        assert record is not None, f"{rule.code} was never verified: run scripts/verify_rules.py"
        assert record["ok"], (rule.code, record.get("problems"))
        # The record checked exactly what the rule matches today (a changed rule needs a re-run).
        checked = [(row["kind"], row["name"], row["keyword"]) for row in record["checked"]]
        assert checked == _claims(rule), rule.code
        # Present in the last release before the removal, absent from every checked one after.
        for row in record["checked"]:
            results = row["results"]
            assert set(results) == {record["present_in"], *record["absent_in"]}
            before = results[record["present_in"]]
            assert before in ("defined", "typeshed stub") or " takes " in before, (
                rule.code,
                before,
            )
        assert record["absent_in"], rule.code


def test_verification_names_the_exact_released_files():
    record = verification("MLF101")
    assert record["generated_by"] == "scripts/verify_rules.py"
    wheels = record["packages"]
    assert {"mlflow-skinny==1.30.1", "mlflow-skinny==2.0.1", "mlflow-skinny==2.21.3"} <= set(wheels)
    assert all(len(w["sha256"]) == 64 for k, w in wheels.items() if not k.startswith("python=="))
    assert "mypy" in wheels["python==3.12"]["typeshed"]
    assert record["checked"][0]["results"]["2.21.3"] == "not defined"


def test_retracted_catalog_entries_never_become_rules():
    from importlib import resources

    from ruamel.yaml import YAML

    folder = resources.files("cockpit.compat").joinpath("data", "reference")
    retracted = set()
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            for item in YAML(typ="safe", pure=True).load(entry.read_text("utf-8")) or []:
                if item.get("retracted"):
                    retracted.add(item["id"])
    assert "mlflow2-client-download-artifacts-removed" in retracted
    for rule in catalog().values():
        assert rule.ref not in retracted, rule.code
        assert "download_artifacts" not in json.dumps(rule.match), rule.code
    assert "MLF104" in RETIRED and "MLF104" not in catalog()
    assert reference_entry("mlflow2-client-download-artifacts-removed")["retracted"] is True


def test_rules_show_says_how_a_rule_was_verified(cli):
    shown = cli("rules", "show", "MLF101")
    assert shown.returncode == 0
    assert "verified: passed on " in shown.stdout
    assert (
        "mlflow.MlflowClient.list_experiments: 1.30.1: defined; 2.0.1: not defined" in shown.stdout
    )
    assert "griffe" in shown.stdout
    as_json = json.loads(cli("rules", "show", "PY304", "--format", "json").stdout)
    assert as_json["verification"]["ok"] is True
    assert "typeshed" in as_json["verification"]["method"]["python"]
    gone = cli("rules", "show", "MLF104")
    assert gone.returncode == 2 and "never removed" in gone.stderr


def test_rules_show_gives_both_signatures_of_a_keyword_only_change(cli):
    """pyarrow.parquet.read_table: every argument after ``source`` keyword-only since 9.0, read
    from the 8.0.0 (14.3 LTS ML) and 9.0.0 wheels (and checked in 14.0.1, 15.0.2 and 19.0.1),
    with each wheel's file and sha256."""
    from cockpit.compat.rules import catalog, generated_file

    code = next(
        r["code"]
        for r in generated_file("library_removals.json")["rules"]
        if r["kind"] == "positional" and r["symbol"] == "pyarrow.parquet.read_table"
    )
    rule = catalog()[code]
    assert rule.severity == "blocking" and rule.removal and rule.autofix
    assert rule.what.startswith(
        "Passing more than 1 positional argument to pyarrow.parquet.read_table() breaks"
    )
    shown = cli("rules", "show", code)
    assert shown.returncode == 0, shown.stderr
    assert "signature in pyarrow 8.0.0: (source, columns, use_threads, metadata," in shown.stdout
    assert "signature in pyarrow 9.0.0: (source, *, columns, use_threads," in shown.stdout
    assert "absent:  pyarrow 9.0.0, pyarrow 14.0.1, pyarrow 15.0.2, pyarrow 19.0.1" in shown.stdout
    assert rule.applies.introduced == "9.0.0"
    wheels = generated_file("library_removals.json")["provenance"]["wheels"]
    for version in ("8.0.0", "9.0.0"):
        wheel = wheels[f"pyarrow=={version}"]
        assert f"wheel pyarrow=={version}: {wheel['file']} sha256 {wheel['sha256']}" in shown.stdout
