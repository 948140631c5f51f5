"""A synthetic workspace whose jobs run real-looking code: notebooks in SOURCE format (with
``# MAGIC %pip`` and ``# MAGIC %run``), workspace files, ``dbfs:/`` scripts, shared ``%run``
helpers (one cycle among them), SQL notebooks, a missing notebook, one the cockpit may not
read, and a Git-sourced job. Each breakage is planted at a known path and line, returned with
the scenario so tests and benchmarks can check every one is reported, and nothing else.

Ten job shapes repeat (job index modulo 10):

0 notebook pinning ``mlflow==1.30.1`` with ``%pip`` and calling ``list_experiments`` (MLF101)
1 notebook that ``%run``s a shared helper importing ``distutils`` (PY301, in the helper)
2 notebook importing Horovod (DBR101), named by its ``/Workspace/...`` path
3 modern code (nothing to report)
4 SQL notebook (a note, no finding)
5 modern code that names 1.x APIs only in comments and strings (nothing to report)
6 workspace file run by ``spark_python_task`` importing ``imp`` (PY302)
7 ``dbfs:/`` script calling ``inspect.getargspec`` (PY307)
8 a notebook that does not exist (WSP001)
9 notebook that ``%run``s a helper pinning ``mlflow==1.30.1`` and a cycle of two helpers, the
  second calling ``ssl.wrap_socket`` (PY306) and the first ``MlflowClient().list_run_infos``
  (MLF103, a 1.x API, decided by the helper's ``%pip``)

Plus three jobs on all-purpose clusters (listed; terminated and unlisted; deleted: WSP003),
whose shared notebook calls a 1.x API (MLF102) judged with the listed cluster's
``mlflow==1.30.1`` library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cockpit.databricks.scenario import FORMAT, SYNTHETIC_VERSIONS

HEADER = "# Databricks notebook source"
CELL = "# COMMAND ----------"


@dataclass(frozen=True)
class Expected:
    code: str
    path: str  # as the job (or the %run) names it
    line: int


def _notebook(*cells: list[str]) -> str:
    lines = [HEADER]
    for i, cell in enumerate(cells):
        if i:
            lines += ["", CELL, ""]
        lines += cell
    return "\n".join(lines) + "\n"


def _line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise ValueError(needle)


MODERN = [
    "import mlflow",
    "",
    "with mlflow.start_run():",
    "    mlflow.log_metric('auc', 0.91)",
    "for exp in mlflow.search_experiments():",
    "    print(exp.name)",
]
COMMENTED = [
    "import mlflow",
    "",
    "# Until 2024 this called mlflow.list_experiments() and imported distutils.",
    'NOTE = "mlflow.list_experiments() and import imp were replaced"',
    "print(NOTE, len(mlflow.search_experiments()))",
]


def code_scenario(
    n_jobs: int, *, token: str, start_ms: int = 1_790_000_000_000
) -> tuple[dict[str, Any], list[Expected]]:
    """``n_jobs`` jobs (shapes as in the module doc), their code, and what must be reported."""
    workspace: dict[str, dict[str, Any]] = {}
    dbfs: list[dict[str, Any]] = []
    expected: list[Expected] = []
    jobs = []

    def notebook(path: str, text: str, language: str = "PYTHON", **extra: Any) -> None:
        workspace[path] = {
            "path": path,
            "object_type": "NOTEBOOK",
            "language": language,
            "content": text,
            **extra,
        }

    # Shared helpers, each %run by many jobs: scanned once, reported once.
    for h in range(20):
        text = _notebook(
            ["import os", "from distutils.util import strtobool", "", "DEBUG = strtobool('no')"]
        )
        notebook(f"/Shared/lib/common_{h:02d}", text)
    cycle_a = _notebook(
        ["# MAGIC %pip install mlflow==1.30.1"],
        [
            "# MAGIC %run ./cycle_b",
        ],
        [
            "from mlflow.tracking import MlflowClient",
            "",
            "def runs(experiment_id):",
            "    return MlflowClient().list_run_infos(experiment_id)",
        ],
    )
    cycle_b = _notebook(
        ["# MAGIC %run ./cycle_a"],
        ["import ssl", "", "def wrap(sock):", "    return ssl.wrap_socket(sock)"],
    )
    notebook("/Shared/lib/cycle_a", cycle_a)
    notebook("/Shared/lib/cycle_b", cycle_b)
    helpers_used: set[str] = set()
    cycle_used = False

    for j in range(n_jobs):
        shape = j % 10
        name = f"code-job-{j:05d}"
        version = SYNTHETIC_VERSIONS[0][0]
        task: dict[str, Any] = {"task_key": "main", "job_cluster_key": "main"}
        folder = f"/Repos/etl/pipelines/job_{j:05d}"
        if shape == 0:
            path = f"{folder}/train"
            text = _notebook(
                ["# MAGIC %pip install mlflow==1.30.1"],
                [
                    "import mlflow",
                    "",
                    "for exp in mlflow.list_experiments():",
                    "    print(exp.experiment_id)",
                ],
            )
            notebook(path, text)
            expected.append(Expected("MLF101", path, _line_of(text, "list_experiments")))
            task["notebook_task"] = {"notebook_path": path}
        elif shape == 1:
            helper = f"common_{j % 20:02d}"
            path = f"{folder}/main"
            text = _notebook([f"# MAGIC %run /Shared/lib/{helper}"], MODERN)
            notebook(path, text)
            helper_path = f"/Shared/lib/{helper}"
            if helper_path not in helpers_used:
                helpers_used.add(helper_path)
                helper_text = workspace[helper_path]["content"]
                expected.append(Expected("PY301", helper_path, _line_of(helper_text, "distutils")))
            task["notebook_task"] = {"notebook_path": path}
        elif shape == 2:
            path = f"/Users/ds{j % 7}@example.com/horovod_{j:05d}"
            text = _notebook(["import horovod.torch as hvd", "", "hvd.init()", "print(hvd.rank())"])
            notebook(path, text)
            shown = "/Workspace" + path
            expected.append(Expected("DBR101", shown, _line_of(text, "import horovod")))
            task["notebook_task"] = {"notebook_path": shown, "source": "WORKSPACE"}
        elif shape == 3:
            path = f"{folder}/modern"
            notebook(path, _notebook(["# MAGIC %pip install mlflow==2.21.3"], MODERN))
            task["notebook_task"] = {"notebook_path": path}
        elif shape == 4:
            path = f"{folder}/report"
            text = "-- Databricks notebook source\nSELECT * FROM sales WHERE day = current_date()\n"
            notebook(path, text, "SQL")
            task["notebook_task"] = {"notebook_path": path}
        elif shape == 5:
            path = f"{folder}/commented"
            notebook(path, _notebook(COMMENTED))
            task["notebook_task"] = {"notebook_path": path}
        elif shape == 6:
            path = f"/Shared/scripts/job_{j:05d}.py"
            text = "from imp import reload\nimport json\n\nreload(json)\n"
            workspace[path] = {"path": path, "object_type": "FILE", "content": text}
            shown = "/Workspace" + path
            expected.append(Expected("PY302", shown, 1))
            task["spark_python_task"] = {"python_file": shown}
        elif shape == 7:
            path = f"/scripts/job_{j:05d}.py"
            text = (
                "import inspect\n\n\ndef f(a, b=1):\n    pass\n\n\nprint(inspect.getargspec(f))\n"
            )
            dbfs.append({"path": path, "content": text})
            expected.append(Expected("PY307", f"dbfs:{path}", _line_of(text, "getargspec")))
            task["spark_python_task"] = {"python_file": f"dbfs:{path}"}
        elif shape == 8:
            path = f"{folder}/deleted_notebook"
            expected.append(Expected("WSP001", path, 1))
            task["notebook_task"] = {"notebook_path": path}
        else:
            path = f"{folder}/nightly"
            text = _notebook(["# MAGIC %run ../../../../Shared/lib/cycle_a"], MODERN)
            notebook(path, text)
            if not cycle_used:
                cycle_used = True
                expected.append(
                    Expected("MLF103", "/Shared/lib/cycle_a", _line_of(cycle_a, "list_run_infos"))
                )
                expected.append(
                    Expected("PY306", "/Shared/lib/cycle_b", _line_of(cycle_b, "wrap_socket"))
                )
            task["notebook_task"] = {"notebook_path": path}
        jobs.append(
            {
                "job_id": 5_000 + j,
                "creator_user_name": f"owner{j % 13}@example.com",
                "created_time": start_ms - 86_400_000,
                "settings": {
                    "name": name,
                    "job_clusters": [
                        {
                            "job_cluster_key": "main",
                            "new_cluster": {
                                "spark_version": version,
                                "node_type_id": "i3.xlarge",
                                "num_workers": 1,
                            },
                        }
                    ],
                    "tasks": [task],
                },
            }
        )
    # One notebook the cockpit may not read, one Git-sourced job.
    secret = "/Users/hr@example.com/salaries"
    notebook(secret, _notebook(MODERN), forbidden=True)
    expected.append(Expected("WSP002", secret, 1))
    jobs.append(
        {
            "job_id": 4_998,
            "creator_user_name": "hr@example.com",
            "settings": {
                "name": "code-job-forbidden",
                "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": secret}}],
            },
        }
    )
    jobs.append(
        {
            "job_id": 4_999,
            "creator_user_name": "git@example.com",
            "settings": {
                "name": "code-job-git",
                "git_source": {
                    "git_url": "https://github.com/example/etl",
                    "git_provider": "gitHub",
                },
                "tasks": [{"task_key": "main", "notebook_task": {"notebook_path": "etl/main"}}],
            },
        }
    )
    # Jobs on all-purpose clusters: one listed, one clusters/list no longer shows (terminated
    # long ago) but clusters/get still answers, one permanently deleted.
    shared = "/Repos/etl/shared_cluster/score"
    shared_text = _notebook(
        ["from mlflow.tracking import MlflowClient", "", "MlflowClient().list_registered_models()"]
    )
    notebook(shared, shared_text)
    expected.append(Expected("MLF102", shared, _line_of(shared_text, "list_registered_models")))
    for job_id, name, cluster_id in (
        (4_990, "code-job-on-shared-cluster", "0101-000000-shared01"),
        (4_991, "code-job-on-old-cluster", "0101-000000-oldclust"),
        (4_992, "code-job-on-deleted-cluster", "0101-000000-deleted0"),
    ):
        jobs.append(
            {
                "job_id": job_id,
                "creator_user_name": "platform@example.com",
                "settings": {
                    "name": name,
                    "tasks": [
                        {
                            "task_key": "score",
                            "existing_cluster_id": cluster_id,
                            "notebook_task": {"notebook_path": shared},
                        }
                    ],
                },
            }
        )
    expected.append(Expected("WSP003", "workspace:code-job-on-deleted-cluster", 1))
    clusters = [
        {
            "cluster_id": "0101-000000-shared01",
            "cluster_name": "etl-shared",
            "cluster_source": "UI",
            "spark_version": version,
            "state": "RUNNING",
            "spark_env_vars": {"MLFLOW_TRACKING_URI": "https://mlflow-old.example"},
        }
    ]
    hidden = [
        {
            "cluster_id": "0101-000000-oldclust",
            "cluster_name": "etl-2023",
            "cluster_source": "UI",
            "spark_version": "16.4.x-cpu-ml-scala2.12",
            "state": "TERMINATED",
            "spark_env_vars": {"MLFLOW_TRACKING_URI": "https://mlflow-new.example"},
        }
    ]
    libraries = {
        "0101-000000-shared01": [
            {
                "library": {"pypi": {"package": "mlflow==1.30.1"}},
                "status": "INSTALLED",
                "is_library_for_all_clusters": False,
            },
            {"library": {"pypi": {"package": "horovod==0.28.1"}}, "status": "INSTALLED"},
        ]
    }
    scenario = {
        "format": FORMAT,
        "name": f"synthetic code workspace, {n_jobs} jobs",
        "tokens": {token: "admin"},
        "spark_versions": [{"key": k, "name": n} for k, n in SYNTHETIC_VERSIONS],
        "clusters": clusters,
        "hidden_clusters": hidden,
        "cluster_libraries": libraries,
        "jobs": jobs,
        "runs": [],
        "workspace": list(workspace.values()),
        "dbfs": dbfs,
    }
    return scenario, expected
