"""The training loop: (mini-)batch steps, dropout masks, lr schedules, the cost history, divergence detection."""

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


@dataclass(frozen=True)
class CourseCompat:
    """The course's habit of re-seeding the global generator inside its training loops.

    - optimisation notebook, model(): `seed = 10`, then before each epoch `seed = seed + 1` and
      random_mini_batches calls `np.random.seed(seed)`: epoch i is shuffled by
      RandomState(shuffle_seed + 1 + i).permutation(m).
    - regularisation notebook, forward_propagation_with_dropout calls `np.random.seed(1)` at every
      call: every iteration draws the *same* dropout masks, RandomState(dropout_seed).
    - learning-rate decay: the course updates lr after epoch i with decay(lr0, i), so epoch i >= 1
      trains with schedule(lr0, i - 1) (epochs 0 and 1 both use lr0).
    Statistically this is not dropout (a fixed sub-network) and not independent shuffles; it exists
    only to reproduce the course's published numbers. The default (no CourseCompat) draws
    everything from the one run generator.

    Like the course's np.random, one generator is re-seeded in place: rng.seed(s) leaves the state
    RandomState(s) starts from, at ~1.5 us where building a RandomState costs ~90 us, which with
    dropout would be paid at every iteration.
    """

    shuffle_seed: int = 10
    dropout_seed: int = 1

    def shuffle_rng(self, epoch: int, rng: np.random.RandomState) -> np.random.RandomState:
        rng.seed(self.shuffle_seed + 1 + epoch)
        return rng

    def dropout_rng(self, rng: np.random.RandomState) -> np.random.RandomState:
        rng.seed(self.dropout_seed)
        return rng

    @staticmethod
    def schedule_epoch(epoch: int) -> int:
        return max(epoch - 1, 0)


@dataclass
class FitResult:
    costs: list[tuple[int, float]] = field(default_factory=list)  # (iteration, cost), recorded
    iterations: int = 0
    path: str = "plain"  # which first-layer formulation ran
    seconds: float = 0.0
    learning_rates: list[tuple[int, float]] = field(default_factory=list)  # (epoch, lr) where it changed


def choose_path(network: Network, X: np.ndarray, optimizer, path: str) -> str:
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


def _mask_rng(dropout: bool, rng, compat: CourseCompat | None, course_rng):
    """The generator for one forward pass's dropout masks: the run's, or the course's fresh re-seed."""
    if not dropout:
        return None
    return compat.dropout_rng(course_rng) if compat else rng


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
    schedule: Callable[[float, int], float] | None = None,
    course_compat: bool | CourseCompat = False,
) -> FitResult:
    """Train in place for `iterations` steps (epochs when batch_size is set) and return the history.

    Mini-batches: each epoch shuffles the columns with one rng.permutation(m) and steps through
    batches of batch_size (the last one smaller); batch_size >= m is the full batch, unshuffled
    (the order of a single batch changes nothing but rounding). The recorded cost of an epoch is the
    example-weighted mean of its batch costs, each measured before that batch's update; for the full
    batch that is the cost before the iteration's update, as the course does. With L2 each batch's
    cost and gradient use lambd/m over the whole training set, so a batch estimates the full cost.
    Dropout masks are drawn from rng at every forward pass. `schedule(lr0, epoch)` sets optimizer.lr
    at the start of each epoch. `course_compat` (True or a CourseCompat) re-seeds as the course does.
    The cost is checked for NaN/inf at every iteration.
    """
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1; got {iterations}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch); got {batch_size}")
    compat = CourseCompat() if course_compat is True else (course_compat or None)
    m = X.shape[1]
    X = X.astype(network.dtype, copy=False)
    T = network.targets(Y)
    chosen = choose_path(network, X, optimizer, path)
    dropout = any(layer.keep_prob < 1.0 for layer in network.layers)
    mini = batch_size is not None and batch_size < m
    if (dropout or mini) and rng is None and compat is None:
        raise ValueError("dropout and mini-batches need the run's rng")
    lr0 = optimizer.lr
    course_rng = np.random.RandomState(0) if compat else None  # re-seeded before every use

    first = network.layers[0]
    if chosen == "row_space":
        network.layers[0] = RowSpaceDense(first.W, first.b, first.activation, X)
    result = FitResult(path=chosen)
    last_finite: tuple[int, float] | None = None
    start = time.perf_counter()
    try:
        for i in range(iterations):
            if schedule is not None:
                lr = schedule(lr0, compat.schedule_epoch(i) if compat else i)
                if lr != optimizer.lr or i == 0:
                    result.learning_rates.append((i, lr))
                optimizer.lr = lr
            if not mini:
                network.forward(X, rng=_mask_rng(dropout, rng, compat, course_rng))
                cost = network.cost(T, lambd)
                network.backward(T, lambd)
                optimizer.step(network.layers)
            else:
                cost = 0.0
                order = (compat.shuffle_rng(i, course_rng) if compat else rng).permutation(m)
                for k in range(0, m, batch_size):
                    cols = order[k:k + batch_size]
                    Tb = T[:, cols]
                    network.forward(X, cols=cols, rng=_mask_rng(dropout, rng, compat, course_rng))
                    cost += network.cost(Tb, lambd, m=m) * len(cols)
                    # lambd * m_b / m over the batch's m_b examples is lambd / m: the full set's L2
                    network.backward(Tb, lambd * len(cols) / m)
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
