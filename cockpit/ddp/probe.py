"""The DDP smoke probe: does PyTorch distributed training run on a runtime?

On an explicit user action (``cockpit probe ddp``, or ``D`` in the Checklist tab): upload the
probe script (``data/ddp_probe.py``), submit it as a one-time single-node run on the runtime's
spark_version, poll it to the end, read what it printed through jobs/runs/get-output, and
record the result in ``ddp_probes``. A probe on the migration's target closes (or fails) the
checklist item "distributed training runs on the target" of every pipeline that used Horovod
(:mod:`cockpit.ddp.checklist`).

Single node on purpose: TorchDistributor's local mode runs N processes on the driver, which
proves the runtime's torch, its process-group backends and TorchDistributor itself, with no
worker to wait for. Multi-node networking is the pipeline's own shadow run's job
(``cockpit bench rerun``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from cockpit import secrets
from cockpit.databricks.errors import WorkspaceError, WorkspaceInputError
from cockpit.databricks.runs import RunStopped, follow_run
from cockpit.ddp.records import DdpProbeRecord, record_of
from cockpit.errors import CockpitError, ReadOnlyError

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.databricks.models import RunStatus
    from cockpit.store import StateStore

TASK_PATH = "/Shared/.cockpit/ddp_probe.py"
MARKER = "cockpit_ddp_probe"
MAX_OUTPUT_CHARS = 32_000  # what is kept of a run's output: its tail, where the error is
MAX_PROCESSES = 64
INJECTIONS = ("ranks-disagree",)
# Node types for the single node: 4 vCPUs for gloo; 4 GPUs (T4) for up to 4 nccl ranks.
CPU_NODE, GPU_NODE = "i3.xlarge", "g4dn.12xlarge"


class DdpProbeCancelled(CockpitError):
    exit_code = 130


@dataclass(frozen=True)
class DdpProbeOptions:
    processes: int = 2
    gpu: bool = False  # nccl on a GPU node instead of gloo on CPU
    steps: int = 5
    node_type_id: str | None = None
    poll_interval_s: float = 5.0
    timeout_s: float = 1800.0  # a cold cluster takes minutes; a stuck one is cut off
    inject: str | None = None  # "ranks-disagree": prove a disagreement is caught and recorded

    @property
    def backend(self) -> str:
        return "nccl" if self.gpu else "gloo"


def script_source() -> bytes:
    return resources.files("cockpit.ddp").joinpath("data/ddp_probe.py").read_bytes()


def script_parameters(options: DdpProbeOptions) -> list[str]:
    params = [
        "--processes",
        str(options.processes),
        "--backend",
        options.backend,
        "--steps",
        str(options.steps),
        "--timeout",
        str(int(options.timeout_s)),
    ]
    if options.inject:
        params += ["--inject", options.inject]
    return params


def probe_tasks(spark_version: str, options: DdpProbeOptions) -> list[dict[str, Any]]:
    """One single-node task running the uploaded script; TorchDistributor's local mode needs
    no workers, and ``spark.master local[*]`` is how a single-node cluster is declared."""
    node = options.node_type_id or (GPU_NODE if options.gpu else CPU_NODE)
    return [
        {
            "task_key": "cockpit_ddp_probe",
            "new_cluster": {
                "spark_version": spark_version,
                "node_type_id": node,
                "num_workers": 0,
                "spark_conf": {
                    "spark.databricks.cluster.profile": "singleNode",
                    "spark.master": "local[*]",
                },
                "custom_tags": {"ResourceClass": "SingleNode", "cockpit": "ddp-probe"},
            },
            "spark_python_task": {
                "python_file": TASK_PATH,
                "source": "WORKSPACE",
                "parameters": script_parameters(options),
            },
            "timeout_seconds": int(options.timeout_s),
        }
    ]


def check_options(options: DdpProbeOptions) -> None:
    if not 1 <= options.processes <= MAX_PROCESSES:
        raise CockpitError(f"--processes must be 1..{MAX_PROCESSES} (got {options.processes})")
    if not 1 <= options.steps <= 1000:
        raise CockpitError(f"--steps must be 1..1000 (got {options.steps})")
    if options.inject is not None and options.inject not in INJECTIONS:
        raise CockpitError(f"--inject must be one of {', '.join(INJECTIONS)}")
    if options.timeout_s <= 0 or options.poll_interval_s <= 0:
        raise CockpitError("--timeout and --poll-interval must be positive")


def spark_version_for(adapter: WorkspaceAdapter, runtime_id: str, *, gpu: bool) -> str:
    """The runtime's key of the wanted flavour (cpu/gpu ML) that the workspace offers."""
    from cockpit.runtimes.manifest import load_runtime

    try:
        manifest = load_runtime(runtime_id)
    except CockpitError:
        raise WorkspaceInputError(
            f"no runtime {runtime_id!r} (`cockpit runtimes list` shows them)"
        ) from None
    flavour = "-gpu-" if gpu else "-cpu-"
    wanted = [k for k in manifest.spark_version_keys if flavour in k]
    if not wanted:
        kind = "GPU" if gpu else "CPU ML"
        raise WorkspaceInputError(f"{runtime_id} has no {kind} spark_version key to probe DDP on")
    offered = {v.key for v in adapter.spark_versions()}
    for key in wanted:
        if key in offered:
            return key
    raise WorkspaceInputError(
        f"the workspace offers none of {', '.join(wanted)} (`cockpit inventory` lists them)"
    )


def parse_output(logs: str) -> dict[str, Any] | None:
    """The JSON object the script printed (its line with the marker), or None."""
    for line in reversed(logs.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{") or MARKER not in line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get(MARKER) == 1:
            return data
    return None


def summary_line(result: dict[str, Any]) -> str:
    """One line for the checklist note and the CLI: what ran, what held, how long."""
    checks = [c for c in result.get("checks") or [] if isinstance(c, dict)]
    timings: dict[str, Any] = (
        result["timings_s"] if isinstance(result.get("timings_s"), dict) else {}
    )
    failed = [str(c.get("name")) for c in checks if not c.get("ok")]
    head = (
        f"{result.get('world_size', result.get('processes', '?'))} processes, "
        f"{result.get('backend', '?')} on {result.get('device', '?')}, "
        f"torch {result.get('torch', '?')}"
    )
    if failed:
        return f"{head}: FAILED {', '.join(failed)}"
    if not checks:
        return f"{head}: {result.get('error') or 'no checks ran'}"
    steps = result.get("steps", "?")
    total = timings.get("total")
    took = f" in {float(total):.1f}s" if isinstance(total, int | float) else ""
    return (
        f"{head}: process group up, all-reduce checked, gradients equal across ranks over "
        f"{steps} steps{took}"
    )


# ------------------------------------------------------------------------------ running
def run_ddp_probe(
    adapter: WorkspaceAdapter,
    store: StateStore,
    runtime_id: str,
    *,
    options: DdpProbeOptions | None = None,
    on_progress: Callable[[RunStatus], None] | None = None,
    cancel: threading.Event | None = None,
    source: str = "cli",
) -> DdpProbeRecord:
    """Submit, follow and record one DDP probe; returns its record (passed or failed).

    A failed probe is a result, not an error: it is recorded with its output and returned.
    Errors (bad input, the workspace unreachable, a timeout, a cancel) raise.
    """
    options = options or DdpProbeOptions()
    check_options(options)
    if store.readonly:  # refuse before anything is submitted, not after the run
        raise ReadOnlyError(f"{store.path} is open read-only; the DDP probe was not submitted")
    spark_version = spark_version_for(adapter, runtime_id, gpu=options.gpu)
    adapter.upload_file(TASK_PATH, script_source())
    run_id = adapter.submit_run(
        f"cockpit DDP probe {spark_version} ({options.processes} x {options.backend})",
        probe_tasks(spark_version, options),
        timeout_s=int(options.timeout_s),
    )
    probe_id = _record_submitted(store, runtime_id, spark_version, run_id, options, source)
    status = _wait(adapter, store, probe_id, run_id, options, on_progress, cancel, source)
    output = adapter.get_run_output(run_id)
    result = parse_output(output.logs) or {}
    text = _bounded(output.logs, output.error)
    if not status.succeeded or not result.get("ok"):
        why = (
            str(result.get("error") or "")
            or output.error
            or status.state_message
            or status.result_state
            or "the probe printed no result"
        )
        message = summary_line(result) if result.get("checks") else why
        if result.get("checks") and why and why not in message:
            message = f"{message} ({why})"
        if status.succeeded and not result:
            message = "the run finished but printed no DDP probe JSON (output truncated?)"
        message = f"run {run_id} {status.result_state or status.life_cycle_state}: {message}"
        return _finish(store, probe_id, "failed", message, result, text, source)
    return _finish(store, probe_id, "passed", summary_line(result), result, text, source)


def _wait(
    adapter: WorkspaceAdapter,
    store: StateStore,
    probe_id: int,
    run_id: int,
    options: DdpProbeOptions,
    on_progress: Callable[[RunStatus], None] | None,
    cancel: threading.Event | None,
    source: str,
) -> RunStatus:
    def running() -> None:
        with store.write() as tx:
            tx.execute("UPDATE ddp_probes SET state = 'running' WHERE id = ?", (probe_id,))

    try:
        return follow_run(
            adapter,
            run_id,
            timeout_s=options.timeout_s,
            poll_interval_s=options.poll_interval_s,
            on_progress=on_progress,
            on_running=running,
            cancel=cancel,
        )
    except RunStopped as stop:
        if not stop.timed_out:
            _finish(store, probe_id, "cancelled", "cancelled by the user", {}, "", source)
            raise DdpProbeCancelled(
                f"DDP probe cancelled; run {run_id} was cancelled too"
            ) from None
        why = f"timed out after {options.timeout_s:.0f}s; the run was cancelled"
        _finish(store, probe_id, "failed", why, {}, "", source)
        raise WorkspaceError(f"DDP probe run {run_id} {why}") from None


def _bounded(logs: str, error: str) -> str:
    text = logs or ""
    if error:
        text = f"{text}\n[error] {error}" if text else f"[error] {error}"
    if len(text) > MAX_OUTPUT_CHARS:
        text = "… (earlier output cut)\n" + text[-MAX_OUTPUT_CHARS:]
    return secrets.scrub_text(text)


# ------------------------------------------------------------------------------ store
def _record_submitted(
    store: StateStore,
    runtime_id: str,
    spark_version: str,
    run_id: int,
    options: DdpProbeOptions,
    source: str,
) -> int:
    with store.write() as tx:
        cursor = tx.execute(
            "INSERT INTO ddp_probes (runtime_id, spark_version, run_id, processes, backend,"
            " state, submitted_at) VALUES (?, ?, ?, ?, ?, 'submitted', ?)",
            (runtime_id, spark_version, run_id, options.processes, options.backend, store.clock()),
        )
        store.append_event(
            "ddp.probe_submitted",
            {
                "runtime_id": runtime_id,
                "spark_version": spark_version,
                "run_id": run_id,
                "processes": options.processes,
                "backend": options.backend,
                "inject": options.inject,
            },
            source=source,
            conn=tx,
        )
        return int(cursor.lastrowid or 0)


def _finish(
    store: StateStore,
    probe_id: int,
    state: str,
    message: str,
    result: dict[str, Any],
    output: str,
    source: str,
) -> DdpProbeRecord:
    from cockpit.ddp.checklist import apply_probe

    message = secrets.scrub_text(message)
    # What the cluster printed is outside input: keep only the fields the cockpit shows.
    kept = {k: result[k] for k in RESULT_FIELDS if k in result}
    with store.write() as tx:
        tx.execute(
            "UPDATE ddp_probes SET state = ?, message = ?, result = ?, output = ?,"
            " finished_at = ? WHERE id = ?",
            (state, message, json.dumps(kept, sort_keys=True), output, store.clock(), probe_id),
        )
        row = tx.execute("SELECT * FROM ddp_probes WHERE id = ?", (probe_id,)).fetchone()
        record = record_of(row)
        store.append_event(
            "ddp.probe_finished",
            {
                "id": probe_id,
                "runtime_id": record.runtime_id,
                "spark_version": record.spark_version,
                "run_id": record.run_id,
                "state": state,
                "message": message,
            },
            source=source,
            conn=tx,
        )
        if state in ("passed", "failed"):
            apply_probe(store, tx, record, source=source)
    return record


RESULT_FIELDS = (
    "ok",
    "error",
    "launcher",
    "processes",
    "world_size",
    "backend",
    "device",
    "torch",
    "cuda",
    "python",
    "runtime",
    "steps",
    "losses",
    "checks",
    "timings_s",
    "wall_s",
    "inject",
)
