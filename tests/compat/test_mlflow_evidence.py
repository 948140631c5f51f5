"""Local code is judged with the MLflow client it really installs: a notebook's own `%pip
install mlflow==X`, else a requirements file next to it; each MLflow finding says which
evidence decided. `--mlflow-from` overrides. Bundle jobs' serverless `environments` are
checked like libraries."""

from __future__ import annotations

import json
import os

# MLF201 (registry stages, deprecated from MLflow 2.9.0) fires only for code whose client is
# older than 2.9.0: 14.3 LTS ML preinstalls 2.9.2, so only a pin to 1.x makes it fire.
STAGES = (
    "from mlflow import MlflowClient\n\n"
    "MlflowClient().transition_model_version_stage('churn', 3, 'Production')\n"
)
NOTEBOOK = (
    "# Databricks notebook source\n# MAGIC %pip install mlflow==2.21.3\n\n"
    "# COMMAND ----------\n\n" + STAGES
)


def _tree(root):
    for folder, requirements in (
        ("serve", "# scoring still talks to the 1.x server\nmlflow==1.30.1\n"),
        ("modern", "mlflow==2.21.3\n"),
        ("loose", "mlflow>=1.0\n"),
    ):
        (root / folder).mkdir()
        (root / folder / "requirements.txt").write_text(requirements, encoding="utf-8")
        (root / folder / "score.py").write_text(STAGES, encoding="utf-8")
    (root / "serve" / "nb.py").write_text(NOTEBOOK, encoding="utf-8")  # its own %pip wins
    (root / "plain").mkdir()
    (root / "plain" / "score.py").write_text(STAGES, encoding="utf-8")
    # A requirements file that links out of its folder is not evidence.
    outside = root.parent / f"{root.name}-outside.txt"
    outside.write_text("mlflow==1.30.1\n", encoding="utf-8")
    (root / "linked").mkdir()
    (root / "linked" / "score.py").write_text(STAGES, encoding="utf-8")
    os.symlink(outside, root / "linked" / "requirements.txt")


def _mlf201(proc) -> dict[str, str]:
    data = json.loads(proc.stdout)
    return {f["path"]: f["message"] for f in data["findings"] if f["code"] == "MLF201"}


def test_requirements_next_to_code_decide_the_mlflow_client(cli, tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    _tree(root)
    args = ("check", ".", "--from", "14.3-lts-ml", "--to", "16.4-lts-ml", "--format", "json")
    proc = cli(*args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    found = _mlf201(proc)
    assert set(found) == {"serve/score.py"}
    assert found["serve/score.py"].endswith("(MLflow 1.30.1 from serve/requirements.txt:2)")
    # serve/nb.py installs 2.21.3 itself; modern pins 2.21.3; a loose pin decides nothing
    # (the runtime's 2.9.2); a link out of the folder is not read.

    # The user's word overrides every file's evidence.
    forced = _mlf201(cli(*args, "--mlflow-from", "1.30.1", cwd=root))
    assert set(forced) == {
        "serve/score.py",
        "serve/nb.py",
        "modern/score.py",
        "loose/score.py",
        "plain/score.py",
        "linked/score.py",
    }
    assert not any("from serve/requirements.txt" in m for m in forced.values())


BUNDLE = """\
bundle:
  name: serving

resources:
  jobs:
    score:
      name: kyros-score
      environments:
        - environment_key: default
          spec:
            environment_version: "2"
            dependencies:
              - -r ./requirements-serve.txt
              - mlflow==1.30.1
      tasks:
        - task_key: main
          environment_key: default
          spark_python_task:
            python_file: ./score.py
"""


def test_bundle_environment_dependencies_are_checked(cli, tmp_path):
    (tmp_path / "databricks.yml").write_text(BUNDLE, encoding="utf-8")
    (tmp_path / "score.py").write_text("print('ok')\n", encoding="utf-8")
    (tmp_path / "requirements-serve.txt").write_text("horovod==0.28.1\n", encoding="utf-8")
    proc = cli(
        "--state",
        "s.db",
        "check",
        ".",
        "--to",
        "16.4-lts-ml",
        "--format",
        "json",
        "--record",
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr
    at = {(f["code"], f["path"], f["line"]) for f in json.loads(proc.stdout)["findings"]}
    line = BUNDLE.splitlines().index("              - mlflow==1.30.1") + 1
    assert ("REQ102", "databricks.yml", line) in at
    assert ("DBR101", "requirements-serve.txt", 1) in at
    # Serverless: no spark_version to be old.
    assert not any(code == "JOB101" for code, _p, _l in at)
    shown = json.loads(
        cli("--state", "s.db", "checklist", "show", "--format", "json", cwd=tmp_path).stdout
    )
    score = next(p for p in shown["pipelines"] if p["id"] == "job:kyros-score")
    assert {"rule:REQ102", "rule:DBR101"} <= {i["key"] for i in score["items"]}


def test_hostile_requirements_next_to_code_are_not_evidence(cli, tmp_path):
    """A FIFO, a link to /dev/zero, a 1 GB file and a link loop named requirements*.txt next
    to code: looking for evidence reads none of them (no hang, bounded memory); the scan
    itself reports them as files it did not read."""
    tree = tmp_path / "tree"
    tree.mkdir()
    os.mkfifo(tree / "requirements.txt")
    (tree / "requirements-zero.txt").symlink_to("/dev/zero")
    (tree / "requirements-loop.txt").symlink_to("requirements-loop.txt")
    with open(tree / "requirements-big.txt", "wb") as fh:  # sparse: costs no disk
        fh.truncate(1 << 30)
    (tree / "score.py").write_text(STAGES, encoding="utf-8")
    proc = cli("check", ".", "--from", "14.3-lts-ml", "--format", "json", cwd=tree)
    assert proc.stdout, proc.stderr
    data = json.loads(proc.stdout)
    assert not _mlf201(proc)  # no evidence: the runtime's 2.9.2 decides
    not_read = {f["path"] for f in data["findings"] if f["code"] == "CPT002"}
    assert {
        "requirements.txt",
        "requirements-zero.txt",
        "requirements-big.txt",
        "requirements-loop.txt",
    } <= not_read
