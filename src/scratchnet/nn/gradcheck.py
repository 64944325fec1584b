"""Gradient checking: backprop's gradients against central differences of the cost."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.network import Network


def numerical_gradients(network: Network, X: np.ndarray, T: np.ndarray, lambd: float = 0.0,
                        eps: float = 1e-6) -> list[dict[str, np.ndarray]]:
    """dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) / (2 eps) for every parameter of every layer."""
    grads = []
    for layer in network.layers:
        layer_grads = {}
        for key, p in layer.parameters.items():
            g = np.zeros_like(p)
            it = np.nditer(p, flags=["multi_index"])
            for _ in it:
                idx = it.multi_index
                saved = p[idx]
                p[idx] = saved + eps
                network.forward(X)
                J_plus = network.cost(T, lambd)
                p[idx] = saved - eps
                network.forward(X)
                J_minus = network.cost(T, lambd)
                p[idx] = saved
                g[idx] = (J_plus - J_minus) / (2 * eps)
            layer_grads[key] = g
        grads.append(layer_grads)
    return grads


def gradient_check(network: Network, X: np.ndarray, Y: np.ndarray, lambd: float = 0.0,
                   eps: float = 1e-6) -> float:
    """Relative error ||g_backprop - g_numeric|| / (||g_backprop|| + ||g_numeric||) over all parameters.

    Below 1e-7 in float64 means the backward pass is right.
    """
    T = network.targets(Y)
    numeric = numerical_gradients(network, X, T, lambd, eps)
    network.forward(X)
    network.backward(T, lambd)
    analytic = np.concatenate([layer.gradients[k].ravel() for layer in network.layers
                               for k in layer.parameters])
    approx = np.concatenate([g[k].ravel() for g in numeric for k in g])
    return float(np.linalg.norm(analytic - approx)
                 / (np.linalg.norm(analytic) + np.linalg.norm(approx) + 1e-300))
