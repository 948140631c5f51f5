"""The decision rule, checked by seeded simulation and on hand-made samples."""

from __future__ import annotations

import pytest

from cockpit.bench.stats import (
    IMPROVEMENT,
    INSUFFICIENT,
    NO_CHANGE,
    REGRESSION,
    Rule,
    compare_columns,
    compare_samples,
    decide,
    detection_rate,
)

# Noise model for the power checks: lognormal run-to-run noise with a coefficient of variation of
# 10% (what Databricks job durations on a fixed cluster size typically show; 5% is the easy case).
CV = 0.10
TRIALS = 400


def test_identical_distributions_are_rarely_called_regressions():
    for cv in (0.05, CV):
        rates = detection_rate(TRIALS, n=10, true_ratio=1.0, cv=cv, seed=101)
        assert rates[REGRESSION] <= 0.05, (cv, rates)
        assert rates[IMPROVEMENT] <= 0.05, (cv, rates)


def test_a_20_percent_slowdown_with_10_runs_is_detected_at_default_settings():
    for cv in (0.05, CV):
        rates = detection_rate(TRIALS, n=10, true_ratio=1.20, cv=cv, seed=202, rule=Rule())
        assert rates[REGRESSION] >= 0.90, (cv, rates)


def test_a_20_percent_speedup_is_an_improvement_and_higher_is_better_flips_it():
    faster = detection_rate(TRIALS, n=10, true_ratio=1 / 1.20, cv=CV, seed=303)
    assert faster[IMPROVEMENT] >= 0.90 and faster[REGRESSION] == 0
    # For a higher-is-better metric (AUC) the same drop is a regression.
    worse_auc = detection_rate(
        TRIALS, n=10, true_ratio=1 / 1.20, cv=CV, seed=303, direction="higher"
    )
    assert worse_auc[REGRESSION] >= 0.90 and worse_auc[IMPROVEMENT] == 0


def test_fewer_than_min_runs_is_insufficient_data():
    old = [100, 101, 99, 102, 98, 100, 101]
    slow = [150, 151, 149, 152]
    result = compare_samples(old, slow, rule=Rule(min_runs=5))
    assert result.verdict == INSUFFICIENT
    assert result.n_new == 4 and result.ratio == pytest.approx(150.5 / 100)
    # One more run makes the same slowdown a regression.
    result = compare_samples(old, [*slow, 150], rule=Rule(min_runs=5))
    assert result.verdict == REGRESSION and result.p_value < 0.05
    # No data at all on one side: no ratio, still a verdict.
    empty = compare_samples(old, [])
    assert empty.verdict == INSUFFICIENT and empty.ratio is None and empty.median_new is None


def test_factor_and_significance_are_both_required():
    # Significant but small (5% slower, tight noise): not a regression at threshold 1.10.
    old = [100.0 + 0.1 * i for i in range(10)]
    new = [105.0 + 0.1 * i for i in range(10)]
    small = compare_samples(old, new)
    assert small.p_value < 0.001 and small.verdict == NO_CHANGE
    # Large but not significant (huge noise).
    noisy_old = [50, 200, 80, 150, 60]
    noisy_new = [70, 210, 95, 160, 90]
    big = compare_samples(noisy_old, noisy_new)
    assert big.ratio > 1.10 and big.p_value >= 0.05 and big.verdict == NO_CHANGE
    assert decide(1.3, 0.01, n_old=5, n_new=5, direction="lower", rule=Rule()) == REGRESSION
    assert decide(1.3, 0.01, n_old=5, n_new=5, direction="higher", rule=Rule()) == IMPROVEMENT


def test_ratio_ci_brackets_the_ratio_and_is_reproducible():
    old = [100, 104, 98, 101, 99, 103, 97, 102, 100, 101]
    new = [v * 1.3 for v in old]
    a = compare_samples(old, new, pipeline="p")
    b = compare_samples(old, new, pipeline="p")
    assert a == b  # same names, same seed, same interval
    assert a.ratio_ci[0] <= a.ratio <= a.ratio_ci[1]
    assert a.old_ci[0] <= a.median_old <= a.old_ci[1]
    assert a.verdict == REGRESSION and a.badness == pytest.approx(1.3)


def test_identical_values_are_no_change_not_an_error():
    result = compare_samples([5.0] * 6, [5.0] * 6)
    assert result.p_value == 1.0 and result.verdict == NO_CHANGE and result.ratio == 1.0


def columns(rows: list[tuple]) -> dict[str, list]:
    """(pipeline, metric, runtime, value) rows as the columns compare_columns takes."""
    names = ("pipeline", "metric", "runtime", "value")
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def test_compare_columns_sorts_worst_first_and_applies_per_pipeline_rules():
    rows = []
    for pipeline, factor in (("fast", 0.7), ("same", 1.0), ("slow", 1.4), ("lax", 1.4)):
        for i in range(8):
            rows.append((pipeline, "duration_s", "old", 100 + i))
            rows.append((pipeline, "duration_s", "new", (100 + i) * factor))
    rows.append(("only-old", "duration_s", "old", 10))
    rows.append(("elsewhere", "duration_s", "other", 10))
    result = compare_columns(
        columns(rows), old_runtime="old", new_runtime="new", rules={"lax": Rule(threshold=1.5)}
    )
    verdicts = {c.pipeline: c.verdict for c in result}
    assert verdicts == {
        "slow": REGRESSION,
        "lax": NO_CHANGE,
        "same": NO_CHANGE,
        "fast": IMPROVEMENT,
        "only-old": INSUFFICIENT,
    }  # "elsewhere" ran on neither compared runtime: not judged at all
    assert result[0].pipeline == "slow" and result[-1].pipeline == "fast"


def test_rule_rejects_nonsense():
    with pytest.raises(ValueError):
        Rule(threshold=0.9)
    with pytest.raises(ValueError):
        Rule(alpha=1.5)
    with pytest.raises(ValueError):
        compare_samples([1, 2], [1, 2], direction="sideways")


def test_a_metric_can_have_its_own_threshold():
    rows = [("p", "auc", "old", 0.84 + 0.001 * i) for i in range(8)]
    rows += [("p", "auc", "new", 0.80 + 0.001 * i) for i in range(8)]  # ~5% worse, significant
    kwargs = {"old_runtime": "old", "new_runtime": "new", "directions": {("p", "auc"): "higher"}}
    (coarse,) = compare_columns(columns(rows), **kwargs)
    assert coarse.verdict == NO_CHANGE  # within the default ×1.10
    (fine,) = compare_columns(columns(rows), rules={("p", "auc"): Rule(threshold=1.02)}, **kwargs)
    assert fine.verdict == REGRESSION and fine.threshold == 1.02


def test_bootstrap_of_many_values_draws_medians_with_the_resampling_distribution():
    """Above RESAMPLE_MAX values the bootstrap draws each median from its distribution instead
    of resampling: its percentiles (what the intervals are made of) match brute-force resampling
    of the same data, for odd and even n."""
    import numpy as np

    from cockpit.bench.stats import RESAMPLE_MAX, bootstrap_medians

    data_rng = np.random.default_rng(17)
    for n in (RESAMPLE_MAX + 1, RESAMPLE_MAX + 2, 4 * RESAMPLE_MAX + 1):
        data = data_rng.lognormal(7.0, 0.3, n)
        drawn = bootstrap_medians(data, np.random.default_rng(1), n_boot=8000)
        picks = np.random.default_rng(2).integers(0, n, size=(8000, n))
        resampled = np.median(data[picks], axis=1)
        spread = resampled.std()
        # Both sides are 8,000 draws: the Monte Carlo error of a 2.5% percentile alone is about
        # 0.05 of the spread, so the tolerance is a few of those (fixed seeds: no flakiness).
        for q in (2.5, 25, 50, 75, 97.5):
            gap = abs(np.percentile(drawn, q) - np.percentile(resampled, q))
            assert gap < 0.25 * spread, (n, q, gap, spread)
        assert abs(drawn.std() - spread) < 0.1 * spread
        # Every draw is one of the data's values (odd n) or the mean of two of them.
        if n % 2:
            assert np.isin(drawn, data).all()
