"""Optimizers; their state is a list aligned with the layers.

Each optimizer's `step(layers)` updates every layer's parameters in place from its gradients. State
(velocity, moments) is one dict per layer keyed by the layer's local parameter names ("W", "b", or
"C", "alpha", "b" for the row-space first layer), created zero on the first step; `reset()` forgets
it (the row-space fast path calls it when it swaps the first layer in and out).
"""

from __future__ import annotations

import numpy as np


def positive(name: str, value: float) -> float:
    """value as a float, or ValueError naming it unless it is > 0."""
    if not value > 0:
        raise ValueError(f"{name} must be > 0; got {value}")
    return float(value)


def fraction(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1); got {value}")
    return float(value)


class GradientDescent:
    """theta <- theta - lr * dtheta."""

    linear = True  # the update is linear in the gradient, so the row-space first layer is exact

    def __init__(self, lr: float):
        self.lr = positive("lr", lr)

    def step(self, layers) -> None:
        for layer in layers:
            grads = layer.gradients
            for key, p in layer.parameters.items():
                p -= self.lr * grads[key]

    def reset(self) -> None:
        """Forget any state (gd has none)."""


class Momentum(GradientDescent):
    """v <- beta v + (1 - beta) dtheta;  theta <- theta - lr v  (v starts at zero, as the course)."""

    linear = True  # v is a fixed linear combination of past gradients

    def __init__(self, lr: float, beta: float = 0.9):
        super().__init__(lr)
        self.beta = fraction("beta", beta)
        self.velocity: list[dict[str, np.ndarray]] | None = None

    def step(self, layers) -> None:
        if self.velocity is None:
            self.velocity = [{k: np.zeros_like(p) for k, p in layer.parameters.items()}
                             for layer in layers]
        for layer, v in zip(layers, self.velocity, strict=True):
            grads = layer.gradients
            for key, p in layer.parameters.items():
                v[key] *= self.beta
                v[key] += (1 - self.beta) * grads[key]
                p -= self.lr * v[key]

    def reset(self) -> None:
        self.velocity = None


class Adam(GradientDescent):
    """Adam with bias correction, t counted per update (per mini-batch), as the course does:

    v <- b1 v + (1 - b1) g;  s <- b2 s + (1 - b2) g^2;  v^ = v / (1 - b1^t);  s^ = s / (1 - b2^t)
    theta <- theta - lr v^ / (sqrt(s^) + eps)
    """

    linear = False  # g^2 and the division make the update non-linear: no row-space shortcut

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        super().__init__(lr)
        self.beta1 = fraction("beta1", beta1)
        self.beta2 = fraction("beta2", beta2)
        self.epsilon = positive("epsilon", epsilon)
        self.t = 0
        self.v: list[dict[str, np.ndarray]] | None = None
        self.s: list[dict[str, np.ndarray]] | None = None

    def step(self, layers) -> None:
        if self.v is None:
            self.v = [{k: np.zeros_like(p) for k, p in layer.parameters.items()} for layer in layers]
            self.s = [{k: np.zeros_like(p) for k, p in layer.parameters.items()} for layer in layers]
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        c1, c2 = 1 - b1 ** self.t, 1 - b2 ** self.t
        for layer, v, s in zip(layers, self.v, self.s, strict=True):
            grads = layer.gradients
            for key, p in layer.parameters.items():
                g = grads[key]
                v[key] = b1 * v[key] + (1 - b1) * g
                s[key] = b2 * s[key] + (1 - b2) * (g ** 2)
                # written as the course writes it, so the course's numbers come out bit for bit
                p -= self.lr * ((v[key] / c1) / (np.sqrt(s[key] / c2) + self.epsilon))

    def reset(self) -> None:
        self.t, self.v, self.s = 0, None, None


OPTIMIZERS = {"gd": GradientDescent, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, **kwargs) -> GradientDescent:
    """An optimizer by its config name with its hyperparameters."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[name](**kwargs)
