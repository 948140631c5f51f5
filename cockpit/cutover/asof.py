"""What every tab shows at a moment, as plain data: the contract time travel is tested against.

``state_at(store, config, T)`` on the final file must equal ``state_at(copy, config, T)`` on a
copy of the file taken at T, which holds nothing later (``tests/cutover/test_replay.py``). Each feature's part is read
through that feature's own as-of reader, the same one its tab uses.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from cockpit.cutover.gates import evaluate

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore


def state_at(
    store: StateStore, config: CockpitConfig | None, as_of: float | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "events": [(e.id, e.kind) for e in store.events(until_ts=as_of)],
        # Evidence, not change times: "since" is when the cockpit noticed, which a copy can't know.
        "gates": [(g.id, g.status, g.evidence) for g in evaluate(store, config, as_of=as_of)],
    }
    if store.has_table("mlflow_polls"):
        from cockpit.mlflow.records import drift_series, last_synced, last_verification, latest_poll

        poll = latest_poll(store, as_of=as_of)
        out["mlflow_poll"] = asdict(poll) if poll is not None else None
        verification = last_verification(store, as_of=as_of)
        out["mlflow_verify"] = asdict(verification) if verification is not None else None
        out["mlflow_drift"] = drift_series(store, as_of=as_of)
        out["mlflow_synced"] = sorted(last_synced(store, as_of=as_of).items())
    if store.has_table("checklist_items"):
        from cockpit.compat.checklist import load_checklist

        out["checklist"] = [
            (
                v.pipeline_id,
                v.ready,
                v.signed_off_by,
                [(i.item_key, i.status, i.owner, i.note) for i in v.items],
            )
            for v in load_checklist(store, as_of=as_of)
        ]
    if store.has_table("workspace_jobs"):
        from cockpit.databricks.inventory import read_jobs

        out["jobs"] = [(j.job_id, j.name, j.runtime) for j in read_jobs(store, as_of=as_of)]
    if store.has_table("bench_samples"):
        from cockpit.bench.data import compare_store
        from cockpit.errors import CockpitError

        try:
            out["bench"] = [
                (c.pipeline, c.metric, c.verdict, c.n_old, c.n_new, c.ratio)
                for c in compare_store(store, config, as_of=as_of)
            ]
        except CockpitError as exc:
            out["bench"] = exc.message
    return out
