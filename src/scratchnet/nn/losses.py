"""Cross-entropy costs computed from the output layer's pre-activation Z, so log(0) never occurs."""

from __future__ import annotations

import numpy as np


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


# both pair with their output activation so that dJ/dZ = (A - Y) / m per example
LOSSES = {"sigmoid": binary_cross_entropy, "softmax": categorical_cross_entropy}
