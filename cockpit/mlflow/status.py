"""Live dual-server status: per experiment, what the old server has and what its copy lacks.

One poll reads each experiment's runs on both sides (paginated ``runs/search``, old and new in
parallel, experiments spread over worker threads) and compares them with the same rules as the
sync (:mod:`cockpit.mlflow.compare`), without fetching histories or artifacts: that is verify's
job. Each experiment's row is handed to ``on_experiment`` as soon as it is known, so a viewer
fills in while the poll runs; the whole poll is then recorded in one transaction.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.mlflow import compare
from cockpit.mlflow.adapter import NewServer, OldServer
from cockpit.mlflow.models import TAG_SOURCE_VERSION, Experiment, Run
from cockpit.mlflow.records import ExperimentStatus, ModelStatus, PollSummary, record_poll

if TYPE_CHECKING:
    from cockpit.store import StateStore


def schema_revision(db_uri: str | None) -> str | None:
    """The alembic revision of a SQLite, PostgreSQL or MySQL backend (read-only,
    :mod:`cockpit.mlflow.schema`); None when it cannot be read at this moment."""
    if not db_uri:
        return None
    from cockpit.mlflow.schema import read_revision

    try:
        return read_revision(db_uri)
    except CockpitError:
        return None


def _experiment_status(
    old: OldServer,
    new: NewServer,
    src: Experiment,
    dest: Experiment | None,
    seen: set[str],
    lock: threading.Lock,
) -> ExperimentStatus:
    with ThreadPoolExecutor(max_workers=2) as pool:
        src_future = pool.submit(lambda: list(old.search_runs([src.experiment_id])))
        dest_runs: list[Run] = (
            list(new.search_runs([dest.experiment_id])) if dest is not None else []
        )
        src_runs = src_future.result()
    with lock:
        seen.update(r.run_id for r in src_runs)
    copies: dict[str, Run] = {}
    for run in dest_runs:
        if run.source_run_id and run.source_run_id not in copies:
            copies[run.source_run_id] = run
    run_map = {s: d.run_id for s, d in copies.items()}
    missing, differing = [], []
    for run in src_runs:
        copy = copies.get(run.run_id)
        if copy is None:
            missing.append(run.run_id)
        elif compare.run_differences(run, copy, run_map):
            differing.append(run.run_id)
    return ExperimentStatus(
        name=src.name,
        source_id=src.experiment_id,
        dest_id=dest.experiment_id if dest else None,
        old_deleted_experiment=src.deleted,
        old_active=sum(1 for r in src_runs if not r.deleted),
        old_deleted=sum(1 for r in src_runs if r.deleted),
        new_active=sum(1 for r in dest_runs if not r.deleted),
        new_deleted=sum(1 for r in dest_runs if r.deleted),
        missing=len(missing),
        differing=len(differing),
        running=sum(1 for r in src_runs if r.status == "RUNNING"),
        missing_ids=missing,
        differing_ids=differing,
    )


def _model_statuses(old: OldServer, new: NewServer, scope: set[str] | None) -> list[ModelStatus]:
    """Every model, or with ``scope`` (source run ids) only models with a version from one."""
    if not (old.info.capabilities.registry and new.info.capabilities.registry):
        return []
    out = []
    dest_models = {m.name: m for m in new.registered_models()}
    for model in old.registered_models():
        versions = old.model_versions(model.name)
        if scope is not None and not any(v.run_id in scope for v in versions):
            continue
        dest = dest_models.get(model.name)
        copies = new.model_versions(model.name) if dest else []
        have = {c.tags.get(TAG_SOURCE_VERSION) for c in copies}
        out.append(
            ModelStatus(
                name=model.name,
                old_versions=len(versions),
                new_versions=len(copies),
                missing=sum(1 for v in versions if v.version not in have),
                exists_on_new=dest is not None,
                old_stages={v.version: v.stage for v in versions},
                new_stages={c.version: c.stage for c in copies},
                new_aliases=dict(dest.aliases) if dest else {},
            )
        )
    return out


def poll_status(
    old: OldServer,
    new: NewServer,
    *,
    experiments: list[str] | None = None,
    workers: int = 4,
    old_db_uri: str | None = None,
    new_db_uri: str | None = None,
    registry: bool = True,
    on_experiment: Callable[[ExperimentStatus], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> PollSummary:
    started = time.monotonic()
    sources = old.experiments()
    if experiments:
        sources = [e for e in sources if e.name in experiments]
    index = compare.DestExperiments(new.experiments(), old.url)

    seen: set[str] = set()  # source run ids polled: the scope of the registry panel
    lock = threading.Lock()

    def one(src: Experiment) -> ExperimentStatus:
        status = _experiment_status(old, new, src, index.find(src), seen, lock)
        if on_experiment is not None:
            on_experiment(status)
        return status

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = list(pool.map(one, sources))
    models = _model_statuses(old, new, seen if experiments else None) if registry else []
    return PollSummary(
        ts=clock(),
        duration_s=time.monotonic() - started,
        old_url=old.url,
        new_url=new.url,
        old_version=old.info.version or f"{old.info.generation}.x",
        new_version=new.info.version or f"{new.info.generation}.x",
        old_schema=schema_revision(old_db_uri),
        new_schema=schema_revision(new_db_uri),
        experiments=rows,
        models=models,
    )


def poll_and_record(
    store: StateStore,
    old: OldServer,
    new: NewServer,
    *,
    source: str = "cli",
    **kwargs,
) -> tuple[int, PollSummary]:
    summary = poll_status(old, new, clock=store.clock, **kwargs)
    return record_poll(store, summary, source=source), summary
