"""Batch normalisation per channel of images (m, H, W, C) or per unit of columns (n, m)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.nn.layers.base import Layer, Shape, expect_array, register
from scratchnet.nn.layers.specs import check_keys, positive_int

LAYOUTS = ("channels", "columns")


@register
class BatchNorm(Layer):
    """A = gamma (X - mu) / sqrt(var + epsilon) + beta, per feature (a channel, or a dense unit).

    training=True: mu and var are the batch's (var biased, over the m*H*W values of a channel or the
    m values of a unit), and the running averages move as Keras moves them,
    moving = momentum * moving + (1 - momentum) * batch; the variance fed to them is the unbiased
    one, N / (N - 1) var, as TensorFlow's fused kernel (Keras's path for images) and PyTorch do.
    training=False: mu and var are the running averages. Defaults are Keras's: momentum 0.99,
    epsilon 1e-3, gamma 1, beta 0, moving mean 0, moving variance 1. gamma is not L2-regularised.
    """

    type = "batchnorm"

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, moving_mean: np.ndarray,
                 moving_variance: np.ndarray, layout: str = "channels", momentum: float = 0.99,
                 epsilon: float = 1e-3):
        super().__init__()
        if layout not in LAYOUTS:
            raise ValueError(f"batchnorm: layout must be one of {LAYOUTS}; got {layout!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"batchnorm: momentum must be in [0, 1]; got {momentum}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"batchnorm: epsilon must be > 0; got {epsilon}")
        self.layout, self.momentum, self.epsilon = layout, float(momentum), float(epsilon)
        self.parameters = {"gamma": gamma, "beta": beta}
        self.gradients = {"gamma": np.zeros_like(gamma), "beta": np.zeros_like(beta)}
        self.buffers = {"moving_mean": moving_mean, "moving_variance": moving_variance}
        # reduce over everything but the feature axis: (m, H, W) for channels, m for columns
        self._axes = (0, 1, 2) if layout == "channels" else (1,)
        self.xhat = self.inv_std = None
        self.training = False

    @property
    def features(self) -> int:
        return self.parameters["gamma"].shape[0]

    @staticmethod
    def shape_of(layout: str, features: int) -> Shape:
        """gamma's shape: (C,) broadcasts over (m, H, W, C); (n, 1) over columns (n, m)."""
        return (features,) if layout == "channels" else (features, 1)

    def forward(self, X, training=False, rng=None):
        self._check(X)
        gamma, beta = self.parameters["gamma"], self.parameters["beta"]
        if training:
            keep = self.layout == "columns"
            mu = X.mean(axis=self._axes, keepdims=keep)
            centred = X - mu
            var = np.mean(centred * centred, axis=self._axes, keepdims=keep)
            N = X.size // self.features
            unbiased = var * (N / (N - 1)) if N > 1 else var
            for key, batch in (("moving_mean", mu), ("moving_variance", unbiased)):
                moving = self.buffers[key]
                moving *= self.momentum
                moving += (1.0 - self.momentum) * batch
        else:
            centred = X - self.buffers["moving_mean"]
            var = self.buffers["moving_variance"]
        self.training = training
        self.inv_std = (1.0 / np.sqrt(var + self.epsilon)).astype(X.dtype, copy=False)
        self.xhat = centred * self.inv_std
        return self.xhat * gamma + beta

    def backward(self, dA, need_input_grad=True):
        """dgamma = (1/m) sum(dA xhat); dbeta = (1/m) sum(dA); with batch statistics
        dX = gamma / sigma (dA - mean(dA) - xhat mean(dA xhat)), the means per feature over N values."""
        axes = self._axes
        keep = self.layout == "columns"
        m = dA.shape[0] if self.layout == "channels" else dA.shape[1]
        dbeta = dA.sum(axis=axes, keepdims=keep)
        dgamma = np.sum(dA * self.xhat, axis=axes, keepdims=keep)
        np.multiply(dgamma, 1.0 / m, out=self.gradients["gamma"])
        np.multiply(dbeta, 1.0 / m, out=self.gradients["beta"])
        if not need_input_grad:
            return None
        scale = self.parameters["gamma"] * self.inv_std
        if not self.training:  # the running averages are constants
            return dA * scale
        N = dA.size // self.features
        return scale * (dA - dbeta * (1.0 / N) - self.xhat * (dgamma * (1.0 / N)))

    def _check(self, X: np.ndarray) -> None:
        ok = X.ndim == 4 and X.shape[3] == self.features if self.layout == "channels" else \
            X.ndim == 2 and X.shape[0] == self.features
        if not ok:
            expected = f"(m, H, W, {self.features})" if self.layout == "channels" else f"({self.features}, m)"
            raise ValueError(f"batchnorm: expected inputs {expected}; found an array of shape {X.shape}")

    def output_shape(self, input_shape: Shape) -> Shape:
        expected = (3 if self.layout == "channels" else 1)
        if len(input_shape) != expected or input_shape[-1 if expected == 3 else 0] != self.features:
            raise ValueError(f"batchnorm ({self.layout}, {self.features}): does not fit inputs of shape "
                             f"{tuple(input_shape)} per example")
        return tuple(input_shape)

    def hyperparameters(self) -> dict[str, Any]:
        return {"features": self.features, "layout": self.layout, "momentum": self.momentum,
                "epsilon": self.epsilon}

    def describe(self) -> str:
        return "batchnorm"

    @classmethod
    def from_config(cls, config, arrays):
        layout, n = config.get("layout", "channels"), int(config["features"])
        shape = cls.shape_of(layout, n)
        got = [expect_array("batchnorm", k, arrays, shape)
               for k in ("gamma", "beta", "moving_mean", "moving_variance")]
        return cls(*got, layout=layout, momentum=config.get("momentum", 0.99), epsilon=config.get("epsilon", 1e-3))

    @classmethod
    def init(cls, spec: dict[str, Any], input_shape: Shape, rng, initializer, dtype: str) -> BatchNorm:
        """Keras's start: gamma 1, beta 0, moving mean 0, moving variance 1 (draws nothing from rng)."""
        check_keys("batchnorm", spec, ("momentum", "epsilon"))
        if len(input_shape) not in (1, 3):
            raise ValueError(f"batchnorm: expected (n,) or (H, W, C) per example; found {tuple(input_shape)}")
        layout = "columns" if len(input_shape) == 1 else "channels"
        n = positive_int("batchnorm", "features", int(input_shape[-1] if layout == "channels" else input_shape[0]))
        shape = cls.shape_of(layout, n)
        ones, zeros = (lambda: np.ones(shape, dtype=dtype)), (lambda: np.zeros(shape, dtype=dtype))
        return cls(ones(), zeros(), zeros(), ones(), layout, spec.get("momentum", 0.99), spec.get("epsilon", 1e-3))
