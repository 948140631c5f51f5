"""The sync through a proxy that fails requests (5xx, dropped connections, latency) still ends
with a copy that verifies clean, with no duplicates."""

from __future__ import annotations

import uuid

import pytest
import seed
from faultproxy import FaultProxy, Faults

from cockpit.mlflow.adapter import connect_new, connect_old
from cockpit.mlflow.models import TAG_SOURCE_RUN
from cockpit.mlflow.rest import RetryPolicy
from cockpit.mlflow.sync import Syncer, SyncOptions
from cockpit.mlflow.verify import verify

pytestmark = pytest.mark.servers


def test_sync_through_faults_is_verify_clean(mlflow_v1, mlflow_v2):
    prefix = f"faults-{uuid.uuid4().hex[:6]}"
    seeded = seed.rich(mlflow_v1.url, prefix, history_steps=1200)
    bulk_name = f"{prefix} bulk"
    bulk_ids = seed.bulk(mlflow_v1.url, bulk_name, 15, steps=50)
    names = [*seeded.experiments, bulk_name]
    old_faults = Faults(error=0.08, drop_before=0.04, drop_after=0.04, latency=0.01, seed=11)
    new_faults = Faults(error=0.08, drop_before=0.04, drop_after=0.06, latency=0.01, seed=12)
    with (
        FaultProxy(mlflow_v1.url, old_faults) as old_proxy,
        FaultProxy(mlflow_v2.url, new_faults) as new_proxy,
    ):
        old, new = connect_old(old_proxy.url), connect_new(new_proxy.url)
        for client in (old.rest, new.rest):
            client.retry = RetryPolicy(attempts=12, base_delay_s=0.01, max_delay_s=0.1)
        result = Syncer(old, new, options=SyncOptions(experiments=names, workers=4)).run()
    assert result.errors == []
    # The faults really happened, including the ambiguous kind (server acted, answer lost).
    assert new_faults.counts.get("drop_after", 0) > 5 and new_faults.counts.get("error", 0) > 5
    assert old_faults.counts.get("drop_before", 0) > 2

    direct_old, direct_new = connect_old(mlflow_v1.url), connect_new(mlflow_v2.url)
    report = verify(direct_old, direct_new, experiments=names)
    assert [d.line() for d in report.differences] == []
    ids = [e.experiment_id for e in direct_new.experiments() if e.name in names]
    copies = list(direct_new.search_runs(ids))
    assert len(copies) == len(seeded.runs) + len(bulk_ids)
    assert len({c.tags[TAG_SOURCE_RUN] for c in copies}) == len(copies)
