"""Output heads: the last activation paired with its cross-entropy, so that dJ/dZ = (A - T) per example.

The cost is computed from the pre-activation Z, so log(0) never occurs.
"""

from __future__ import annotations

import numpy as np

from scratchnet.nn.activations import sigmoid, softmax


def binary_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    """J = -1/m sum(y log a + (1-y) log(1-a)) with a = sigmoid(z), as 1/m sum(max(z,0) - z y + log(1 + e^-|z|))."""
    m = Z.shape[1]
    return float(np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))) / m)


def categorical_cross_entropy(Z: np.ndarray, Y: np.ndarray) -> float:
    """J = -1/m sum_k y_k log softmax(z)_k, as 1/m sum(logsumexp(z) - sum_k y_k z_k). Y one-hot (K, m)."""
    m = Z.shape[1]
    Zmax = Z.max(axis=0, keepdims=True)
    logsumexp = Zmax + np.log(np.exp(Z - Zmax).sum(axis=0, keepdims=True))  # (1, m)
    return float((logsumexp.sum() - np.sum(Y * Z)) / m)


class Head:
    """forward(Z) -> A (probabilities); cost(T) of the last forward; backward(T) -> dZ = A - T."""

    name = ""

    def __init__(self) -> None:
        self.Z = self.A = None

    def forward(self, Z: np.ndarray) -> np.ndarray:
        self.Z = Z  # (n_out, m)
        self.A = self._activation(Z)
        return self.A

    def backward(self, T: np.ndarray) -> np.ndarray:
        return self.A - T  # (n_out, m): the cross-entropy's gradient per example

    def _activation(self, Z):
        raise NotImplementedError

    def cost(self, T: np.ndarray) -> float:
        raise NotImplementedError

    def targets(self, Y: np.ndarray, n_out: int, dtype) -> np.ndarray:
        raise NotImplementedError

    def predict(self, A: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SigmoidCrossEntropy(Head):
    """One unit, P(y=1|x) = sigmoid(z); binary cross-entropy."""

    name = "sigmoid"

    def _activation(self, Z):
        return sigmoid(Z)

    def cost(self, T):
        return binary_cross_entropy(self.Z, T)

    def targets(self, Y, n_out, dtype):
        return Y.astype(dtype)

    def predict(self, A):
        return (A > 0.5).astype(np.int64)  # as the course


class SoftmaxCrossEntropy(Head):
    """K units, class probabilities softmax(z); categorical cross-entropy against one-hot targets."""

    name = "softmax"

    def _activation(self, Z):
        return softmax(Z)

    def cost(self, T):
        return categorical_cross_entropy(self.Z, T)

    def targets(self, Y, n_out, dtype):
        T = np.zeros((n_out, Y.shape[1]), dtype=dtype)
        T[Y.ravel(), np.arange(Y.shape[1])] = 1
        return T

    def predict(self, A):
        return A.argmax(axis=0)[None, :]


HEADS: dict[str, type[Head]] = {"sigmoid": SigmoidCrossEntropy, "softmax": SoftmaxCrossEntropy}
OUTPUTS = tuple(HEADS)
