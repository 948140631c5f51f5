"""One sentence per event kind, shared by the Cutover timeline, the report's timeline and the
playbook: "Copied 98 runs of kyros/demand-forecast", "Rehearsed the DB upgrade to 2.22.5:
clean, 9 steps, 2.9 s", "lead marked MLF103 as waived on kyros-fraud-score".

Payloads come from servers, scanned trees and state files another process wrote: every value is
made terminal-safe (controls and bidi marks shown as escapes) and bounded here; a sink still
escapes the sentence for itself (rich ``Text`` in the TUI, ``md_text`` in Markdown, ``html.escape``
in HTML). The raw payload stays one key away (the timeline's detail pane, ``--format json``).

``KINDS`` lists every kind the cockpit writes; ``tests/test_event_sentences.py`` checks it
against the writers in the source and renders each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cockpit.textsafe import terminal

MAX_VALUE = 160  # characters of one value in a sentence (a server error can be pages long)
MAX_SENTENCE = 400


class _Payload:
    """Read access to a payload that never raises and never passes raw outside text on."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data if isinstance(data, Mapping) else {}

    def s(self, key: str, default: str = "?") -> str:
        value = self.data.get(key)
        if value is None or value == "":
            return default
        text = terminal(value)
        return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"

    def n(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int | float):
            return int(value)
        if isinstance(value, list | tuple | dict):
            return len(value)
        try:
            return int(float(str(value)))
        except (TypeError, ValueError):
            return 0

    def has(self, key: str) -> bool:
        return self.data.get(key) not in (None, "", [], {})

    def duration(self, key: str) -> str:
        value = self.data.get(key)
        return seconds_text(value) if isinstance(value, int | float) else "?"

    def names(self, key: str, limit: int = 4) -> str:
        value = self.data.get(key)
        items = list(value) if isinstance(value, list | tuple | dict) else []
        shown = [self._short(x) for x in items[:limit]]
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(shown) + more if shown else "none"

    @staticmethod
    def _short(value: Any) -> str:
        text = terminal(value)
        return text if len(text) <= 60 else text[:59] + "…"


def seconds_text(seconds: float) -> str:
    """46 s, 2 min 5 s, 1 h 3 min: how long something took, as people say it."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def pipeline_name(value: str) -> str:
    """``job:kyros-churn-train`` -> ``kyros-churn-train`` (the checklist's own id prefixes)."""
    for prefix in ("job:", "folder:", "workspace:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def item_name(value: str) -> str:
    """``rule:PY301`` -> ``PY301``; ``manual:owner-signed-off`` -> ``"owner signed off"``."""
    if value.startswith("rule:"):
        return value[5:]
    if value.startswith("manual:"):
        return f"“{value[7:].replace('-', ' ')}”"
    return value


Renderer = Callable[[_Payload, str], str]
_RENDERERS: dict[str, Renderer] = {}


def renders(*kinds: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        for kind in kinds:
            _RENDERERS[kind] = fn
        return fn

    return register


# ---------------------------------------------------------------------------- migration, store
@renders("migration.started")
def _migration(p: _Payload, kind: str) -> str:
    return f"Started the migration “{p.s('name')}”: {p.s('from')} → {p.s('to')}"


@renders("store.migrated")
def _store_migrated(p: _Payload, kind: str) -> str:
    return f"Brought the state file's schema from version {p.n('from')} to {p.n('to')}"


# ------------------------------------------------------------------------------------ compat
@renders("compat.scan.recorded")
def _scan(p: _Payload, kind: str) -> str:
    return (
        f"Scanned {plural(p.n('files'), 'file')} for {p.s('from')} → {p.s('to')}: "
        f"{plural(p.n('findings'), 'finding')} ({p.n('blocking')} blocking) in "
        f"{plural(p.n('pipelines'), 'pipeline')}"
    )


@renders("compat.pipeline.added")
def _pipeline_added(p: _Payload, kind: str) -> str:
    name = p.s("name", pipeline_name(p.s("pipeline")))
    return f"Found pipeline {name} ({p.s('kind')})"


@renders("compat.pipeline.gone")
def _pipeline_gone(p: _Payload, kind: str) -> str:
    return f"Pipeline {pipeline_name(p.s('pipeline'))} is no longer found by the scan"


def _carried(p: _Payload) -> str:
    """Where a decision the scan carried came from: a folded rule's item, or the item of a
    bundle deployment's own pipeline (cockpit.compat.checklist); "" for a person's own change."""
    if p.has("carried_from_pipeline"):
        where = pipeline_name(p.s("carried_from_pipeline"))
        if p.has("carried_from") and p.s("carried_from").startswith(("rule:", "manual:")):
            return f", carried from {item_name(p.s('carried_from'))} of {where}"
        return f", carried from {where}"
    if p.has("carried_from"):
        return f", carried from {item_name(p.s('carried_from'))}"
    return ""


@renders("compat.pipeline.owner")
def _pipeline_owner(p: _Payload, kind: str) -> str:
    was = f" (was {p.s('old')})" if p.has("old") else ""
    # A pipeline owner carried from a deployment names that pipeline in carried_from.
    carried = (
        f", carried from {pipeline_name(p.s('carried_from'))}" if p.has("carried_from") else ""
    )
    return (
        f"{p.s('by')} made {p.s('new')} the owner of {pipeline_name(p.s('pipeline'))}{was}{carried}"
    )


@renders("compat.pipeline.signed_off")
def _signed_off(p: _Payload, kind: str) -> str:
    note = f": ‘{p.s('note')}’" if p.has("note") else ""
    return f"{p.s('by')} signed off {pipeline_name(p.s('pipeline'))}{note}"


@renders("compat.item.status")
def _item_status(p: _Payload, kind: str) -> str:
    item, pipeline = item_name(p.s("item")), pipeline_name(p.s("pipeline"))
    was = f" (was {p.s('old')})" if p.has("old") else ""
    if p.s("by") == "scan":
        if not p.has("old"):
            return f"The scan added {item} to {pipeline}: {p.s('new')}"
        return f"The scan set {item} on {pipeline} to {p.s('new')}{was}"
    return f"{p.s('by')} marked {item} as {p.s('new')} on {pipeline}{was}{_carried(p)}"


@renders("compat.item.owner")
def _item_owner(p: _Payload, kind: str) -> str:
    item, pipeline = item_name(p.s("item")), pipeline_name(p.s("pipeline"))
    return f"{p.s('by')} gave {item} on {pipeline} to {p.s('new')}{_carried(p)}"


@renders("compat.item.note")
def _item_note(p: _Payload, kind: str) -> str:
    item, pipeline = item_name(p.s("item")), pipeline_name(p.s("pipeline"))
    return f"{p.s('by')} noted on {item} of {pipeline}{_carried(p)}: ‘{p.s('new', '')}’"


# -------------------------------------------------------------------------------- databricks
@renders("databricks.inventory")
def _inventory(p: _Payload, kind: str) -> str:
    changes = f"{p.n('added')} new, {p.n('removed')} removed"
    return (
        f"Read the workspace inventory of {p.s('host')}: {plural(p.n('jobs'), 'job')} "
        f"({changes}), {plural(p.n('clusters'), 'cluster')}"
    )


@renders("databricks.runs")
def _runs(p: _Payload, kind: str) -> str:
    return (
        f"Read the job run history: {plural(p.n('new'), 'new run')} of {p.n('fetched')} fetched, "
        f"{p.n('active')} still running"
    )


@renders("databricks.job_runtime_changed")
def _job_runtime(p: _Payload, kind: str) -> str:
    return f"Job {p.s('job')} moved from {p.s('from')} to {p.s('to')}"


@renders("databricks.code_fetched")
def _code_fetched(p: _Payload, kind: str) -> str:
    return (
        f"Exported the workspace code jobs run: {p.n('exported')} of "
        f"{plural(p.n('objects'), 'object')} read, {p.n('unchanged')} unchanged, "
        f"{p.n('missing')} missing, {p.n('forbidden')} forbidden"
    )


@renders("databricks.probe_submitted")
def _probe_submitted(p: _Payload, kind: str) -> str:
    return f"Submitted a probe of {p.s('spark_version')} (run {p.s('run_id')})"


@renders("databricks.probe_finished")
def _probe_finished(p: _Payload, kind: str) -> str:
    message = f": {p.s('message')}" if p.has("message") else ""
    return f"Probe of {p.s('spark_version')} {p.s('state')}{message}; stored as {p.s('runtime_id')}"


@renders("ddp.probe_submitted")
def _ddp_submitted(p: _Payload, kind: str) -> str:
    return (
        f"Submitted the DDP smoke probe on {p.s('runtime_id')} "
        f"({plural(p.n('processes'), 'process', 'processes')}, {p.s('backend')}; run {p.s('run_id')})"
    )


@renders("ddp.probe_finished")
def _ddp_finished(p: _Payload, kind: str) -> str:
    message = f": {p.s('message')}" if p.has("message") else ""
    return f"DDP smoke probe on {p.s('runtime_id')} {p.s('state')}{message}"


@renders("runtime.imported", "runtime.probed", "runtime.stored")
def _runtime(p: _Payload, kind: str) -> str:
    verb = {"runtime.imported": "Imported", "runtime.probed": "Stored the probed"}.get(
        kind, "Stored"
    )
    return (
        f"{verb} runtime {p.s('runtime_id')} ({plural(p.n('libraries'), 'library', 'libraries')})"
    )


# ------------------------------------------------------------------------------------ mlflow
@renders("mlflow.poll")
def _poll(p: _Payload, kind: str) -> str:
    drift = p.n("missing") + p.n("differing") + p.n("versions_missing")
    counts = f"{p.n('old_runs')} runs on the old server, {p.n('new_runs')} on the new"
    if drift == 0:
        return f"Compared the MLflow servers: in step ({counts}; {p.duration('duration_s')})"
    return (
        f"Compared the MLflow servers: {p.n('missing')} runs missing, {p.n('differing')} "
        f"differing, {p.n('versions_missing')} model versions missing ({counts})"
    )


@renders("mlflow.sync.started")
def _sync_started(p: _Payload, kind: str) -> str:
    return (
        f"Started copying {plural(p.n('experiments'), 'experiment')} from {p.s('old')} to "
        f"{p.s('new')}: {plural(p.n('runs_to_write'), 'run')} and "
        f"{plural(p.n('versions_to_create'), 'model version')} to write, {p.n('workers')} workers"
    )


@renders("mlflow.sync.experiment")
def _sync_experiment(p: _Payload, kind: str) -> str:
    updated = f", updated {p.n('updated')}" if p.n("updated") else ""
    return f"Copied {plural(p.n('created'), 'run')} of {p.s('name')}{updated}"


@renders("mlflow.sync.finished")
def _sync_finished(p: _Payload, kind: str) -> str:
    errors = p.n("errors")
    tail = f", {plural(errors, 'error')}" if errors else ""
    if p.has("deadline"):
        tail += f"; stopped: {p.s('deadline')}"
    return (
        f"Finished the copy in {p.duration('duration_s')}: {plural(p.n('runs_created'), 'run')} "
        f"created, {p.n('runs_updated')} updated{tail}"
    )


@renders("mlflow.verify.finished")
def _verify(p: _Payload, kind: str) -> str:
    scope = (
        f"{plural(p.n('experiments'), 'experiment')}, {plural(p.n('runs'), 'run')}, "
        f"{plural(p.n('artifacts'), 'artifact')}, {plural(p.n('models'), 'model')}"
    )
    if p.n("differences") == 0:
        return f"Deep verify clean: {scope} compared"
    return f"Deep verify found {plural(p.n('differences'), 'difference')} ({scope} compared)"


@renders("mlflow.mirror.started")
def _mirror_started(p: _Payload, kind: str) -> str:
    return f"Started mirroring {p.s('old')} → {p.s('new')} every {p.duration('interval_s')}"


@renders("mlflow.mirror.cycle")
def _mirror_cycle(p: _Payload, kind: str) -> str:
    errors = f", {plural(p.n('errors'), 'error')}" if p.n("errors") else ""
    return (
        f"Mirror cycle {p.n('cycle')}: {plural(p.n('runs_created'), 'run')} copied, "
        f"{p.n('runs_updated')} updated, {plural(p.n('versions_created'), 'model version')}"
        f"{errors}; drift {p.n('drift')}"
    )


@renders("mlflow.mirror.error")
def _mirror_error(p: _Payload, kind: str) -> str:
    return f"Mirror cycle {p.n('cycle')} failed: {p.s('error')}"


@renders("mlflow.mirror.paused", "mlflow.mirror.resumed", "mlflow.mirror.stopped")
def _mirror_state(p: _Payload, kind: str) -> str:
    verb = {"paused": "Paused", "resumed": "Resumed", "stopped": "Stopped"}[kind.rsplit(".", 1)[1]]
    return f"{verb} the mirror after {plural(p.n('cycles'), 'cycle')}"


@renders("mlflow.rehearsal.finished", "mlflow.rehearsal.failed")
def _rehearsal(p: _Payload, kind: str) -> str:
    target = p.s("to_version", "the new MLflow")
    steps = plural(p.n("migrations"), "step")
    if kind.endswith("finished"):
        return f"Rehearsed the DB upgrade to {target}: clean, {steps}, {p.duration('duration_s')}"
    why = p.s("error") if p.has("error") else ""
    if not why and p.has("rows_lost"):
        why = f"rows lost in {p.names('rows_lost')}"
    if not why and p.data.get("source_unchanged") is False:
        why = "the source database changed during the rehearsal"
    return f"Rehearsal of the DB upgrade to {target} failed: {why or 'not clean'} ({steps})"


@renders("mlflow.schema.baseline")
def _schema_baseline(p: _Payload, kind: str) -> str:
    return (
        f"Recorded the {p.s('label', 'old')} backend's schema baseline: revision {p.s('revision')}"
    )


@renders("mlflow.schema.changed")
def _schema_changed(p: _Payload, kind: str) -> str:
    why = f": {p.s('why')}" if p.has("why") else ""
    return (
        f"ALARM: the {p.s('label', 'old')} backend's schema moved from {p.s('from')} to "
        f"{p.s('to')}{why}"
    )


@renders("mlflow.schema.acknowledged")
def _schema_ack(p: _Payload, kind: str) -> str:
    return f"Acknowledged the {p.s('label', 'old')} backend's schema at revision {p.s('revision')}"


@renders("mlflow.schema.unreadable")
def _schema_unreadable(p: _Payload, kind: str) -> str:
    return f"Could not read the {p.s('label', 'old')} backend's schema: {p.s('error')}"


# ------------------------------------------------------------------------------------- bench
@renders("bench.samples_recorded")
def _bench_samples(p: _Payload, kind: str) -> str:
    pipelines = p.data.get("pipelines")
    names = p.names("pipelines") if isinstance(pipelines, dict) else "?"
    return (
        f"Recorded {plural(p.n('added'), 'benchmark sample')} (of {p.n('offered')} offered) "
        f"for {names}"
    )


@renders("bench.rerun_submitted")
def _rerun_submitted(p: _Payload, kind: str) -> str:
    return (
        f"Submitted a shadow re-run of {p.s('pipeline')} on {p.s('runtime')} (run {p.s('run_id')})"
    )


@renders("bench.rerun_finished")
def _rerun_finished(p: _Payload, kind: str) -> str:
    took = f" in {p.duration('duration_s')}" if p.has("duration_s") else ""
    message = f": {p.s('message')}" if p.has("message") else ""
    return f"Shadow re-run of {p.s('pipeline')} on {p.s('runtime')} {p.s('state')}{took}{message}"


# ----------------------------------------------------------------------------------- cutover
@renders("cutover.gate")
def _gate(p: _Payload, kind: str) -> str:
    before = p.s("from", "unknown").upper()
    return f"Gate {p.s('gate')}: {before} → {p.s('to').upper()} ({p.s('evidence', 'no evidence')})"


@renders("cutover.decision")
def _decision(p: _Payload, kind: str) -> str:
    if p.data.get("go"):
        return "Decision: GO, every gate passes"
    return f"Decision: NO-GO, failing: {p.names('failing')}"


@renders("cutover.gate.waived")
def _waived(p: _Payload, kind: str) -> str:
    return f"{p.s('by')} waived gate {p.s('gate')}: ‘{p.s('reason')}’"


@renders("cutover.gate.unwaived")
def _unwaived(p: _Payload, kind: str) -> str:
    return f"{p.s('by')} withdrew the waiver of gate {p.s('gate')}"


@renders("recorder.started")
def _recorder_started(p: _Payload, kind: str) -> str:
    return f"Started recording {p.names('sources', 8)}"


@renders("recorder.stopped")
def _recorder_stopped(p: _Payload, kind: str) -> str:
    polls = p.data.get("polls")
    total = sum(v for v in polls.values() if isinstance(v, int)) if isinstance(polls, dict) else 0
    return f"Stopped recording after {p.duration('seconds')} ({plural(total, 'poll')})"


@renders("source.status")
def _source_status(p: _Payload, kind: str) -> str:
    was = f" (was {p.s('from')})" if p.has("from") else ""
    error = f": {p.s('error')}" if p.has("error") else ""
    return f"Source {p.s('source')} is {p.s('to')}{was}{error}"


@renders("source.error")
def _source_error(p: _Payload, kind: str) -> str:
    return (
        f"Source {p.s('source')} failed ({plural(p.n('failures'), 'failure')} in a row): "
        f"{p.s('error')}"
    )


KINDS = frozenset(_RENDERERS)


def sentence(kind: str, payload: Mapping[str, Any] | None) -> str:
    """The event told in one line of plain, terminal-safe text (no markup, no JSON)."""
    p = _Payload(payload or {})
    renderer = _RENDERERS.get(kind)
    text = ""
    if renderer is not None:
        try:
            text = renderer(p, kind)
        except (KeyError, TypeError, ValueError, AttributeError):
            text = ""  # a payload of an unexpected shape (another build wrote it)
    if not text:
        text = _generic(kind, p)
    text = terminal(text)
    return text if len(text) <= MAX_SENTENCE else text[: MAX_SENTENCE - 1] + "…"


def _generic(kind: str, p: _Payload) -> str:
    """An event kind this build does not know (a newer build wrote it): its name in words and
    its plain fields, never its JSON."""
    words = terminal(kind).replace(".", " ").replace("_", " ")
    fields = [
        f"{terminal(k)} {p.s(k)}"
        for k, v in list(p.data.items())[:6]
        if isinstance(v, str | int | float | bool)
    ]
    return words[:1].upper() + words[1:] + (f": {', '.join(fields)}" if fields else "")
