"""The benchmark's implementations: each trains the course's net and returns what it left, to be timed."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# the course's 4-layer run (Deep Neural Network - Application)
CAT_DIMS = [12288, 20, 7, 5, 1]
CAT_LR = 0.0075
CAT_ITERATIONS = 2500
CAT_SEED = 1
# the course's planar run (Planar data classification with one hidden layer)
PLANAR_DIMS = [2, 4, 1]
PLANAR_LR = 1.2
PLANAR_ITERATIONS = 10000
PLANAR_SEED = 2
# Adam as in the course's optimisation assignment ([n_x, 5, 2, 1], he init, lr 0.0007, batches
# of 64), on the planar flower; 1000 epochs (the course runs 10000) keeps a round short
ADAM_DIMS = [2, 5, 2, 1]
ADAM_LR = 0.0007
ADAM_BATCH = 64
ADAM_EPOCHS = 1000
ADAM_SEED = 3
QUICK_ITERATIONS = 50
GEMM_PROBE = 250  # iterations of bare GEMM actually timed; the time is scaled to the run's length

@dataclass
class Outcome:
    """What one training call left: its recorded costs and a label predictor for accuracies."""

    costs: dict[int, float]
    predict: Callable[[np.ndarray], np.ndarray] | None = None


@dataclass
class Case:
    """One row of a table: a callable to time and what its rounds measured."""

    key: str
    label: str
    run: Callable[[], Outcome | None]
    scale: float = 1.0  # bare-GEMM probes time fewer iterations than the run has
    times: list[float] = field(default_factory=list)  # wall clock, seconds
    cpu_times: list[float] = field(default_factory=list)  # this process's CPU time, seconds
    outcome: Outcome | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_times)


# ---- the implementations ------------------------------------------------------------------


def scratchnet_case(X, Y, dims, act, init, seed, optimizer, iterations, path, dtype,
                    batch_size=None, record_every=100) -> Callable[[], Outcome]:
    """The core: dense_stack + fit on the given first-layer path (forced, so float32 can take row_space)."""
    from scratchnet.nn import dense_stack, fit, make_optimizer

    name, kwargs = optimizer

    def run() -> Outcome:
        net = dense_stack(dims, act, initializer=init, rng=seed, dtype=dtype)
        rng = np.random.RandomState(seed) if batch_size else None
        result = fit(net, X, Y, optimizer=make_optimizer(name, **kwargs), epochs=iterations,
                     record_every=record_every, batch_size=batch_size, rng=rng, first_layer=path)
        assert result.first_layer == path, (result.first_layer, path)
        return Outcome(dict(result.costs), lambda A: net.predict(A.astype(dtype, copy=False)))

    return run


def reference_case(X, Y, iterations, record_every=100) -> Callable[[], Outcome]:
    """The course-style baseline, reference.L_layer_model, on the 4-layer cat run."""
    from benchmarks import reference

    def run() -> Outcome:
        params, costs = reference.L_layer_model(X, Y, CAT_DIMS, np.random.RandomState(CAT_SEED),
                                                learning_rate=CAT_LR, num_iterations=iterations)
        return Outcome({i: c for i, c in costs if i % record_every == 0 or i == iterations - 1},
                       lambda A: reference.predict(A, params))

    return run


def torch_case(torch, X, Y, dtype: str, iterations: int, record_every=100) -> Callable[[], Outcome]:
    """Autograd on the same initial weights: relu layers, BCE-with-logits, plain SGD updates."""
    from scratchnet.nn import dense_stack

    tdtype = getattr(torch, dtype)

    def run() -> Outcome:
        net = dense_stack(CAT_DIMS, "relu", initializer="course_deep", rng=CAT_SEED)
        params = [(torch.tensor(layer.W, dtype=tdtype, requires_grad=True),
                   torch.tensor(layer.b, dtype=tdtype, requires_grad=True))
                  for layer in net.layers if "W" in layer.parameters]  # the dense layers
        flat = [p for pair in params for p in pair]
        Xt = torch.tensor(X, dtype=tdtype)  # a copy: X is read-only, which torch warns about
        Yt = torch.tensor(Y, dtype=tdtype)

        def logits(A):
            for k, (W, b) in enumerate(params):
                Z = W @ A + b
                A = torch.relu(Z) if k < len(params) - 1 else Z
            return Z

        costs = {}
        for i in range(iterations):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits(Xt), Yt)
            for p in flat:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in flat:
                    p.sub_(p.grad, alpha=CAT_LR)
            if i % record_every == 0 or i == iterations - 1:
                costs[i] = loss.item()

        def predict(A):
            with torch.no_grad():
                Z = logits(torch.tensor(A, dtype=tdtype))
            return (torch.sigmoid(Z) > 0.5).numpy().astype(np.int64)

        return Outcome(costs, predict)

    return run


# ---- bare GEMM: the model's matmuls alone, same shapes, dtypes and memory layouts ----------


def plain_products(X, dims, dtype, batch_sizes, rng):
    """(a, b, out) for every matmul of one plain-path epoch: forward W A_prev, dW = dZ A_prev^T, and
    dA_prev = W^T dZ for every layer but the first (the core skips the first layer's input gradient)."""
    X = X.astype(dtype, copy=False)
    products = []
    for m in batch_sizes:
        # a full batch is X itself (its layout as loaded); a mini-batch X[:, cols] is a C-order copy
        A_prev = X if m == X.shape[1] else np.ascontiguousarray(X[:, :m])
        for k, (n_prev, n) in enumerate(zip(dims[:-1], dims[1:])):
            W = rng.randn(n, n_prev).astype(dtype)
            dZ = rng.randn(n, m).astype(dtype)
            products.append((W, A_prev, np.empty((n, m), dtype)))
            products.append((dZ, A_prev.T, np.empty((n, n_prev), dtype)))
            if k > 0:
                products.append((W.T, dZ, np.empty((n_prev, m), dtype)))
            A_prev = rng.rand(n, m).astype(dtype)
    return products


def row_space_products(X, dims, dtype, rng):
    """The row-space path: per iteration C G (n_1 x m x m) and the plain products of the later layers;
    once per run P = W0 X, G = X^T X and the final W = W0 + C X^T."""
    X = X.astype(dtype, copy=False)
    n_1, m = dims[1], X.shape[1]
    G = X.T @ X
    C = rng.randn(n_1, m).astype(dtype)
    per_iteration = [(C, G, np.empty((n_1, m), dtype))]
    per_iteration += plain_products(rng.rand(n_1, m).astype(dtype), dims[1:], dtype, [m], rng)
    W0 = rng.randn(n_1, X.shape[0]).astype(dtype)
    once = [(W0, X, np.empty((n_1, m), dtype)), (X.T, X, np.empty((m, m), dtype)),
            (C, X.T, np.empty((n_1, X.shape[0]), dtype))]
    return per_iteration, once


def gemm_case(per_iteration, iterations, probe, once=()) -> tuple[Callable[[], None], float]:
    """Run the products `probe` times (and `once` once); the caller scales the time by the returned
    factor. Returns (run, scale)."""
    probe = min(probe, iterations)
    matmul = np.matmul

    def run() -> None:
        for _ in range(probe):
            for a, b, out in per_iteration:
                matmul(a, b, out=out)
        if once:  # one-off products counted once per run: undo the scale for them below
            t, c = time.perf_counter(), time.process_time()
            for a, b, out in once:
                matmul(a, b, out=out)
            run.once_seconds = (time.perf_counter() - t, time.process_time() - c)

    run.once_seconds = (0.0, 0.0)
    return run, iterations / probe
