"""The training loop: (mini-)batch epochs, dropout masks, lr schedules, the cost history, divergence."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from scratchnet.nn import rowspace
from scratchnet.nn.compat import CourseCompat
from scratchnet.nn.network import Network

DIVERGENCE_FACTOR = 1e3  # a cost above this many times max(starting cost, 1) has diverged


class DivergenceError(ArithmeticError):
    """The cost became NaN or infinite, or exploded far above where it started."""

    def __init__(self, epoch: int, cost: float, last_finite: tuple[int, float] | None,
                 start: float | None = None, factor: float | None = None):
        self.epoch, self.cost, self.last_finite = epoch, cost, last_finite
        if math.isfinite(cost):
            what = (f"cost {cost:.4g} at epoch {epoch} is more than {factor:g} times its starting cost "
                    f"{start:.6g} (divergence factor {factor:g})")
        else:
            last = (f"last finite cost {last_finite[1]:.6g} at epoch {last_finite[0]}"
                    if last_finite else "no finite cost was recorded")
            what = f"cost became {cost} at epoch {epoch} ({last})"
        super().__init__(f"training diverged: {what}; lower optimizer.lr")


@dataclass
class Divergence:
    """Watches the cost of every epoch: NaN/inf always diverges; with a factor, so does a cost above
    factor * max(starting cost, 1) (a large-weight start, like course 2's cost 1774, is not divergence)."""

    factor: float | None = DIVERGENCE_FACTOR
    start: float | None = None
    last_finite: tuple[int, float] | None = None

    def check(self, epoch: int, cost: float) -> None:
        if not math.isfinite(cost):
            raise DivergenceError(epoch, cost, self.last_finite)
        if self.start is None:
            self.start = cost
        elif self.factor is not None and cost > self.factor * max(self.start, 1.0):
            raise DivergenceError(epoch, cost, self.last_finite, self.start, self.factor)
        self.last_finite = (epoch, cost)


@dataclass
class FitResult:
    costs: list[tuple[int, float]] = field(default_factory=list)  # (epoch, cost), recorded
    epochs: int = 0
    first_layer: str = "plain"  # which first-layer formulation ran (rowspace.FIRST_LAYERS)
    seconds: float = 0.0
    learning_rates: list[tuple[int, float]] = field(default_factory=list)  # (epoch, lr) where it changed



def _check(epochs: int, record_every: int, batch_size: int | None) -> None:
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    if record_every < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 or None (full batch); got {batch_size}")


def fit(
    network: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    optimizer,
    epochs: int,
    record_every: int = 100,
    batch_size: int | None = None,
    lambd: float = 0.0,
    rng: np.random.RandomState | None = None,
    first_layer: str = "auto",
    on_record: Callable[[int, float], None] | None = None,
    schedule: Callable[[float, int], float] | None = None,
    course_compat: bool | CourseCompat = False,
    divergence_factor: float | None = DIVERGENCE_FACTOR,
) -> FitResult:
    """Train in place for `epochs` passes over the data and return the history.

    Full batch (batch_size None or >= m): one step per epoch, unshuffled. Mini-batches: each epoch
    shuffles the examples with one rng.permutation(m) and steps through batches of batch_size (the
    last one smaller). The recorded cost of an epoch is the example-weighted mean of its batch
    costs, each measured before that batch's update (for the full batch: the cost before the
    epoch's update, as the course prints it). With L2 each batch uses lambd/m over the whole
    training set, so a batch estimates the full cost. Dropout masks come from rng at every forward
    pass; `schedule(lr0, epoch)` sets optimizer.lr at the start of each epoch; `course_compat`
    re-seeds as the course does. The first layer runs in the row-space form where that is exact and
    cheaper (`first_layer`: auto | plain | row_space). Every epoch's cost is checked (Divergence).
    """
    _check(epochs, record_every, batch_size)
    compat = CourseCompat() if course_compat is True else (course_compat or None)
    m = X.shape[network.example_axis]
    X = X.astype(network.dtype, copy=False)
    T = network.targets(Y)
    chosen = rowspace.choose(network, X, optimizer, first_layer)
    dropout = network.stochastic
    mini = batch_size is not None and batch_size < m
    if (dropout or mini) and rng is None and compat is None:
        raise ValueError("dropout and mini-batches need the run's rng")
    course_rng = np.random.RandomState(0) if compat else None  # re-seeded before every use

    def mask_rng():
        """The generator for one forward pass's dropout masks: the run's, or the course's re-seed."""
        if not dropout:
            return None
        return compat.dropout_rng(course_rng) if compat else rng

    lr0 = optimizer.lr
    result = FitResult(first_layer=chosen)
    watch = Divergence(divergence_factor)
    start = time.perf_counter()
    try:
        with rowspace.first_layer_inputs(network, X, optimizer, chosen) as batch:
            for epoch in range(epochs):
                if schedule is not None:
                    _schedule_lr(optimizer, schedule(lr0, compat.schedule_epoch(epoch) if compat else epoch),
                                 epoch, result)
                if mini:
                    order = (compat.shuffle_rng(epoch, course_rng) if compat else rng).permutation(m)
                    cost = _mini_batches(network, batch, T, order, batch_size, lambd, optimizer, mask_rng)
                else:
                    cost = _full_batch(network, batch(None), T, lambd, optimizer, mask_rng())
                watch.check(epoch, cost)
                if epoch % record_every == 0 or epoch == epochs - 1:
                    result.costs.append((epoch, cost))
                    if on_record is not None:
                        on_record(epoch, cost)
                result.epochs = epoch + 1
    finally:
        result.seconds = time.perf_counter() - start
    return result


def _schedule_lr(optimizer, lr: float, epoch: int, result: FitResult) -> None:
    """Set the epoch's learning rate; the history keeps the first and every change."""
    if lr != optimizer.lr or epoch == 0:
        result.learning_rates.append((epoch, lr))
    optimizer.lr = lr


def _full_batch(network: Network, X, T, lambd: float, optimizer, rng) -> float:
    """One step on the whole training set; the cost before the update, as the course prints it."""
    network.forward(X, training=True, rng=rng)
    cost = network.cost(T, lambd)
    network.backward(T, lambd)
    optimizer.step(network.layers)
    return cost


def _mini_batches(network, batch, T, order, batch_size, lambd, optimizer, mask_rng) -> float:
    """One epoch of steps over the batches of `order`; the example-weighted mean of the batch costs."""
    m = len(order)
    cost = 0.0
    for k in range(0, m, batch_size):
        cols = order[k:k + batch_size]
        Tb = T[:, cols]
        network.forward(batch(cols), training=True, rng=mask_rng())
        cost += network.cost(Tb, lambd, m=m) * len(cols)
        # lambd * m_b / m over the batch's m_b examples is lambd / m: the full set's L2
        network.backward(Tb, lambd * len(cols) / m)
        optimizer.step(network.layers)
    return cost / m
