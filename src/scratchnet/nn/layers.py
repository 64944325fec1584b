"""Dense layers that keep their own forward state, parameters and gradients (local keys W, b)."""

from __future__ import annotations

import numpy as np

from scratchnet.nn.activations import ACTIVATIONS


class Dense:
    """A = g(W A_prev + b), with optional inverted dropout on A while training."""

    def __init__(self, W: np.ndarray, b: np.ndarray, activation: str, keep_prob: float = 1.0):
        self.W = W  # (n, n_prev)
        self.b = b  # (n, 1)
        self.activation = activation
        self._g = ACTIVATIONS[activation]
        self.keep_prob = keep_prob
        self.dW = np.zeros_like(W)
        self.db = np.zeros_like(b)
        self.A_prev = self.Z = self.A = self.mask = None

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        return {"W": self.W, "b": self.b}

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        return {"W": self.dW, "b": self.db}

    def forward(self, A_prev: np.ndarray, cols=None, rng=None) -> np.ndarray:
        """Z = W A_prev[:, cols] + b; A = g(Z). With rng and keep_prob < 1, drops units of A (inverted dropout)."""
        self.A_prev = A_prev if cols is None else A_prev[:, cols]  # (n_prev, m)
        self.Z = self.W @ self.A_prev + self.b  # (n, m)
        self.A = self._g.forward(self.Z)
        if rng is not None and self.keep_prob < 1.0:
            self.mask = rng.rand(*self.A.shape) < self.keep_prob
            self.A = self.A * self.mask / self.keep_prob
        else:
            self.mask = None
        return self.A

    def dZ(self, dA: np.ndarray) -> np.ndarray:
        """dZ = dA * g'(Z), undoing this layer's dropout mask first."""
        if self.mask is not None:
            dA = dA * self.mask / self.keep_prob
        A = self._g.forward(self.Z) if self.mask is not None else self.A  # g(Z) before dropout
        return self._g.backward(dA, self.Z, A)

    def backward(self, dZ: np.ndarray, need_input_grad: bool, lambd: float = 0.0):
        """dW = dZ A_prev^T / m (+ lambd/m W); db = sum(dZ) / m; returns dA_prev = W^T dZ if asked.

        dZ (n, m) is per example, over the m examples of the last forward (the batch).
        """
        m = dZ.shape[1]
        np.matmul(dZ, self.A_prev.T, out=self.dW)
        self.dW *= 1.0 / m
        if lambd:
            self.dW += (lambd / m) * self.W
        self.db[...] = dZ.sum(axis=1, keepdims=True) * (1.0 / m)
        # the input gradient of the first layer is never needed: skipping it saves a large matmul
        return self.W.T @ dZ if need_input_grad else None

    def l2(self) -> float:
        """||W||_F^2, for the L2 cost term."""
        return float(np.sum(self.W * self.W))


class RowSpaceDense:
    """The first layer trained in the row space of the training inputs X (n_x, m).

    Every gradient step of W adds dZ X^T / m, a combination of the training examples, so
    W = alpha W0 + C X^T at all times with C (n, m) and a scalar alpha (alpha only moves with L2).
    Then Z = alpha W0 X + C (X^T X) + b: with P = W0 X and G = X^T X precomputed, an iteration costs
    n m^2 instead of n n_x m. Any optimizer whose update is linear in the gradient (gd, momentum)
    applied to (C, alpha, b) moves W exactly as it would have moved W itself.
    """

    def __init__(self, W0: np.ndarray, b: np.ndarray, activation: str, X: np.ndarray):
        self.W0 = W0  # (n, n_x)
        self.X = X  # (n_x, m)
        self.P = W0 @ X  # (n, m)
        self.G = X.T @ X  # (m, m)
        self.C = np.zeros((W0.shape[0], X.shape[1]), dtype=W0.dtype)  # (n, m)
        self.alpha = np.ones((1, 1), dtype=W0.dtype)
        self.b = b
        self.activation = activation
        self._g = ACTIVATIONS[activation]
        self.keep_prob = 1.0
        self.mask = None
        self.dC = np.zeros_like(self.C)
        self.dalpha = np.zeros_like(self.alpha)
        self.db = np.zeros_like(b)
        self.cols = self.Z = self.A = None

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        return {"C": self.C, "alpha": self.alpha, "b": self.b}

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        return {"C": self.dC, "alpha": self.dalpha, "b": self.db}

    @property
    def W(self) -> np.ndarray:
        """The weights this layer stands for: alpha W0 + C X^T (n, n_x)."""
        return self.alpha[0, 0] * self.W0 + self.C @ self.X.T

    def forward(self, A_prev: np.ndarray, cols=None, rng=None) -> np.ndarray:
        """Z = alpha P[:, cols] + C G[:, cols] + b for the batch's columns cols of X."""
        cols = slice(None) if cols is None else cols
        self.cols = cols
        G = self.G[:, cols]
        self.Z = self.C @ G
        if self.alpha[0, 0] == 1.0:
            self.Z += self.P[:, cols]
        else:
            self.Z += self.alpha[0, 0] * self.P[:, cols]
        self.Z += self.b
        self.A = self._g.forward(self.Z)
        return self.A

    def dZ(self, dA: np.ndarray) -> np.ndarray:
        return self._g.backward(dA, self.Z, self.A)

    def backward(self, dZ: np.ndarray, need_input_grad: bool, lambd: float = 0.0):
        """dC[:, cols] = dZ / m, so that dW = dC X^T; L2 adds lambd/m (C, alpha)."""
        m = dZ.shape[1]
        if isinstance(self.cols, slice) and self.cols == slice(None):
            np.multiply(dZ, 1.0 / m, out=self.dC)
        else:
            self.dC[...] = 0
            self.dC[:, self.cols] = dZ * (1.0 / m)
        if lambd:
            self.dC += (lambd / m) * self.C
            self.dalpha[...] = (lambd / m) * self.alpha
        self.db[...] = dZ.sum(axis=1, keepdims=True) * (1.0 / m)
        return None

    def l2(self) -> float:
        """||alpha W0 + C X^T||_F^2 without forming W: a^2|W0|^2 + 2a<C, P> + <C, C G>."""
        a = self.alpha[0, 0]
        return float(a * a * np.sum(self.W0 * self.W0) + 2 * a * np.sum(self.C * self.P)
                     + np.sum(self.C * (self.C @ self.G)))

    def to_dense(self) -> Dense:
        return Dense(self.W, self.b, self.activation)
