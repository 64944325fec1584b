"""Inverted dropout: while training, keep each unit with probability keep_prob and scale by 1/keep_prob."""

from __future__ import annotations

from scratchnet.nn.layers.base import Layer, register


@register
class Dropout(Layer):
    """A = A_prev * mask / keep_prob while training (mask ~ Bernoulli(keep_prob), drawn from the run's
    rng at every forward pass); the identity at prediction time."""

    type = "dropout"
    needs_rng = True

    def __init__(self, keep_prob: float):
        super().__init__()
        if not 0.0 < float(keep_prob) <= 1.0:
            raise ValueError(f"keep_prob must be in (0, 1]; got {keep_prob}")
        self.keep_prob = float(keep_prob)
        self.mask = None

    def forward(self, A_prev, training=False, rng=None):
        if not training or self.keep_prob == 1.0:
            self.mask = None
            return A_prev
        if rng is None:
            raise ValueError("dropout while training needs the run's rng")
        self.mask = rng.rand(*A_prev.shape) < self.keep_prob
        return A_prev * self.mask / self.keep_prob

    def backward(self, dA, need_input_grad=True):
        return dA if self.mask is None else dA * self.mask / self.keep_prob

    def hyperparameters(self):
        return {"keep_prob": self.keep_prob}

    def describe(self) -> str:
        return f"dropout {self.keep_prob:g}"
