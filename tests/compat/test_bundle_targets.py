"""Bundle `targets:` merged over the top-level resources as the Databricks CLI deploys them:
a target that pins the old runtime is a finding in that target's block, and `cockpit fix`
rewrites it there, comments intact."""

from __future__ import annotations

import json

BUNDLE = """\
bundle:
  name: kyros-churn

include:
  - resources/*.yml

variables:
  runtime:
    default: 16.4.x-cpu-ml-scala2.12   # the migration target

targets:
  dev:
    mode: development
    default: true
  staging:
    variables:
      runtime: 14.3.x-cpu-ml-scala2.12  # staging lags one release
  prod:
    mode: production
    resources:
      jobs:
        churn_train:
          job_clusters:
            - job_cluster_key: main
              new_cluster:
                # prod stays on 14.3 until the cutover weekend
                spark_version: 14.3.x-cpu-ml-scala2.12
                num_workers: 8
  shared:
    cluster_id: 0101-000000-shared01
"""

JOB = """\
resources:
  jobs:
    churn_train:
      name: kyros-churn-train
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: ${var.runtime}  # one knob for every job
            node_type_id: i3.xlarge
            num_workers: 2
      tasks:
        - task_key: main
          job_cluster_key: main
          notebook_task:
            notebook_path: ../src/train.py
"""


def _bundle(tmp_path):
    (tmp_path / "resources").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "databricks.yml").write_text(BUNDLE, encoding="utf-8")
    (tmp_path / "resources" / "churn.yml").write_text(JOB, encoding="utf-8")
    (tmp_path / "src" / "train.py").write_text("import mlflow\n", encoding="utf-8")
    return tmp_path


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_each_target_is_checked_as_deployed(cli, tmp_path):
    root = _bundle(tmp_path)
    proc = cli("check", "databricks.yml", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    job101 = [f for f in json.loads(proc.stdout)["findings"] if f["code"] == "JOB101"]
    where = {(f["path"], f["line"]): f["message"] for f in job101}
    # prod's own override, in prod's block of databricks.yml
    prod_line = _line(BUNDLE, "spark_version: 14.3")
    assert where[("databricks.yml", prod_line)].startswith("target prod: ")
    assert f"{json.dumps(job101)}".count("blocking") == len(job101)
    # staging's variable value, at staging's line
    staging_line = _line(BUNDLE, "runtime: 14.3")
    assert where[("databricks.yml", staging_line)].startswith("target staging: ")
    # dev uses the default (16.4), and `shared` runs on an all-purpose cluster: no JOB101
    assert not any("dev" in m.split(":")[0] or "shared" in m.split(":")[0] for m in where.values())
    assert len(job101) == 2

    dev = cli("check", "databricks.yml", "--target", "dev", "--format", "json", cwd=root)
    assert dev.returncode == 0, dev.stdout
    prod = cli("check", "databricks.yml", "--target", "prod", "--format", "json", cwd=root)
    assert prod.returncode == 1
    assert {f["line"] for f in json.loads(prod.stdout)["findings"] if f["code"] == "JOB101"} == {
        prod_line
    }


def test_unknown_target_is_one_line(cli, tmp_path):
    root = _bundle(tmp_path)
    proc = cli("check", "databricks.yml", "--target", "qa", cwd=root)
    assert proc.returncode == 2
    assert "no target 'qa' (targets: dev, staging, prod, shared)" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_fix_rewrites_inside_the_target_block_comments_intact(cli, tmp_path):
    root = _bundle(tmp_path)
    proc = cli("fix", "databricks.yml", "--target", "prod", "--apply", cwd=root)
    assert proc.returncode == 0, proc.stderr
    after = (root / "databricks.yml").read_text(encoding="utf-8")
    expected = BUNDLE.replace(
        "                spark_version: 14.3.x-cpu-ml-scala2.12",
        "                spark_version: 16.4.x-cpu-ml-scala2.12",
    )
    assert after == expected  # only that line changed: comments, order, staging untouched
    assert (root / "resources" / "churn.yml").read_text(encoding="utf-8") == JOB
    again = cli("check", "databricks.yml", "--target", "prod", cwd=root)
    assert again.returncode == 0, again.stdout


def test_deployed_name_patterns():
    from cockpit.compat.bundle_targets import DEV_PREFIX, name_pattern

    dev = name_pattern(DEV_PREFIX + "train", "dev")
    assert dev.matches("[dev alice] train") and dev.matches("[dev a.b-c] train")
    assert not dev.matches("[dev ] train")  # the user's short name is never empty
    assert not dev.matches("[dev alice] train2") and not dev.matches("x[dev alice] train")
    assert not dev.matches("train")
    per_target = name_pattern("${bundle.target}-${workspace.current_user.short_name}-train", "qa")
    assert per_target.matches("qa-alice-train") and not per_target.matches("prod-alice-train")
    assert name_pattern("plain", "qa").matches("plain") and not name_pattern("plain", "qa").matches(
        "plainer"
    )
    # Many references and a long hostile name: matched without backtracking blow-up.
    many = name_pattern("${a}x" * 40 + "${b}", "t")
    assert many.matches("yx" * 40 + "z")
    assert not many.matches("y" * 100_000)
