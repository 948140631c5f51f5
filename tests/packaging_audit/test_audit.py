"""The packaging audit: every source a job's libraries can come from, the rules of the target
runtime, the policy check; on a bundle made here and on the Kyros sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.packaging.audit import audit
from cockpit.packaging.readers import index_urls_in

REPO = Path(__file__).resolve().parents[2]

BUNDLE = """\
bundle:
  name: audit-test
include:
  - resources/*.yml
artifacts:
  common:
    type: whl
    build: python -m build --wheel
    path: ./libs/common
sync:
  include:
    - wheels/*.whl
"""
JOB = """\
resources:
  jobs:
    train:
      name: audit-train
      environments:
        - environment_key: serverless
          spec:
            client: "1"
            dependencies:
              - --index-url https://pypi.corp.example/simple
              - kyros-features==2.0.1
              - /Volumes/main/libs/wheels/kyros_geo-0.3.0-py3-none-any.whl
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 14.3.x-cpu-ml-scala2.12
            init_scripts:
              - workspace:
                  destination: ../scripts/pip.sh
              - workspace:
                  destination: ../../../../../../etc/passwd
      tasks:
        - task_key: train
          job_cluster_key: main
          notebook_task:
            notebook_path: ../src/train
          libraries:
            - whl: ../libs/common/dist/common-1.0-py3-none-any.whl
            - whl: dbfs:/FileStore/wheels/legacy-0.1-py3-none-any.whl
            - whl: dbfs:/Volumes/main/libs/wheels/kyros_geo-0.3.0-py3-none-any.whl
            - whl: /Workspace/Shared/libs/tools-1.0-py3-none-any.whl
            - whl: ../wheels/local-0.1-py3-none-any.whl
            - jar: s3://kyros-artifacts/jars/scala-feature.jar
            - pypi:
                package: kyros-common==2.3.1
                repo: https://ci:hunter2@pypi.corp.example/simple
            - pypi:
                package: requests==2.31.0
            - maven:
                coordinates: com.kyros:features:1.0
            - requirements: ../src/requirements.txt
        - task_key: report
          environment_key: serverless
          spark_python_task:
            python_file: ../src/report.py
"""
OTHER = """\
resources:
  jobs:
    plain:
      name: audit-plain
      tasks:
        - task_key: main
          new_cluster:
            spark_version: 14.3.x-cpu-ml-scala2.12
          libraries:
            - pypi:
                package: requests==2.31.0
            - whl: dbfs:/FileStore/wheels/legacy-0.1-py3-none-any.whl
"""


@pytest.fixture
def bundle(tmp_path, monkeypatch):
    (tmp_path / "resources").mkdir()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "databricks.yml").write_text(BUNDLE, encoding="utf-8")
    (tmp_path / "resources" / "train.yml").write_text(JOB, encoding="utf-8")
    (tmp_path / "resources" / "plain.yml").write_text(OTHER, encoding="utf-8")
    (tmp_path / "scripts" / "pip.sh").write_text(
        "#!/bin/bash\n/databricks/python/bin/pip config set global.index-url "
        "https://deploy:s3cret@pypi.corp.example/simple\n",
        encoding="utf-8",
    )
    (tmp_path / "src" / "train.py").write_text(
        "# Databricks notebook source\nimport horovod.torch as hvd\nimport sklearn\nimport kyros_local\n",
        encoding="utf-8",
    )
    (tmp_path / "src" / "requirements.txt").write_text(
        "--extra-index-url https://pypi.corp.example/simple\nlightgbm==4.3.0  # pinned\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def by_spec(result, job):
    [found] = [j for j in result.jobs if j.name == job]
    return {lib.spec: lib for lib in found.libraries}, found


def test_every_source_of_a_bundle_job(bundle):
    result = audit(["."], from_runtime="14.3-lts-ml", to_runtime="16.4-lts-ml")
    libs, job = by_spec(result, "audit-train")
    sources = {spec: lib.source for spec, lib in libs.items()}
    assert sources["../libs/common/dist/common-1.0-py3-none-any.whl"] == "bundle-artifact"
    assert libs["../libs/common/dist/common-1.0-py3-none-any.whl"].via == "artifact common"
    assert sources["dbfs:/FileStore/wheels/legacy-0.1-py3-none-any.whl"] == "dbfs"
    assert sources["dbfs:/Volumes/main/libs/wheels/kyros_geo-0.3.0-py3-none-any.whl"] == "uc-volume"
    assert sources["/Volumes/main/libs/wheels/kyros_geo-0.3.0-py3-none-any.whl"] == "uc-volume"
    assert sources["/Workspace/Shared/libs/tools-1.0-py3-none-any.whl"] == "workspace-files"
    assert sources["../wheels/local-0.1-py3-none-any.whl"] == "bundle-file"
    assert libs["../wheels/local-0.1-py3-none-any.whl"].via == "sync: include"
    assert sources["s3://kyros-artifacts/jars/scala-feature.jar"] == "cloud-storage"
    assert sources["com.kyros:features:1.0"] == "maven"
    # The library's own repo; the init script's pip config for the others; the env's index.
    assert sources["kyros-common==2.3.1"] == "private-index"
    assert libs["kyros-common==2.3.1"].via == "repo https://***@pypi.corp.example/simple"
    assert sources["requests==2.31.0"] == "private-index"
    assert libs["requests==2.31.0"].via == "pip configured for https://***@pypi.corp.example/simple"
    assert sources["kyros-features==2.0.1"] == "private-index"
    assert libs["kyros-features==2.0.1"].task == "env:serverless"
    assert sources["lightgbm==4.3.0"] == "private-index"
    assert libs["lightgbm==4.3.0"].path.endswith("src/requirements.txt")
    # What the notebook imports from the runtime: horovod is gone on 16.4, sklearn is there.
    runtime = {lib.spec.split(" ")[0]: lib for lib in job.libraries if lib.source == "runtime"}
    assert set(runtime) == {"horovod", "sklearn"}
    assert runtime["horovod"].target_version is None
    assert runtime["sklearn"].target_version == "1.4.2"
    assert "init script workspace:../../../../../../etc/passwd not readable here" in job.notes
    codes = sorted((f.code, f.job) for f in result.findings)
    assert codes == [
        ("PKG101", "audit-plain"),
        ("PKG101", "audit-train"),
        ("PKG102", "audit-train"),
    ]
    dbfs = next(f for f in result.findings if f.code == "PKG101" and f.job == "audit-train")
    assert dbfs.source == "https://docs.databricks.com/gcp/pt/release-notes/runtime/16.0"
    assert dbfs.path == "resources/train.yml" and dbfs.line == 29
    text = json.dumps(result.to_json())
    assert "hunter2" not in text and "s3cret" not in text


def test_the_plain_job_installs_from_pypi_unless_an_index_is_configured(bundle):
    plain = audit(["."], from_runtime="14.3-lts-ml", to_runtime="16.4-lts-ml")
    libs, _ = by_spec(plain, "audit-plain")
    assert libs["requests==2.31.0"].source == "pypi"
    indexed = audit(
        ["."],
        from_runtime="14.3-lts-ml",
        to_runtime="16.4-lts-ml",
        index_url="https://pypi.corp.example/simple",
    )
    libs, _ = by_spec(indexed, "audit-plain")
    assert libs["requests==2.31.0"].source == "private-index"


def test_dbfs_only_breaks_when_the_migration_crosses_16(bundle):
    result = audit(["."], from_runtime="13.3-lts-ml", to_runtime="14.3-lts-ml")
    assert not [f for f in result.findings if f.code == "PKG101"]


def test_policy_turns_other_sources_into_findings(bundle):
    result = audit(
        ["."],
        from_runtime="14.3-lts-ml",
        to_runtime="16.4-lts-ml",
        policy=["private-index", "bundle-artifact"],
    )
    flagged = {(f.job, f.path, f.line) for f in result.findings if f.code == "PKG201"}
    plain = {f.message for f in result.findings if f.code == "PKG201" and f.job == "audit-plain"}
    assert any("dbfs:/FileStore/wheels/legacy" in m and "comes from dbfs" in m for m in plain)
    assert any("requests==2.31.0 comes from pypi" in m for m in plain)
    train = {f.message for f in result.findings if f.code == "PKG201" and f.job == "audit-train"}
    assert not any("kyros-common" in m or "common-1.0" in m for m in train)  # allowed sources
    assert not any("horovod" in m for m in train)  # runtime libraries are always allowed
    assert len(flagged) == len([f for f in result.findings if f.code == "PKG201"])
    with pytest.raises(CockpitError, match="unknown source 'artifactory'"):
        audit(["."], from_runtime="14.3-lts-ml", to_runtime="16.4-lts-ml", policy=["artifactory"])


def test_index_urls_in_scripts():
    script = textwrap.dedent(
        """\
        pip config set global.index-url https://a.example/simple
        export PIP_EXTRA_INDEX_URL="https://b.example/simple"
        cat > /etc/pip.conf <<EOF
        [global]
        index-url = https://c.example/simple
        EOF
        pip install --index-url=https://d.example/simple x
        """
    )
    assert index_urls_in(script) == [
        "https://a.example/simple",
        "https://b.example/simple",
        "https://c.example/simple",
        "https://d.example/simple",
    ]


def cockpit(*args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cockpit", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_the_kyros_sample_jobs_and_the_dbfs_wheel_policy_failure(tmp_path):
    """Every Kyros job (bundle, job JSON, and the workspace jobs the sample's inventory stored)
    with its library sources; the policy fails the job installing a wheel from DBFS."""
    from cockpit.demo.kyros_workspace import JOBS

    shutil.copytree(REPO / "sample_state" / "pipelines", tmp_path / "pipelines")
    shutil.copy(REPO / "sample_state" / "kyros.cockpit.db", tmp_path / "kyros.db")
    done = cockpit(
        "--state", "kyros.db", "packaging", "audit", "pipelines", "--format", "json", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr  # DBFS wheels break on 16.4 with or without policy
    data = json.loads(done.stdout)
    workspace = {j["name"]: j for j in data["jobs"] if j["origin"] == "workspace"}
    assert set(workspace) == set(JOBS)
    assert workspace["kyros-recsys-train"]["sources"] == {"pypi": 1}
    assert workspace["kyros-churn-train"]["sources"] == {}
    embed = next(
        j for j in data["jobs"] if j["name"] == "kyros-image-embed" and j["origin"] == "job-json"
    )
    assert embed["sources"] == {"dbfs": 1, "pypi": 1}
    assert [f["code"] for f in embed["findings"]] == ["PKG101"]

    policy = cockpit(
        "--state",
        "kyros.db",
        "packaging",
        "audit",
        "pipelines",
        "--policy",
        "private-index",
        "--policy",
        "bundle-artifact",
        cwd=tmp_path,
    )
    assert policy.returncode == 1
    assert "PKG201" in policy.stdout and "kyros_vision-1.2.0-py3-none-any.whl" in policy.stdout
    assert "comes from dbfs" in policy.stdout

    bad = cockpit("packaging", "audit", "pipelines", "--policy", "ftp", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown source 'ftp'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_policy_from_the_config(tmp_path, bundle):
    (bundle / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        '[pipelines]\nbundles = ["databricks.yml"]\n'
        '[packaging]\npolicy = ["private-index", "bundle-artifact", "uc-volume"]\n',
        encoding="utf-8",
    )
    done = cockpit("packaging", "audit", "--format", "json", "--no-stored", cwd=bundle)
    data = json.loads(done.stdout)
    assert data["policy"] == ["private-index", "bundle-artifact", "uc-volume"]
    assert {f["code"] for f in data["findings"]} == {"PKG101", "PKG102", "PKG201"}
    (bundle / "cockpit.toml").write_text(
        '[migration]\nname = "t"\nfrom = "14.3-lts-ml"\nto = "16.4-lts-ml"\n'
        '[packaging]\npolicy = ["nexus"]\n',
        encoding="utf-8",
    )
    bad = cockpit("packaging", "audit", ".", cwd=bundle)
    assert bad.returncode == 2 and "packaging.policy" in bad.stderr and "nexus" in bad.stderr
