"""The benchmark report in three forms: rows for a table, JSON for scripts, one offline HTML file.

The HTML is a single self-contained file for the client team: the numbers as a table (readable
even with scripts disabled) plus interactive plotly charts, with plotly.js embedded inline so it
opens with no network at all.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cockpit import secrets
from cockpit.bench.data import DURATION, compare_store, load_samples, load_units, runtimes_compared
from cockpit.bench.rerun import RerunRecord, reruns
from cockpit.bench.stats import Comparison, summarize

if TYPE_CHECKING:
    import pandas as pd

    from cockpit.config import CockpitConfig
    from cockpit.store import StateStore

COLUMNS = [
    "pipeline",
    "metric",
    "verdict",
    "n old",
    "n new",
    "median old",
    "median new",
    "ratio",
    "95% CI",
    "p-value",
]
VERDICT_STYLE = {
    "regression": "bold red",
    "improvement": "green",
    "no change": "",
    "insufficient data": "yellow",
}
VERDICT_COLOR = {
    "regression": "#c62828",
    "improvement": "#2e7d32",
    "no change": "#455a64",
    "insufficient data": "#b58900",
}
OLD_COLOR, NEW_COLOR, SHADOW_COLOR = "#1f77b4", "#ff7f0e", "#d62728"


@dataclass
class BenchReport:
    migration: str
    old_runtime: str
    new_runtime: str
    generated_at: float
    comparisons: list[Comparison]
    samples: pd.DataFrame
    units: dict[tuple[str, str], str] = field(default_factory=dict)
    reruns: list[dict[str, Any]] = field(default_factory=list)  # shadow re-runs, newest first

    @property
    def counts(self) -> dict[str, int]:
        return summarize(self.comparisons)


def build_report(
    store: StateStore, config: CockpitConfig | None, *, as_of: float | None = None
) -> BenchReport:
    old, new = runtimes_compared(store, config)
    samples = load_samples(store, as_of=as_of)
    name = store.migration_route(config).name
    return BenchReport(
        migration=name,
        old_runtime=old,
        new_runtime=new,
        generated_at=as_of if as_of is not None else store.clock(),
        comparisons=compare_store(store, config, as_of=as_of, samples=samples),
        samples=samples,
        units=load_units(store),
        reruns=[_rerun_json(r) for r in reruns(store, as_of=as_of)],
    )


RERUN_COLUMNS = ["submitted (UTC)", "pipeline", "runtime", "run id", "state", "duration s", "note"]


def _rerun_json(rerun: RerunRecord) -> dict[str, Any]:
    return {
        "submitted_at": _iso(rerun.submitted_at),
        "pipeline": rerun.pipeline,
        "runtime": rerun.runtime,
        "run_id": rerun.run_id,
        "run_name": rerun.run_name,
        "state": rerun.state,
        "duration_s": rerun.duration_s,
        "message": rerun.message,
    }


def rerun_rows(report: BenchReport) -> list[list[str]]:
    return [
        [
            r["submitted_at"].replace("T", " ").removesuffix("+00:00"),
            r["pipeline"],
            r["runtime"],
            str(r["run_id"] or "–"),
            r["state"],
            fmt_value(r["duration_s"]),
            r["message"],
        ]
        for r in report.reruns
    ]


# ------------------------------------------------------------------------------ formatting
def fmt_value(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def fmt_ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def fmt_ci(ci: tuple[float, float] | None) -> str:
    return "–" if ci is None else f"{ci[0]:.3f}–{ci[1]:.3f}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def metric_label(c: Comparison, units: dict[tuple[str, str], str] | None = None) -> str:
    unit = (units or {}).get((c.pipeline, c.metric), "")
    arrow = "↓" if c.direction == "lower" else "↑"
    return f"{c.metric}{f' ({unit})' if unit and c.metric != DURATION else ''} {arrow}"


def table_rows(report: BenchReport) -> list[list[str]]:
    return [
        [
            c.pipeline,
            metric_label(c, report.units),
            c.verdict,
            str(c.n_old),
            str(c.n_new),
            fmt_value(c.median_old),
            fmt_value(c.median_new),
            fmt_ratio(c.ratio),
            fmt_ci(c.ratio_ci),
            fmt_p(c.p_value),
        ]
        for c in report.comparisons
    ]


def to_json(report: BenchReport) -> dict[str, Any]:
    return secrets.scrub(
        {
            "migration": report.migration,
            "from": report.old_runtime,
            "to": report.new_runtime,
            "generated_at": _iso(report.generated_at),
            "method": {
                "statistic": "median",
                "ratio": "median(new) / median(old)",
                "confidence_interval": "percentile bootstrap, 95%, 2000 resamples, seeded",
                "test": "Mann-Whitney U, two-sided",
                "rule": "regression when worse by the threshold AND p < alpha",
            },
            "counts": report.counts,
            "comparisons": [c.to_json() for c in report.comparisons],
            "shadow_reruns": report.reruns,
        }
    )


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ HTML
def to_html(report: BenchReport) -> str:
    """One self-contained HTML page; plotly.js is inlined once, before the first chart."""
    charts = []
    figures = [("", ratio_figure(report))] if report.comparisons else []
    for pipeline in _pipelines_in_order(report):
        figures.append((_pipeline_heading(report, pipeline), _pipeline_figure(report, pipeline)))
    for i, (heading, fig) in enumerate(figures):
        charts.append(heading)
        charts.append(
            fig.to_html(
                full_html=False,
                include_plotlyjs=(i == 0),  # True = the whole library inline, no CDN
                include_mathjax=False,
                config={"displaylogo": False, "responsive": True},
                div_id=f"chart-{i}",
            )
        )
    esc = html.escape
    counts = report.counts
    summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    rows = []
    for c, cells in zip(report.comparisons, table_rows(report), strict=True):
        tds = "".join(f"<td>{esc(cell)}</td>" for cell in cells)
        rows.append(f'<tr style="color:{VERDICT_COLOR[c.verdict]}">{tds}</tr>')
    header = "".join(f"<th>{esc(col)}</th>" for col in COLUMNS)
    rule = report.comparisons[0] if report.comparisons else None
    rule_text = (
        f"threshold {rule.threshold:g}, alpha {rule.alpha:g}, at least {rule.min_runs} runs per "
        "runtime (per-pipeline overrides apply)"
        if rule
        else "no samples recorded yet"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Benchmarks: {esc(report.old_runtime)} → {esc(report.new_runtime)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; }}
th:first-child, td:first-child, td:nth-child(2), td:nth-child(3) {{ text-align: left; }}
.method {{ max-width: 60em; color: #444; }}
</style></head><body>
<h1>Regression benchmarks: {esc(report.old_runtime)} → {esc(report.new_runtime)}</h1>
<p>{esc(report.migration)} · generated {esc(_iso(report.generated_at))} · {esc(summary or "no data")}</p>
<table id="numbers"><thead><tr>{header}</tr></thead><tbody>
{"".join(rows)}
</tbody></table>
<p class="method"><b>Method.</b> Per pipeline and metric: the median on each runtime; the ratio
new/old with a 95% percentile-bootstrap interval (2000 resamples, seeded); a two-sided Mann–Whitney
U p-value. A change is called only when the ratio is worse (or better) than the threshold <i>and</i>
p &lt; alpha; fewer runs than the minimum gives <i>insufficient data</i>. ↓ lower is better,
↑ higher is better. Rule: {esc(rule_text)}.</p>
{"".join(charts)}
{_reruns_html(report)}
</body></html>
"""
    return secrets.scrub_text(page)


def _reruns_html(report: BenchReport) -> str:
    if not report.reruns:
        return ""
    esc = html.escape
    header = "".join(f"<th>{esc(c)}</th>" for c in RERUN_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>"
        for row in rerun_rows(report)
    )
    return (
        '<h2>Shadow re-runs</h2><p class="method">One-time runs of each job with its tasks\' '
        "spark_version set to the target runtime, named [cockpit-shadow] and tagged "
        "cockpit_shadow=true on their clusters; never counted as production runs.</p>"
        f'<table id="reruns"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>'
    )


def _pipelines_in_order(report: BenchReport) -> list[str]:
    seen: list[str] = []
    for c in report.comparisons:
        if c.pipeline not in seen:
            seen.append(c.pipeline)
    return seen


def ratio_figure(report: BenchReport):
    import plotly.graph_objects as go

    comps = list(reversed(report.comparisons))  # worst at the top of a horizontal chart
    labels = [f"{c.pipeline} · {c.metric}" for c in comps]
    ratios = [c.ratio for c in comps]
    plus = [(c.ratio_ci[1] - c.ratio) if c.ratio_ci and c.ratio else 0 for c in comps]
    minus = [(c.ratio - c.ratio_ci[0]) if c.ratio_ci and c.ratio else 0 for c in comps]
    fig = go.Figure(
        go.Scatter(
            x=ratios,
            y=labels,
            mode="markers",
            marker={"size": 11, "color": [VERDICT_COLOR[c.verdict] for c in comps]},
            error_x={"type": "data", "array": plus, "arrayminus": minus},
            text=[f"{c.verdict}<br>p={fmt_p(c.p_value)}<br>n={c.n_old}/{c.n_new}" for c in comps],
            hovertemplate="%{y}<br>ratio %{x:.3f}<br>%{text}<extra></extra>",
        )
    )
    threshold = report.comparisons[0].threshold
    for x, dash in ((1.0, "solid"), (threshold, "dash"), (1.0 / threshold, "dash")):
        fig.add_vline(x=x, line_dash=dash, line_color="#999")
    fig.update_layout(
        title="Ratio new/old median with 95% CI (right of 1 = larger on the new runtime)",
        height=max(300, 60 + 40 * len(comps)),
        margin={"l": 260},
        xaxis_title="ratio",
    )
    return fig


def _charted(report: BenchReport, pipeline: str):
    """(the comparison whose metric the pipeline's charts show, the other comparisons)."""
    comps = [c for c in report.comparisons if c.pipeline == pipeline]
    charted = next((c for c in comps if c.metric == DURATION), comps[0])
    return charted, [c for c in comps if c is not charted]


def _pipeline_heading(report: BenchReport, pipeline: str) -> str:
    """The heading above a pipeline's charts names the metric they show, with its verdict; the
    pipeline's other metrics follow as a line of text, marked as not charted."""
    esc = html.escape
    charted, others = _charted(report, pipeline)
    better = "lower" if charted.direction == "lower" else "higher"
    heading = (
        f'<h3 class="chart-heading">{esc(pipeline)} — {esc(charted.metric)} ({better} is '
        f"better): {esc(fmt_value(charted.median_old))} → {esc(fmt_value(charted.median_new))} "
        f"({esc(charted.verdict)})</h3>"
    )
    if others:
        notes = "; ".join(
            f"{c.metric}: {fmt_value(c.median_old)} → {fmt_value(c.median_new)} ({c.verdict})"
            for c in others
        )
        heading += f'<p class="method">Other metrics, not charted: {esc(notes)}.</p>'
    return heading


def _pipeline_figure(report: BenchReport, pipeline: str):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    duration, _others = _charted(report, pipeline)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.35, 0.65],
        subplot_titles=(
            f"{duration.metric}: median with 95% CI · {duration.verdict}",
            f"{duration.metric} per run over time",
        ),
    )
    for runtime, median, ci, color in (
        (duration.old_runtime, duration.median_old, duration.old_ci, OLD_COLOR),
        (duration.new_runtime, duration.median_new, duration.new_ci, NEW_COLOR),
    ):
        err = None
        if ci is not None and median is not None:
            err = {"type": "data", "array": [ci[1] - median], "arrayminus": [median - ci[0]]}
        fig.add_trace(
            go.Bar(
                x=[runtime],
                y=[median if median is not None else 0],
                marker_color=color,
                error_y=err,
                name=runtime,
                legendgroup=runtime,
                showlegend=False,
            ),
            row=1,
            col=1,
        )
    frame = report.samples
    rows = frame[(frame["pipeline"] == pipeline) & (frame["metric"] == duration.metric)]
    for runtime, color in ((duration.old_runtime, OLD_COLOR), (duration.new_runtime, NEW_COLOR)):
        for shadow in (False, True):
            part = rows[(rows["runtime"] == runtime) & ((rows["origin"] == "shadow") == shadow)]
            if part.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=[dt.datetime.fromtimestamp(t, tz=dt.UTC) for t in part["run_ts"]],
                    y=part["value"].tolist(),
                    mode="markers",
                    marker={
                        "color": color,
                        "symbol": "diamond" if shadow else "circle",
                        "size": 9,
                    },
                    name=f"{runtime}{' (shadow)' if shadow else ''}",
                    text=part["run_ref"].tolist(),
                    hovertemplate="%{x}<br>%{y:.1f}<br>run %{text}<extra></extra>",
                ),
                row=1,
                col=2,
            )
    # The title names the metric the charts show (it used to carry the other metrics' verdicts,
    # which read as the charts' own); plotly renders some HTML in titles: escape the name.
    fig.update_layout(
        title=f"{html.escape(pipeline)}: {html.escape(duration.metric)}",
        height=380,
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
