"""A stack of dense layers: logistic regression (no hidden layer), the shallow net and the deep net."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from scratchnet.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.layers import Dense
from scratchnet.nn.losses import LOSSES

DTYPES = ("float64", "float32")


class Network:
    """Dense layers with one hidden activation and a sigmoid (binary) or softmax output.

    layer_dims = [n_x, n_1, ..., n_L]: [n_x, 1] is logistic regression, [n_x, n_h, 1] the shallow
    net, longer lists the deep net. Forward state lives on the layers for backward.
    """

    def __init__(self, layers: list[Dense]):
        self.layers = layers

    @classmethod
    def initialise(
        cls,
        layer_dims: Sequence[int],
        hidden_activation: str = "relu",
        output_activation: str = "sigmoid",
        initializer: str = "course_deep",
        rng: np.random.RandomState | int = 1,
        dtype: str = "float64",
        keep_prob: float | Sequence[float] = 1.0,
    ) -> Network:
        """Draw each layer's W in order from rng (the course's order), biases zero."""
        layer_dims = [int(n) for n in layer_dims]
        if len(layer_dims) < 2 or min(layer_dims) < 1:
            raise ValueError(f"layer_dims must hold at least 2 sizes, each >= 1; got {layer_dims}")
        if hidden_activation not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden_activation must be one of {HIDDEN_ACTIVATIONS}; got {hidden_activation!r}")
        if output_activation not in OUTPUT_ACTIVATIONS:
            raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}; got {output_activation!r}")
        if initializer not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {tuple(INITIALIZERS)}; got {initializer!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}")
        if output_activation == "sigmoid" and layer_dims[-1] != 1:
            raise ValueError(f"a sigmoid output has 1 unit; layer_dims ends in {layer_dims[-1]}")
        n_hidden = len(layer_dims) - 2
        keep = [float(keep_prob)] * n_hidden if np.isscalar(keep_prob) else [float(k) for k in keep_prob]
        if len(keep) != n_hidden or not all(0.0 < k <= 1.0 for k in keep):
            raise ValueError(f"keep_prob must be in (0, 1], one value or one per hidden layer "
                             f"({n_hidden}); got {keep_prob}")
        if isinstance(rng, (int, np.integer)):
            rng = np.random.RandomState(rng)
        init = INITIALIZERS[initializer]
        layers = []
        for i, (n_prev, n) in enumerate(zip(layer_dims[:-1], layer_dims[1:])):
            last = i == len(layer_dims) - 2
            W = init(rng, n, n_prev).astype(dtype, copy=False)
            b = np.zeros((n, 1), dtype=dtype)
            act = output_activation if last else hidden_activation
            layers.append(Dense(W, b, act, keep_prob=1.0 if last else keep[i]))
        return cls(layers)

    # architecture, derived from the layers so it can never disagree with them
    @property
    def layer_dims(self) -> list[int]:
        return [self.layers[0].W.shape[1]] + [layer.b.shape[0] for layer in self.layers]

    @property
    def hidden_activation(self) -> str | None:
        return self.layers[0].activation if len(self.layers) > 1 else None

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation

    @property
    def dtype(self) -> np.dtype:
        return self.layers[-1].b.dtype

    @property
    def n_parameters(self) -> int:
        return sum(n * (n_prev + 1) for n_prev, n in zip(self.layer_dims[:-1], self.layer_dims[1:]))

    def targets(self, Y: np.ndarray) -> np.ndarray:
        """Labels (1, m) as the float target of the output layer: (1, m) for sigmoid, one-hot (K, m) for softmax."""
        if self.output_activation == "softmax":
            K = self.layer_dims[-1]
            T = np.zeros((K, Y.shape[1]), dtype=self.dtype)
            T[Y.ravel(), np.arange(Y.shape[1])] = 1
            return T
        return Y.astype(self.dtype)

    def forward(self, X: np.ndarray, cols=None, rng=None) -> np.ndarray:
        """A_L for inputs X (n_x, m), or for its columns cols (a mini-batch). rng switches dropout on (training only).

        The first layer picks the columns: a row-space first layer reads them from its precomputed
        products and never copies X's.
        """
        A = X
        for layer in self.layers:
            A = layer.forward(A, cols=cols, rng=rng)
            cols = None
        return A

    def cost(self, T: np.ndarray, lambd: float = 0.0, m: int | None = None) -> float:
        """Cross-entropy of the last forward against targets T, plus lambd/(2m) sum ||W||^2."""
        J = LOSSES[self.output_activation](self.layers[-1].Z, T)
        if lambd:
            m = T.shape[1] if m is None else m
            J += lambd / (2 * m) * sum(layer.l2() for layer in self.layers)
        return J

    def backward(self, T: np.ndarray, lambd: float = 0.0) -> None:
        """Fill every layer's gradients. The output pairs with its cross-entropy: dZ_L = A_L - T."""
        dZ = self.layers[-1].A - T  # (n_L, m)
        for i in range(len(self.layers) - 1, -1, -1):
            dA_prev = self.layers[i].backward(dZ, need_input_grad=i > 0, lambd=lambd)
            if i > 0:
                dZ = self.layers[i - 1].dZ(dA_prev)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(y=1|x) (1, m) for a sigmoid output, class probabilities (K, m) for softmax."""
        return self.forward(X)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels (1, m): probability > 0.5 for sigmoid (as the course), argmax for softmax."""
        A = self.predict_proba(X)
        if self.output_activation == "softmax":
            return A.argmax(axis=0)[None, :]
        return (A > 0.5).astype(np.int64)

    def accuracy(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Fraction of examples whose predicted label equals Y."""
        return float(np.mean(self.predict(X) == Y))

    def state(self) -> dict[str, np.ndarray | str | list]:
        """Architecture and weights as plain values (what a model file holds)."""
        state: dict = {
            "layer_dims": self.layer_dims,
            "hidden_activation": self.hidden_activation or "",
            "output_activation": self.output_activation,
        }
        for i, layer in enumerate(self.layers):
            state[f"layers.{i}.W"] = layer.W
            state[f"layers.{i}.b"] = layer.b
        return state

    @classmethod
    def from_state(cls, state: dict) -> Network:
        """Rebuild a network from `state()`; raises ValueError if the arrays do not match the architecture."""
        dims = [int(n) for n in state["layer_dims"]]
        hidden, output = str(state["hidden_activation"]), str(state["output_activation"])
        layers = []
        for i, (n_prev, n) in enumerate(zip(dims[:-1], dims[1:])):
            W, b = np.asarray(state[f"layers.{i}.W"]), np.asarray(state[f"layers.{i}.b"])
            if W.shape != (n, n_prev) or b.shape != (n, 1):
                raise ValueError(f"layer {i}: expected W {(n, n_prev)} and b {(n, 1)} for layer_dims "
                                 f"{dims}; found W {W.shape} and b {b.shape}")
            last = i == len(dims) - 2
            layers.append(Dense(W, b, output if last else hidden))
        return cls(layers)
