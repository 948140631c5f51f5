"""Kyros' Databricks workspace: the real adapter (databricks-sdk) against the local simulator,
started here on 127.0.0.1 with sample_state/scenarios/kyros_workspace.json.

Writes the inventory (14 jobs: 9 on 14.3 LTS ML, 3 on 16.4 LTS ML, one on each standard
runtime), the run history on both runtimes, and a live probe of 16.4.x-cpu-ml-scala2.12 stored
as runtime ``probe-16.4.x-cpu-ml-scala2.12`` (diff it against 16.4-lts-ml). The simulator's port changes on every build, so
the recorded host is a fixed label: the shipped file stays the same byte for byte in content.
"""

from __future__ import annotations

from dataclasses import replace

from cockpit.databricks.adapter import ConnectOptions, WorkspaceAdapter
from cockpit.databricks.history import sync_history
from cockpit.databricks.inventory import fetch_inventory, record_inventory
from cockpit.databricks.probe import ProbeOptions, probe_runtime
from cockpit.databricks.scenario import load_scenario
from cockpit.databricks.simulator import WorkspaceSimulator

HOST_LABEL = "https://kyros-prod.cloud.databricks.example (simulated)"


def build(ctx) -> None:
    scenario = load_scenario(ctx.root / "scenarios" / "kyros_workspace.json")
    token = next(t for t, role in scenario.tokens.items() if role == "admin")
    with WorkspaceSimulator(scenario, pending_s=0.2, running_s=0.3) as sim:
        adapter = WorkspaceAdapter.connect(
            ConnectOptions(host=sim.url, token=token, retry_timeout_s=30)
        )
        inventory = replace(fetch_inventory(adapter), host=HOST_LABEL)
        record_inventory(ctx.store, inventory, source="sample")
        ctx.clock.advance(60)
        names = {j.job_id: j.name for j in inventory.jobs}
        sync_history(adapter, ctx.store, job_names=names, source="sample")
        # The team probed the target runtime on a real cluster: what 16.4 LTS ML really has.
        ctx.clock.advance(1800)
        probe_runtime(
            adapter,
            ctx.store,
            "16.4.x-cpu-ml-scala2.12",
            options=ProbeOptions(poll_interval_s=0.05, timeout_s=60, host_label=HOST_LABEL),
            source="sample",
        )
    ctx.clock.advance(3600)
