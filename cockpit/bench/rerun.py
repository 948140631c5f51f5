"""Shadow re-runs: a pipeline's job re-run on the target runtime, kept apart from production.

A shadow re-run submits the job's tasks as a one-time run (``jobs/runs/submit``) with every task's
cluster ``spark_version`` overridden to the target runtime. It is marked three ways so it can never
pass for a production run: it is a ``SUBMIT_RUN`` (not a run of the job), its run name starts with
``[cockpit-shadow]``, and every cluster carries the custom tag ``cockpit_shadow=true`` (which the
run history keeps). The cockpit follows the runs to completion, reporting progress, and records
each successful run's duration as a ``shadow`` benchmark sample on the target runtime.
"""

from __future__ import annotations

import contextlib
import copy
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cockpit.bench.data import DURATION, MetricDef, Sample, record_samples
from cockpit.errors import CockpitError, ReadOnlyError

SHADOW_TAG = "cockpit_shadow"
DEFAULT_RERUNS = 3
RUN_NAME_PREFIX = "[cockpit-shadow]"
_KEY = re.compile(r"^\d+\.\d+\.x-")


class RunClient(Protocol):
    """What a shadow re-run needs from the Databricks adapter."""

    def get_job_settings(self, job_id: int) -> dict[str, Any]: ...

    def submit_run(
        self, *, run_name: str, tasks: list[dict[str, Any]], idempotency_token: str
    ) -> int: ...

    def get_run(self, run_id: int) -> Any: ...  # cockpit.databricks.models.RunStatus

    def cancel_run(self, run_id: int) -> None: ...


@dataclass(frozen=True)
class ShadowRun:
    run_id: int
    run_name: str
    state: str  # submitted, running, succeeded, failed, cancelled
    duration_s: float | None = None
    message: str = ""


@dataclass
class RerunResult:
    pipeline: str
    runtime: str
    spark_version: str
    batch: str
    runs: list[ShadowRun] = field(default_factory=list)
    samples_added: int = 0

    @property
    def succeeded(self) -> int:
        return sum(1 for r in self.runs if r.state == "succeeded")


# ------------------------------------------------------------------------------ pure parts
def target_spark_version(runtime: str, original: str) -> str:
    """The spark_version key of ``runtime`` closest to the task's own (CPU/GPU, Scala version).

    ``runtime`` may also be a spark_version key itself (a custom or non-bundled runtime).
    """
    from cockpit.runtimes.manifest import bundled_ids, load_bundled

    if runtime not in bundled_ids():
        if _KEY.match(runtime):
            return runtime
        raise CockpitError(
            f"{runtime!r} is neither a bundled runtime id (e.g. 16.4-lts-ml) nor a "
            "spark_version key (e.g. 16.4.x-cpu-ml-scala2.12)"
        )
    keys = list(load_bundled(runtime).spark_version_keys)
    if not keys:
        raise CockpitError(f"runtime {runtime} lists no spark_version keys")
    gpu = "gpu" in original
    scala = re.search(r"scala(\d+\.\d+)", original)

    def score(key: str) -> tuple[int, int]:
        return (
            int(("gpu" in key) == gpu),
            int(scala is not None and f"scala{scala.group(1)}" in key),
        )

    return max(keys, key=score)  # max keeps the first of equals: the manifest's own order


def shadow_tasks(settings: dict[str, Any], runtime: str) -> tuple[list[dict[str, Any]], str]:
    """The job's tasks as one-time-run tasks on ``runtime``; returns (tasks, spark_version).

    Job clusters are inlined as each task's ``new_cluster`` (a one-time run has no job
    clusters); a task on an existing all-purpose cluster cannot change runtime, so it is refused.
    """
    tasks = settings.get("tasks") or []
    if not tasks:
        raise CockpitError("the job has no tasks to re-run")
    clusters = {
        c.get("job_cluster_key"): c.get("new_cluster", {}) for c in settings.get("job_clusters", [])
    }
    out, chosen = [], ""
    for task in tasks:
        t = copy.deepcopy(task)
        key = t.get("task_key", "?")
        if t.get("existing_cluster_id"):
            raise CockpitError(
                f"task {key!r} runs on the existing cluster {t['existing_cluster_id']}, whose "
                "runtime a shadow run cannot change; give the task a job cluster first"
            )
        cluster_key = t.pop("job_cluster_key", None)
        if cluster_key is not None:
            if cluster_key not in clusters:
                raise CockpitError(f"task {key!r} uses an undefined job cluster {cluster_key!r}")
            t["new_cluster"] = copy.deepcopy(clusters[cluster_key])
        if "new_cluster" not in t:
            raise CockpitError(
                f"task {key!r} has no cluster (serverless); a shadow run needs a cluster runtime"
            )
        cluster = t["new_cluster"]
        cluster["spark_version"] = target_spark_version(runtime, cluster.get("spark_version", ""))
        cluster["custom_tags"] = {**cluster.get("custom_tags", {}), SHADOW_TAG: "true"}
        chosen = chosen or cluster["spark_version"]
        # A one-time run's tasks may depend only on tasks of the same run: keep depends_on as is.
        out.append(t)
    return out, chosen


def shadow_run_name(pipeline: str, index: int, count: int) -> str:
    return f"{RUN_NAME_PREFIX} {pipeline} {index}/{count}"


# ------------------------------------------------------------------------------ the workspace
class AdapterRunClient:
    """:class:`RunClient` over the Databricks feature's ``WorkspaceAdapter`` (databricks-sdk)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    def get_job_settings(self, job_id: int) -> dict[str, Any]:
        # The full settings (job clusters, task JSON), which the adapter's JobDefinition trims.
        job = self.adapter.guard(f"read job {job_id}", lambda: self.adapter.client.jobs.get(job_id))
        return job.settings.as_dict() if job.settings else {}

    def find_job(self, name: str) -> int | None:
        def fetch() -> int | None:
            for job in self.adapter.client.jobs.list(name=name, limit=25):
                if job.settings and job.settings.name == name:
                    return int(job.job_id)
            return None

        return self.adapter.guard(f"find job {name!r}", fetch)

    def submit_run(
        self, *, run_name: str, tasks: list[dict[str, Any]], idempotency_token: str
    ) -> int:
        return self.adapter.submit_run(run_name, tasks, idempotency_token=idempotency_token)

    def get_run(self, run_id: int) -> Any:
        return self.adapter.get_run(run_id)

    def cancel_run(self, run_id: int) -> None:
        self.adapter.cancel_run(run_id)


# ------------------------------------------------------------------------------ store parts
def job_id_for(store, pipeline: str, client: Any = None) -> int:
    """The job's id from the workspace inventory in the state file, else asked of the workspace."""
    from cockpit.databricks.inventory import job_id_by_name

    job_id = job_id_by_name(store, pipeline)
    if job_id is not None:
        return job_id
    found = (
        client.find_job(pipeline) if client is not None and hasattr(client, "find_job") else None
    )
    if found is None:
        raise CockpitError(f"no job named {pipeline!r} in the workspace")
    return found


def _record_submitted(store, batch, pipeline, job_id, runtime, run_id, run_name) -> int:
    with store.write() as tx:
        cur = tx.execute(
            "INSERT INTO bench_reruns (batch, pipeline, job_id, runtime, run_id, run_name, state, "
            "submitted_at) VALUES (?, ?, ?, ?, ?, ?, 'submitted', ?)",
            (batch, pipeline, job_id, runtime, run_id, run_name, store.clock()),
        )
        store.append_event(
            "bench.rerun_submitted",
            {"pipeline": pipeline, "runtime": runtime, "run_id": run_id, "batch": batch},
            conn=tx,
        )
        return int(cur.lastrowid or 0)


def _record_state(store, row_id: int, run: ShadowRun) -> None:
    with store.write() as tx:
        tx.execute("UPDATE bench_reruns SET state = ? WHERE id = ?", (run.state, row_id))


def _record_finished(store, row_id, pipeline, runtime, run: ShadowRun, start: float | None) -> int:
    now = store.clock()
    with store.write() as tx:
        tx.execute(
            "UPDATE bench_reruns SET state = ?, message = ?, duration_s = ?, finished_at = ? "
            "WHERE id = ?",
            (run.state, run.message, run.duration_s, now, row_id),
        )
        added = 0
        if run.state == "succeeded" and run.duration_s:
            added = record_samples(
                store,
                [
                    Sample(
                        pipeline=pipeline,
                        metric=DURATION,
                        runtime=runtime,
                        value=run.duration_s,
                        run_ts=start if start is not None else now,
                        origin="shadow",
                        run_ref=str(run.run_id),
                    )
                ],
                metrics=[(pipeline, MetricDef(DURATION, "lower", "s"))],
                conn=tx,
            )
        store.append_event(
            "bench.rerun_finished",
            {
                "pipeline": pipeline,
                "runtime": runtime,
                "run_id": run.run_id,
                "state": run.state,
                "duration_s": run.duration_s,
                "message": run.message,
            },
            conn=tx,
        )
        return added


# ------------------------------------------------------------------------------ the loop
def _state_of(status: Any) -> tuple[str, str]:
    """(our state, message) from a RunStatus."""
    if not status.done:
        return ("running" if status.life_cycle_state == "RUNNING" else "submitted"), ""
    if status.succeeded:
        return "succeeded", ""
    if status.result_state == "CANCELED":
        return "cancelled", status.state_message
    return "failed", status.state_message or status.result_state or status.life_cycle_state


def shadow_rerun(
    store,
    client: RunClient,
    pipeline: str,
    *,
    runtime: str,
    count: int = DEFAULT_RERUNS,
    poll_interval_s: float = 5.0,
    timeout_s: float = 4 * 3600.0,
    progress: Callable[[str], None] = lambda _m: None,
    sleep: Callable[[float], None] = time.sleep,
) -> RerunResult:
    """Submit ``count`` shadow runs of ``pipeline`` on ``runtime`` and follow them to the end.

    All runs are submitted at once (each has its own job cluster, so they do not contend) with an
    idempotency token, so a retried submit never starts a twin. Interrupting (Ctrl-C) cancels the
    runs still going and records them as cancelled.
    """
    if not 1 <= count <= 50:
        raise CockpitError(f"-n must be between 1 and 50 (got {count})")
    if store.readonly:
        # Checked before anything is submitted: a run the cockpit cannot record must not start.
        raise ReadOnlyError(f"{store.path} is open read-only; no shadow run was submitted")
    job_id = job_id_for(store, pipeline, client)
    tasks, spark_version = shadow_tasks(client.get_job_settings(job_id), runtime)
    label = runtime if not _KEY.match(runtime) else _runtime_label(runtime)
    batch = uuid.uuid4().hex[:12]
    result = RerunResult(pipeline, label, spark_version, batch)
    names: dict[int, str] = {}
    pending: dict[int, int] = {}  # run id -> bench_reruns row, for runs not finished yet
    last_state: dict[int, str] = {}
    try:
        for i in range(1, count + 1):
            name = shadow_run_name(pipeline, i, count)
            run_id = client.submit_run(
                run_name=name, tasks=tasks, idempotency_token=f"cockpit-shadow-{batch}-{i}"
            )
            pending[run_id] = _record_submitted(store, batch, pipeline, job_id, label, run_id, name)
            names[run_id], last_state[run_id] = name, "submitted"
            progress(f"submitted {name} as run {run_id} on {spark_version}")
        deadline = time.monotonic() + timeout_s
        while pending:
            for run_id in list(pending):
                status = client.get_run(run_id)
                state, message = _state_of(status)
                changed = state != last_state[run_id]
                if changed:
                    last_state[run_id] = state
                    progress(f"run {run_id}: {state}{f' ({message})' if message else ''}")
                if state in ("submitted", "running"):
                    if changed:  # write on change only: a poll that saw nothing new writes nothing
                        _record_state(
                            store, pending[run_id], ShadowRun(run_id, names[run_id], state)
                        )
                    continue
                run = ShadowRun(run_id, names[run_id], state, status.duration_s, message)
                result.samples_added += _record_finished(
                    store, pending.pop(run_id), pipeline, label, run, status.start
                )
                result.runs.append(run)
            if pending:
                if time.monotonic() > deadline:
                    raise CockpitError(
                        f"shadow runs still going after {timeout_s:.0f}s were cancelled: "
                        f"{', '.join(map(str, pending))}"
                    )
                sleep(poll_interval_s)
    except BaseException as exc:
        # Ctrl-C, a timeout or a failure part-way: runs whose end the cockpit would not see are
        # cancelled (they cost cluster time and their durations could not be recorded).
        why = "interrupted by the user" if isinstance(exc, KeyboardInterrupt) else _why(exc)
        _cancel_pending(store, client, pending, names, pipeline, label, why, result)
        raise
    result.runs.sort(key=lambda r: r.run_id)
    return result


def _why(exc: BaseException) -> str:
    return exc.message if isinstance(exc, CockpitError) else f"{type(exc).__name__}: {exc}"


def _cancel_pending(store, client, pending, names, pipeline, label, why, result) -> None:
    for run_id, row_id in list(pending.items()):
        # Best effort: the run is recorded as given up below either way.
        with contextlib.suppress(CockpitError):
            client.cancel_run(run_id)
        run = ShadowRun(run_id, names[run_id], "cancelled", None, why)
        _record_finished(store, row_id, pipeline, label, run, None)
        result.runs.append(run)
        pending.pop(run_id)


def _runtime_label(spark_version: str) -> str:
    from cockpit.databricks.runtimes import runtime_for

    return runtime_for(spark_version)


@dataclass(frozen=True)
class RerunRecord:
    """One shadow re-run as recorded (a row of ``bench_reruns``)."""

    id: int
    batch: str
    pipeline: str
    job_id: int | None
    runtime: str
    run_id: int | None
    run_name: str
    state: str  # submitted, running, succeeded, failed, cancelled
    message: str
    duration_s: float | None
    submitted_at: float
    finished_at: float | None


def reruns(store, *, pipeline: str | None = None, as_of: float | None = None) -> list[RerunRecord]:
    """Shadow re-runs recorded in the state file, newest first (for the tab and reports)."""
    sql = "SELECT * FROM bench_reruns WHERE 1 = 1"
    params: list[Any] = []
    if pipeline is not None:
        sql += " AND pipeline = ?"
        params.append(pipeline)
    if as_of is not None:
        sql += " AND submitted_at <= ?"
        params.append(as_of)
    rows = store.query(sql + " ORDER BY submitted_at DESC, id DESC", params)
    return [RerunRecord(**dict(r)) for r in rows]
