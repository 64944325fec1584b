"""Statistics for comparisons over seeds: intervals, the paired bootstrap over seeds and images, McNemar, Holm.

The data of a comparison are 0/1 matrices `correct` (seeds, examples): whether the model trained
with seed s classifies example i right. Two architectures are compared on the same examples, so
the examples pair them; their seeds do not (seed 3 of one net has nothing to do with seed 3 of
another). The paired bootstrap resamples both the seeds (independently per architecture: another
seed) and the examples (the same draw for both: another test set of the same size from the same
population), which is Owen's (2007) "pigeonhole" bootstrap for a crossed design: it carries both
sources of variance and errs, if anything, towards wide intervals. McNemar's exact test conditions
on one trained model per architecture (one seed each) and uses the examples only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEVEL = 0.95  # two-sided intervals
ALPHA = 0.05  # family-wise error rate of a study's pairwise comparisons (Holm)
RESAMPLES = 10000  # bootstrap draws: p-values resolve to ~1e-4, interval ends to ~0.1 point
BOOTSTRAP_SEED = 0  # the bootstrap's own generator: fixed, so the summary's bytes are too


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for a single value)."""
    x = np.asarray(values, dtype=np.float64)
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else 0.0


def t_interval(values, level: float = LEVEL) -> tuple[float, float]:
    """mean ± t_{(1+level)/2, n-1} · sd / sqrt(n): where the mean over seeds would fall for other
    seeds (the examples held fixed); (nan, nan) for fewer than 2 values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return math.nan, math.nan
    from scipy.special import stdtrit  # the t quantile; scipy.stats would cost ~0.5 s to import

    mean, sd = mean_sd(x)
    half = float(stdtrit(x.size - 1, (1 + level) / 2)) * sd / math.sqrt(x.size)
    return mean - half, mean + half


def _counts(rng: np.random.RandomState, n: int, resamples: int) -> np.ndarray:
    """(resamples, n): how often each of n items is drawn in a resample of size n with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


@dataclass(frozen=True)
class Draws:
    """One bootstrap's resamples: example counts shared by both arms, seed counts per arm."""

    examples: np.ndarray  # (B, n)
    seeds_a: np.ndarray  # (B, S_a)
    seeds_b: np.ndarray | None = None  # (B, S_b)

    @classmethod
    def make(cls, n: int, s_a: int, s_b: int | None = None, resamples: int = RESAMPLES,
             seed: int = BOOTSTRAP_SEED) -> Draws:
        rng = np.random.RandomState(seed)
        examples = _counts(rng, n, resamples)
        seeds_a = _counts(rng, s_a, resamples)
        return cls(examples, seeds_a, None if s_b is None else _counts(rng, s_b, resamples))


def resampled_means(correct: np.ndarray, seed_counts: np.ndarray, example_counts: np.ndarray) -> np.ndarray:
    """(B,) accuracy of each resample: sum_s sum_i u_bs w_bi C_si / (S n)."""
    S, n = correct.shape
    return ((seed_counts @ correct) * example_counts).sum(axis=1) / (S * n)


def _quantiles(values: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def bootstrap_interval(correct: np.ndarray, level: float = LEVEL, resamples: int = RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of the accuracy over seeds and examples (both resampled)."""
    correct = np.asarray(correct, dtype=np.float64)
    draws = Draws.make(correct.shape[1], correct.shape[0], None, resamples, seed)
    return _quantiles(resampled_means(correct, draws.seeds_a, draws.examples), level)


@dataclass(frozen=True)
class Paired:
    """A minus B: the difference in mean accuracy, its percentile interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p: float


def paired_bootstrap(correct_a: np.ndarray, correct_b: np.ndarray, level: float = LEVEL,
                     resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> Paired:
    """Accuracy of A minus accuracy of B on the same examples, over their seeds.

    p = min(1, 2 min(1 + #{d* <= 0}, 1 + #{d* >= 0}) / (B + 1)): how often the resampled
    difference lands on either side of no difference (the +1 keeps p above 0 at finite B).
    """
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired_bootstrap: expected the same examples, found {a.shape[1]} and {b.shape[1]}")
    draws = Draws.make(a.shape[1], a.shape[0], b.shape[0], resamples, seed)
    d = resampled_means(a, draws.seeds_a, draws.examples) - resampled_means(b, draws.seeds_b, draws.examples)
    low, high = _quantiles(d, level)
    p = min(1.0, 2 * min(1 + np.count_nonzero(d <= 0), 1 + np.count_nonzero(d >= 0)) / (resamples + 1))
    return Paired(float(a.mean() - b.mean()), low, high, float(p))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts (A right and B wrong, A wrong and
    B right): 2 P(X <= min) for X ~ Binomial(only_a + only_b, 1/2), at most 1."""
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def holm(p_values) -> list[float]:
    """Holm's step-down adjusted p-values (reject where adjusted <= ALPHA): the k-th smallest times
    (m - k + 1), made non-decreasing, at most 1; in the input's order."""
    p = list(p_values)
    m = len(p)
    adjusted = [0.0] * m
    running = 0.0
    for k, i in enumerate(sorted(range(m), key=lambda j: p[j])):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted
