"""A network: an input shape, a list of layers and an output head (sigmoid or softmax + cross-entropy).

Forward state lives on the layers, each of which owns its backward; the network only chains them,
pairs the last Z with its head and applies L2 once, over the weights the layers declare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from scratchnet.nn.heads import HEADS, OUTPUTS
from scratchnet.nn.layers import Activation, Dense, Dropout, Layer, build_layer

DTYPES = ("float64", "float32")
INFERENCE_CHUNK = 128  # images per forward pass at prediction time (conv activations are large)
FORMAT = 2  # the config()'s version; 1 is the pre-layer-contract model file (see upgrade_config)


class Network:
    """`layers` map inputs of `input_shape` (per example) to the head's Z; the head gives probabilities.

    Dense nets take X as columns (n_x, m); nets whose input is an image take (m, H, W, C).
    """

    def __init__(self, input_shape: Sequence[int], layers: list[Layer], output: str = "sigmoid"):
        if output not in HEADS:
            raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}")
        self.input_shape = tuple(int(n) for n in input_shape)
        self.layers = list(layers)
        self.head = HEADS[output]()
        shape = self.input_shape
        for i, layer in enumerate(self.layers):  # checks that the layers fit together
            try:
                shape = layer.output_shape(shape)
            except ValueError as error:
                raise ValueError(f"layer {i} ({layer.describe()}): {error}") from None
        if len(shape) != 1:
            raise ValueError(f"the last layer must give columns (n_out,) per example; it gives {shape}")
        self.n_outputs = shape[0]
        if output == "sigmoid" and self.n_outputs != 1:
            raise ValueError(f"a sigmoid output has 1 unit; the last layer has {self.n_outputs}")

    # -- what the network is ---------------------------------------------------------------------

    @property
    def output(self) -> str:
        return self.head.name

    @property
    def example_axis(self) -> int:
        """Where the examples are in an input: columns (axis 1) for vectors, axis 0 for images."""
        return 1 if len(self.input_shape) == 1 else 0

    @property
    def dtype(self) -> np.dtype:
        return next(p.dtype for layer in self.layers for p in layer.parameters.values())

    @property
    def n_parameters(self) -> int:
        return sum(layer.n_parameters for layer in self.layers)

    @property
    def stochastic(self) -> bool:
        """True when training draws random numbers (dropout), so fit needs the run's rng."""
        return any(layer.needs_rng and getattr(layer, "keep_prob", 0.0) < 1.0 for layer in self.layers)

    @property
    def layer_dims(self) -> list[int] | None:
        """[n_x, n_1, ..., n_L] for a stack of dense layers (with activations, dropout); else None."""
        if len(self.input_shape) != 1 or not all(isinstance(l, (Dense, Activation, Dropout)) for l in self.layers):
            return None
        return [self.input_shape[0]] + [l.units for l in self.layers if isinstance(l, Dense)]

    @property
    def hidden_activation(self) -> str | None:
        """The first activation layer's name (None for logistic regression)."""
        return next((l.name for l in self.layers if isinstance(l, Activation)), None)

    def describe(self) -> str:
        """'[12288, 20, 7, 5, 1]' for a dense stack; else the layers, e.g. 'conv 4x4x8 same, relu, ...'."""
        dims = self.layer_dims
        if dims is not None:
            return str(dims)
        return ", ".join(layer.describe() for layer in self.layers) + f", {self.output}"

    # -- the maths -------------------------------------------------------------------------------

    def forward(self, X: np.ndarray, training: bool = False, rng: np.random.RandomState | None = None) -> np.ndarray:
        """The output probabilities for inputs X; training switches on dropout (drawn from rng) and
        batch statistics."""
        if not training and self.example_axis == 0 and X.shape[0] > INFERENCE_CHUNK:
            # images at prediction time: a chunk of examples at a time bounds the activations
            Z = np.concatenate([self._layers_forward(X[k:k + INFERENCE_CHUNK], False, None)
                                for k in range(0, X.shape[0], INFERENCE_CHUNK)], axis=1)
            return self.head.forward(Z)
        return self.head.forward(self._layers_forward(X, training, rng))

    def _layers_forward(self, X, training, rng):
        A = X
        for layer in self.layers:
            A = layer.forward(A, training, rng)
        return A

    def targets(self, Y: np.ndarray) -> np.ndarray:
        """Labels (1, m) as the head's float targets: (1, m) for sigmoid, one-hot (K, m) for softmax."""
        return self.head.targets(Y, self.n_outputs, self.dtype)

    def cost(self, T: np.ndarray, lambd: float = 0.0, m: int | None = None) -> float:
        """Cross-entropy of the last forward against targets T, plus lambd/(2m) sum ||W||^2."""
        J = self.head.cost(T)
        if lambd:
            m = T.shape[1] if m is None else m
            J += lambd / (2 * m) * sum(layer.l2_penalty() for layer in self.layers)
        return J

    def backward(self, T: np.ndarray, lambd: float = 0.0) -> None:
        """Fill every layer's gradients from the last forward: dZ_L = A_L - T from the head, then each
        layer's backward in reverse; L2 adds lambd/m W to the regularised weights' gradients."""
        dA = self.head.backward(T)  # (n_L, m)
        first = self._first_trainable()
        for i in range(len(self.layers) - 1, first - 1, -1):
            dA = self.layers[i].backward(dA, need_input_grad=i > first)
        if lambd:
            scale = lambd / T.shape[1]
            for layer in self.layers:
                layer.add_l2_gradient(scale)

    def _first_trainable(self) -> int:
        """Layers before the first one with parameters need no gradient at all."""
        return next((i for i, layer in enumerate(self.layers) if layer.parameters), len(self.layers))

    def input_from_images(self, images: np.ndarray) -> np.ndarray:
        """Images (m, H, W, C) as this network's input: the course's columns x.reshape(m, -1).T for a
        dense net, the images themselves (C-ordered) for one that takes images."""
        if self.example_axis == 1:
            return images.reshape(images.shape[0], -1).T
        return np.ascontiguousarray(images)

    def input_from_rows(self, rows: np.ndarray) -> np.ndarray:
        """Examples as rows (m, n), each the course's flattening of one example (MLflow's layout), as
        this network's input: rows.T (n, m) for a dense net, (m, H, W, C) for one that takes images."""
        if self.example_axis == 1:
            return rows.T
        return rows.reshape(rows.shape[0], *self.input_shape)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(y=1|x) (1, m) for a sigmoid output, class probabilities (K, m) for softmax."""
        return self.forward(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (1, m): probability > 0.5 for sigmoid (as the course), argmax for softmax."""
        return self.head.predict(self.predict_proba(X))

    def accuracy(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Fraction of examples whose predicted label equals Y."""
        return float(np.mean(self.predict(X) == Y))

    # -- description and rebuilding --------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The architecture as plain values: input shape, each layer's config(), the head."""
        return {"format": FORMAT, "input_shape": list(self.input_shape), "output": self.output,
                "layers": [layer.config() for layer in self.layers]}

    def arrays(self) -> dict[str, np.ndarray]:
        """Every layer's parameters and buffers as "layers.<i>.<key>"."""
        return {f"layers.{i}.{key}": array for i, layer in enumerate(self.layers)
                for key, array in layer.arrays().items()}

    @classmethod
    def from_config(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Network:
        """Rebuild from config() and arrays(); ValueError names what does not fit."""
        if config.get("format") != FORMAT:
            config, arrays = upgrade_config(config, arrays)
        layers = []
        for i, layer_config in enumerate(config["layers"]):
            prefix = f"layers.{i}."
            own = {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}
            try:
                layers.append(build_layer(layer_config, own))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"layer {i}: {error}") from None
        return cls(config["input_shape"], layers, config["output"])


def upgrade_config(architecture: dict[str, Any], arrays: dict[str, np.ndarray]) -> tuple[dict, dict]:
    """A pre-layer-contract model (layer_dims, hidden_activation, output_activation and dense
    layers.<i>.W/b) as (config, arrays) of this format: dense layer i becomes layer 2i, each hidden
    one followed by its activation layer."""
    if "layer_dims" not in architecture:
        raise ValueError(f"expected a model architecture (format {FORMAT}, or the older layer_dims form); "
                         f"found keys {sorted(architecture)}")
    dims = [int(n) for n in architecture["layer_dims"]]
    hidden = str(architecture.get("hidden_activation") or "")
    layers, new_arrays = [], {}
    for k, (n_prev, n) in enumerate(zip(dims[:-1], dims[1:])):
        for key in ("W", "b"):
            if f"layers.{k}.{key}" not in arrays:
                raise ValueError(f"layer {k}: missing array layers.{k}.{key}")
            new_arrays[f"layers.{len(layers)}.{key}"] = arrays[f"layers.{k}.{key}"]
        W, b = np.asarray(arrays[f"layers.{k}.W"]), np.asarray(arrays[f"layers.{k}.b"])
        if W.shape != (n, n_prev) or b.shape != (n, 1):
            raise ValueError(f"layer {k}: expected W {(n, n_prev)} and b {(n, 1)} for layer_dims "
                             f"{dims}; found W {W.shape} and b {b.shape}")
        layers.append({"type": "dense", "units": n, "inputs": n_prev})
        if k < len(dims) - 2:
            layers.append({"type": "activation", "name": hidden})
    config = {"format": FORMAT, "input_shape": [dims[0]], "layers": layers,
              "output": str(architecture["output_activation"])}
    return config, new_arrays


def n_examples(X: np.ndarray, network: Network) -> int:
    """m, the number of examples in an input of `network`."""
    return X.shape[network.example_axis]


def check_input(network: Network, X: np.ndarray, what: str = "X") -> None:
    """ValueError unless X holds examples of the network's input shape along its example axis."""
    per_example = X.shape[:-1] if network.example_axis == 1 else X.shape[1:]
    if tuple(per_example) != network.input_shape:
        layout = "(n_x, m)" if network.example_axis == 1 else "(m, H, W, C)"
        raise ValueError(f"{what}: expected examples of shape {network.input_shape} laid out as {layout}; "
                         f"found an array of shape {X.shape} ({math.prod(X.shape)} values)")
