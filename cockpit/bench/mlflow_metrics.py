"""Bring the configured MLflow metrics of each pipeline into the benchmark samples.

A pipeline's ``[benchmarks.pipelines.<name>]`` names its MLflow ``experiment`` (same name on both
servers) and its ``metrics`` (key and which way is good). Runs on the old server were produced on
the old runtime, runs on the new server on the new one; each finished run's latest value of each
metric becomes one sample. The old server is only read (its adapter cannot write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit.bench.data import (
    DURATION,
    metric_defs,
    record_samples,
    refresh_stats,
    samples_from_mlflow_runs,
)
from cockpit.errors import ConfigError

if TYPE_CHECKING:
    from cockpit.config import CockpitConfig
    from cockpit.mlflow.connection import Side
    from cockpit.store import StateStore


@dataclass
class MetricsImport:
    """What one import found, per pipeline and server."""

    added: int = 0
    runs_seen: dict[str, int] = field(default_factory=dict)  # "pipeline@old" -> runs read
    notes: list[str] = field(default_factory=list)  # e.g. experiment missing on a server


def import_mlflow_metrics(
    store: StateStore,
    config: CockpitConfig,
    *,
    pipelines: list[str] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    source: str = "cli",
) -> MetricsImport:
    from cockpit.mlflow.connection import connection_of, open_new, open_old

    wanted = {  # pipeline -> the experiment holding its runs
        name: section.experiment
        for name, section in config.benchmarks.pipelines.items()
        if (pipelines is None or name in pipelines) and section.experiment
    }
    result = MetricsImport()
    recorded = False
    if not wanted:
        result.notes.append(
            "no pipeline names an MLflow experiment ([benchmarks.pipelines.<name>] experiment)"
        )
        return result
    servers: list[tuple[Side, Any, str, Callable[..., Any]]] = [
        ("old", config.mlflow.old, config.migration.from_runtime, open_old),
        ("new", config.mlflow.new, config.migration.to_runtime, open_new),
    ]
    if all(server is None for _, server, _, _ in servers):
        raise ConfigError("no [mlflow.old] or [mlflow.new] server is configured")
    for side, server, runtime, connect in servers:
        if server is None:
            result.notes.append(f"[mlflow.{side}] is not configured; its runs were not read")
            continue
        client = connect(connection_of(config, side))
        try:
            for pipeline, experiment_name in sorted(wanted.items()):
                metrics = [m for m in metric_defs(config, pipeline) if m.name != DURATION]
                if not metrics:
                    continue
                experiment = client.experiment_by_name(experiment_name)
                if experiment is None:
                    result.notes.append(
                        f"{pipeline}: experiment {experiment_name!r} not on the {side} server"
                    )
                    continue
                runs = list(client.search_runs([experiment.experiment_id]))
                result.runs_seen[f"{pipeline}@{side}"] = len(runs)
                samples = samples_from_mlflow_runs(
                    pipeline, runs, metrics, runtime=runtime, server=side
                )
                # One computation of the statistics after every pipeline and server, not one each.
                added = record_samples(
                    store,
                    samples,
                    metrics=[(pipeline, m) for m in metrics],
                    source=source,
                    refresh=False,
                )
                recorded = True
                result.added += added
                progress(f"{pipeline}: {len(runs)} runs on the {side} server, {added} new samples")
        finally:
            client.close()
    if recorded:
        refresh_stats(store)
    return result
