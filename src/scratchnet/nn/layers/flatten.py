"""Flatten: images (m, H, W, C) to the dense layers' columns (H*W*C, m), in the course's order."""

from __future__ import annotations

import math

import numpy as np

from scratchnet.nn.layers.base import Layer, Shape, register


@register
class Flatten(Layer):
    """A = A_prev.reshape(m, -1).T: the course's `x.reshape(x.shape[0], -1).T` for (m, H, W, C) inputs."""

    type = "flatten"

    def __init__(self):
        super().__init__()
        self.input_shape: Shape | None = None

    def forward(self, A_prev, training=False, rng=None):
        self.input_shape = A_prev.shape  # (m, H, W, C)
        return A_prev.reshape(A_prev.shape[0], -1).T  # (H*W*C, m)

    def backward(self, dA, need_input_grad=True):
        # a C-ordered copy: the transposed view would make every pass of the layer below strided
        return np.ascontiguousarray(dA.T).reshape(self.input_shape) if need_input_grad else None

    def output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)
