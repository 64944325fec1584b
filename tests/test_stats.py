"""The statistics of the seed studies against numbers worked out by hand, and the bootstrap against a
second implementation that builds every resample explicitly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scratchnet.reports import stats


def test_mean_sd_and_t_interval_by_hand():
    # mean 0.72, sd 0.02 (deviations -0.02, 0, 0.02: sum of squares 8e-4 over n - 1 = 2);
    # t_{0.975, 2} = 4.302652729911275, half width 4.3027 * 0.02 / sqrt(3) = 0.0496827
    assert stats.mean_sd([0.70, 0.72, 0.74]) == pytest.approx((0.72, 0.02), abs=1e-15)
    low, high = stats.t_interval([0.70, 0.72, 0.74])
    assert (low, high) == pytest.approx((0.72 - 0.0496827, 0.72 + 0.0496827), abs=1e-7)
    # ten equal accuracies: sd 0 and an interval of one point; a single seed has no interval
    assert stats.t_interval([0.7] * 10) == pytest.approx((0.7, 0.7), abs=1e-15)
    assert all(math.isnan(x) for x in stats.t_interval([0.7]))
    assert stats.mean_sd([0.7]) == (0.7, 0.0)


@pytest.mark.parametrize("only_a, only_b, p", [
    (1, 6, 0.125),  # n = 7: P(X <= 1) = (1 + 7) / 128, doubled
    (6, 1, 0.125),  # symmetric
    (2, 10, 158 / 4096),  # n = 12: P(X <= 2) = (1 + 12 + 66) / 4096 = 79 / 4096, doubled
    (0, 4, 0.125),  # n = 4: 2 / 16
    (3, 3, 1.0),  # 2 P(X <= 3 | n = 6) = 2 * 42 / 64 > 1: capped
    (0, 0, 1.0),  # no discordant example: nothing to test
])
def test_mcnemar_exact_by_hand(only_a, only_b, p):
    assert stats.mcnemar_exact(only_a, only_b) == pytest.approx(p, abs=1e-15)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 = 0.03, 0.06, 0.04 -> made non-decreasing 0.03, 0.06, 0.06
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert stats.holm([0.004]) == [0.004]


def explicit_differences(a: np.ndarray, b: np.ndarray, draws: stats.Draws) -> np.ndarray:
    """Every resample built as a matrix: rows = drawn seeds, columns = drawn examples (the same for both)."""
    out = []
    for w, ua, ub in zip(draws.examples, draws.seeds_a, draws.seeds_b, strict=True):
        images = np.repeat(np.arange(a.shape[1]), w)
        mean_a = a[np.repeat(np.arange(a.shape[0]), ua)][:, images].mean()
        mean_b = b[np.repeat(np.arange(b.shape[0]), ub)][:, images].mean()
        out.append(mean_a - mean_b)
    return np.array(out)


def test_paired_bootstrap_equals_explicit_resamples():
    rng = np.random.RandomState(7)
    a = (rng.rand(4, 30) < 0.8).astype(float)  # 4 seeds, 30 examples
    b = (rng.rand(6, 30) < 0.7).astype(float)  # 6 seeds
    result = stats.paired_bootstrap(a, b, resamples=300, seed=5)
    d = explicit_differences(a, b, stats.Draws.make(30, 4, 6, 300, 5))
    assert result.difference == pytest.approx(a.mean() - b.mean(), abs=1e-15)
    assert (result.low, result.high) == pytest.approx(tuple(np.quantile(d, [0.025, 0.975])), abs=1e-12)
    expected_p = min(1.0, 2 * min(1 + np.sum(d <= 0), 1 + np.sum(d >= 0)) / 301)
    assert result.p == pytest.approx(expected_p, abs=1e-15)


def test_paired_bootstrap_on_a_case_worked_by_hand():
    # one seed each, two examples: A right on the first only, B on neither. The resampled difference
    # is (copies of example 0) / 2, so 1, 0.5, 0 with probabilities 1/4, 1/2, 1/4: the 95% interval
    # runs from 0 to 1, and #{d* <= 0} ~ B / 4, so p ~ 2 (1 + B/4) / (B + 1) ~ 0.5
    result = stats.paired_bootstrap(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]), resamples=20000)
    assert result.difference == 0.5
    assert (result.low, result.high) == (0.0, 1.0)
    assert result.p == pytest.approx(0.5, abs=0.02)


def test_paired_bootstrap_extremes():
    same = np.array([[1, 0, 1, 1], [0, 0, 1, 1]], dtype=float)
    tie = stats.paired_bootstrap(same, same.copy(), resamples=500)
    assert (tie.difference, tie.p) == (0.0, 1.0)  # the same predictions: no difference in any resample
    sure = stats.paired_bootstrap(np.ones((3, 5)), np.zeros((3, 5)), resamples=999)
    assert (sure.difference, sure.low, sure.high) == (1.0, 1.0, 1.0)
    assert sure.p == pytest.approx(2 / 1000)  # the smallest p the bootstrap can give
    with pytest.raises(ValueError, match="the same examples"):
        stats.paired_bootstrap(np.ones((2, 5)), np.ones((2, 4)))


def test_bootstrap_interval_of_one_architecture():
    correct = np.array([[1, 1, 0, 1], [1, 0, 0, 1]], dtype=float)  # accuracies 0.75 and 0.5
    low, high = stats.bootstrap_interval(correct, resamples=4000)
    assert 0.0 <= low < 0.625 < high <= 1.0
    assert stats.bootstrap_interval(np.ones((3, 10))) == (1.0, 1.0)
    # fixed generator: the same bytes every run (metrics.json is a DVC output)
    assert stats.bootstrap_interval(correct) == stats.bootstrap_interval(correct)
