"""The decision rule: is a pipeline slower (or worse) on the new runtime, and is it more than noise?

Pure functions, no I/O. For one pipeline and one metric, given the samples measured on the old and
the new runtime:

* the **median** on each runtime (robust to the odd cold-start run), with a bootstrap 95% interval;
* the **ratio** new median / old median, with a percentile bootstrap 95% confidence interval
  (old and new resampled independently, ``N_BOOT`` resamples, seeded so a report is reproducible);
* a two-sided **Mann–Whitney U** p-value (no normality assumption; exact for small samples);
* a **verdict**, following airspeed velocity's rule that the factor *and* the statistics must both
  say so: *regression* when the ratio is worse than the threshold in the metric's bad direction
  and p < alpha; *improvement* symmetrically (better by the same factor and p < alpha);
  *insufficient data* when either side has fewer than ``min_runs`` samples; otherwise *no change*.

Direction matters: durations are lower-is-better (ratio 1.25 = 25% slower = worse), a metric such
as AUC is higher-is-better (ratio 0.80 = worse). "Worse by the threshold" means
``ratio > threshold`` for lower-is-better and ``ratio < 1/threshold`` for higher-is-better.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Direction = Literal["lower", "higher"]
Verdict = Literal["regression", "improvement", "no change", "insufficient data"]

REGRESSION: Verdict = "regression"
IMPROVEMENT: Verdict = "improvement"
NO_CHANGE: Verdict = "no change"
INSUFFICIENT: Verdict = "insufficient data"
DIRECTIONS: tuple[Direction, ...] = ("lower", "higher")

# 2000 resamples put the Monte Carlo error of a 2.5% percentile well below the digits shown.
N_BOOT = 2000
CONFIDENCE = 0.95
# Above this many values per side the bootstrap draws medians, not resamples (bootstrap_medians).
RESAMPLE_MAX = 1000

# Sort order of verdicts in tables: what needs attention first.
VERDICT_RANK = {REGRESSION: 0, INSUFFICIENT: 1, NO_CHANGE: 2, IMPROVEMENT: 3}


@dataclass(frozen=True)
class Rule:
    """The thresholds one comparison is judged by (from ``[benchmarks]``, per-pipeline overrides)."""

    threshold: float = 1.10
    alpha: float = 0.05
    min_runs: int = 5

    def __post_init__(self) -> None:
        if not self.threshold > 1.0:
            raise ValueError(f"threshold must be > 1.0 (got {self.threshold})")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (got {self.alpha})")
        if self.min_runs < 2:
            raise ValueError(f"min_runs must be at least 2 (got {self.min_runs})")


@dataclass(frozen=True)
class Comparison:
    """One pipeline + metric, old runtime against new. ``None`` where a side has no data."""

    pipeline: str
    metric: str
    direction: Direction
    old_runtime: str
    new_runtime: str
    n_old: int
    n_new: int
    median_old: float | None
    median_new: float | None
    old_ci: tuple[float, float] | None
    new_ci: tuple[float, float] | None
    ratio: float | None
    ratio_ci: tuple[float, float] | None
    p_value: float | None
    verdict: Verdict
    threshold: float
    alpha: float
    min_runs: int

    @property
    def badness(self) -> float:
        """How much worse the new runtime is, as a factor >1 when worse, <1 when better.

        Lets lower- and higher-is-better metrics sort on one scale (worst first).
        """
        if self.ratio is None or self.ratio <= 0:
            return 1.0
        return self.ratio if self.direction == "lower" else 1.0 / self.ratio

    def sort_key(self) -> tuple[int, float, str, str]:
        return (VERDICT_RANK[self.verdict], -self.badness, self.pipeline, self.metric)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("old_ci", "new_ci", "ratio_ci"):
            data[key] = list(data[key]) if data[key] is not None else None
        return data


def stable_seed(*parts: str) -> int:
    """A seed derived from names, so the same pipeline gets the same bootstrap in every run.

    (``hash()`` is salted per process, so it would make reports differ between runs.)
    """
    return zlib.crc32("\x1f".join(parts).encode("utf-8"))


def worse_beyond(ratio: float, direction: Direction, threshold: float) -> bool:
    return ratio > threshold if direction == "lower" else ratio < 1.0 / threshold


def better_beyond(ratio: float, direction: Direction, threshold: float) -> bool:
    return ratio < 1.0 / threshold if direction == "lower" else ratio > threshold


def decide(
    ratio: float | None,
    p_value: float | None,
    *,
    n_old: int,
    n_new: int,
    direction: Direction,
    rule: Rule,
) -> Verdict:
    """The verdict from already-computed numbers (asv's rule: factor AND significance)."""
    if n_old < rule.min_runs or n_new < rule.min_runs or ratio is None or p_value is None:
        return INSUFFICIENT
    if p_value < rule.alpha:
        if worse_beyond(ratio, direction, rule.threshold):
            return REGRESSION
        if better_beyond(ratio, direction, rule.threshold):
            return IMPROVEMENT
    return NO_CHANGE


def mann_whitney_p(old: Sequence[float], new: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value; 1.0 when every value is identical (no evidence)."""
    from scipy.stats import mannwhitneyu

    if len(set(old) | set(new)) <= 1:
        return 1.0
    return float(mannwhitneyu(new, old, alternative="two-sided", method="auto").pvalue)


def bootstrap_medians(values: Sequence[float], rng: Any, n_boot: int = N_BOOT) -> Any:
    """``n_boot`` medians of resamples (with replacement) of ``values``, as a numpy array.

    Up to :data:`RESAMPLE_MAX` values each resample is drawn; above, each median is drawn from
    its distribution (:func:`_median_draws`), which costs O(n) instead of O(n * n_boot): a month
    of run history is ~7,000 runs per pipeline and runtime, 14 million draws and 100 MB a side.
    """
    import numpy as np

    data = np.asarray(values, dtype=float)
    if len(data) > RESAMPLE_MAX:
        return _median_draws(np.sort(data), rng, n_boot)
    picks = rng.integers(0, len(data), size=(n_boot, len(data)))
    return np.median(data[picks], axis=1)


def _median_draws(ordered: Any, rng: Any, n_boot: int) -> Any:
    """Bootstrap medians of the sorted values ``ordered``, one uniform draw per resample.

    A resample of n draws has its m-th smallest value at or below ``ordered[k-1]`` exactly when
    at least m of the draws fall among the k smallest values, a Binomial(n, k/n) count; inverting
    that CDF at a uniform draw gives the m-th order statistic with its exact bootstrap
    distribution (odd n: the median itself). For even n the median is the mean of the two
    middle order statistics, each drawn exactly from the same uniform; their joint law is then
    approximate, with a gap of one value step against a spread of about sqrt(n) steps.
    """
    import numpy as np
    from scipy.stats import binom

    n = len(ordered)
    fractions = np.arange(1, n + 1) / n
    uniforms = rng.random(n_boot)

    def order_statistic(m: int) -> Any:
        cdf = binom.sf(m - 1, n, fractions)  # P(at least m draws among the k smallest)
        return ordered[np.minimum(np.searchsorted(cdf, uniforms, side="left"), n - 1)]

    if n % 2:
        return order_statistic((n + 1) // 2)
    return (order_statistic(n // 2) + order_statistic(n // 2 + 1)) / 2


def _interval(draws: Any) -> tuple[float, float]:
    import numpy as np

    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return (float(low), float(high))


def compare_samples(
    old: Sequence[float],
    new: Sequence[float],
    *,
    pipeline: str = "",
    metric: str = "duration_s",
    direction: Direction = "lower",
    old_runtime: str = "old",
    new_runtime: str = "new",
    rule: Rule | None = None,
    seed: int | None = None,
    n_boot: int = N_BOOT,
) -> Comparison:
    """Compare two samples of one metric. ``seed`` defaults to one derived from the names."""
    import numpy as np

    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'lower' or 'higher' (got {direction!r})")
    rule = rule or Rule()
    old = [float(v) for v in old if v is not None and math.isfinite(v)]
    new = [float(v) for v in new if v is not None and math.isfinite(v)]
    rng = np.random.default_rng(
        seed if seed is not None else stable_seed(pipeline, metric, old_runtime, new_runtime)
    )
    median_old = float(np.median(old)) if old else None
    median_new = float(np.median(new)) if new else None
    old_ci = new_ci = ratio_ci = None
    ratio = p_value = None
    old_draws = bootstrap_medians(old, rng, n_boot) if len(old) >= 2 else None
    new_draws = bootstrap_medians(new, rng, n_boot) if len(new) >= 2 else None
    if old_draws is not None:
        old_ci = _interval(old_draws)
    if new_draws is not None:
        new_ci = _interval(new_draws)
    if median_old is not None and median_new is not None and median_old != 0:
        ratio = median_new / median_old
        p_value = mann_whitney_p(old, new) if len(old) >= 2 and len(new) >= 2 else None
        if old_draws is not None and new_draws is not None and not np.any(old_draws == 0):
            ratio_ci = _interval(new_draws / old_draws)
    verdict = decide(ratio, p_value, n_old=len(old), n_new=len(new), direction=direction, rule=rule)
    return Comparison(
        pipeline=pipeline,
        metric=metric,
        direction=direction,
        old_runtime=old_runtime,
        new_runtime=new_runtime,
        n_old=len(old),
        n_new=len(new),
        median_old=median_old,
        median_new=median_new,
        old_ci=old_ci,
        new_ci=new_ci,
        ratio=ratio,
        ratio_ci=ratio_ci,
        p_value=p_value,
        verdict=verdict,
        threshold=rule.threshold,
        alpha=rule.alpha,
        min_runs=rule.min_runs,
    )


def compare_columns(
    samples: dict[str, list[Any]],
    *,
    old_runtime: str,
    new_runtime: str,
    directions: dict[tuple[str, str], Direction] | None = None,
    rules: dict[Any, Rule] | None = None,
    default_rule: Rule | None = None,
) -> list[Comparison]:
    """Every (pipeline, metric) in samples given by column, sorted worst first.

    ``samples`` maps ``pipeline``, ``metric``, ``runtime``, ``value`` to equally long lists;
    values on runtimes other than the two compared are ignored, and each side keeps the order of
    the rows (the seeded bootstrap resamples by position). ``directions`` maps (pipeline, metric)
    to lower/higher (default lower); ``rules`` maps a pipeline, or a (pipeline, metric) pair, to
    its own thresholds (the pair wins). Plain lists rather than a frame: grouping 100,000 values
    costs less than importing pandas.
    """
    directions = directions or {}
    rules = rules or {}
    default_rule = default_rule or Rule()
    # A pipeline with runs on one of the two runtimes gets a row (insufficient data: it needs
    # shadow re-runs); one that never ran on either (another route, e.g. non-ML) is not judged.
    groups: dict[tuple[str, str], tuple[list[Any], list[Any]]] = {}
    for pipeline, metric, runtime, value in zip(
        samples["pipeline"], samples["metric"], samples["runtime"], samples["value"], strict=True
    ):
        if runtime == old_runtime:
            groups.setdefault((pipeline, metric), ([], []))[0].append(value)
        elif runtime == new_runtime:
            groups.setdefault((pipeline, metric), ([], []))[1].append(value)
    out = []
    for (pipeline, metric), (old, new) in sorted(groups.items()):
        out.append(
            compare_samples(
                old,
                new,
                pipeline=pipeline,
                metric=metric,
                direction=directions.get((pipeline, metric), "lower"),
                old_runtime=old_runtime,
                new_runtime=new_runtime,
                rule=rules.get((pipeline, metric)) or rules.get(pipeline, default_rule),
            )
        )
    return sorted(out, key=Comparison.sort_key)


def detection_rate(
    trials: int,
    *,
    n: int,
    true_ratio: float,
    cv: float,
    rule: Rule | None = None,
    direction: Direction = "lower",
    seed: int = 0,
    n_boot: int = 200,
) -> dict[str, float]:
    """Monte Carlo check of the rule: share of trials given each verdict.

    Noise model: lognormal run-to-run noise with coefficient of variation ``cv`` around a median
    of 100 on the old runtime and ``100 * true_ratio`` on the new one. The bootstrap does not enter
    the verdict, so a small ``n_boot`` keeps this fast without changing the rates.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    counts = dict.fromkeys(VERDICT_RANK, 0)
    for trial in range(trials):
        old = 100.0 * np.exp(rng.normal(0.0, sigma, n))
        new = 100.0 * true_ratio * np.exp(rng.normal(0.0, sigma, n))
        result = compare_samples(
            old.tolist(), new.tolist(), direction=direction, rule=rule, seed=trial, n_boot=n_boot
        )
        counts[result.verdict] += 1
    return {verdict: count / trials for verdict, count in counts.items()}


def summarize(comparisons: Iterable[Comparison]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(VERDICT_RANK, 0)
    for c in comparisons:
        counts[c.verdict] += 1
    return counts
