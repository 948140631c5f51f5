"""Copy an old MLflow server into a new one: idempotent, resumable, nothing lost.

How a copy survives being killed at any instant and re-run:

1. every destination object names its source in a ``cockpit.*`` tag written *with* its creation
   (``runs/create`` carries ``cockpit.source_run_id``; a model version carries
   ``cockpit.source_version``), so a re-run finds half-made copies on the destination itself,
   with or without the state file;
2. a run is marked done last, with ``cockpit.sync_fingerprint`` (a hash of the source run as a
   search returns it); a run whose marker is missing or stale is finished by reading what the
   destination already has and writing only the rest (the SQL stores reject a second identical
   metric entry, so history is always diffed, never blindly re-sent);
3. deletion comes after the marker (a deleted run cannot be written to), and a deleted source
   experiment is restored on the destination while its runs are completed, then deleted again;
4. the marker and final status land only once every artifact has; an artifact the old server
   will not give (refused, unreadable, a path that would leave the run) leaves a copy with all
   its data, still unfinished and tagged ``cockpit.sync_incomplete`` with the reason, listed as
   an error; the next sync completes it. A run's small artifacts are read with its histories,
   before anything is written: when all of them came, they go up first and the marker rides in
   the data's last batch; otherwise params, metrics and tags land before any artifact.

A RUNNING source run is copied as it is; its fingerprint changes when it finishes, so the next
sync (or the mirror) completes it. Writes whose outcome is unknown (a dropped response to a
``runs/create``) are resolved by looking at the destination before writing again.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from cockpit import secrets
from cockpit.errors import CockpitError
from cockpit.mlflow import compare
from cockpit.mlflow.adapter import NewServer, OldServer
from cockpit.mlflow.bounded import DeadlineExceeded
from cockpit.mlflow.models import (
    PARENT_TAG,
    RUN_NAME_TAG,
    TAG_FINGERPRINT,
    TAG_SOURCE_EXPERIMENT,
    TAG_SOURCE_RUN,
    TAG_SOURCE_SERVER,
    TAG_SOURCE_VERSION,
    ArtifactFile,
    Experiment,
    MetricPoint,
    ModelVersion,
    Run,
    user_tags,
)
from cockpit.mlflow.rest import AmbiguousWrite, RestError, TransientError

if TYPE_CHECKING:
    from cockpit.mlflow.backend import BackendHistory
    from cockpit.store import StateStore

Progress = Callable[[int, int, str], None]
RUN_ATTEMPTS = 6
# On a copy whose artifacts are not all there yet: why, for whoever looks at the new server.
TAG_INCOMPLETE = "cockpit.sync_incomplete"


class RunIncomplete(CockpitError):
    """A run's data is copied but some of its artifacts are not; one problem per artifact."""

    exit_code = 1

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "artifacts not copied")
        self.problems = problems


@dataclass
class SyncOptions:
    experiments: list[str] | None = None  # names; None = all
    workers: int = 4
    dry_run: bool = False
    registry: bool = True
    map_stages_to_aliases: bool = True
    # The old server's SQLite backend (``sqlite:///...``), to read metric histories from it
    # directly (read-only, see backend.py); None reads them over REST.
    history_db: str | None = None


@dataclass
class ExperimentPlan:
    name: str
    source_id: str
    dest_id: str | None
    deleted: bool
    runs_total: int
    runs_create: int
    runs_update: int
    runs_lifecycle: int
    runs_unchanged: int
    running: int
    renamed_from: str | None = None  # the copy's name, when the source was renamed since

    @property
    def work(self) -> int:
        return self.runs_create + self.runs_update + self.runs_lifecycle


@dataclass
class ModelPlan:
    name: str
    create_model: bool
    versions_total: int
    versions_create: int


@dataclass
class SyncPlan:
    experiments: list[ExperimentPlan]
    models: list[ModelPlan]

    @property
    def runs_to_write(self) -> int:
        return sum(e.work for e in self.experiments)

    @property
    def versions_to_create(self) -> int:
        return sum(m.versions_create for m in self.models)

    @property
    def nothing_to_do(self) -> bool:
        return (
            self.runs_to_write == 0
            and self.versions_to_create == 0
            and all(e.dest_id and not e.renamed_from for e in self.experiments)
            and not any(m.create_model for m in self.models)
        )


@dataclass
class SyncResult:
    experiments: int = 0
    experiments_renamed: int = 0
    runs_created: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    runs_lifecycle: int = 0
    metric_points: int = 0
    artifacts: int = 0
    artifact_bytes: int = 0
    models: int = 0
    versions_created: int = 0
    histories_from_db: int = 0  # runs whose histories came from the backend file
    histories_over_rest: int = 0  # ... over REST (no file, or the file could not vouch)
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "experiments": self.experiments,
            "experiments_renamed": self.experiments_renamed,
            "runs_created": self.runs_created,
            "runs_updated": self.runs_updated,
            "runs_unchanged": self.runs_unchanged,
            "runs_lifecycle": self.runs_lifecycle,
            "metric_points": self.metric_points,
            "artifacts": self.artifacts,
            "artifact_bytes": self.artifact_bytes,
            "models": self.models,
            "versions_created": self.versions_created,
            "histories_from_db": self.histories_from_db,
            "histories_over_rest": self.histories_over_rest,
            "errors": len(self.errors),
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class _ExperimentWork:
    source: Experiment
    dest: Experiment | None
    runs: list[Run]
    dest_runs: dict[str, Run]  # source run id -> copy


@dataclass
class _SourceRun:
    """What the old server holds for one run beyond what a search returns."""

    history: dict[str, list[MetricPoint]]  # metric key -> every point
    files: list[ArtifactFile]
    refused: list[str] = field(default_factory=list)  # listed paths that would leave the run
    # The bytes of the files the copy lacks when they are small (PREFETCH_ARTIFACT_BYTES in all)
    # and were read with the histories; None when they are read while the copy is written.
    blobs: dict[str, bytes] | None = None
    unread: list[str] = field(default_factory=list)  # problems of the files that did not come
    # The existing copy's artifacts (path -> size) as listed before the read-ahead, so files it
    # already holds are neither read ahead nor listed again; None: no copy then, or used up (a
    # retry lists again: the first attempt may have uploaded some).
    have: dict[str, int] | None = None
    ahead: frozenset[str] = frozenset()  # the paths read ahead (or tried: see ``unread``)

    @property
    def ready(self) -> bool:
        """Every artifact is in memory: nothing the old server does can fail the copy now."""
        return self.blobs is not None and not self.refused and not self.unread


IN_MEMORY_ARTIFACT_BYTES = 8 * 1024 * 1024
# A run whose artifacts add up to no more than this has them read with its histories; each
# worker holds one run's at a time, so memory stays within workers x this.
PREFETCH_ARTIFACT_BYTES = 1024 * 1024


def _scratch(size: int) -> IO[bytes]:
    if size <= IN_MEMORY_ARTIFACT_BYTES:
        return io.BytesIO()
    return tempfile.TemporaryFile(prefix="cockpit-artifact-")


class Syncer:
    """One sync from ``old`` to ``new``. ``plan()`` reads both sides; ``run()`` writes."""

    def __init__(
        self,
        old: OldServer,
        new: NewServer,
        *,
        store: StateStore | None = None,
        options: SyncOptions | None = None,
        progress: Progress | None = None,
        source: str = "cli",
    ) -> None:
        self.old, self.new = old, new
        # Metric histories from the old server's backend database when configured (see
        # backend.py); any run it cannot vouch for is read over REST. Opened by plan().
        self.history: BackendHistory | None = None
        self.history_note = (
            "metric histories over REST ([mlflow.old] db_uri naming its SQLite, PostgreSQL or "
            "MySQL backend lets the copy read them from it, read-only, much faster)"
        )
        self.store = store
        self.options = options or SyncOptions()
        self.progress = progress or (lambda done, total, label: None)
        self.source = source
        self._lock = threading.Lock()
        self._result = SyncResult()
        self._work: list[_ExperimentWork] | None = None
        self._source_runs: dict[str, Run] = {}
        self._dest_runs: dict[str, Run] = {}  # source run id -> copy, every experiment
        self._stop = threading.Event()
        self._creating: dict[str, Future[Run]] = {}  # source run id -> its copy being made
        self._made: set[str] = set()  # source run ids whose copy this sync created
        self._deadline: DeadlineExceeded | None = None  # the command ran out of time

    def stop(self) -> None:
        """Ask a running sync to stop after the runs in flight (they finish cleanly)."""
        self._stop.set()

    # ------------------------------------------------------------------ reading
    def _select(self) -> list[Experiment]:
        experiments = self.old.experiments()
        wanted = self.options.experiments
        if not wanted:
            return experiments
        names = {e.name for e in experiments}
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise CockpitError(f"no experiment named {unknown[0]!r} on the old server")
        return [e for e in experiments if e.name in wanted]

    def _dest_experiments(self) -> compare.DestExperiments:
        return compare.DestExperiments(self.new.experiments(), self.old.url)

    def _gather(self) -> list[_ExperimentWork]:
        index = self._dest_experiments()
        work = []
        for exp in self._select():
            dest = index.find(exp)
            runs = list(self.old.search_runs([exp.experiment_id]))
            dest_runs: dict[str, Run] = {}
            if dest is not None:
                for run in self.new.search_runs([dest.experiment_id]):
                    src = run.source_run_id
                    # Keep the first copy if a foreign tool ever made two; verify reports it.
                    if src and src not in dest_runs:
                        dest_runs[src] = run
            for run in runs:
                self._source_runs[run.run_id] = run
            self._dest_runs.update(dest_runs)
            work.append(_ExperimentWork(exp, dest, runs, dest_runs))
        return work

    def _open_history(self) -> None:
        uri = self.options.history_db
        if uri is None or self.history is not None:
            return
        from cockpit.mlflow.backend import BackendHistory

        try:
            self.history = BackendHistory.open(uri)
        except CockpitError as exc:
            # Slower, never wrong: the copy reads every history over REST instead.
            self.history_note = f"metric histories over REST ({exc.message})"
            return
        self.history_note = f"metric histories from {self.history.path} (read-only)"

    def plan(self) -> SyncPlan:
        self._open_history()
        self._work = self._gather()
        experiments = []
        for w in self._work:
            create = update = lifecycle = unchanged = 0
            for run in w.runs:
                dest = w.dest_runs.get(run.run_id)
                if dest is None:
                    create += 1
                elif not compare.is_complete(run, dest):
                    update += 1
                elif dest.deleted != run.deleted:
                    lifecycle += 1
                else:
                    unchanged += 1
            experiments.append(
                ExperimentPlan(
                    name=w.source.name,
                    source_id=w.source.experiment_id,
                    dest_id=w.dest.experiment_id if w.dest else None,
                    deleted=w.source.deleted,
                    runs_total=len(w.runs),
                    runs_create=create,
                    runs_update=update,
                    runs_lifecycle=lifecycle,
                    runs_unchanged=unchanged,
                    running=sum(1 for r in w.runs if r.status == "RUNNING"),
                    renamed_from=w.dest.name if w.dest and w.dest.name != w.source.name else None,
                )
            )
        models = self._plan_models() if self._registry_enabled() else []
        return SyncPlan(experiments, models)

    def _registry_enabled(self) -> bool:
        return (
            self.options.registry
            and self.old.info.capabilities.registry
            and self.new.info.capabilities.registry
        )

    def _plan_models(self) -> list[ModelPlan]:
        plans = []
        for model in self.old.registered_models():
            versions = self.old.model_versions(model.name)
            if not self._model_in_scope(versions):
                continue
            dest = self.new.registered_model(model.name)
            have = set()
            if dest is not None:
                have = {v.tags.get(TAG_SOURCE_VERSION) for v in self.new.model_versions(model.name)}
            plans.append(
                ModelPlan(
                    name=model.name,
                    create_model=dest is None,
                    versions_total=len(versions),
                    versions_create=sum(1 for v in versions if v.version not in have),
                )
            )
        return plans

    def _model_in_scope(self, versions: list[ModelVersion]) -> bool:
        """With --experiment, only models with a version from a selected experiment's run."""
        if not self.options.experiments:
            return True
        return any(v.run_id in self._source_runs for v in versions)

    # ------------------------------------------------------------------ writing
    def run(self, plan: SyncPlan | None = None) -> SyncResult:
        started = time.monotonic()
        if self._work is None or plan is None:
            plan = self.plan()
        assert self._work is not None
        if self.store is not None:
            self.store.append_event(
                "mlflow.sync.started",
                {
                    "old": self.old.url,
                    "new": self.new.url,
                    "experiments": len(plan.experiments),
                    "runs_to_write": plan.runs_to_write,
                    "versions_to_create": plan.versions_to_create,
                    "workers": self.options.workers,
                },
                source=self.source,
            )
        total = sum(len(w.runs) for w in self._work)
        done = [0]

        def tick(label: str, n: int) -> None:
            with self._lock:
                done[0] += n
                now = done[0]
            self.progress(now, total, label)

        self.progress(0, total, "runs")
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.options.workers)) as pool:
                for w in self._work:
                    if self._stop.is_set():
                        break
                    self._sync_experiment(w, pool, tick)
            if self._registry_enabled() and not self._stop.is_set():
                self._sync_registry()
        except DeadlineExceeded as exc:
            self._deadline = exc
        finally:
            if self.history is not None:  # its connections, one per worker thread
                self.history.close()
                self.history = None
        result = self._result
        result.duration_s = time.monotonic() - started
        if self.store is not None:
            self.store.append_event(
                "mlflow.sync.finished",
                {
                    **result.as_dict(),
                    "first_errors": result.errors[:10],
                    **({"deadline": self._deadline.message} if self._deadline else {}),
                },
                source=self.source,
            )
        if self._deadline is not None:
            # One line and exit 3, not one error per run still queued.
            raise self._deadline
        return result

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for key, value in deltas.items():
                setattr(self._result, key, getattr(self._result, key) + value)

    def _error(self, message: str) -> None:
        with self._lock:
            self._result.errors.append(secrets.scrub_text(message))

    # ------------------------------------------------------------------ experiments
    def _sync_experiment(self, w: _ExperimentWork, pool: ThreadPoolExecutor, tick) -> None:
        src = w.source
        todo = [
            r
            for r in w.runs
            if r.run_id not in w.dest_runs or not compare.is_complete(r, w.dest_runs[r.run_id])
        ]
        lifecycle = [
            r
            for r in w.runs
            if r.run_id in w.dest_runs
            and compare.is_complete(r, w.dest_runs[r.run_id])
            and w.dest_runs[r.run_id].deleted != r.deleted
        ]
        unchanged = len(w.runs) - len(todo) - len(lifecycle)
        self._count(experiments=1, runs_unchanged=unchanged)
        tick(src.name, unchanged)
        wanted_tags = {
            **user_tags(src.tags),
            TAG_SOURCE_EXPERIMENT: src.experiment_id,
            TAG_SOURCE_SERVER: self.old.url,
        }
        dest = w.dest
        if dest is None:
            dest_id = self.new.create_experiment(src.name, wanted_tags)
            dest = w.dest = self.new.experiment(dest_id)
        elif dest.name != src.name:
            self._rename(src, dest)
        tag_changes = {k: v for k, v in wanted_tags.items() if dest.tags.get(k) != v}
        needs_active = bool(todo or tag_changes)
        if needs_active and dest.deleted:
            self.new.restore_experiment(dest.experiment_id)
        for key, value in tag_changes.items():
            self.new.set_experiment_tag(dest.experiment_id, key, value)
        if self.store is not None:
            from cockpit.mlflow.records import record_mapping

            record_mapping(
                self.store, "experiment", src.experiment_id, dest.experiment_id, experiment=src.name
            )

        # One pass, no barrier: each worker reads a run from the old server, makes its copy if
        # missing (and its parent's, so the parent link can name the copy), then writes. With
        # every missing copy made up front, the old server sat idle for the first tenth of a
        # copy and the new one for part of the rest (measured in bench/sync.py).
        created_before = self._result.runs_created
        futures = {pool.submit(self._copy_run, r, w): r for r in todo}
        futures.update(
            {pool.submit(self._fix_lifecycle, r, w.dest_runs[r.run_id]): r for r in lifecycle}
        )
        for future in as_completed(futures):
            run = futures[future]
            try:
                future.result()
            except DeadlineExceeded as exc:
                self._stop.set()  # the runs still queued fail fast, unlisted
                self._deadline = self._deadline or exc
            except RunIncomplete as exc:
                for problem in exc.problems:
                    self._error(f"{src.name} / {run.run_id}: {problem}")
            except CockpitError as exc:
                self._error(f"{src.name} / {run.run_id}: {exc.message}")
            tick(src.name, 1)
        if self._deadline is not None:
            raise self._deadline
        created = self._result.runs_created - created_before
        self._count(runs_updated=len(todo) - created, runs_lifecycle=len(lifecycle))
        # The experiment's own lifecycle comes last: runs cannot be written in a deleted one.
        current = self.new.experiment(dest.experiment_id)
        if src.deleted and not current.deleted:
            self.new.delete_experiment(dest.experiment_id)
        elif not src.deleted and current.deleted:
            self.new.restore_experiment(dest.experiment_id)
        w.dest = self.new.experiment(dest.experiment_id)
        if self.store is not None:
            self.store.append_event(
                "mlflow.sync.experiment",
                {
                    "name": src.name,
                    "source_id": src.experiment_id,
                    "dest_id": dest.experiment_id,
                    "created": created,
                    "updated": len(todo) - created,
                    "lifecycle": len(lifecycle),
                    "deleted": src.deleted,
                },
                source=self.source,
            )

    def _rename(self, src: Experiment, dest: Experiment) -> None:
        """The source experiment was renamed after it was copied: the copy follows, unless the
        new name is taken on the destination by an experiment that is not this one's copy."""
        taken = self.new.experiment_by_name(src.name)
        if taken is not None and taken.experiment_id != dest.experiment_id:
            self._error(
                f"{src.name}: renamed on the old server (was {dest.name!r}), but the new server "
                f"already has another experiment named {src.name!r}; the copy keeps its name"
            )
            return
        self.new.rename_experiment(dest.experiment_id, src.name)
        self._count(experiments_renamed=1)

    # ------------------------------------------------------------------ runs
    def _find_copy(self, experiment_id: str, source_run_id: str) -> Run | None:
        for run in self.new.search_runs(
            [experiment_id], filter_string=f"tags.`{TAG_SOURCE_RUN}` = '{source_run_id}'"
        ):
            return run
        return None

    def _ensure_copy(self, w: _ExperimentWork, src: Run) -> Run:
        """The copy of ``src``, made once even when two workers ask together (a child asks for
        its parent's copy while the parent's own worker may)."""
        with self._lock:
            copy = w.dest_runs.get(src.run_id)
            if copy is not None:
                return copy
            pending = self._creating.get(src.run_id)
            owner = pending is None
            if pending is None:
                pending = self._creating[src.run_id] = Future()
        if not owner:
            return pending.result()
        assert w.dest is not None
        try:
            copy = self._create_run(w.dest.experiment_id, src)
        except BaseException as exc:
            with self._lock:
                del self._creating[src.run_id]
            pending.set_exception(exc)
            raise
        with self._lock:
            w.dest_runs[src.run_id] = self._dest_runs[src.run_id] = copy
            del self._creating[src.run_id]
            self._made.add(src.run_id)
            self._result.runs_created += 1
        pending.set_result(copy)
        return copy

    def _create_run(self, dest_experiment_id: str, src: Run) -> Run:
        tags = {TAG_SOURCE_RUN: src.run_id}
        if src.run_name:
            tags[RUN_NAME_TAG] = src.run_name
        for attempt in range(RUN_ATTEMPTS):
            try:
                return self.new.create_run(
                    dest_experiment_id,
                    start_time=src.start_time,
                    run_name=src.run_name,
                    user_id=src.user_id,
                    tags=tags,
                )
            except AmbiguousWrite:
                # Did the lost answer hide a created run? The tag says.
                found = self._find_copy(dest_experiment_id, src.run_id)
                if found is not None:
                    return found
                time.sleep(0.05 * (attempt + 1))
        raise TransientError(f"could not create the copy of run {src.run_id}")

    def _read_source(self, src: Run, copy: Run | None = None) -> _SourceRun:
        """What a copy needs from the old server beyond the search: each metric's full history
        and the artifact listing. Read before the copy is written to, so the old server works
        while the new one is busy with another worker's writes. ``copy``: the run's existing
        copy, whose artifacts are not read ahead again."""
        history = self.history.histories(src) if self.history is not None else None
        if history is None:
            history = {k: self.old.metric_history(src.run_id, k) for k in sorted(src.metrics)}
            self._count(histories_over_rest=1)
        else:
            self._count(histories_from_db=1)
        refused: list[str] = []
        files = self.old.list_artifacts(src, refused)
        data = _SourceRun(history, files, refused)
        if files and copy is not None:
            # A copy being updated (a late tag, a finished run) mostly has its artifacts: the
            # listing _copy_artifacts would make anyway, made now, keeps them from being read.
            data.have = {f.path: f.size for f in self.new.list_artifacts(copy)}
        needed = [f for f in files if (data.have or {}).get(f.path) != f.size]
        if files and not refused and sum(f.size for f in needed) <= PREFETCH_ARTIFACT_BYTES:
            # Read now, the copy needs no request after its data's last batch to mark it done
            # (one request fewer per run on the new server, measured in bench/sync.py).
            data.blobs = {}
            data.ahead = frozenset(f.path for f in needed)
            for item in needed:
                buffer = io.BytesIO()
                problem = self._download(src, item, buffer)
                if problem is not None:
                    data.unread.append(problem)
                    continue
                data.blobs[item.path] = buffer.getvalue()
        return data

    def _download(self, src: Run, item: ArtifactFile, fh: IO[bytes]) -> str | None:
        """Read one artifact of ``src`` into ``fh``: None when it came, else the problem to list
        for it (one artifact the old server will not give does not stop the others). The sync's
        deadline running out stops everything."""
        try:
            self.old.download_artifact(src, item.path, fh, item.size)
        except DeadlineExceeded:
            raise
        except CockpitError as exc:
            return f"artifact {item.path!r} not read: {exc.message}"
        return None

    def _copy_run(self, src: Run, w: _ExperimentWork) -> None:
        with self._lock:
            existing = w.dest_runs.get(src.run_id)
        data = self._read_source(src, existing)
        dest = self._ensure_copy(w, src)
        parent = self._source_runs.get(src.tags.get(PARENT_TAG, ""))
        if parent is not None and parent.experiment_id == src.experiment_id:
            self._ensure_copy(w, parent)  # so the link can name the copy
        with self._lock:
            # Made by this sync (by this worker, or by a child's): nothing is on it to diff.
            fresh = src.run_id in self._made
        for attempt in range(RUN_ATTEMPTS):
            try:
                self._copy_run_once(src, dest, fresh and attempt == 0, w.source.name, data)
                return
            except TransientError:
                if attempt == RUN_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))
                dest = self.new.get_run(dest.run_id)  # what the destination has now

    def _copy_run_once(
        self, src: Run, dest: Run, fresh: bool, experiment: str, data: _SourceRun
    ) -> None:
        new = self.new
        if dest.deleted:
            new.restore_run(dest.run_id)
        conflicts = [k for k in src.params if k in dest.params and dest.params[k] != src.params[k]]
        if conflicts:
            raise CockpitError(
                f"param {conflicts[0]!r} differs on the copy and params cannot be changed"
            )
        params = {k: v for k, v in src.params.items() if k not in dest.params}
        # Only the parent link needs the id map (copying the whole map per run was quadratic).
        parent = src.tags.get(PARENT_TAG, "")
        with self._lock:
            parent_copy = self._dest_runs.get(parent)
        wanted = compare.expected_tags(src, {parent: parent_copy.run_id} if parent_copy else {})
        tags = {k: v for k, v in wanted.items() if dest.tags.get(k) != v}
        # Every metric's full history, minus what an earlier, interrupted attempt already wrote.
        points = []
        for key, history in data.history.items():
            if not fresh and key in dest.metrics:
                have = {p.identity() for p in new.metric_history(dest.run_id, key)}
                history = [p for p in history if p.identity() not in have]
            points += history
        stale = set(compare.comparable_dest_tags(src, dest)) - set(wanted)
        for key in sorted(stale):
            new.delete_tag(dest.run_id, key)
        # The fingerprint marks the copy done, so it lands only once everything else has; status
        # and times follow, and a run counts as done only when the marker and those match
        # (compare.is_complete). When an artifact may still fail to come from the old server,
        # data goes before artifacts: a failure leaves a copy with its params, metrics and tags,
        # unfinished, never an empty shell. When all were read ahead (data.ready), artifacts go
        # first and the data carries the marker: a failed upload leaves a copy without it.
        fingerprint = compare.fingerprint(src)
        files = size = 0
        if not (data.files or data.refused or TAG_INCOMPLETE in dest.tags):
            # Nothing can fail after the data: the marker rides in its last batch (one request
            # fewer per run; batches go one after another).
            new.log_batch(
                dest.run_id,
                metrics=points,
                params=params,
                tags=tags,
                final_tags={TAG_FINGERPRINT: fingerprint},
            )
        elif data.ready:
            # Every artifact is in memory: they go up first, then the data with the marker in
            # its last batch. A failed upload leaves a copy without the marker, finished by the
            # retry or the next sync.
            files, size, problems = self._copy_artifacts(src, dest, fresh, data)
            if problems:
                # Only a file neither read ahead nor on the copy any more (gone from it since
                # the listing) is read here: never marked done without it; the retry lists again.
                raise TransientError(problems[0])
            if TAG_INCOMPLETE in dest.tags:
                new.delete_tag(dest.run_id, TAG_INCOMPLETE)
            new.log_batch(
                dest.run_id,
                metrics=points,
                params=params,
                tags=tags,
                final_tags={TAG_FINGERPRINT: fingerprint},
            )
        else:
            new.log_batch(dest.run_id, metrics=points, params=params, tags=tags)
            files, size, problems = self._copy_artifacts(src, dest, fresh, data)
            problems = data.refused + data.unread + problems
            if problems:
                self._count(metric_points=len(points), artifacts=files, artifact_bytes=size)
                note = f"{len(problems)} artifact(s) not copied; the next sync retries: "
                new.set_tag(dest.run_id, TAG_INCOMPLETE, (note + problems[0])[:4000])
                raise RunIncomplete(
                    [f"{p} (the run's data is copied; it stays unfinished)" for p in problems]
                )
            if TAG_INCOMPLETE in dest.tags:
                new.delete_tag(dest.run_id, TAG_INCOMPLETE)
            new.set_tag(dest.run_id, TAG_FINGERPRINT, fingerprint)
        if (
            dest.status != src.status
            or dest.end_time != src.end_time
            or (src.run_name and dest.run_name != src.run_name)
        ):
            new.update_run(
                dest.run_id, status=src.status, end_time=src.end_time, run_name=src.run_name
            )
        if src.deleted:
            new.delete_run(dest.run_id)
        self._count(metric_points=len(points), artifacts=files, artifact_bytes=size)
        if self.store is not None:
            from cockpit.mlflow.records import record_mapping

            record_mapping(
                self.store,
                "run",
                src.run_id,
                dest.run_id,
                experiment=experiment,
                fingerprint=fingerprint,
            )

    def _fix_lifecycle(self, src: Run, dest: Run) -> None:
        if src.deleted and not dest.deleted:
            self.new.delete_run(dest.run_id)
        elif not src.deleted and dest.deleted:
            self.new.restore_run(dest.run_id)

    def _copy_artifacts(
        self, src: Run, dest: Run, fresh: bool, data: _SourceRun
    ) -> tuple[int, int, list[str]]:
        """(files copied, bytes, problems): one artifact the old server will not give is a
        problem listed for it, and the others are still copied. Files read ahead come from
        memory; one that did not come then is in ``data.unread`` already."""
        if not data.files:
            return 0, 0, []
        if fresh:
            have: dict[str, int] = {}
        elif data.have is not None:
            have, data.have = data.have, None  # listed by _read_source; a retry lists again
        else:
            have = {f.path: f.size for f in self.new.list_artifacts(dest)}
        copied = size = 0
        problems: list[str] = []
        for item in data.files:
            if have.get(item.path) == item.size:
                continue
            if data.blobs is not None and item.path in data.ahead:
                blob = data.blobs.get(item.path)
                if blob is None:
                    continue
                self.new.upload_artifact(dest, item.path, io.BytesIO(blob))
                copied += 1
                size += len(blob)
                continue
            # Small files pass through memory; anything larger through a file on disk, as
            # artifacts can be any size. (A temporary folder per run cost more than the copy.)
            with _scratch(item.size) as fh:
                problem = self._download(src, item, fh)
                if problem is not None:
                    problems.append(problem)
                    continue
                fh.seek(0)
                self.new.upload_artifact(dest, item.path, fh)
            copied += 1
            size += item.size
        return copied, size, problems

    # ------------------------------------------------------------------ registry
    def _dest_run_for(self, source_run_id: str) -> tuple[Run | None, Run | None]:
        src = self._source_runs.get(source_run_id)
        dest = self._dest_runs.get(source_run_id)
        if src is None and source_run_id:
            try:
                src = self.old.get_run(source_run_id)
            except RestError:
                return None, None
        if dest is None and src is not None:
            target = self._dest_experiments().find(self.old.experiment(src.experiment_id))
            if target is not None:
                dest = self._find_copy(target.experiment_id, source_run_id)
        return src, dest

    def _sync_registry(self) -> None:
        for model in self.old.registered_models():
            versions = self.old.model_versions(model.name)
            if not self._model_in_scope(versions):
                continue
            try:
                self._sync_model(model, versions)
            except DeadlineExceeded:
                raise
            except CockpitError as exc:
                self._error(f"model {model.name}: {exc.message}")

    def _sync_model(self, model, versions: list[ModelVersion]) -> None:
        new = self.new
        dest = new.registered_model(model.name)
        if dest is None:
            new.create_registered_model(model.name, model.description, user_tags(model.tags))
            dest = new.registered_model(model.name)
            assert dest is not None
        self._count(models=1)
        if dest.description != model.description:
            new.update_registered_model(model.name, model.description)
        for key, value in user_tags(model.tags).items():
            if dest.tags.get(key) != value:
                new.set_registered_model_tag(model.name, key, value)
        existing = {v.tags.get(TAG_SOURCE_VERSION): v for v in new.model_versions(model.name)}
        version_map: dict[str, str] = {}
        for version in versions:
            copy = existing.get(version.version)
            if copy is None:
                copy = self._create_version(model.name, version)
                self._count(versions_created=1)
            version_map[version.version] = copy.version
            if copy.description != version.description:
                new.update_model_version(model.name, copy.version, version.description)
            for key, value in user_tags(version.tags).items():
                if copy.tags.get(key) != value:
                    new.set_model_version_tag(model.name, copy.version, key, value)
            if new.info.capabilities.stages and copy.stage != version.stage:
                new.transition_stage(model.name, copy.version, version.stage)
            if self.store is not None:
                from cockpit.mlflow.records import record_mapping

                record_mapping(
                    self.store,
                    "model_version",
                    f"{model.name}/{version.version}",
                    f"{model.name}/{copy.version}",
                )
        if new.info.capabilities.aliases:
            wanted = compare.expected_aliases(
                model, versions, version_map, map_stages=self.options.map_stages_to_aliases
            )
            current = new.registered_model(model.name)
            for alias, number in sorted(wanted.items()):
                if current is None or current.aliases.get(alias) != number:
                    new.set_alias(model.name, alias, number)

    def _create_version(self, name: str, version: ModelVersion) -> ModelVersion:
        src_run, dest_run = self._dest_run_for(version.run_id)
        source = compare.remap_source(version.source, src_run, dest_run)
        tags = {**user_tags(version.tags), TAG_SOURCE_VERSION: version.version}
        for attempt in range(RUN_ATTEMPTS):
            try:
                return self.new.create_model_version(
                    name,
                    source=source,
                    run_id=dest_run.run_id if dest_run else "",
                    description=version.description,
                    tags=tags,
                )
            except AmbiguousWrite:
                for copy in self.new.model_versions(name):
                    if copy.tags.get(TAG_SOURCE_VERSION) == version.version:
                        return copy
                time.sleep(0.05 * (attempt + 1))
        raise TransientError(f"could not create the copy of {name} version {version.version}")
