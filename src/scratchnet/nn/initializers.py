"""Weight initialisers by config name, each drawing W from the run's generator in layer order.

Biases are always zeros and draw nothing, so with the course's seed the draws line up with the
course's `np.random.randn` calls and give the course's weights exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.RandomState, int, int], np.ndarray]


def zeros(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    return np.zeros((n, n_prev))


def small_random(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    """W = randn * 0.01 (course 1, shallow and 2-layer nets)."""
    return rng.randn(n, n_prev) * 0.01


def large_random(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    """W = randn * 10 (course 2's initialisation study: too large, sigmoid saturates)."""
    return rng.randn(n, n_prev) * 10


def course_deep(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    """W = randn / sqrt(n_prev) (course 1's L-layer model)."""
    return rng.randn(n, n_prev) / np.sqrt(n_prev)


def he(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    """W = randn * sqrt(2 / n_prev) (He et al. 2015, for relu)."""
    return rng.randn(n, n_prev) * np.sqrt(2.0 / n_prev)


def xavier(rng: np.random.RandomState, n: int, n_prev: int) -> np.ndarray:
    """W = randn * sqrt(1 / n_prev) (Glorot-style scaling for tanh)."""
    return rng.randn(n, n_prev) * np.sqrt(1.0 / n_prev)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "small_random": small_random,
    "large_random": large_random,
    "course_deep": course_deep,
    "he": he,
    "xavier": xavier,
}
