"""The training loop: (mini-)batch gradient steps, the cost history, divergence detection."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scratchnet.nn.layers import RowSpaceDense
from scratchnet.nn.network import Network

PATHS = ("auto", "plain", "row_space")


class DivergenceError(ArithmeticError):
    """The cost became NaN or infinite."""

    def __init__(self, iteration: int, cost: float, last_finite: tuple[int, float] | None):
        self.iteration, self.cost, self.last_finite = iteration, cost, last_finite
        last = (f"last finite cost {last_finite[1]:.6g} at iteration {last_finite[0]}"
                if last_finite else "no finite cost was recorded")
        super().__init__(f"training diverged: cost became {cost} at iteration {iteration} "
                         f"({last}); lower optimizer.lr")


@dataclass
class FitResult:
    costs: list[tuple[int, float]] = field(default_factory=list)  # (iteration, cost), recorded
    iterations: int = 0
    path: str = "plain"  # which first-layer formulation ran
    seconds: float = 0.0


def choose_path(network: Network, X: np.ndarray, optimizer, batch_size: int | None, path: str) -> str:
    """row_space where it is exact and cheaper: more features than examples, float64, a linear optimizer,
    no dropout on the first layer's output; otherwise plain."""
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    if path != "auto":
        return path
    n_x, m = X.shape
    first = network.layers[0]
    ok = (n_x > m and network.dtype == np.float64 and getattr(optimizer, "linear", False)
          and first.keep_prob == 1.0)
    return "row_space" if ok else "plain"


def fit(
    network: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    optimizer,
    iterations: int,
    record_every: int = 100,
    batch_size: int | None = None,
    lambd: float = 0.0,
    rng: np.random.RandomState | None = None,
    path: str = "auto",
    on_record: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Train in place for `iterations` steps (epochs when batch_size is set) and return the history.

    The cost of iteration i is measured before its update, as the course does; it is recorded at
    every multiple of record_every and at the last iteration, and checked for NaN/inf at every one.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1; got {iterations}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    m = X.shape[1]
    X = X.astype(network.dtype, copy=False)
    T = network.targets(Y)
    chosen = choose_path(network, X, optimizer, batch_size, path)
    dropout = any(layer.keep_prob < 1.0 for layer in network.layers)
    if (dropout or batch_size) and rng is None:
        raise ValueError("dropout and mini-batches need the run's rng")
    drop_rng = rng if dropout else None

    first = network.layers[0]
    if chosen == "row_space":
        network.layers[0] = RowSpaceDense(first.W, first.b, first.activation, X)
    result = FitResult(path=chosen)
    last_finite: tuple[int, float] | None = None
    start = time.perf_counter()
    try:
        for i in range(iterations):
            if batch_size is None or batch_size >= m:
                network.forward(X, rng=drop_rng)
                cost = network.cost(T, lambd)
                network.backward(T, lambd)
                optimizer.step(network.layers)
            else:
                cost = 0.0
                order = rng.permutation(m)
                for k in range(0, m, batch_size):
                    cols = order[k:k + batch_size]
                    Tb = T[:, cols]
                    network.forward(X[:, cols], cols=cols, rng=drop_rng)
                    cost += network.cost(Tb, lambd) * len(cols)
                    network.backward(Tb, lambd)
                    optimizer.step(network.layers)
                cost /= m
            if not math.isfinite(cost):
                raise DivergenceError(i, cost, last_finite)
            last_finite = (i, cost)
            if i % record_every == 0 or i == iterations - 1:
                result.costs.append((i, cost))
                if on_record is not None:
                    on_record(i, cost)
            result.iterations = i + 1
    finally:
        result.seconds = time.perf_counter() - start
        if chosen == "row_space":  # materialise W once, whatever happened
            network.layers[0] = network.layers[0].to_dense()
    return result
