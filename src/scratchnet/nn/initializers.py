"""Weight initialisers by config name: init(rng, shape, fan_in, fan_out) -> W, drawn from the run's generator.

Layers draw their weights in order and biases draw nothing, so with the course's seed the draws
line up with the course's `np.random.randn` calls and give the course's weights exactly. fan_in is
n_prev for a dense layer and f*f*C_prev for a convolution; fan_out n and f*f*C.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Shape = tuple[int, ...]
Initializer = Callable[[np.random.RandomState, Shape, int, int], np.ndarray]


def zeros(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    return np.zeros(shape)


def small_random(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W = randn * 0.01 (course 1, shallow and 2-layer nets)."""
    return rng.randn(*shape) * 0.01


def large_random(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W = randn * 10 (course 2's initialisation study: too large, sigmoid saturates)."""
    return rng.randn(*shape) * 10


def course_deep(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W = randn / sqrt(fan_in) (course 1's L-layer model)."""
    return rng.randn(*shape) / np.sqrt(fan_in)


def he(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W = randn * sqrt(2 / fan_in) (He et al. 2015, for relu)."""
    return rng.randn(*shape) * np.sqrt(2.0 / fan_in)


def xavier(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W = randn * sqrt(1 / fan_in) (Glorot-style scaling for tanh, as course 2 writes it)."""
    return rng.randn(*shape) * np.sqrt(1.0 / fan_in)


def glorot_uniform(rng: np.random.RandomState, shape: Shape, fan_in: int, fan_out: int) -> np.ndarray:
    """W ~ U(-l, l), l = sqrt(6 / (fan_in + fan_out)): TensorFlow's default (Keras GlorotUniform) law."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


INITIALIZERS: dict[str, Initializer] = {
    "zeros": zeros,
    "small_random": small_random,
    "large_random": large_random,
    "course_deep": course_deep,
    "he": he,
    "xavier": xavier,
    "glorot_uniform": glorot_uniform,
}
