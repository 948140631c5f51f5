"""The live runtime probe: what a ``spark_version`` really has installed, measured on a cluster.

On an explicit user action: upload the probe task (``data/probe_task.py``, stdlib only), submit
it as a one-time single-node run on the chosen ``spark_version``, poll it to completion
(progress to a callback; cancellable through an event), read its stdout through
jobs/runs/get-output, and store the result as a runtime manifest (``origin="probe"``) that the
Runtime diff tab and ``cockpit runtimes diff`` compare like any other.

What the probe measured (system facts, Python libraries) comes only from the run's output. The
identity facts no cluster can print (version, LTS, support dates) come from the bundled runtime
that claims the ``spark_version``, and the manifest's notes say so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from cockpit.databricks.errors import WorkspaceError, WorkspaceInputError
from cockpit.databricks.models import ProbeRecord, RunStatus
from cockpit.databricks.runs import RunStopped, follow_run
from cockpit.databricks.runtimes import runtime_for
from cockpit.errors import CockpitError, ReadOnlyError

if TYPE_CHECKING:
    from cockpit.databricks.adapter import WorkspaceAdapter
    from cockpit.store import StateStore

TASK_PATH = "/Shared/.cockpit/probe_task.py"
SYSTEM_KEYS = ("os", "java", "scala", "python", "r", "delta_lake", "spark")
EXIT_CANCELLED = 130


class ProbeCancelled(CockpitError):
    """The user cancelled the probe; its run was cancelled in the workspace too."""

    exit_code = EXIT_CANCELLED


@dataclass(frozen=True)
class ProbeOptions:
    node_type_id: str = "i3.xlarge"
    poll_interval_s: float = 5.0
    timeout_s: float = 1800.0  # a cold single-node cluster takes minutes; a stuck one is cut off
    host_label: str | None = None  # what the manifest's source names (default: the host)


@dataclass(frozen=True)
class ProbeResult:
    runtime_id: str
    spark_version: str
    run_id: int
    libraries: int
    duration_s: float | None
    manifest: dict[str, Any]


def default_runtime_id(spark_version: str) -> str:
    return f"probe-{spark_version}"


def probe_task_source() -> bytes:
    return resources.files("cockpit.databricks").joinpath("data/probe_task.py").read_bytes()


def probe_tasks(spark_version: str, options: ProbeOptions) -> list[dict[str, Any]]:
    """The one-time run: one single-node task running the uploaded probe script."""
    return [
        {
            "task_key": "cockpit_probe",
            "new_cluster": {
                "spark_version": spark_version,
                "node_type_id": options.node_type_id,
                "num_workers": 0,
                "spark_conf": {
                    "spark.databricks.cluster.profile": "singleNode",
                    "spark.master": "local[*]",
                },
                "custom_tags": {"ResourceClass": "SingleNode", "cockpit": "probe"},
            },
            "spark_python_task": {"python_file": TASK_PATH, "source": "WORKSPACE"},
            "timeout_seconds": int(options.timeout_s),
        }
    ]


def probe_runtime(
    adapter: WorkspaceAdapter,
    store: StateStore,
    spark_version: str,
    *,
    runtime_id: str | None = None,
    options: ProbeOptions | None = None,
    on_progress: Callable[[RunStatus], None] | None = None,
    cancel: threading.Event | None = None,
    source: str = "cli",
) -> ProbeResult:
    options = options or ProbeOptions()
    runtime_id = runtime_id or default_runtime_id(spark_version)
    _check_id(runtime_id)
    _check_version(adapter, spark_version)
    if store.readonly:  # refuse before anything is submitted, not after the run
        raise ReadOnlyError(f"{store.path} is open read-only; the probe was not submitted")
    from cockpit.databricks.inventory import require_workspace_tables

    require_workspace_tables(store)
    adapter.upload_file(TASK_PATH, probe_task_source())
    run_id = adapter.submit_run(
        f"cockpit probe {spark_version}",
        probe_tasks(spark_version, options),
        timeout_s=int(options.timeout_s),
    )
    probe_id = _record_submitted(store, spark_version, runtime_id, run_id, source)
    status = _wait(adapter, store, probe_id, run_id, options, on_progress, cancel, source)
    if not status.succeeded:
        output = adapter.get_run_output(run_id)
        why = output.error or status.state_message or status.result_state
        _finish(store, probe_id, "failed", why, source)
        raise WorkspaceError(
            f"probe run {run_id} on {spark_version} ended {status.result_state or status.life_cycle_state}: {why}"
        )
    output = adapter.get_run_output(run_id)
    try:
        measured = parse_probe_output(output.logs)
    except CockpitError as exc:
        _finish(store, probe_id, "failed", exc.message, source)
        raise
    manifest = manifest_from_probe(
        measured,
        spark_version=spark_version,
        run_id=run_id,
        host=options.host_label or adapter.host,
    )
    from cockpit.runtimes.importer import store_manifest

    store_manifest(store, runtime_id, manifest, origin="probe")
    _finish(store, probe_id, "succeeded", f"{len(manifest['python_libraries'])} libraries", source)
    return ProbeResult(
        runtime_id=runtime_id,
        spark_version=spark_version,
        run_id=run_id,
        libraries=len(manifest["python_libraries"]),
        duration_s=status.duration_s,
        manifest=manifest,
    )


def _check_id(runtime_id: str) -> None:
    from cockpit.runtimes.manifest import RUNTIME_ID_PATTERN, bundled_ids

    if not RUNTIME_ID_PATTERN.match(runtime_id):
        raise WorkspaceInputError(
            f"{runtime_id!r} is not a usable runtime id (letters, digits, . _ + -)"
        )
    if runtime_id in bundled_ids():
        raise WorkspaceInputError(f"{runtime_id!r} is a bundled LTS runtime; pick another name")


def _check_version(adapter: WorkspaceAdapter, spark_version: str) -> None:
    keys = [v.key for v in adapter.spark_versions()]
    if spark_version in keys:
        return
    import difflib

    close = difflib.get_close_matches(spark_version, keys, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else " (`cockpit inventory` lists them)"
    raise WorkspaceInputError(f"the workspace offers no spark_version {spark_version!r}{hint}")


def _wait(
    adapter: WorkspaceAdapter,
    store: StateStore,
    probe_id: int,
    run_id: int,
    options: ProbeOptions,
    on_progress: Callable[[RunStatus], None] | None,
    cancel: threading.Event | None,
    source: str,
) -> RunStatus:
    try:
        return follow_run(
            adapter,
            run_id,
            timeout_s=options.timeout_s,
            poll_interval_s=options.poll_interval_s,
            on_progress=on_progress,
            on_running=lambda: _set_state(store, probe_id, "running"),
            cancel=cancel,
        )
    except RunStopped as stop:
        if not stop.timed_out:
            _finish(store, probe_id, "cancelled", "cancelled by the user", source)
            raise ProbeCancelled(
                f"probe cancelled; run {run_id} was cancelled in the workspace"
            ) from None
        _finish(store, probe_id, "failed", f"timed out after {options.timeout_s:.0f}s", source)
        raise WorkspaceError(
            f"probe run {run_id} did not finish within {options.timeout_s:.0f}s; it was cancelled"
        ) from None


def parse_probe_output(logs: str) -> dict[str, Any]:
    """The JSON object the probe task printed (its last JSON line; anything else is noise)."""
    for line in reversed(logs.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("python_libraries"), dict):
            return data
    raise WorkspaceError(
        "the probe run finished but printed no probe JSON (output truncated or the task failed)"
    )


def manifest_from_probe(
    measured: dict[str, Any], *, spark_version: str, run_id: int, host: str
) -> dict[str, Any]:
    """A manifest in the bundled JSON shape: measured facts plus the runtime's identity."""
    from cockpit.runtimes.manifest import bundled_ids, canonicalize_name, load_bundled

    system_in = measured.get("system") or {}
    system = {k: (str(system_in[k]) if system_in.get(k) is not None else None) for k in SYSTEM_KEYS}
    libraries = {
        canonicalize_name(str(name)): str(version)
        for name, version in sorted(measured["python_libraries"].items())
    }
    base_id = runtime_for(spark_version)
    manifest: dict[str, Any] = {
        "name": f"{spark_version} (probed)",
        "version": None,
        "lts": False,
        "ml": "-ml-" in spark_version,
        "spark_version_keys": [spark_version],
        "release_date": None,
        "end_of_support": None,
        "system": system,
        "python_libraries": libraries,
        "behavior_changes": [],
        "sources": [f"probe run {run_id} on {host}"],
        "notes": f"measured live by probe run {run_id} on {host}",
    }
    if base_id in bundled_ids():
        base = load_bundled(base_id)
        manifest.update(
            version=base.version,
            lts=base.lts,
            ml=base.ml,
            release_date=base.release_date,
            end_of_support=base.end_of_support,
        )
        manifest["notes"] += f"; version and support dates from the bundled {base_id}"
    return manifest


# ------------------------------------------------------------------------------ store
def _record_submitted(
    store: StateStore, spark_version: str, runtime_id: str, run_id: int, source: str
) -> int:
    with store.write() as tx:
        cursor = tx.execute(
            "INSERT INTO workspace_probes (spark_version, runtime_id, run_id, state, submitted_at) "
            "VALUES (?, ?, ?, 'submitted', ?)",
            (spark_version, runtime_id, run_id, store.clock()),
        )
        store.append_event(
            "databricks.probe_submitted",
            {"spark_version": spark_version, "runtime_id": runtime_id, "run_id": run_id},
            source=source,
            conn=tx,
        )
        return int(cursor.lastrowid or 0)


def _set_state(store: StateStore, probe_id: int, state: str) -> None:
    with store.write() as tx:
        tx.execute("UPDATE workspace_probes SET state = ? WHERE id = ?", (state, probe_id))


def _finish(store: StateStore, probe_id: int, state: str, message: str, source: str) -> None:
    with store.write() as tx:
        tx.execute(
            "UPDATE workspace_probes SET state = ?, message = ?, finished_at = ? WHERE id = ?",
            (state, message, store.clock(), probe_id),
        )
        row = tx.execute(
            "SELECT spark_version, runtime_id, run_id FROM workspace_probes WHERE id = ?",
            (probe_id,),
        ).fetchone()
        store.append_event(
            "databricks.probe_finished",
            {
                "spark_version": row["spark_version"],
                "runtime_id": row["runtime_id"],
                "run_id": row["run_id"],
                "state": state,
                "message": message,
            },
            source=source,
            conn=tx,
        )


def read_probes(store: StateStore, *, as_of: float | None = None) -> list[ProbeRecord]:
    """Probes submitted up to ``as_of``, newest first (state as last recorded)."""
    from cockpit.databricks.inventory import has_workspace_tables

    if not has_workspace_tables(store):
        return []
    sql, params = "SELECT * FROM workspace_probes", []
    if as_of is not None:
        sql += " WHERE submitted_at <= ?"
        params.append(as_of)
    rows = store.query(sql + " ORDER BY submitted_at DESC, id DESC", params)
    return [
        ProbeRecord(
            id=r["id"],
            spark_version=r["spark_version"],
            runtime_id=r["runtime_id"],
            run_id=r["run_id"],
            state=r["state"],
            message=r["message"],
            submitted_at=r["submitted_at"],
            finished_at=r["finished_at"],
        )
        for r in rows
    ]
