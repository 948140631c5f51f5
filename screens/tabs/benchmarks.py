"""Benchmarks tab: every pipeline and metric judged old runtime vs new, worst first, with charts.

The table is the report (medians, ratio with 95% CI, Mann–Whitney p-value, verdict). Below it, two
terminal charts for the selected row: old-vs-new medians with their bootstrap intervals, and each
run's value over time coloured by runtime (shadow re-runs marked apart). The statistics are read
from the state file when it stores them for these samples, else computed with numpy and scipy; either
way in a worker thread: the first frame of the app never waits on them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from cockpit.bench.report import (
    fmt_ci,
    fmt_p,
    fmt_ratio,
    fmt_value,
    metric_label,
)
from cockpit.bench.rerun import DEFAULT_RERUNS
from cockpit.bench.stats import Comparison
from cockpit.errors import CockpitError
from cockpit.textsafe import markup
from screens.tabs.base import CockpitTab, ViewContext
from screens.widgets.palette import Palette, palette
from screens.widgets.worker_errors import internal_error

# The charts' roles of screens.widgets.palette: one colour per runtime (the old one in the
# theme's secondary text colour, the new one in its accent: cyan and magenta under the
# high-contrast theme) and the confidence intervals in its error colour, as the bars were
# cyan, orange and red before the theme reached the charts.
OLD_ROLE, NEW_ROLE, INTERVAL_ROLE = "info", "alert", "bad"
# Roles of screens.widgets.palette (the colours come from the theme); the CLI's table and the
# HTML report keep their own (cockpit.bench.report).
VERDICT_STYLE = {
    "regression": "bold bad",
    "improvement": "good",
    "no change": "",
    "insufficient data": "warn",
}
DAY = 86400.0
MAX_POINTS = 1500  # per runtime in the runs-over-time chart


@dataclass(frozen=True)
class Series:
    """One pipeline+metric's runs as plain lists, ready to plot."""

    runtime: list[str] = field(default_factory=list)
    run_ts: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    shadow: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Loaded:
    comparisons: list[Comparison]
    # Runs of the pairs charted so far (the first one loaded with the table, others as they are
    # selected): a month of run history is 95,000 runs, of which a chart shows one pair's.
    series: dict[tuple[str, str], Series]
    units: dict[tuple[str, str], str]
    error: str = ""
    as_of: float | None = None


SERIES_KEPT = 8  # pairs whose runs stay loaded; others are read again when selected


def load(view: ViewContext, selected: tuple[str, str] | None = None) -> Loaded:
    """Everything the tab shows, read from the store as of ``view.as_of`` (runs in a worker):
    the statistics (read back from the state file when it stores them for these samples: no
    numpy, pandas or scipy in this process) and the runs of the pair that will be selected
    (``selected`` if it is still there, else the first row)."""
    from cockpit.bench.data import compare_store, load_units

    try:
        comparisons = compare_store(view.store, view.config, as_of=view.as_of)
        keys = [(c.pipeline, c.metric) for c in comparisons]
        first = selected if selected in keys else (keys[0] if keys else None)
        series = {first: load_series(view, first)} if first is not None else {}
    except CockpitError as exc:
        return Loaded([], {}, {}, exc.message, view.as_of)
    return Loaded(comparisons, series, load_units(view.store), as_of=view.as_of)


def load_series(view: ViewContext, key: tuple[str, str]) -> Series:
    """One pipeline+metric's runs as of ``view.as_of``, oldest first."""
    from cockpit.bench.data import sample_columns

    samples = sample_columns(view.store, as_of=view.as_of, pipeline=key[0])
    return series_of(samples).get(key, Series())


def series_of(samples: dict[str, list]) -> dict[tuple[str, str], Series]:
    """Each pipeline+metric's runs, in the samples' order (oldest run first)."""
    series: dict[tuple[str, str], Series] = {}
    for pipeline, metric, runtime, run_ts, value, origin in zip(
        samples["pipeline"],
        samples["metric"],
        samples["runtime"],
        samples["run_ts"],
        samples["value"],
        samples["origin"],
        strict=True,
    ):
        one = series.get((pipeline, metric))
        if one is None:
            one = series[(pipeline, metric)] = Series()
        one.runtime.append(runtime)
        one.run_ts.append(float(run_ts))
        one.value.append(float(value))
        one.shadow.append(origin == "shadow")
    return series


class BenchmarksTab(CockpitTab):
    TAB_ID = "benchmarks"
    TITLE = "Benchmarks"
    ORDER = 50
    DEFAULT_FOCUS = "#bench-table"
    # Shadow runs take minutes on a real workspace; checking every 10 s is plenty.
    RERUN_POLL_S: ClassVar[float] = 10.0
    DEFAULT_CSS = """
    #bench-summary { height: auto; padding: 0 1; }
    #bench-table { height: auto; max-height: 14; border: round $primary; }
    #bench-detail { height: auto; max-height: 4; padding: 0 1; }
    #bench-progress { height: auto; padding: 0 1; color: $warning; }
    #bench-charts { height: 1fr; min-height: 12; }
    #bench-bars { width: 2fr; border: round $secondary; }
    #bench-time { width: 3fr; border: round $secondary; }
    """
    BINDINGS: ClassVar = [
        Binding("m", "next_metric", "Next metric", id="benchmarks.metric"),
        Binding("n", "next_pipeline", "Next pipeline", id="benchmarks.pipeline"),
        Binding("r", "rerun", "Shadow re-run", id="benchmarks.rerun"),
    ]
    COMMANDS: ClassVar = [
        ("Next metric of this pipeline", "chart another metric", "next_metric"),
        ("Next pipeline", "move to the next pipeline in the table", "next_pipeline"),
        (
            "Shadow re-run the selected pipeline",
            f"submit {DEFAULT_RERUNS} runs of its job on the target runtime",
            "rerun",
        ),
    ]

    def __init__(self, view: ViewContext) -> None:
        super().__init__(view)
        self.loaded: Loaded | None = None
        self.selected: tuple[str, str] | None = None
        self._rows: list[Comparison] = []
        self._generation = 0
        self._shown_generation = 0
        self.rerunning: str | None = None  # pipeline whose shadow runs are going
        self._fingerprint: tuple | None = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Loading benchmarks…", id="bench-summary")
            table: DataTable = DataTable(id="bench-table", cursor_type="row", zebra_stripes=True)
            table.add_columns(
                "pipeline",
                "metric",
                "verdict",
                "n old/new",
                "median old",
                "median new",
                "ratio",
                "95% CI",
                "p-value",
            )
            yield table
            yield Static(id="bench-detail")
            yield Static(id="bench-progress")
            with Horizontal(id="bench-charts"):
                yield PlotextPlot(id="bench-bars")
                yield PlotextPlot(id="bench-time")

    def on_mount(self) -> None:
        self.refresh_view(self.view)

    # ------------------------------------------------------------------ data
    def refresh_view(self, view: ViewContext) -> None:
        from cockpit.bench.data import samples_fingerprint

        super().refresh_view(view)
        # The statistics cost ~10 ms per pipeline; re-run them only when the samples changed,
        # not on every write other features make to the state file.
        # Without the moment (its first part): a time-travel step that does not change the
        # samples seen (most of them, in a month of events) keeps what is shown.
        fingerprint = samples_fingerprint(view.store, as_of=view.as_of)[1:]
        if fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        self._generation += 1
        self._load(view, self._generation)

    # Not exclusive: cancelling a thread mid-query gains nothing. Instead each load carries a
    # generation number and only the newest one is shown, whatever order they finish in.
    @work(thread=True, group="bench-load")
    def _load(self, view: ViewContext, generation: int) -> None:
        loaded = load(view, self.selected)
        self.app.call_from_thread(self._show, loaded, generation)

    @work(thread=True, group="bench-series")
    def _load_series(self, loaded: Loaded, key: tuple[str, str]) -> None:
        try:
            series = load_series(replace(self.view, as_of=loaded.as_of), key)
        except CockpitError as exc:
            self.app.call_from_thread(self._progress, exc.message)
            return
        self.app.call_from_thread(self._show_series, loaded, key, series)

    def _show_series(self, loaded: Loaded, key: tuple[str, str], series: Series) -> None:
        if loaded is not self.loaded:
            return  # a newer load replaced the table meanwhile
        loaded.series[key] = series
        while len(loaded.series) > SERIES_KEPT:
            loaded.series.pop(next(k for k in loaded.series if k != self.selected))
        if key == self.selected:
            self._draw()

    def restyle(self, view: ViewContext) -> None:
        # refresh_view keeps what is shown while the samples are the same: draw it again.
        super().restyle(view)
        if self.loaded is not None:
            self._show(self.loaded, self._shown_generation)

    def _show(self, loaded: Loaded, generation: int) -> None:
        if generation < self._shown_generation:
            return
        self._shown_generation = generation
        self.loaded = loaded
        self._rows = list(loaded.comparisons)
        self._fill_summary()
        table = self.query_one("#bench-table", DataTable)
        if table.is_valid_coordinate(table.cursor_coordinate):
            # The cursor, not the last handled highlight: a key moved it already if its
            # highlight is still queued behind this refill (the refill took the key back).
            value = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if value is not None:
                pipeline, metric = value.split("\x1f", 1)
                self.selected = (pipeline, metric)
        table.clear()
        p = palette(self.app)
        for c in self._rows:
            table.add_row(
                # Names come from MLflow and the config: str cells are markup, so escape them.
                markup(c.pipeline),
                markup(metric_label(c, loaded.units)),
                Text(c.verdict, style=p(VERDICT_STYLE[c.verdict])),
                f"{c.n_old}/{c.n_new}",
                fmt_value(c.median_old),
                fmt_value(c.median_new),
                fmt_ratio(c.ratio),
                fmt_ci(c.ratio_ci),
                fmt_p(c.p_value),
                key=f"{c.pipeline}\x1f{c.metric}",
            )
        keys = [(c.pipeline, c.metric) for c in self._rows]
        if self.selected not in keys:
            self.selected = keys[0] if keys else None
        if self.selected is not None:
            table.move_cursor(row=keys.index(self.selected), animate=False)
        self._draw()

    def _fill_summary(self) -> None:
        loaded = self.loaded
        summary = self.query_one("#bench-summary", Static)
        if loaded is None:
            return
        p = palette(self.app)
        if loaded.error:
            summary.update(Text(loaded.error, style=p("bold bad")))
            return
        if not loaded.comparisons:
            summary.update(
                "No benchmark samples yet: import run history, or start shadow re-runs with "
                "`cockpit bench rerun PIPELINE`."
            )
            return
        first = loaded.comparisons[0]
        counts: dict[str, int] = {}
        for c in loaded.comparisons:
            counts[c.verdict] = counts.get(c.verdict, 0) + 1
        text = Text()
        text.append(f"{first.old_runtime} → {first.new_runtime}   ", style="bold")
        for verdict in ("regression", "improvement", "no change", "insufficient data"):
            if counts.get(verdict):
                text.append(f"{counts[verdict]} {verdict}  ", style=p(VERDICT_STYLE[verdict]))
        text.append(
            f"  rule: worse than ×{first.threshold:g} AND p < {first.alpha:g}, "
            f"≥{first.min_runs} runs per runtime",
            style="dim",
        )
        summary.update(text)

    # ------------------------------------------------------------------ selection
    @on(DataTable.RowHighlighted, "#bench-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is None or event.row_key.value is None:
            return
        pipeline, metric = event.row_key.value.split("\x1f", 1)
        if self.selected != (pipeline, metric):
            self.selected = (pipeline, metric)
            self._draw()

    def _select(self, key: tuple[str, str]) -> None:
        keys = [(c.pipeline, c.metric) for c in self._rows]
        if key in keys:
            self.selected = key
            self.query_one("#bench-table", DataTable).move_cursor(
                row=keys.index(key), animate=False
            )
            self._draw()

    def action_next_metric(self) -> None:
        if self.selected is None:
            return
        pipeline, metric = self.selected
        metrics = sorted(c.metric for c in self._rows if c.pipeline == pipeline)
        self._select((pipeline, metrics[(metrics.index(metric) + 1) % len(metrics)]))

    def action_next_pipeline(self) -> None:
        if self.selected is None:
            return
        pipelines: list[str] = []
        for c in self._rows:
            if c.pipeline not in pipelines:
                pipelines.append(c.pipeline)
        following = pipelines[(pipelines.index(self.selected[0]) + 1) % len(pipelines)]
        # Keep the metric when the next pipeline has it too (comparing like with like).
        wanted = (following, self.selected[1])
        if not any((c.pipeline, c.metric) == wanted for c in self._rows):
            wanted = next((c.pipeline, c.metric) for c in self._rows if c.pipeline == following)
        self._select(wanted)

    # ------------------------------------------------------------------ shadow re-runs
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "rerun":
            # Live only: a review of a saved file never submits anything to a workspace.
            return not self.view.offline and self.view.config is not None
        return super().check_action(action, parameters)

    def action_rerun(self) -> None:
        if self.view.offline or self.view.config is None:
            self.app.notify("Shadow re-runs need a live session with a config", severity="warning")
            return
        if self.rerunning is not None:
            self.app.notify(f"Shadow runs of {self.rerunning} are still going", severity="warning")
            return
        if self.selected is None:
            return
        pipeline = self.selected[0]
        runtime = self.view.migration_to or self.view.config.migration.to_runtime
        self.rerunning = pipeline
        self._progress(f"{pipeline}: submitting {DEFAULT_RERUNS} shadow runs on {runtime}…")
        self._rerun(pipeline, runtime)

    @work(thread=True, group="bench-rerun", exit_on_error=False)
    def _rerun(self, pipeline: str, runtime: str) -> None:
        from cockpit.bench.rerun import AdapterRunClient, shadow_rerun

        try:
            result = shadow_rerun(
                self.view.store,
                AdapterRunClient(self.view.services.workspace()),
                pipeline,
                runtime=runtime,
                count=DEFAULT_RERUNS,
                poll_interval_s=self.RERUN_POLL_S,
                progress=lambda m: self.app.call_from_thread(self._progress, f"{pipeline}: {m}"),
            )
            message = (
                f"{pipeline}: {result.succeeded}/{len(result.runs)} shadow runs succeeded, "
                f"{result.samples_added} durations added"
            )
            severity = "information" if result.succeeded == len(result.runs) else "warning"
        except CockpitError as exc:
            message, severity = f"{pipeline}: {exc.message}", "error"
        except Exception as exc:  # a bug: said, and the tab can start re-runs again
            message, severity = f"{pipeline}: {internal_error('shadow re-runs', exc)}", "error"
        self.app.call_from_thread(self._rerun_done, message, severity)

    def _progress(self, message: str) -> None:
        self.query_one("#bench-progress", Static).update(message)

    def _rerun_done(self, message: str, severity: str) -> None:
        self.rerunning = None
        self._progress("")
        self.app.notify(message, severity=severity)  # type: ignore[arg-type]
        self.refresh_view(self.view)

    def current(self) -> Comparison | None:
        return next((c for c in self._rows if (c.pipeline, c.metric) == self.selected), None)

    # ------------------------------------------------------------------ charts
    def _draw(self) -> None:
        c = self.current()
        detail = self.query_one("#bench-detail", Static)
        bars = self.query_one("#bench-bars", PlotextPlot)
        over_time = self.query_one("#bench-time", PlotextPlot)
        for plot in (bars, over_time):
            plot.plt.clear_figure()
        if c is None or self.loaded is None:
            detail.update("")
            bars.refresh()
            over_time.refresh()
            return
        detail.update(self._explain(c))
        p = palette(self.app)
        self._draw_bars(bars, c, p)
        series = self.loaded.series.get((c.pipeline, c.metric))
        if series is None:  # read in a worker; drawn when it is back
            over_time.plt.title(f"{c.metric} per run: loading…")
            self._load_series(self.loaded, (c.pipeline, c.metric))
        else:
            self._draw_time(over_time, c, series, p)
        bars.refresh()
        over_time.refresh()

    def _explain(self, c: Comparison) -> Text:
        better = "lower" if c.direction == "lower" else "higher"
        text = Text()
        text.append(f"{c.pipeline} · {c.metric} ({better} is better): ", style="bold")
        text.append(c.verdict, style=palette(self.app)(VERDICT_STYLE[c.verdict] or "bold"))
        if c.verdict == "insufficient data":
            text.append(
                f" — {c.n_old} runs on {c.old_runtime}, {c.n_new} on {c.new_runtime}; "
                f"{c.min_runs} needed on each"
            )
        elif c.ratio is not None:
            text.append(
                f" — ratio {fmt_ratio(c.ratio)} (95% CI {fmt_ci(c.ratio_ci)}), "
                f"p = {fmt_p(c.p_value)}; threshold ×{c.threshold:g}, alpha {c.alpha:g}"
            )
        return text

    @staticmethod
    def _draw_bars(plot: PlotextPlot, c: Comparison, p: Palette) -> None:
        plt = plot.plt
        labels, values, colors = [], [], []
        intervals = []
        for runtime, median, ci, color in (
            (c.old_runtime, c.median_old, c.old_ci, p.plot(OLD_ROLE)),
            (c.new_runtime, c.median_new, c.new_ci, p.plot(NEW_ROLE)),
        ):
            if median is None:
                continue
            labels.append(runtime)
            values.append(median)
            colors.append(color)
            intervals.append(ci)
        plt.title(f"median {c.metric} with 95% CI")
        if not values:
            return
        # One bar per call with numeric positions: a colour list on a single call is not
        # applied consistently by plotext.
        for x, (value, color) in enumerate(zip(values, colors, strict=True), start=1):
            plt.bar([x], [value], color=color, width=0.4, reset_ticks=False)
        # The runtimes under the axis as one centred label, left bar first: plotext placed
        # per-tick labels two columns apart from one build to the next (snapshot races).
        plt.xticks(list(range(1, len(labels) + 1)), [""] * len(labels))
        plt.xlabel("  ·  ".join(labels))
        plt.xlim(0.5, len(labels) + 0.5)
        top = max(values)
        for x, ci in enumerate(intervals, start=1):
            if ci is not None:
                # The interval as a vertical whisker through the bar's centre.
                plt.plot([x, x], [ci[0], ci[1]], color=p.plot(INTERVAL_ROLE), marker="┃")
                top = max(top, ci[1])
        plt.ylim(0, top * 1.1)

    @staticmethod
    def _draw_time(plot: PlotextPlot, c: Comparison, series: Series, p: Palette) -> None:
        plt = plot.plt
        plt.title(f"{c.metric} per run (days since first run)")
        if not series.value:
            return
        start = min(series.run_ts)
        groups = (
            (c.old_runtime, False, p.plot(OLD_ROLE), "●"),
            (c.new_runtime, False, p.plot(NEW_ROLE), "●"),
            (c.new_runtime, True, p.plot(NEW_ROLE), "◆"),
        )
        for runtime, shadow, color, marker in groups:
            points = [
                ((ts - start) / DAY, v)
                for rt, ts, v, sh in zip(
                    series.runtime, series.run_ts, series.value, series.shadow, strict=True
                )
                if rt == runtime and sh == shadow
            ]
            if not points:
                continue
            # A terminal chart has a few thousand dots: a month of runs (7,000 per runtime)
            # is drawn as evenly spaced runs of it, not all of them on every render.
            points = points[:: -(-len(points) // MAX_POINTS)]
            xs, ys = zip(*points, strict=True)
            label = f"{runtime}{' shadow' if shadow else ''}"
            plt.scatter(list(xs), list(ys), color=color, marker=marker, label=label)
        plt.xlabel(f"from {dt.datetime.fromtimestamp(start, tz=dt.UTC):%Y-%m-%d}")
