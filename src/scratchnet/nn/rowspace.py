"""The row-space first layer: an exact, automatic speed-up for inputs with more features than examples.

Every gradient step of the first layer's W adds dZ X^T / m, a combination of the training examples,
so W = alpha W0 + C X^T at all times, with C (n, m) and a scalar alpha (alpha only moves with L2).
Then Z = alpha W0 X + C (X^T X) + b: with P = W0 X and G = X^T X computed once, an iteration costs
n m^2 instead of n n_x m. Any optimizer whose update is linear in the gradient (gd, momentum) applied
to (C, alpha, b) moves W exactly as it would have moved W itself; L2 on W becomes (lambd/m)(C, alpha).

Only the training loop uses it, through `first_layer_inputs`: the dense first layer is swapped for
a RowSpaceDense while fitting and swapped back (W materialised) at the end, whatever happens, and
the optimizer's state (keyed to C / alpha while swapped) is reset at both swaps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from scratchnet.nn.layers import Dense, Layer
from scratchnet.nn.network import Network

FIRST_LAYERS = ("auto", "plain", "row_space")


class RowSpaceDense(Layer):
    """Stands for Dense(alpha W0 + C X^T, b) over the training inputs X (n_x, m).

    Its input is not an array but the batch's column indices into X (None: every column): the
    products it needs are precomputed, so the batch's examples are never copied.
    """

    type = "row_space_dense"  # never saved: to_dense() comes first
    regularised = ("W",)  # implicitly: see l2_penalty / add_l2_gradient

    def __init__(self, dense: Dense, X: np.ndarray):
        super().__init__()
        W0 = dense.W
        self.W0, self.X = W0, X  # (n, n_x), (n_x, m)
        self.P = W0 @ X  # (n, m)
        self.G = X.T @ X  # (m, m)
        C = np.zeros((W0.shape[0], X.shape[1]), dtype=W0.dtype)  # (n, m)
        alpha = np.ones((1, 1), dtype=W0.dtype)
        self.parameters = {"C": C, "alpha": alpha, "b": dense.b}
        self.gradients = {"C": np.zeros_like(C), "alpha": np.zeros_like(alpha), "b": np.zeros_like(dense.b)}
        self.cols = None

    @property
    def W(self) -> np.ndarray:
        """The weights this layer stands for: alpha W0 + C X^T (n, n_x)."""
        C, alpha = self.parameters["C"], self.parameters["alpha"]
        return alpha[0, 0] * self.W0 + C @ self.X.T

    def forward(self, cols, training=False, rng=None):
        """Z = alpha P[:, cols] + C G[:, cols] + b for the batch's columns cols of X."""
        C, alpha, b = self.parameters["C"], self.parameters["alpha"], self.parameters["b"]
        cols = slice(None) if cols is None else cols
        self.cols = cols
        Z = C @ self.G[:, cols]
        if alpha[0, 0] == 1.0:
            Z += self.P[:, cols]
        else:
            Z += alpha[0, 0] * self.P[:, cols]
        Z += b
        return Z

    def backward(self, dZ, need_input_grad=True):
        """dC[:, cols] = dZ / m, so that dW = dC X^T; db = sum(dZ) / m. The first layer: no dA_prev."""
        m = dZ.shape[1]
        dC = self.gradients["C"]
        if isinstance(self.cols, slice) and self.cols == slice(None):
            np.multiply(dZ, 1.0 / m, out=dC)
        else:
            dC[...] = 0
            dC[:, self.cols] = dZ * (1.0 / m)
        self.gradients["b"][...] = dZ.sum(axis=1, keepdims=True) * (1.0 / m)
        return None

    def l2_penalty(self) -> float:
        """||alpha W0 + C X^T||_F^2 without forming W: a^2|W0|^2 + 2a<C, P> + <C, C G>."""
        C, a = self.parameters["C"], self.parameters["alpha"][0, 0]
        return float(a * a * np.sum(self.W0 * self.W0) + 2 * a * np.sum(C * self.P) + np.sum(C * (C @ self.G)))

    def add_l2_gradient(self, scale: float) -> None:
        """W's L2 step lambd/m W, in (C, alpha) coordinates: (lambd/m) C and (lambd/m) alpha."""
        self.gradients["C"] += scale * self.parameters["C"]
        self.gradients["alpha"][...] = scale * self.parameters["alpha"]

    def output_shape(self, input_shape):
        return (self.W0.shape[0],)

    def to_dense(self) -> Dense:
        return Dense(self.W, self.parameters["b"])


def choose(network: Network, X: np.ndarray, optimizer, first_layer: str = "auto") -> str:
    """row_space where it is exact and cheaper (a dense first layer, more features than examples,
    float64, an optimizer linear in the gradient); otherwise plain. An explicit choice is kept."""
    if first_layer not in FIRST_LAYERS:
        raise ValueError(f"first_layer must be one of {FIRST_LAYERS}; got {first_layer!r}")
    dense_first = bool(network.layers) and isinstance(network.layers[0], Dense)
    if first_layer == "row_space" and not dense_first:
        raise ValueError("first_layer row_space needs a dense first layer")
    if first_layer != "auto":
        return first_layer
    n_x, m = X.shape if X.ndim == 2 else (0, 0)
    exact = network.dtype == np.float64 and getattr(optimizer, "linear", False)
    return "row_space" if dense_first and network.example_axis == 1 and n_x > m and exact else "plain"


@contextlib.contextmanager
def first_layer_inputs(network: Network, X: np.ndarray, optimizer, choice: str
                       ) -> Iterator[Callable[[np.ndarray | None], object]]:
    """Yield batch(cols): what network.forward takes for the columns cols of X (None: all of them).

    plain: X or its columns; row_space: the indices themselves, with the first layer swapped for a
    RowSpaceDense until the block ends (then W is materialised into a Dense again).
    """
    if choice == "plain":
        if network.example_axis == 1:
            yield lambda cols: X if cols is None else X[:, cols]
        else:
            yield lambda cols: X if cols is None else X[cols]
        return
    network.layers[0] = RowSpaceDense(network.layers[0], X)
    optimizer.reset()
    try:
        yield lambda cols: cols
    finally:
        network.layers[0] = network.layers[0].to_dense()
        optimizer.reset()
