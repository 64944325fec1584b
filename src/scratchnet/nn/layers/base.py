"""The layer contract: each layer owns its forward and backward, its parameters and its description.

    A = layer.forward(A_prev, training=False, rng=None)    # keeps what backward needs on itself
    dA_prev = layer.backward(dA, need_input_grad=True)      # fills layer.gradients

- Gradient convention (the course's): `dA` is the derivative of the *summed* loss of the batch
  (per example, dZ_L = A_L - Y), and a layer's parameter gradients are those of the *mean* cost,
  dW = (1/m) dZ A_prev^T. Parameter-free layers pass per-example gradients through unchanged.
- `parameters` / `gradients`: dicts with local keys ("W", "b"), the same arrays for the layer's
  life, updated in place by the optimizers; `buffers`: state that is saved but not trained
  (BatchNorm's running averages).
- `regularised`: the parameter keys L2 applies to; the network applies L2 once, over every layer,
  through `l2_penalty` / `add_l2_gradient` (a layer that stands for its weights implicitly, like
  the row-space first layer, overrides the two).
- `config()` describes the layer (type + hyperparameters, no arrays); `LAYERS[type].from_config(
  config, arrays)` rebuilds it, so a model file rebuilds any stack. `init(spec, input_shape, ...)`
  draws a new layer's weights from the run's generator.
Tensors may have any rank: dense layers use the course's columns (n, m), convolutions (m, H, W, C).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from scratchnet.nn.layers.specs import check_keys

Shape = tuple[int, ...]

LAYERS: dict[str, type[Layer]] = {}


def register(cls: type[Layer]) -> type[Layer]:
    """Class decorator: make `cls` rebuildable from its config by its `type` name."""
    if not cls.type or cls.type in LAYERS:
        raise ValueError(f"layer type {cls.type!r} is empty or registered twice")
    LAYERS[cls.type] = cls
    return cls


class Layer:
    """Base class: no parameters, identity shape; subclasses override what they need."""

    type: ClassVar[str] = ""
    regularised: ClassVar[tuple[str, ...]] = ()
    needs_rng: ClassVar[bool] = False  # draws random numbers while training (dropout)

    def __init__(self) -> None:
        self.parameters: dict[str, np.ndarray] = {}
        self.gradients: dict[str, np.ndarray] = {}
        self.buffers: dict[str, np.ndarray] = {}

    # -- the maths ---------------------------------------------------------------------------------

    def forward(self, A_prev: np.ndarray, training: bool = False, rng: np.random.RandomState | None = None):
        raise NotImplementedError

    def backward(self, dA: np.ndarray, need_input_grad: bool = True) -> np.ndarray | None:
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-example output shape for a per-example input shape (no batch axis)."""
        return tuple(input_shape)

    # -- L2, applied by the network ---------------------------------------------------------------

    def l2_penalty(self) -> float:
        """sum ||p||^2 over the regularised parameters (0.0 for none)."""
        return sum(float(np.sum(self.parameters[k] * self.parameters[k])) for k in self.regularised)

    def add_l2_gradient(self, scale: float) -> None:
        """gradient += scale * p for the regularised parameters (scale = lambd / m)."""
        for k in self.regularised:
            self.gradients[k] += scale * self.parameters[k]

    # -- description -------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, Any]:
        return {}

    def config(self) -> dict[str, Any]:
        return {"type": self.type, **self.hyperparameters()}

    def describe(self) -> str:
        """A few words for tables and logs: "relu", "dense 20", "conv 4x4x8 same"."""
        return self.type

    def arrays(self) -> dict[str, np.ndarray]:
        """What a model file stores: parameters and buffers, by local key."""
        return {**self.parameters, **self.buffers}

    @classmethod
    def from_config(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Layer:
        """Rebuild from config() and arrays(); parameter-free layers take their hyperparameters."""
        return cls(**{k: v for k, v in config.items() if k != "type"})

    @classmethod
    def init(cls, spec: dict[str, Any], input_shape: Shape, rng: np.random.RandomState,
             initializer: Callable, dtype: str) -> Layer:
        """A new layer from a spec ({"type": ..., hyperparameters}) drawing its weights from rng."""
        # a parameter-free layer takes its __init__'s arguments: name any other key (a typo must not pass)
        check_keys(cls.type, spec, list(inspect.signature(cls.__init__).parameters)[1:])
        return cls.from_config(spec, {})

    @property
    def n_parameters(self) -> int:
        return sum(p.size for p in self.parameters.values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


def expect_array(layer: str, key: str, arrays: dict[str, np.ndarray], shape: Shape) -> np.ndarray:
    """arrays[key] as an ndarray of `shape`; ValueError naming the layer, key and both shapes."""
    if key not in arrays:
        raise ValueError(f"{layer}: missing array {key!r}")
    array = np.asarray(arrays[key])
    if array.shape != tuple(shape):
        raise ValueError(f"{layer}: expected {key} {tuple(shape)}; found {key} {array.shape}")
    return array


def build_layer(config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Layer:
    """The layer a config() describes, with its arrays; ValueError for an unknown type."""
    kind = config.get("type")
    if kind not in LAYERS:
        raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(sorted(LAYERS))}")
    return LAYERS[kind].from_config(config, arrays)
