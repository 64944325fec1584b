"""Building networks: from a list of layer specs, and the course's dense stacks (logistic, shallow, deep)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from scratchnet.nn.heads import OUTPUTS
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.layers import LAYERS
from scratchnet.nn.network import DTYPES, Network

Spec = dict[str, Any] | str  # {"type": "dense", "units": 20} or the short form "relu"


class SpecError(ValueError):
    """A layer spec that does not build: which one (its index in the list), its type and why."""

    def __init__(self, index: int, kind: Any, reason: str):
        self.index, self.kind, self.reason = index, kind, reason
        super().__init__(f"layer {index} ({kind}): {reason}" if kind in LAYERS else f"layer {index}: {reason}")


def _spec(spec: Spec) -> dict[str, Any]:
    """'relu' -> {"type": "activation", "name": "relu"}; dicts pass as they are."""
    if isinstance(spec, str):
        if spec in ACTIVATIONS:
            return {"type": "activation", "name": spec}
        return {"type": spec}
    return dict(spec)


def _check_choices(initializer: str, dtype: str, output: str) -> None:
    if initializer not in INITIALIZERS:
        raise ValueError(f"initializer must be one of {tuple(INITIALIZERS)}; got {initializer!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}")
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}")


def from_specs(input_shape: Sequence[int], specs: Sequence[Spec], output: str = "sigmoid",
               initializer: str = "course_deep", rng: np.random.RandomState | int = 1,
               dtype: str = "float64") -> Network:
    """A new network: each spec's layer in order, weights drawn from rng in that order.

    specs end with the output layer (e.g. {"type": "dense", "units": 6}); `output` is the head.
    A spec that does not build raises SpecError (a ValueError) naming its index and type.
    """
    _check_choices(initializer, dtype, output)
    if isinstance(rng, (int, np.integer)):
        rng = np.random.RandomState(rng)
    init = INITIALIZERS[initializer]
    shape = tuple(int(n) for n in input_shape)
    layers = []
    for i, raw in enumerate(specs):
        spec = _spec(raw)
        kind = spec.get("type")
        if kind not in LAYERS:
            raise SpecError(i, kind, f"unknown type {kind!r}; known: {', '.join(sorted(LAYERS))}")
        try:
            layer = LAYERS[kind].init(spec, shape, rng, init, dtype)
            shape = layer.output_shape(shape)
        except (ValueError, KeyError, TypeError) as error:
            raise SpecError(i, kind, str(error)) from None
        layers.append(layer)
    return Network(input_shape, layers, output)


def dense_specs(layer_dims: Sequence[int], hidden_activation: str, keep: Sequence[float]) -> list[Spec]:
    """dense n_1, activation, [dropout], ..., dense n_L: the layers of a dense stack."""
    specs: list[Spec] = []
    for i, n in enumerate(layer_dims[1:]):
        specs.append({"type": "dense", "units": int(n)})
        if i < len(layer_dims) - 2:
            specs.append(hidden_activation)
            if keep[i] < 1.0:
                specs.append({"type": "dropout", "keep_prob": keep[i]})
    return specs


def dense_stack(
    layer_dims: Sequence[int],
    hidden_activation: str = "relu",
    output: str = "sigmoid",
    initializer: str = "course_deep",
    rng: np.random.RandomState | int = 1,
    dtype: str = "float64",
    keep_prob: float | Sequence[float] = 1.0,
) -> Network:
    """The course's L-layer net: layer_dims = [n_x, n_1, ..., n_L]; [n_x, 1] is logistic regression,
    [n_x, n_h, 1] the shallow net. Each W drawn in order from rng (the course's order), biases zero;
    inverted dropout (keep_prob, one value or one per hidden layer) after each hidden activation."""
    layer_dims = [int(n) for n in layer_dims]
    if len(layer_dims) < 2 or min(layer_dims) < 1:
        raise ValueError(f"layer_dims must hold at least 2 sizes, each >= 1; got {layer_dims}")
    if hidden_activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"hidden_activation must be one of {HIDDEN_ACTIVATIONS}; got {hidden_activation!r}")
    _check_choices(initializer, dtype, output)
    if output == "sigmoid" and layer_dims[-1] != 1:
        raise ValueError(f"a sigmoid output has 1 unit; layer_dims ends in {layer_dims[-1]}")
    n_hidden = len(layer_dims) - 2
    keep = [float(keep_prob)] * n_hidden if np.isscalar(keep_prob) else [float(k) for k in keep_prob]
    if len(keep) != n_hidden or not all(0.0 < k <= 1.0 for k in keep):
        raise ValueError(f"keep_prob must be in (0, 1], one value or one per hidden layer "
                         f"({n_hidden}); got {keep_prob}")
    return from_specs([layer_dims[0]], dense_specs(layer_dims, hidden_activation, keep), output,
                      initializer, rng, dtype)
