"""A local Databricks workspace: the subset of the REST API the adapter uses, served from a
scenario on 127.0.0.1, with the real API's pagination, bearer-token checks and error bodies.

Served (exactly the paths databricks-sdk 0.162 calls):

* ``GET  /api/2.1/clusters/spark-versions``
* ``GET  /api/2.1/clusters/list``            (``page_size``, ``page_token``)
* ``GET  /api/2.2/jobs/list``                (``limit`` 1..100, ``page_token``, ``offset``,
  ``expand_tasks``, ``name``)
* ``GET  /api/2.2/jobs/get``                 (``job_id``)
* ``GET  /api/2.2/jobs/runs/list``           (``limit`` 1..25, 0 = 25, ``page_token``,
  ``offset``, ``job_id``, ``active_only``, ``completed_only``, ``expand_tasks``,
  ``start_time_from``, ``start_time_to``, ``run_type``), newest first
* ``GET  /api/2.2/jobs/runs/get``            (``run_id``, parent or task run)
* ``GET  /api/2.2/jobs/runs/get-output``     (``run_id`` of a *task* run, as the real API)
* ``POST /api/2.2/jobs/runs/submit``         one-time runs: PENDING -> RUNNING -> TERMINATED
* ``POST /api/2.2/jobs/runs/cancel``
* ``POST /api/2.0/workspace/import``         (JSON form, base64 content)
* ``GET  /api/2.0/workspace/get-status``     (``path``; ``/Workspace/...`` or legacy form)
* ``GET  /api/2.0/workspace/export``         (``path``, ``format`` SOURCE / AUTO; 10 MB limit)
* ``GET  /api/2.0/workspace/list``           (``path``)
* ``GET  /api/2.0/dbfs/get-status``          (``path``, ``dbfs:/`` or absolute)
* ``GET  /api/2.0/dbfs/read``                (``path``, ``offset``, ``length`` up to 1 MB)
* ``GET  /api/2.1/clusters/get``             (``cluster_id``; also clusters list no longer shows)
* ``GET  /api/2.0/libraries/cluster-status`` (``cluster_id``)

``GET /.well-known/databricks-config`` answers 404, as the SDK tolerates. Faults (429 with
``Retry-After``, 5xx bursts, slow responses, dropped connections) are switched on the
:class:`Faults` object in-process or with ``POST /_sim/faults`` (admin token) from outside.
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cockpit.databricks.scenario import Scenario

RUNS_MAX_LIMIT = 25
JOBS_MAX_LIMIT = 100
CLUSTERS_MAX_PAGE = 100
EXPORT_MAX_BYTES = 10 * 1024 * 1024  # workspace/export refuses bigger (MAX_NOTEBOOK_SIZE_EXCEEDED)
DBFS_READ_MAX = 1024 * 1024  # dbfs/read: at most 1 MB per call
SOURCE_EXTENSIONS = {"PYTHON": "py", "SQL": "sql", "SCALA": "scala", "R": "r"}
TASKS_PAGE = 100  # jobs/list, jobs/get, runs/list and runs/get show 100 tasks per page
ACTIVE = ("PENDING", "QUEUED", "RUNNING", "TERMINATING")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Faults:
    """Switches for misbehaviour, safe to flip from any thread while the server runs.

    Counted faults (``rate_limit``, ``error_burst``, ``drop``) apply to the next N API requests
    and then stop by themselves (``error_after`` lets that many through before the burst, to
    fail in the middle of a paging); ``delay_s`` applies to every API request until reset.
    """

    FIELDS = (
        "delay_s",
        "rate_limit",
        "retry_after",
        "error_burst",
        "error_status",
        "error_after",
        "drop",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.delay_s = 0.0
        self.rate_limit = 0
        self.retry_after = 1
        self.error_burst = 0
        self.error_status = 503
        self.error_after = 0  # requests answered normally before the error burst starts
        self.drop = 0

    def set(self, **values: Any) -> None:
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)[0]!r}")
        with self._lock:
            for key, value in values.items():
                setattr(self, key, float(value) if key == "delay_s" else int(value))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {key: getattr(self, key) for key in self.FIELDS}

    def take(self) -> tuple[str, int, int] | None:
        """The fault for this request, if any: ("drop"|"status", status, retry_after)."""
        with self._lock:
            if self.drop > 0:
                self.drop -= 1
                return ("drop", 0, 0)
            if self.error_burst > 0:
                if self.error_after > 0:
                    self.error_after -= 1
                    return None
                self.error_burst -= 1
                return ("status", self.error_status, self.retry_after)
            if self.rate_limit > 0:
                self.rate_limit -= 1
                return ("status", 429, self.retry_after)
        return None


@dataclass
class _Submitted:
    run_id: int
    task_run_ids: list[int]
    run_name: str
    tasks: list[dict[str, Any]]
    spark_version: str
    created: float  # monotonic
    start_ms: int
    pending_s: float
    running_s: float
    cancelled_at: float | None = None
    gets: int = 0  # runs/get answers so far (the clock of a stepped simulator)
    error: str = ""  # why the run will fail (e.g. its python_file does not exist)


class WorkspaceSimulator:
    """Serves one scenario. ``with WorkspaceSimulator(scenario) as sim: sim.url`` ..."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        port: int = 0,
        pending_s: float | None = None,
        running_s: float | None = None,
        stepped: bool = False,
    ) -> None:
        self.scenario = scenario
        # Stepped: a submitted run's life advances by the runs/get answers it has had, not by
        # seconds (pending_s/running_s count answers): each state is seen however slow the
        # client, which tests that watch a run go PENDING -> RUNNING -> TERMINATED need.
        self.stepped = stepped
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.pending_s = scenario.pending_s if pending_s is None else pending_s
        self.running_s = scenario.running_s if running_s is None else running_s
        self.files: dict[str, bytes] = {}
        # Workspace objects by path (the API's form, without the /Workspace prefix) and DBFS
        # files by absolute path; the simulator's clock for their modified_at is fixed per
        # object unless a test edits one with :meth:`put_object`.
        self.objects: dict[str, dict[str, Any]] = {}
        for obj in scenario.workspace:
            self.objects[_ws_path(obj["path"])] = {"modified_at": 1_760_000_000_000, **obj}
        self.dbfs: dict[str, dict[str, Any]] = {
            _dbfs_path(f["path"]): {"modified_at": 1_760_000_000_000, **f} for f in scenario.dbfs
        }
        self._clusters_by_id = {
            c["cluster_id"]: c for c in [*scenario.clusters, *scenario.hidden_clusters]
        }
        self._lock = threading.Lock()
        self._jobs = {j["job_id"]: j for j in scenario.jobs}
        self._job_order = sorted(self._jobs)
        self._index_runs(list(scenario.runs))
        self._submitted: dict[int, _Submitted] = {}
        self._task_parent: dict[int, int] = {}
        self._idempotency: dict[str, int] = {}
        self._next_run_id = max([r["run_id"] for r in scenario.runs] + [900_000_000]) + 1
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _index_runs(self, runs: list[dict[str, Any]]) -> None:
        """Job runs: finished ones indexed newest first (negated starts let bisect find time
        windows); runs a scenario marks active (``life_cycle_state`` RUNNING...) kept apart."""
        active = [r for r in runs if r.get("life_cycle_state") in ACTIVE]
        done = [r for r in runs if r.get("life_cycle_state") not in ACTIVE]
        ordered = sorted(done, key=lambda r: (-r["start_time"], -r["run_id"]))
        by_job: dict[int, list[dict[str, Any]]] = {}
        for run in ordered:
            by_job.setdefault(run["job_id"], []).append(run)
        self._runs = ordered
        self._neg_starts = [-r["start_time"] for r in ordered]
        self._runs_by_job = by_job
        self._neg_starts_by_job = {
            job_id: [-r["start_time"] for r in job_runs] for job_id, job_runs in by_job.items()
        }
        self._active_runs = sorted(active, key=lambda r: -r["start_time"])
        self._runs_by_id = {r["run_id"]: r for r in runs}

    def add_runs(self, runs: list[dict[str, Any]]) -> None:
        """More job runs appear in the workspace (scenario run shape); for incremental tests."""
        with self._lock:
            self._index_runs([*self._runs, *self._active_runs, *runs])

    def finish_run(self, run_id: int, *, duration_ms: int, result_state: str = "SUCCESS") -> None:
        """A run the scenario started as active terminates now."""
        with self._lock:
            runs = [*self._runs, *self._active_runs]
            for i, run in enumerate(runs):
                if run["run_id"] == run_id:
                    runs[i] = {
                        **{k: v for k, v in run.items() if k != "life_cycle_state"},
                        "duration_ms": duration_ms,
                        "result_state": result_state,
                    }
            self._index_runs(runs)

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WorkspaceSimulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="workspace-sim", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> WorkspaceSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api_requests(self, path: str) -> int:
        return self.requests[path]

    # ------------------------------------------------------------------ dispatch
    def handle(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any], role: str
    ):
        routes = {
            ("GET", "/api/2.1/clusters/spark-versions"): self._spark_versions,
            ("GET", "/api/2.1/clusters/list"): self._clusters_list,
            ("GET", "/api/2.2/jobs/list"): self._jobs_list,
            ("GET", "/api/2.2/jobs/get"): self._jobs_get,
            ("GET", "/api/2.2/jobs/runs/list"): self._runs_list,
            ("GET", "/api/2.2/jobs/runs/get"): self._runs_get,
            ("GET", "/api/2.2/jobs/runs/get-output"): self._runs_get_output,
            ("POST", "/api/2.2/jobs/runs/submit"): self._runs_submit,
            ("POST", "/api/2.2/jobs/runs/cancel"): self._runs_cancel,
            ("POST", "/api/2.0/workspace/import"): self._workspace_import,
            ("GET", "/api/2.0/workspace/get-status"): self._workspace_get_status,
            ("GET", "/api/2.0/workspace/export"): self._workspace_export,
            ("GET", "/api/2.0/workspace/list"): self._workspace_list,
            ("GET", "/api/2.0/dbfs/get-status"): self._dbfs_get_status,
            ("GET", "/api/2.0/dbfs/read"): self._dbfs_read,
            ("GET", "/api/2.1/clusters/get"): self._clusters_get,
            ("GET", "/api/2.0/libraries/cluster-status"): self._libraries_status,
        }
        route = routes.get((method, path))
        if route is None:
            raise ApiError(404, "ENDPOINT_NOT_FOUND", f"No API found for '{method} {path}'")
        if role == "none" and path != "/api/2.1/clusters/spark-versions":
            raise ApiError(403, "PERMISSION_DENIED", "This user has no access to the workspace.")
        if method == "POST" and role != "admin":
            raise ApiError(
                403, "PERMISSION_DENIED", f"User does not have permission to call {path}."
            )
        return route(query if method == "GET" else body)

    # ------------------------------------------------------------------ clusters
    def _spark_versions(self, _q: dict[str, Any]) -> dict[str, Any]:
        return {
            "versions": [
                {"key": v["key"], "name": v.get("name", v["key"])}
                for v in self.scenario.spark_versions
            ]
        }

    def _clusters_list(self, q: dict[str, Any]) -> dict[str, Any]:
        size = _int(q, "page_size", CLUSTERS_MAX_PAGE)
        if not 1 <= size <= CLUSTERS_MAX_PAGE:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"page_size must be 1..{CLUSTERS_MAX_PAGE}"
            )
        offset = _decode_token(q.get("page_token"), "clusters")
        items = self.scenario.clusters[offset : offset + size]
        out: dict[str, Any] = {"clusters": items}
        if offset + size < len(self.scenario.clusters):
            out["next_page_token"] = _encode_token(offset + size, "clusters")
        return out

    def _clusters_get(self, q: dict[str, Any]) -> dict[str, Any]:
        cluster_id = q.get("cluster_id") or ""
        cluster = self._clusters_by_id.get(cluster_id)
        if cluster is None:
            # What the real API answers for an id it does not know (400, not 404).
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster_id} does not exist")
        return cluster

    def _libraries_status(self, q: dict[str, Any]) -> dict[str, Any]:
        cluster_id = q.get("cluster_id") or ""
        if cluster_id not in self._clusters_by_id:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Cluster {cluster_id} does not exist")
        statuses = self.scenario.cluster_libraries.get(cluster_id, [])
        return {"cluster_id": cluster_id, "library_statuses": statuses}

    # ------------------------------------------------------------------ workspace and DBFS
    def put_object(self, path: str, **fields: Any) -> None:
        """Add or edit a workspace object (tests: a notebook edited between two scans)."""
        with self._lock:
            key = _ws_path(path)
            old = self.objects.get(key, {"object_type": "NOTEBOOK", "language": "PYTHON"})
            stamp = int(old.get("modified_at", 1_760_000_000_000)) + 1000
            self.objects[key] = {**old, "modified_at": stamp, **fields, "path": key}

    def _object(self, q: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = q.get("path")
        if not isinstance(raw, str) or not raw.startswith("/"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Path must be absolute")
        path = _ws_path(raw)
        with self._lock:
            obj = self.objects.get(path)
            if obj is None and path in self.files:
                obj = {"path": path, "object_type": "FILE", "modified_at": 1_760_000_000_000}
                obj["content"] = self.files[path].decode("utf-8", "replace")
            if obj is None and any(p.startswith(path.rstrip("/") + "/") for p in self.objects):
                obj = {"path": path, "object_type": "DIRECTORY"}
        if obj is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Path ({raw}) doesn't exist.")
        if obj.get("forbidden"):
            raise ApiError(
                403,
                "PERMISSION_DENIED",
                f"User does not have permission READ on path {raw}",
            )
        return path, obj

    @staticmethod
    def _object_info(path: str, obj: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "path": path,
            "object_type": obj.get("object_type", "NOTEBOOK"),
            "object_id": abs(hash(path)) % 10**15,
        }
        if info["object_type"] != "DIRECTORY":
            info["modified_at"] = int(obj.get("modified_at", 0))
            info["created_at"] = int(obj.get("modified_at", 0))
            info["size"] = len(str(obj.get("content", "")).encode())
        if info["object_type"] == "NOTEBOOK":
            info["language"] = obj.get("language", "PYTHON")
        return info

    def _workspace_get_status(self, q: dict[str, Any]) -> dict[str, Any]:
        return self._object_info(*self._object(q))

    def _workspace_export(self, q: dict[str, Any]) -> dict[str, Any]:
        _path, obj = self._object(q)
        fmt = q.get("format") or "SOURCE"
        if fmt not in ("SOURCE", "AUTO"):
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"The simulator exports SOURCE, not {fmt}"
            )
        kind = obj.get("object_type", "NOTEBOOK")
        if kind == "DIRECTORY":
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Exporting a folder needs DBC format")
        data = str(obj.get("content", "")).encode()
        if len(data) > EXPORT_MAX_BYTES:
            raise ApiError(
                400, "MAX_NOTEBOOK_SIZE_EXCEEDED", "File size exceeds the maximum size of 10MB"
            )
        file_type = SOURCE_EXTENSIONS.get(obj.get("language", ""), "") if kind == "NOTEBOOK" else ""
        return {"content": base64.b64encode(data).decode(), "file_type": file_type}

    def _workspace_list(self, q: dict[str, Any]) -> dict[str, Any]:
        path, obj = self._object(q)
        if obj.get("object_type") != "DIRECTORY":
            return {"objects": [self._object_info(path, obj)]}
        prefix = path.rstrip("/") + "/"
        children: dict[str, dict[str, Any]] = {}
        with self._lock:
            for key, child in self.objects.items():
                if key.startswith(prefix):
                    rest = key[len(prefix) :]
                    if "/" in rest:
                        name = prefix + rest.split("/", 1)[0]
                        children.setdefault(name, {"path": name, "object_type": "DIRECTORY"})
                    else:
                        children[key] = self._object_info(key, child)
        return {"objects": [children[k] for k in sorted(children)]}

    def _dbfs_file(self, q: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        raw = q.get("path")
        if not isinstance(raw, str) or not raw:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "Path must be absolute")
        path = _dbfs_path(raw)
        found = self.dbfs.get(path)
        if found is None:
            raise ApiError(
                404, "RESOURCE_DOES_NOT_EXIST", f"No file or directory exists on path {raw}."
            )
        return path, found

    def _dbfs_get_status(self, q: dict[str, Any]) -> dict[str, Any]:
        path, found = self._dbfs_file(q)
        return {
            "path": path,
            "is_dir": False,
            "file_size": len(str(found.get("content", "")).encode()),
            "modification_time": int(found.get("modified_at", 0)),
        }

    def _dbfs_read(self, q: dict[str, Any]) -> dict[str, Any]:
        _path, found = self._dbfs_file(q)
        offset = _int(q, "offset", 0)
        length = _int(q, "length", DBFS_READ_MAX // 2)
        if offset < 0 or not 0 <= length <= DBFS_READ_MAX:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "length must be 0..1048576 and offset >= 0"
            )
        data = str(found.get("content", "")).encode()[offset : offset + length]
        return {"bytes_read": len(data), "data": base64.b64encode(data).decode()}

    # ------------------------------------------------------------------ jobs
    def _job_json(
        self, job: dict[str, Any], *, expand: bool, task_page: int | None = None
    ) -> dict[str, Any]:
        """A job as jobs/list (``task_page`` None: first 100 tasks, ``has_more``) or one page
        of jobs/get (``next_page_token`` while tasks remain) shows it."""
        settings = dict(job["settings"])
        out = {k: v for k, v in job.items() if k != "settings"}
        out["settings"] = settings
        if not expand:
            settings.pop("tasks", None)
            settings.pop("job_clusters", None)
            return out
        tasks = settings.get("tasks") or []
        page = task_page or 0
        more = len(tasks) > (page + 1) * TASKS_PAGE
        if len(tasks) > TASKS_PAGE:
            settings["tasks"] = tasks[page * TASKS_PAGE : (page + 1) * TASKS_PAGE]
            # Later pages carry only the next tasks; the other arrays are present but empty.
            for key in ("job_clusters", "parameters", "environments"):
                settings[key] = (settings.get(key) or []) if page == 0 else []
        if task_page is None:
            out["has_more"] = more
        elif more:
            out["next_page_token"] = _encode_token(page + 1, f"job:{job['job_id']}")
        return out

    def _jobs_list(self, q: dict[str, Any]) -> dict[str, Any]:
        limit = _int(q, "limit", 20)
        if not 1 <= limit <= JOBS_MAX_LIMIT:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"limit must be between 1 and {JOBS_MAX_LIMIT}"
            )
        name = (q.get("name") or "").lower()
        ids = self._job_order
        if name:
            ids = [i for i in ids if self._jobs[i]["settings"]["name"].lower() == name]
        signature = f"jobs:{name}"
        offset = (
            _decode_token(q["page_token"], signature)
            if q.get("page_token")
            else _int(q, "offset", 0)
        )
        expand = _bool(q, "expand_tasks")
        page = ids[offset : offset + limit]
        out: dict[str, Any] = {
            "jobs": [self._job_json(self._jobs[i], expand=expand) for i in page],
            "has_more": offset + limit < len(ids),
        }
        if out["has_more"]:
            out["next_page_token"] = _encode_token(offset + limit, signature)
        if offset > 0:
            out["prev_page_token"] = _encode_token(max(0, offset - limit), signature)
        return out

    def _jobs_get(self, q: dict[str, Any]) -> dict[str, Any]:
        job_id = _int(q, "job_id", None)
        job = self._jobs.get(job_id) if job_id is not None else None
        if job is None:
            raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Job {job_id} does not exist.")
        page = _decode_token(q.get("page_token"), f"job:{job_id}")
        return self._job_json(job, expand=True, task_page=page)

    # ------------------------------------------------------------------ runs
    def _history_run_json(
        self, run: dict[str, Any], *, expand: bool, task_page: int | None = None
    ) -> dict[str, Any]:
        job = self._jobs[run["job_id"]]
        settings = job["settings"]
        start, duration = int(run["start_time"]), int(run.get("duration_ms", 0))
        result = run.get("result_state", "SUCCESS")
        life = run.get("life_cycle_state", "TERMINATED")
        state: dict[str, Any] = {
            "life_cycle_state": life,
            "result_state": result,
            "state_message": "" if result == "SUCCESS" else f"Run {result.lower()}",
            "user_cancelled_or_timedout": result in ("CANCELED", "TIMEDOUT"),
        }
        if life in ACTIVE:
            state = {"life_cycle_state": life, "state_message": "In run"}
        out: dict[str, Any] = {
            "job_id": run["job_id"],
            "run_id": run["run_id"],
            "number_in_job": run["run_id"],
            "run_name": settings["name"],
            "run_type": run.get("run_type", "JOB_RUN"),
            "creator_user_name": job.get("creator_user_name", ""),
            "start_time": start,
            "end_time": start + duration,
            "run_duration": duration,
            "setup_duration": 0,
            "execution_duration": duration,
            "cleanup_duration": 0,
            "state": state,
        }
        if life in ACTIVE:
            for key in ("end_time", "run_duration", "execution_duration", "cleanup_duration"):
                del out[key]
        if expand:
            version = run.get("spark_version")
            clusters = []
            for jc in settings.get("job_clusters", []):
                cluster = dict(jc["new_cluster"])
                if version:
                    cluster["spark_version"] = version
                clusters.append({"job_cluster_key": jc["job_cluster_key"], "new_cluster": cluster})
            tasks = []
            for i, task in enumerate(settings.get("tasks", [])):
                t = {k: v for k, v in task.items() if k not in ("new_cluster",)}
                if "new_cluster" in task:
                    t["new_cluster"] = dict(task["new_cluster"])
                    if version:
                        t["new_cluster"]["spark_version"] = version
                t.update(
                    run_id=run["run_id"] * 100 + i + 1,
                    start_time=start,
                    end_time=start + duration,
                    run_duration=duration,
                    state=state,
                )
                tasks.append(t)
            out["job_clusters"] = clusters
            out["tasks"] = tasks
            out["has_more"] = False
            if len(tasks) > TASKS_PAGE:
                page = task_page or 0
                out["tasks"] = tasks[page * TASKS_PAGE : (page + 1) * TASKS_PAGE]
                more = len(tasks) > (page + 1) * TASKS_PAGE
                for key in ("job_clusters", "job_parameters", "repair_history"):
                    out[key] = (out.get(key) or []) if page == 0 else []
                if task_page is None:
                    out["has_more"] = more
                else:
                    out.pop("has_more")
                    if more:
                        out["next_page_token"] = _encode_token(page + 1, f"run:{run['run_id']}")
        return out

    def _submitted_state(self, sub: _Submitted) -> tuple[str, str, str, int | None]:
        """(life cycle, result, message, end ms) from how long ago the run was submitted."""
        now = time.monotonic()
        if sub.cancelled_at is not None:
            end = sub.start_ms + int((sub.cancelled_at - sub.created) * 1000)
            return "TERMINATED", "CANCELED", "Run cancelled by user", end
        elapsed = sub.gets if self.stepped else now - sub.created
        if elapsed < sub.pending_s:
            return "PENDING", "", "Waiting for cluster", None
        if elapsed < sub.pending_s + sub.running_s:
            return "RUNNING", "", "In run", None
        end = sub.start_ms + int((sub.pending_s + sub.running_s) * 1000)
        if sub.error:
            return "TERMINATED", "FAILED", sub.error, end
        output = self._output_for(sub)
        if output is None:
            return "TERMINATED", "FAILED", "the scenario defines no output for this runtime", end
        result = output.get("result_state", "SUCCESS")
        return "TERMINATED", result, "" if result == "SUCCESS" else output.get("error", result), end

    def _submitted_json(self, sub: _Submitted, *, expand: bool = True) -> dict[str, Any]:
        life, result, message, end = self._submitted_state(sub)
        state: dict[str, Any] = {"life_cycle_state": life, "state_message": message}
        if result:
            state["result_state"] = result
        out: dict[str, Any] = {
            "run_id": sub.run_id,
            "run_name": sub.run_name,
            "run_type": "SUBMIT_RUN",
            "start_time": sub.start_ms,
            "state": state,
        }
        if end is not None:
            out["end_time"] = end
            out["run_duration"] = end - sub.start_ms
        if expand:
            out["tasks"] = [
                {**task, "run_id": task_run_id, "state": state, "start_time": sub.start_ms}
                for task, task_run_id in zip(sub.tasks, sub.task_run_ids, strict=True)
            ]
            out["has_more"] = False
        return out

    def _runs_list(self, q: dict[str, Any]) -> dict[str, Any]:
        limit = _int(q, "limit", 20)
        if limit == 0:
            limit = RUNS_MAX_LIMIT
        if not 1 <= limit <= RUNS_MAX_LIMIT:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", f"limit must be between 1 and {RUNS_MAX_LIMIT}"
            )
        active_only, completed_only = _bool(q, "active_only"), _bool(q, "completed_only")
        if active_only and completed_only:
            raise ApiError(
                400, "INVALID_PARAMETER_VALUE", "active_only and completed_only cannot both be true"
            )
        job_id = _int(q, "job_id", None)
        start_from, start_to = _int(q, "start_time_from", None), _int(q, "start_time_to", None)
        run_type = q.get("run_type")
        expand = _bool(q, "expand_tasks")
        signature = (
            f"runs:{job_id}:{active_only}:{completed_only}:{start_from}:{start_to}:{run_type}"
        )
        offset = (
            _decode_token(q["page_token"], signature)
            if q.get("page_token")
            else _int(q, "offset", 0)
        )
        # Active runs come first (newest), then finished history: submitted one-time runs
        # (they belong to no job) and job runs the scenario marks active.
        with self._lock:
            submitted = sorted(self._submitted.values(), key=lambda s: -s.start_ms)
            active_runs = list(self._active_runs)
        head: list[dict[str, Any]] = []
        if not completed_only and run_type in (None, "JOB_RUN"):
            for run in active_runs:
                if job_id is not None and run["job_id"] != job_id:
                    continue
                if start_from is not None and run["start_time"] < start_from:
                    continue
                if start_to is not None and run["start_time"] > start_to:
                    continue
                head.append(self._history_run_json(run, expand=expand))
        if job_id is None and run_type in (None, "SUBMIT_RUN"):
            for sub in submitted:
                if start_from is not None and sub.start_ms < start_from:
                    continue
                if start_to is not None and sub.start_ms > start_to:
                    continue
                life = self._submitted_state(sub)[0]
                if (active_only and life not in ACTIVE) or (completed_only and life in ACTIVE):
                    continue
                head.append(self._submitted_json(sub, expand=expand))
        if active_only or run_type == "SUBMIT_RUN":
            runs, lo, hi = [], 0, 0
        else:
            with self._lock:
                runs = self._runs if job_id is None else self._runs_by_job.get(job_id, [])
                keys = (
                    self._neg_starts if job_id is None else self._neg_starts_by_job.get(job_id, [])
                )
            lo = 0 if start_to is None else bisect.bisect_left(keys, -start_to)
            hi = len(runs) if start_from is None else bisect.bisect_right(keys, -start_from)
        total = len(head) + max(0, hi - lo)
        page = []
        for i in range(offset, min(offset + limit, total)):
            if i < len(head):
                page.append(head[i])
            else:
                page.append(self._history_run_json(runs[lo + i - len(head)], expand=expand))
        out: dict[str, Any] = {"runs": page, "has_more": offset + limit < total}
        if out["has_more"]:
            out["next_page_token"] = _encode_token(offset + limit, signature)
        if offset > 0:
            out["prev_page_token"] = _encode_token(max(0, offset - limit), signature)
        return out

    def _find_run(self, run_id: int | None) -> tuple[str, Any]:
        with self._lock:
            if run_id in self._submitted:
                return "submitted", self._submitted[run_id]
            if run_id in self._task_parent:
                return "task", self._submitted[self._task_parent[run_id]]
            if run_id in self._runs_by_id:
                return "history", self._runs_by_id[run_id]
        raise ApiError(404, "RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist.")

    def _runs_get(self, q: dict[str, Any]) -> dict[str, Any]:
        run_id = _int(q, "run_id", None)
        kind, found = self._find_run(run_id)
        if kind == "history":
            page = _decode_token(q.get("page_token"), f"run:{run_id}")
            return self._history_run_json(found, expand=True, task_page=page)
        with self._lock:
            parent = self._submitted_json(found)
            found.gets += 1
        if kind == "task":
            task = next(t for t in parent["tasks"] if t["run_id"] == run_id)
            return {**parent, **task, "run_id": run_id, "parent_run_id": found.run_id}
        return parent

    def _runs_get_output(self, q: dict[str, Any]) -> dict[str, Any]:
        run_id = _int(q, "run_id", None)
        kind, found = self._find_run(run_id)
        if kind != "task":
            raise ApiError(
                400,
                "INVALID_PARAMETER_VALUE",
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead.",
            )
        life, result, message, _end = self._submitted_state(found)
        out: dict[str, Any] = {"metadata": self._runs_get({"run_id": str(run_id)})}
        if life != "TERMINATED":
            return out
        output = self._output_for(found) or {}
        if result == "SUCCESS":
            logs = output.get("logs")
            if logs is None:
                logs = json.dumps(output.get("probe", {}), sort_keys=True)
            out["logs"] = logs
            out["logs_truncated"] = False
        elif result != "CANCELED":
            out["error"] = message
            out["error_trace"] = f"RuntimeError: {message}"
            if output.get("logs") is not None:  # a failed python task still has its stdout
                out["logs"] = output["logs"]
                out["logs_truncated"] = False
        return out

    def _output_for(self, sub: _Submitted) -> dict[str, Any] | None:
        """What a submitted run prints: the scenario's output for its python file on that
        runtime (``outputs[version]["files"][python_file]``) when given, else the runtime's."""
        output = self.scenario.outputs.get(sub.spark_version)
        if output is None:
            return None
        python_file = (sub.tasks[0].get("spark_python_task") or {}).get("python_file")
        files = output.get("files")
        if isinstance(files, dict) and python_file in files:
            return files[python_file]
        return output

    def _runs_submit(self, body: dict[str, Any]) -> dict[str, Any]:
        tasks = body.get("tasks") or []
        if not tasks:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "At least one task is required.")
        token = body.get("idempotency_token")
        with self._lock:
            if token and token in self._idempotency:
                return {"run_id": self._idempotency[token]}
        versions = []
        for task in tasks:
            if not task.get("task_key"):
                raise ApiError(400, "INVALID_PARAMETER_VALUE", "Every task needs a task_key.")
            version = (task.get("new_cluster") or {}).get("spark_version")
            if not version:
                raise ApiError(
                    400,
                    "INVALID_PARAMETER_VALUE",
                    "Missing required field: new_cluster.spark_version",
                )
            if version not in self.scenario.spark_version_keys:
                raise ApiError(400, "INVALID_PARAMETER_VALUE", f"Invalid spark version {version}.")
            versions.append(version)
        error = ""
        python = tasks[0].get("spark_python_task") or {}
        if python.get("source") == "WORKSPACE":
            with self._lock:
                if python.get("python_file") not in self.files:
                    error = f"FileNotFoundError: {python.get('python_file')} does not exist"
        with self._lock:
            run_id = self._next_run_id
            task_ids = [run_id + 1 + i for i in range(len(tasks))]
            self._next_run_id += 1 + len(tasks)
            sub = _Submitted(
                run_id=run_id,
                task_run_ids=task_ids,
                run_name=str(body.get("run_name") or "Untitled"),
                tasks=[dict(t) for t in tasks],
                spark_version=versions[0],
                created=time.monotonic(),
                start_ms=int(time.time() * 1000),
                pending_s=self.pending_s,
                running_s=self.running_s,
                error=error,
            )
            self._submitted[run_id] = sub
            for task_id in task_ids:
                self._task_parent[task_id] = run_id
            if token:
                self._idempotency[token] = run_id
        return {"run_id": run_id}

    def _runs_cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        run_id = body.get("run_id")
        kind, found = self._find_run(run_id if isinstance(run_id, int) else None)
        if kind == "history":
            return {}  # cancelling a finished run is a no-op, as in the real API
        with self._lock:
            if self._submitted_state(found)[0] in ACTIVE:
                found.cancelled_at = time.monotonic()
        return {}

    def _workspace_import(self, body: dict[str, Any]) -> dict[str, Any]:
        path = body.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "path must be an absolute path")
        try:
            content = base64.b64decode(body.get("content") or "", validate=True)
        except ValueError:
            raise ApiError(400, "INVALID_PARAMETER_VALUE", "content must be base64") from None
        with self._lock:
            if path in self.files and not body.get("overwrite"):
                raise ApiError(400, "RESOURCE_ALREADY_EXISTS", f"Path ({path}) already exists.")
            self.files[path] = content
        return {}


# ------------------------------------------------------------------------------ HTTP plumbing
def _handler_for(sim: WorkspaceSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's session expects
        # Headers and body go out as separate writes; with Nagle on, the client's delayed ACK
        # would add ~40 ms to every response.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: tests and the demo print their own progress

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            split = urlsplit(self.path)
            path = split.path
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if path == "/.well-known/databricks-config":
                self._send(404, {"error_code": "NOT_FOUND", "message": "Not Found"})
                return
            role = self._role()
            if path.startswith("/_sim/"):
                self._control(method, path, raw, role)
                return
            sim.requests[path] += 1
            fault = sim.faults.take()
            if fault and fault[0] == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            delay = sim.faults.delay_s
            if delay > 0:
                time.sleep(delay)
            if fault:
                _, status, retry_after = fault
                code = "TOO_MANY_REQUESTS" if status == 429 else "TEMPORARILY_UNAVAILABLE"
                if status == 500:
                    code = "INTERNAL_ERROR"
                headers = {"Retry-After": str(retry_after)} if status in (429, 503) else {}
                self._send(status, {"error_code": code, "message": "simulated fault"}, headers)
                return
            if role is None:
                self._send(
                    401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
                )
                return
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("body is not an object")
            except ValueError as exc:
                self._send(400, {"error_code": "MALFORMED_REQUEST", "message": str(exc)})
                return
            try:
                self._send(200, sim.handle(method, path, query, body, role))
            except ApiError as err:
                self._send(err.status, {"error_code": err.code, "message": err.message})
            except Exception as exc:  # a simulator bug: answer 500 rather than drop the client
                self._send(500, {"error_code": "INTERNAL_ERROR", "message": repr(exc)})

        def _role(self) -> str | None:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return None
            return sim.scenario.tokens.get(auth.removeprefix("Bearer ").strip())

        def _control(self, method: str, path: str, raw: bytes, role: str | None) -> None:
            if role != "admin":
                self._send(401, {"error_code": "UNAUTHENTICATED", "message": "admin token needed"})
                return
            if method == "POST" and path == "/_sim/faults":
                try:
                    sim.faults.set(**json.loads(raw or b"{}"))
                except (ValueError, TypeError) as exc:
                    self._send(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(exc)})
                    return
                self._send(200, sim.faults.snapshot())
            elif method == "GET" and path == "/_sim/stats":
                self._send(200, {"requests": dict(sim.requests), "faults": sim.faults.snapshot()})
            else:
                self._send(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": path})

        def _send(
            self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (timeout); nothing to tell it

    return Handler


def _ws_path(path: str) -> str:
    """Workspace paths in the API's form: ``/Workspace/Users/x`` and ``/Users/x`` are one."""
    path = "/" + path.strip("/")
    if path.startswith("/Workspace/"):
        return path.removeprefix("/Workspace")
    return path


def _dbfs_path(path: str) -> str:
    return "/" + path.removeprefix("dbfs:").strip("/")


def _int(q: dict[str, Any], key: str, default: int | None) -> Any:
    value = q.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", f"{key} must be an integer") from None


def _bool(q: dict[str, Any], key: str) -> bool:
    value = q.get(key)
    return value is True or str(value).lower() == "true"


def _encode_token(offset: int, signature: str) -> str:
    raw = json.dumps({"o": offset, "s": signature}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str | None, signature: str) -> int:
    """Page tokens are opaque to clients; a token from another listing is refused, as real."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
        if data["s"] != signature or offset < 0:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "INVALID_PARAMETER_VALUE", "Invalid page token.") from None
    return offset
