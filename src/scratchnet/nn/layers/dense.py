"""The fully connected layer, in the course's column convention: Z = W A_prev + b."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchnet.nn.layers.base import Layer, Shape, expect_array, register
from scratchnet.nn.layers.specs import check_keys, positive_int


@register
class Dense(Layer):
    """Z = W A_prev + b, with W (n, n_prev) and b (n, 1); A_prev and Z are (n_prev, m) and (n, m).

    The activation is a layer of its own (or the output head's).
    """

    type = "dense"
    regularised = ("W",)

    def __init__(self, W: np.ndarray, b: np.ndarray):
        super().__init__()
        self.parameters = {"W": W, "b": b}
        self.gradients = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.A_prev: np.ndarray | None = None

    @property
    def W(self) -> np.ndarray:
        return self.parameters["W"]

    @property
    def b(self) -> np.ndarray:
        return self.parameters["b"]

    @property
    def units(self) -> int:
        return self.W.shape[0]

    def forward(self, A_prev, training=False, rng=None):
        self.A_prev = A_prev  # (n_prev, m)
        return self.W @ A_prev + self.b  # (n, m)

    def backward(self, dZ, need_input_grad=True):
        """dW = dZ A_prev^T / m; db = sum(dZ) / m; dA_prev = W^T dZ (skipped for the first layer)."""
        m = dZ.shape[1]
        dW, db = self.gradients["W"], self.gradients["b"]
        np.matmul(dZ, self.A_prev.T, out=dW)
        dW *= 1.0 / m
        db[...] = dZ.sum(axis=1, keepdims=True) * (1.0 / m)
        # the input gradient of the first layer is never needed: skipping it saves a large matmul
        return self.W.T @ dZ if need_input_grad else None

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1 or input_shape[0] != self.W.shape[1]:
            raise ValueError(f"dense {self.units}: expected inputs of shape ({self.W.shape[1]},) per "
                             f"example, found {tuple(input_shape)} (put a flatten layer before it)")
        return (self.units,)

    def hyperparameters(self) -> dict[str, Any]:
        return {"units": self.units, "inputs": self.W.shape[1]}

    def describe(self) -> str:
        return f"dense {self.units}"

    @classmethod
    def from_config(cls, config, arrays):
        n, n_prev = int(config["units"]), int(config["inputs"])
        return cls(expect_array("dense", "W", arrays, (n, n_prev)), expect_array("dense", "b", arrays, (n, 1)))

    @classmethod
    def init(cls, spec: dict[str, Any], input_shape: Shape, rng: np.random.RandomState,
             initializer: Callable, dtype: str) -> Dense:
        """W drawn by `initializer` with fan-in n_prev (the course's draw order: W only), b zeros."""
        if len(input_shape) != 1:
            raise ValueError(f"dense: expected 1-D inputs per example, found {tuple(input_shape)} "
                             f"(put a flatten layer before it)")
        check_keys("dense", spec, ("units",))
        n, n_prev = positive_int("dense", "units", spec.get("units")), int(input_shape[0])
        W = initializer(rng, (n, n_prev), n_prev, n).astype(dtype, copy=False)
        return cls(W, np.zeros((n, 1), dtype=dtype))
