"""Optimizers: each updates every layer's parameters from its gradients, state aligned with the layers."""

from __future__ import annotations


class GradientDescent:
    """theta <- theta - lr * dtheta."""

    linear = True  # the update is linear in the gradient, so the row-space first layer is exact

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"lr must be > 0; got {lr}")
        self.lr = lr

    def step(self, layers) -> None:
        for layer in layers:
            grads = layer.gradients
            for key, p in layer.parameters.items():
                p -= self.lr * grads[key]


OPTIMIZERS = {"gd": GradientDescent}


def make_optimizer(name: str, **kwargs) -> GradientDescent:
    """An optimizer by its config name with its hyperparameters."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}; got {name!r}")
    return OPTIMIZERS[name](**kwargs)
