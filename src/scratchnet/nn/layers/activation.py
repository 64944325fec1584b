"""Element-wise activations as layers: A = g(Z), dZ = dA * g'(Z)."""

from __future__ import annotations

from scratchnet.nn.activations import ACTIVATIONS
from scratchnet.nn.layers.base import Layer, register


@register
class Activation(Layer):
    """A = g(Z) for g in scratchnet.nn.activations.ACTIVATIONS (relu, tanh, sigmoid, leaky_relu, ...)."""

    type = "activation"

    def __init__(self, name: str):
        super().__init__()
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}; got {name!r}")
        self.name = name
        self._g = ACTIVATIONS[name]
        self.Z = self.A = None

    def forward(self, Z, training=False, rng=None):
        self.Z = Z
        self.A = self._g.forward(Z)
        return self.A

    def backward(self, dA, need_input_grad=True):
        return self._g.backward(dA, self.Z, self.A)

    def hyperparameters(self):
        return {"name": self.name}

    def describe(self) -> str:
        return self.name
