"""The cockpit's only door to a Databricks workspace: databricks-sdk's ``WorkspaceClient``.

Auth is the SDK's own unified auth (a profile in ``~/.databrickscfg`` or ``DATABRICKS_CONFIG_FILE``,
``DATABRICKS_HOST``/``DATABRICKS_TOKEN``, or host + token given here). The token is read at the
moment of connecting, registered with :mod:`cockpit.secrets` so it is scrubbed from everything
written, and never kept by the cockpit beyond the SDK's own config object.

Read calls: spark versions, jobs (all pages, with tasks), one job, runs (all pages, with the
runtime each ran on), clusters. Write calls, only on an explicit user action: submit / cancel a
one-time run (probe, shadow re-run) and upload the file such a run executes.

Every SDK failure becomes a one-line :class:`~cockpit.errors.CockpitError` naming what to fix.
"""

from __future__ import annotations

import base64
import configparser
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cockpit import secrets
from cockpit.databricks.errors import WorkspaceError, WorkspaceInputError
from cockpit.databricks.models import (
    ClusterInfo,
    JobDefinition,
    JobRun,
    RunOutput,
    RunStatus,
    SparkVersion,
    TaskDefinition,
)
from cockpit.databricks.runtimes import runtime_for

T = TypeVar("T")
JOBS_PAGE = 100  # the API's maximum for jobs/list
RUNS_PAGE = 25  # the API's maximum for runs/list
TASK_KINDS = (
    ("notebook_task", "notebook", "notebook_path"),
    ("spark_python_task", "python", "python_file"),
    ("python_wheel_task", "wheel", "package_name"),
    ("spark_jar_task", "jar", "main_class_name"),
    ("sql_task", "sql", "warehouse_id"),
    ("pipeline_task", "pipeline", "pipeline_id"),
    ("run_job_task", "run_job", "job_id"),
    ("dbt_task", "dbt", "project_directory"),
)


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach the workspace. Nothing here is a secret unless ``token`` is set, and that
    value is only handed to the SDK."""

    host: str | None = None
    token: str | None = None
    profile: str | None = None
    config_file: str | None = None
    retry_timeout_s: int = 60  # how long the SDK keeps retrying 429/503/dropped connections
    http_timeout_s: int = 30  # one request


class WorkspaceAdapter:
    def __init__(self, client: Any, host: str) -> None:
        self._client = client
        self.host = host

    # ------------------------------------------------------------------ connecting
    @classmethod
    def connect(cls, options: ConnectOptions | None = None) -> WorkspaceAdapter:
        options = options or ConnectOptions()
        _preflight(options)
        _quiet_host_metadata_warning()
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.config import Config

        secrets.register_secret(options.token)
        kwargs: dict[str, Any] = {
            "retry_timeout_seconds": options.retry_timeout_s,
            "http_timeout_seconds": options.http_timeout_s,
        }
        for key, value in (
            ("host", options.host),
            ("token", options.token),
            ("profile", options.profile),
            ("config_file", options.config_file),
        ):
            if value:
                kwargs[key] = value
        try:
            config = Config(**kwargs)
        except ValueError as exc:
            secrets.register_secret(_token_from_env_or_profile(options))
            reason = _first_line(exc)
            if "cannot configure default credentials" in reason:
                reason = "no credentials found"
            else:
                reason = reason.split(". Config:")[0]
            raise WorkspaceInputError(
                f"cannot set up Databricks auth: {reason} (set [databricks] profile or host in "
                "cockpit.toml, or DATABRICKS_HOST + DATABRICKS_TOKEN)"
            ) from None
        secrets.register_secret(config.token)
        return cls(WorkspaceClient(config=config), config.host or "")

    @property
    def client(self) -> Any:
        """The SDK client, for features that need a call the adapter does not wrap yet."""
        return self._client

    # ------------------------------------------------------------------ reads
    def spark_versions(self) -> list[SparkVersion]:
        result = self._call("list spark versions", self._client.clusters.spark_versions)
        return [
            SparkVersion(key=v.key or "", name=v.name or "", runtime=runtime_for(v.key))
            for v in result.versions or []
        ]

    def list_jobs(self) -> list[JobDefinition]:
        def fetch() -> list[JobDefinition]:
            out = []
            for job in self._pages("/api/2.2/jobs/list", "jobs", {"limit": JOBS_PAGE}):
                if job.get("has_more"):
                    # More than 100 tasks or job clusters: jobs/get pages through the rest.
                    full = self._client.jobs.get(job["job_id"])
                    job = {**job, "settings": full.settings.as_dict() if full.settings else {}}
                out.append(job_from_json(job))
            return out

        return self._call("list jobs", fetch)

    def get_job(self, job_id: int) -> JobDefinition:
        return self._call(f"read job {job_id}", lambda: job_from_sdk(self._client.jobs.get(job_id)))

    def list_runs(
        self,
        *,
        job_id: int | None = None,
        start_time_from: float | None = None,
        completed_only: bool = True,
        active_only: bool = False,
        job_names: dict[int, str] | None = None,
    ) -> list[JobRun]:
        """Job runs newest first, every page. ``start_time_from`` in seconds since the epoch."""
        names = job_names or {}

        def fetch() -> list[JobRun]:
            return list(
                self.iter_runs(
                    job_id=job_id,
                    start_time_from=start_time_from,
                    completed_only=completed_only,
                    active_only=active_only,
                    job_names=names,
                )
            )

        return self._call("list job runs", fetch)

    def iter_runs(
        self,
        *,
        job_id: int | None = None,
        start_time_from: float | None = None,
        completed_only: bool = True,
        active_only: bool = False,
        job_names: dict[int, str] | None = None,
    ) -> Iterator[JobRun]:
        """Like :meth:`list_runs` but streaming (call it inside :meth:`guard`)."""
        names = job_names or {}
        query: dict[str, Any] = {"limit": RUNS_PAGE}
        if job_id is not None:
            query["job_id"] = job_id
        if completed_only:
            query["completed_only"] = "true"
        if active_only:
            query["active_only"] = "true"
        if start_time_from is not None:
            query["start_time_from"] = int(start_time_from * 1000)
        for run in self._pages("/api/2.2/jobs/runs/list", "runs", query):
            if run.get("job_id") is None:
                continue  # one-time submitted runs belong to no job
            if run.get("has_more"):
                # More than 100 tasks: runs/get pages through the rest (as the SDK's own
                # list_runs does).
                run = {**run, **self._client.jobs.get_run(run["run_id"]).as_dict()}
            yield run_from_json(run, names)

    def _pages(self, path: str, key: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a ``page_token`` listing, through the SDK's API client (its auth,
        retries and error mapping) but as plain JSON: on 100,000 runs the SDK's typed objects
        cost more than the requests, and the cockpit needs a handful of fields of each."""
        query = {**query, "expand_tasks": "true"}
        headers = {"Accept": "application/json"}
        workspace_id = getattr(self._client.config, "workspace_id", None)
        if workspace_id:
            headers["X-Databricks-Workspace-Id"] = workspace_id
        while True:
            page = self._client.api_client.do("GET", path, query=query, headers=headers)
            yield from page.get(key) or ()
            token = page.get("next_page_token")
            if not token:
                return
            query["page_token"] = token

    def list_clusters(self) -> list[ClusterInfo]:
        def fetch() -> list[ClusterInfo]:
            out = []
            for c in self._client.clusters.list():
                out.append(
                    ClusterInfo(
                        cluster_id=c.cluster_id or "",
                        name=c.cluster_name or "",
                        spark_version=c.spark_version or "",
                        runtime=runtime_for(c.spark_version),
                        state=_enum(c.state),
                        source=_enum(c.cluster_source),
                    )
                )
            return out

        return self._call("list clusters", fetch)

    # ------------------------------------------------------------------ one-time runs
    def upload_file(self, path: str, content: bytes) -> None:
        """Put a file in the workspace (the script a one-time run executes)."""
        from databricks.sdk.service.workspace import ImportFormat

        encoded = base64.b64encode(content).decode()
        self._call(
            f"upload {path}",
            lambda: self._client.workspace.import_(
                path, content=encoded, format=ImportFormat.AUTO, overwrite=True
            ),
        )

    def submit_run(
        self,
        run_name: str,
        tasks: list[dict[str, Any]],
        *,
        idempotency_token: str | None = None,
        timeout_s: int | None = None,
    ) -> int:
        """Submit a one-time run; ``tasks`` in the Jobs API's JSON shape. Returns its run id."""
        from databricks.sdk.service.jobs import SubmitTask

        submit_tasks = [SubmitTask.from_dict(t) for t in tasks]
        waiter = self._call(
            f"submit run {run_name!r}",
            lambda: self._client.jobs.submit(
                run_name=run_name,
                tasks=submit_tasks,
                idempotency_token=idempotency_token,
                timeout_seconds=timeout_s,
            ),
        )
        return int(waiter.run_id)

    def get_run(self, run_id: int) -> RunStatus:
        run = self._call(f"read run {run_id}", lambda: self._client.jobs.get_run(run_id))
        state = run.state
        start = run.start_time / 1000 if run.start_time else None
        end = run.end_time / 1000 if run.end_time else None
        duration = run.run_duration / 1000 if run.run_duration else None
        return RunStatus(
            run_id=run_id,
            life_cycle_state=_enum(state.life_cycle_state) if state else "",
            result_state=_enum(state.result_state) if state else "",
            state_message=(state.state_message or "") if state else "",
            start=start,
            end=end,
            duration_s=duration,
            task_run_ids=tuple(t.run_id for t in run.tasks or () if t.run_id),
        )

    def get_run_output(self, run_id: int) -> RunOutput:
        """Output of a run; for a multi-task run, of its first task (as the API requires)."""
        status = self.get_run(run_id)
        target = status.task_run_ids[0] if status.task_run_ids else run_id
        out = self._call(
            f"read the output of run {run_id}", lambda: self._client.jobs.get_run_output(target)
        )
        return RunOutput(
            run_id=run_id,
            logs=out.logs or "",
            notebook_result=(out.notebook_output.result or "") if out.notebook_output else "",
            error=out.error or "",
            logs_truncated=bool(out.logs_truncated),
        )

    def cancel_run(self, run_id: int) -> None:
        self._call(f"cancel run {run_id}", lambda: self._client.jobs.cancel_run(run_id))

    # ------------------------------------------------------------------ errors
    def guard(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which uses :attr:`client`) with the adapter's error translation."""
        return self._call(what, fn)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:  # translated below; anything unknown is re-raised as is
            raise translate_error(exc, what=what, host=self.host) from None


# ------------------------------------------------------------------------------ translation
def translate_error(exc: BaseException, *, what: str, host: str) -> Exception:
    import requests
    from databricks.sdk import errors

    cause = exc.__cause__ if isinstance(exc, TimeoutError | RuntimeError) else None
    if isinstance(exc, errors.Unauthenticated):
        return WorkspaceError(
            f"{host} refused the token (401) while trying to {what}: check DATABRICKS_TOKEN or "
            "the token of your profile"
        )
    if isinstance(exc, errors.PermissionDenied):
        return WorkspaceError(f"missing permission to {what} on {host} (403): {_first_line(exc)}")
    if isinstance(exc, errors.NotFound):
        return WorkspaceInputError(f"cannot {what} on {host}: {_first_line(exc)}")
    if isinstance(exc, errors.BadRequest):
        return WorkspaceInputError(f"{host} rejected the request to {what}: {_first_line(exc)}")
    if isinstance(exc, errors.TooManyRequests) or isinstance(cause, errors.TooManyRequests):
        return WorkspaceError(
            f"{host} is rate-limiting the cockpit (429) and still was when retries ran out "
            f"trying to {what}; poll less often or try later"
        )
    if isinstance(cause, errors.DatabricksError):
        return WorkspaceError(
            f"{host} kept failing while trying to {what} until retries ran out: "
            f"{_first_line(cause)}"
        )
    if isinstance(exc, errors.DatabricksError):
        return WorkspaceError(f"{host} failed to {what}: {_first_line(exc)}")
    if isinstance(exc, requests.ConnectionError) or isinstance(cause, requests.ConnectionError):
        return WorkspaceError(f"cannot reach {host} to {what}: connection failed (wrong host?)")
    if isinstance(exc, requests.Timeout) or isinstance(cause, requests.Timeout):
        return WorkspaceError(f"{host} did not answer in time to {what}")
    if isinstance(exc, TimeoutError):
        return WorkspaceError(f"{host}: gave up trying to {what}: {_first_line(exc)}")
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _first_line(exc: BaseException) -> str:
    text = secrets.scrub_text(str(exc)).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__


def _enum(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value))


# ------------------------------------------------------------------------------ preflight
class _HostMetadataFilter(logging.Filter):
    """The SDK warns on stderr when a workspace has no /.well-known/databricks-config (older
    workspaces, the simulator); it then uses the explicit config, so the warning is only noise
    that would break the CLI's one-line output."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to automatically resolve config")


_FILTER = _HostMetadataFilter()


def _quiet_host_metadata_warning() -> None:
    logger = logging.getLogger("databricks.sdk")
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)


def _preflight(options: ConnectOptions) -> None:
    """Fail fast on a wrong host: the SDK would retry a refused connection for minutes (its
    host-metadata probe alone, inside ``Config()``, for the whole retry budget).

    One request through ``requests`` with the environment trusted, the HTTP stack the SDK's
    own session is built on: HTTPS_PROXY / HTTP_PROXY / NO_PROXY and REQUESTS_CA_BUNDLE apply
    exactly as they will to every later call (no raw socket that a proxy cannot carry). Any
    HTTP answer, even 404 from the discovery path, means the workspace is there."""
    import requests

    host = options.host or os.environ.get("DATABRICKS_HOST")
    if not host and (options.profile or options.config_file):
        host = _profile_value(options, "host")
    if not host:
        return  # the SDK's own auth resolution will explain what is missing
    if "://" not in host:
        host = f"https://{host}"
    try:
        with requests.Session() as session:
            session.get(
                host.rstrip("/") + "/.well-known/databricks-config",
                timeout=min(10, options.http_timeout_s),
                allow_redirects=False,
            )
    except requests.exceptions.SSLError:
        raise WorkspaceError(
            f"cannot reach {host}: TLS verification failed (a corporate CA? set "
            "REQUESTS_CA_BUNDLE to its bundle)"
        ) from None
    except requests.exceptions.ProxyError:
        raise WorkspaceError(f"cannot reach {host}: the proxy refused or failed") from None
    except requests.ConnectionError:
        raise WorkspaceError(
            f"cannot reach {host}: connection failed (wrong host? behind a proxy, set HTTPS_PROXY)"
        ) from None
    except (requests.RequestException, ValueError):
        return  # a slow or odd answer: the SDK's calls will say what is wrong


def _config_path(options: ConnectOptions) -> Path:
    explicit = options.config_file or os.environ.get("DATABRICKS_CONFIG_FILE")
    return Path(explicit).expanduser() if explicit else Path.home() / ".databrickscfg"


def _profile_value(options: ConnectOptions, key: str) -> str | None:
    path = _config_path(options)
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return None
    profile = options.profile or os.environ.get("DATABRICKS_CONFIG_PROFILE") or "DEFAULT"
    if profile == "DEFAULT":
        return parser.defaults().get(key)
    if not parser.has_section(profile):
        raise WorkspaceInputError(f"no profile [{profile}] in {path}")
    return parser.get(profile, key, fallback=None)


def _token_from_env_or_profile(options: ConnectOptions) -> str | None:
    """So a token that failed to configure is still scrubbed from the error we report."""
    if options.token:
        return options.token
    try:
        return os.environ.get("DATABRICKS_TOKEN") or _profile_value(options, "token")
    except WorkspaceInputError:
        return None


# ------------------------------------------------------------------------------ SDK -> models
def job_from_sdk(job: Any) -> JobDefinition:
    settings = job.settings
    data = settings.as_dict() if settings is not None else {}
    return job_from_json(
        {"job_id": job.job_id, "creator_user_name": job.creator_user_name, "settings": data}
    )


def job_from_json(job: dict[str, Any]) -> JobDefinition:
    """A Jobs API job object (``job_id``, ``creator_user_name``, ``settings``) as a pipeline."""
    settings = job.get("settings") or {}
    clusters = {
        jc.get("job_cluster_key"): jc.get("new_cluster") or {}
        for jc in settings.get("job_clusters") or []
    }
    environments = _environments(settings.get("environments"))
    tasks = []
    git = bool(settings.get("git_source"))
    for task in settings.get("tasks") or []:
        tasks.append(_task_from_json(task, clusters, git=git, environments=environments))
    schedule = (settings.get("schedule") or {}).get("quartz_cron_expression", "")
    run_as = settings.get("run_as") or {}
    owner = run_as.get("user_name") or job.get("creator_user_name") or ""
    return JobDefinition(
        job_id=int(job["job_id"]),
        name=settings.get("name") or f"job-{job['job_id']}",
        owner=owner,
        schedule=schedule,
        tasks=tuple(tasks),
        tags={str(k): str(v) for k, v in (settings.get("tags") or {}).items()},
    )


# The Jobs API allows a handful of environments per job; a hostile definition could hold any
# number of dependencies of any length, and every one is stored with the job.
MAX_DEPENDENCIES = 200
MAX_DEPENDENCY_CHARS = 1000


def _environments(value: Any) -> dict[str, tuple[str, ...]]:
    """A job's serverless environments (``environments[].environment_key`` and
    ``.spec.dependencies``) as key -> dependencies, bounded."""
    out: dict[str, tuple[str, ...]] = {}
    for env in value if isinstance(value, list) else []:
        if not isinstance(env, dict) or not isinstance(env.get("environment_key"), str):
            continue
        spec = env.get("spec")
        deps = spec.get("dependencies") if isinstance(spec, dict) else None
        out[env["environment_key"]] = tuple(
            d[:MAX_DEPENDENCY_CHARS]
            for d in (deps if isinstance(deps, list) else [])[:MAX_DEPENDENCIES]
            if isinstance(d, str)
        )
    return out


def _task_from_json(
    task: dict[str, Any],
    clusters: dict[str, dict[str, Any]],
    *,
    git: bool = False,
    environments: dict[str, tuple[str, ...]] | None = None,
) -> TaskDefinition:
    kind, entry, source = "", "", ""
    for field_name, label, entry_key in TASK_KINDS:
        if task.get(field_name):
            kind, entry = label, str(task[field_name].get(entry_key, ""))
            # The Jobs API: without `source`, a task's code is in Git when the job has a
            # git_source, else in the workspace.
            source = str(task[field_name].get("source") or "")
            if label in ("notebook", "python") and not source and git:
                source = "GIT"
            break
    if task.get("new_cluster"):
        cluster_spec, cluster = task["new_cluster"], "new"
    elif task.get("job_cluster_key"):
        cluster_spec, cluster = clusters.get(task["job_cluster_key"], {}), task["job_cluster_key"]
    else:
        cluster_spec, cluster = {}, str(task.get("existing_cluster_id", ""))
    version = cluster_spec.get("spark_version", "")
    key = task.get("environment_key")
    environment = key if isinstance(key, str) else ""
    return TaskDefinition(
        task_key=task.get("task_key", ""),
        kind=kind,
        entry=entry,
        spark_version=version,
        runtime=runtime_for(version),
        cluster=cluster,
        libraries=tuple(_library(lib) for lib in task.get("libraries") or []),
        init_scripts=tuple(_init_script(s) for s in cluster_spec.get("init_scripts") or []),
        env={str(k): str(v) for k, v in (cluster_spec.get("spark_env_vars") or {}).items()},
        source=source,
        existing_cluster=bool(task.get("existing_cluster_id"))
        and not task.get("new_cluster")
        and not task.get("job_cluster_key"),
        environment=environment,
        dependencies=(environments or {}).get(environment, ()),
    )


def _library(lib: dict[str, Any]) -> str:
    for kind in ("pypi", "maven", "cran"):
        if lib.get(kind):
            spec = lib[kind].get("package") or lib[kind].get("coordinates") or ""
            return f"{kind}:{spec}"
    for kind in ("whl", "jar", "egg", "requirements"):
        if lib.get(kind):
            return f"{kind}:{lib[kind]}"
    return ":".join(f"{k}:{v}" for k, v in sorted(lib.items()))


def _init_script(script: dict[str, Any]) -> str:
    for kind in ("dbfs", "workspace", "volumes", "file", "s3", "abfss", "gcs"):
        if script.get(kind):
            return f"{kind}:{script[kind].get('destination', '')}"
    return ""


def run_from_json(run: dict[str, Any], names: dict[int, str]) -> JobRun:
    """A Jobs API run object (listed with ``expand_tasks``) as a :class:`JobRun`."""
    start = (run.get("start_time") or 0) / 1000
    end = (run.get("end_time") or 0) / 1000
    duration_ms = run.get("run_duration")
    duration = duration_ms / 1000 if duration_ms else max(0.0, end - start)
    version = _run_spark_version(run)
    state = run.get("state") or {}
    job_id = int(run["job_id"])
    tags = {"run_type": run.get("run_type") or "", "run_name": run.get("run_name") or ""}
    return JobRun(
        job_id=job_id,
        run_id=int(run["run_id"]),
        job_name=names.get(job_id) or run.get("run_name") or f"job-{job_id}",
        start=start,
        end=end,
        duration_s=duration,
        result_state=state.get("result_state") or "",
        spark_version=version,
        runtime=runtime_for(version),
        tags={k: v for k, v in tags.items() if v},
    )


def _run_spark_version(run: dict[str, Any]) -> str:
    """The runtime of the run's first task: its own cluster, its job cluster, or the run's."""
    clusters = {
        jc.get("job_cluster_key"): (jc.get("new_cluster") or {}).get("spark_version", "")
        for jc in run.get("job_clusters") or ()
    }
    for task in run.get("tasks") or ():
        own = (task.get("new_cluster") or {}).get("spark_version")
        if own:
            return own
        if task.get("job_cluster_key") and clusters.get(task["job_cluster_key"]):
            return clusters[task["job_cluster_key"]]
    spec = (run.get("cluster_spec") or {}).get("new_cluster") or {}
    if spec.get("spark_version"):
        return spec["spark_version"]
    return next((v for v in clusters.values() if v), "")
