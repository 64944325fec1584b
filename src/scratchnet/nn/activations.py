"""Activation functions and their derivatives, in a table keyed by the config name."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Activation(NamedTuple):
    forward: Callable[[np.ndarray], np.ndarray]
    # backward(dA, Z, A) -> dZ; gets both Z and A so each derivative uses the cheaper one
    backward: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """s = 1 / (1 + e^-Z), written as the course writes it so the numbers match bit for bit."""
    with np.errstate(over="ignore"):  # e^-Z overflows to inf for Z << 0, which correctly gives 0
        return 1 / (1 + np.exp(-Z))


def _sigmoid_backward(dA, Z, A):
    return dA * A * (1 - A)


def _tanh_backward(dA, Z, A):
    return dA * (1 - A * A)


def relu(Z: np.ndarray) -> np.ndarray:
    return np.maximum(Z, 0)


def _relu_backward(dA, Z, A):
    return dA * (Z > 0)  # the course's dZ[Z <= 0] = 0


LEAKY_SLOPE = 0.01


def leaky_relu(Z: np.ndarray) -> np.ndarray:
    return np.where(Z > 0, Z, LEAKY_SLOPE * Z)


def _leaky_relu_backward(dA, Z, A):
    return np.where(Z > 0, dA, LEAKY_SLOPE * dA)


def softmax(Z: np.ndarray) -> np.ndarray:
    """Column-wise softmax, shifted by the column max so e^Z never overflows."""
    E = np.exp(Z - Z.max(axis=0, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _softmax_backward(dA, Z, A):
    # full Jacobian-vector product per column: dZ = A * (dA - sum(dA * A))
    return A * (dA - (dA * A).sum(axis=0, keepdims=True))


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(sigmoid, _sigmoid_backward),
    "tanh": Activation(np.tanh, _tanh_backward),
    "relu": Activation(relu, _relu_backward),
    "leaky_relu": Activation(leaky_relu, _leaky_relu_backward),
    "softmax": Activation(softmax, _softmax_backward),
}

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")
