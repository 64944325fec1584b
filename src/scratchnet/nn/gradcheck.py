"""Gradient checking: backprop's gradients against central differences of the cost.

Stochastic layers are checked under a fixed mask: every forward pass draws from a fresh
RandomState(dropout_seed), so the cost is a deterministic function of the parameters. Forward
passes run in training mode (dropout on, batch statistics), as backward assumes.
"""

from __future__ import annotations

import numpy as np

from scratchnet.nn.network import Network

THRESHOLD = 1e-7  # float64 central differences with eps 1e-6 land near 1e-9..1e-10 when backprop is right

Coordinate = tuple[int, str, int]  # (layer index, parameter key, flat index)


def _masks(network: Network, dropout_seed: int | None) -> np.random.RandomState | None:
    """A fresh generator for one forward pass (same seed, same masks), or None without dropout."""
    if not network.stochastic:
        return None
    if dropout_seed is None:
        raise ValueError("the network has dropout (keep_prob < 1): pass dropout_seed to check it under a fixed mask")
    return np.random.RandomState(dropout_seed)


def coordinates(network: Network, sample: int | None = None, seed: int = 0) -> list[Coordinate]:
    """Every trainable parameter coordinate, or `sample` of them drawn from RandomState(seed), in order."""
    coords = [(i, key, j) for i, layer in enumerate(network.layers)
              for key, p in layer.parameters.items() for j in range(p.size)]
    if sample is not None and sample < len(coords):
        picked = np.sort(np.random.RandomState(seed).choice(len(coords), sample, replace=False))
        coords = [coords[k] for k in picked]
    return coords


def _cost(network: Network, X, T, lambd: float, dropout_seed: int | None) -> float:
    network.forward(X, training=True, rng=_masks(network, dropout_seed))
    return network.cost(T, lambd)


def numerical_gradients(network: Network, X: np.ndarray, T: np.ndarray, lambd: float = 0.0,
                        eps: float = 1e-6, dropout_seed: int | None = None,
                        coords: list[Coordinate] | None = None) -> np.ndarray:
    """dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) / (2 eps) at each coordinate (default: all, in order)."""
    coords = coordinates(network) if coords is None else coords
    approx = np.empty(len(coords))
    for n, (i, key, j) in enumerate(coords):
        p = network.layers[i].parameters[key]
        idx = np.unravel_index(j, p.shape)
        saved = p[idx]
        p[idx] = saved + eps
        J_plus = _cost(network, X, T, lambd, dropout_seed)
        p[idx] = saved - eps
        J_minus = _cost(network, X, T, lambd, dropout_seed)
        p[idx] = saved
        approx[n] = (J_plus - J_minus) / (2 * eps)
    return approx


def analytic_gradients(network: Network, X: np.ndarray, T: np.ndarray, lambd: float = 0.0,
                       dropout_seed: int | None = None, coords: list[Coordinate] | None = None) -> np.ndarray:
    """Backprop's dJ/dtheta at the same coordinates, from one forward and backward pass."""
    coords = coordinates(network) if coords is None else coords
    network.forward(X, training=True, rng=_masks(network, dropout_seed))
    network.backward(T, lambd)
    return np.array([(g := network.layers[i].gradients[key])[np.unravel_index(j, g.shape)] for i, key, j in coords])


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||), the course's measure."""
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b) + 1e-300))


def gradient_check(network: Network, X: np.ndarray, Y: np.ndarray, lambd: float = 0.0,
                   eps: float = 1e-6, dropout_seed: int | None = None, sample: int | None = None,
                   sample_seed: int = 0) -> float:
    """Relative error between backprop and central differences over the parameters.

    Below 1e-7 in float64 means the backward pass is right. A network with dropout needs
    dropout_seed. `sample` checks that many coordinates drawn from RandomState(sample_seed)
    instead of all of them (two forward passes each), for large networks.
    """
    T = network.targets(Y)
    coords = coordinates(network, sample, sample_seed)
    approx = numerical_gradients(network, X, T, lambd, eps, dropout_seed, coords)
    return relative_error(analytic_gradients(network, X, T, lambd, dropout_seed, coords), approx)


def random_problem(network: Network, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of the network's shape ~ N(0, 1) (X (n_x, m) or (m, H, W, C)) and labels Y (1, m) in
    the output's classes, from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    shape = (*network.input_shape, m) if network.example_axis == 1 else (m, *network.input_shape)
    classes = network.n_outputs if network.output == "softmax" else 2
    return rng.randn(*shape), rng.randint(0, classes, (1, m))
