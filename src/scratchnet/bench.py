"""The benchmark: course-style baseline, both scratchnet paths, PyTorch and bare GEMM, in one run.

    python -m scratchnet.bench [--quick] [--threads N] [--repeats R] [--json PATH] [--no-torch]

Every implementation trains the course's 4-layer cat net from the same initial weights; rounds
run the implementations one after another (round-robin), so a slow spell of a shared machine
hits all of them alike, and each time reported is the median over rounds. A time is the whole
training call: from the seed to trained weights (initialisation, dtype casts, the row-space
precomputation and the final materialisation of W1 included), evaluation excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO / "data" / "raw" / "cat"

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

# ratios the issue asks for
GOAL_VS_BASELINE = 30.0
GOAL_VS_TORCH32 = 20.0
GOAL_PLAIN_VS_GEMM = 1.25
GOAL_PLANAR_SECONDS = 1.0


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
    """The core: Network.initialise + fit on the given path (forced, so float32 can take row_space)."""
    from scratchnet.nn import Network, fit, make_optimizer

    name, kwargs = optimizer

    def run() -> Outcome:
        net = Network.initialise(dims, act, initializer=init, rng=seed, dtype=dtype)
        rng = np.random.RandomState(seed) if batch_size else None
        result = fit(net, X, Y, optimizer=make_optimizer(name, **kwargs), iterations=iterations,
                     record_every=record_every, batch_size=batch_size, rng=rng, path=path)
        assert result.path == path, (result.path, path)
        return Outcome(dict(result.costs), lambda A: net.predict(A.astype(dtype, copy=False)))

    return run


def reference_case(X, Y, iterations, record_every=100) -> Callable[[], Outcome]:
    """The course-style baseline, reference.L_layer_model, on the 4-layer cat run."""
    from scratchnet import reference

    def run() -> Outcome:
        params, costs = reference.L_layer_model(X, Y, CAT_DIMS, np.random.RandomState(CAT_SEED),
                                                learning_rate=CAT_LR, num_iterations=iterations)
        return Outcome({i: c for i, c in costs if i % record_every == 0 or i == iterations - 1},
                       lambda A: reference.predict(A, params))

    return run


def torch_case(torch, X, Y, dtype: str, iterations: int, record_every=100) -> Callable[[], Outcome]:
    """Autograd on the same initial weights: relu layers, BCE-with-logits, plain SGD updates."""
    from scratchnet.nn import Network

    tdtype = getattr(torch, dtype)

    def run() -> Outcome:
        net = Network.initialise(CAT_DIMS, "relu", initializer="course_deep", rng=CAT_SEED)
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


def _plain_products(X, dims, dtype, batch_sizes, rng):
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


def _row_space_products(X, dims, dtype, rng):
    """The row-space path: per iteration C G (n_1 x m x m) and the plain products of the later layers;
    once per run P = W0 X, G = X^T X and the final W = W0 + C X^T."""
    X = X.astype(dtype, copy=False)
    n_1, m = dims[1], X.shape[1]
    G = X.T @ X
    C = rng.randn(n_1, m).astype(dtype)
    per_iteration = [(C, G, np.empty((n_1, m), dtype))]
    per_iteration += _plain_products(rng.rand(n_1, m).astype(dtype), dims[1:], dtype, [m], rng)
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


# ---- runner ---------------------------------------------------------------------------------


def run_rounds(cases: list[Case], repeats: int) -> None:
    """Round-robin: every case once per round, `repeats` rounds; times go into case.times.

    CPU time is kept beside wall time: on a shared machine another process's load stretches the wall
    time of a single-threaded run but hardly its CPU time."""
    for r in range(repeats):
        for case in cases:
            t, c = time.perf_counter(), time.process_time()
            outcome = case.run()
            seconds, cpu = time.perf_counter() - t, time.process_time() - c
            once, once_cpu = getattr(case.run, "once_seconds", (0.0, 0.0))
            case.times.append((seconds - once) * case.scale + once)
            case.cpu_times.append((cpu - once_cpu) * case.scale + once_cpu)
            case.outcome = outcome
            # progress on stderr, so stdout holds only the report
            print(f"  round {r + 1}/{repeats}: {case.label}: {case.times[-1]:.3f} s "
                  f"(cpu {case.cpu_times[-1]:.3f} s)", file=sys.stderr, flush=True)


def _accuracy(outcome: Outcome | None, X, Y) -> float | None:
    if outcome is None or outcome.predict is None or X is None:
        return None
    return float(np.mean(outcome.predict(X) == Y))


def _row(case: Case, ds, cost_at: int, reference: Case | None) -> dict:
    row = {"key": case.key, "label": case.label, "times": case.times, "median_s": case.median,
           "cpu_times": case.cpu_times, "cpu_median_s": case.cpu_median,
           "ratio_vs_row_space": None, "cpu_ratio_vs_row_space": None, "train_accuracy": None, "test_accuracy": None,
           "cost_at": None, "cost": None}
    if reference is not None:
        row["ratio_vs_row_space"] = case.median / reference.median
        row["cpu_ratio_vs_row_space"] = case.cpu_median / reference.cpu_median
    if case.outcome is not None:
        row["train_accuracy"] = _accuracy(case.outcome, ds.X_train, ds.Y_train)
        row["test_accuracy"] = _accuracy(case.outcome, ds.X_test, ds.Y_test)
        row["cost_at"] = cost_at
        row["cost"] = case.outcome.costs.get(cost_at)
    return row


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    width = int(re.match(r"\d*", spec).group() or 0)
    return f"{'-':>{width}}" if value is None else format(value * scale, spec)


def print_table(title: str, rows: list[dict], cost_at: int | None) -> None:
    print(f"\n{title}")
    cost_head = f"cost@{cost_at}" if cost_at is not None else "cost"
    print(f"{'implementation':<42} {'wall s':>8} {'x row-sp':>8} {'cpu s':>8} {'x row-sp':>8} "
          f"{'train %':>7} {'test %':>6} {cost_head:>11}")
    for r in rows:
        print(f"{r['label']:<42} {r['median_s']:>8.3f} {_fmt(r['ratio_vs_row_space'], '8.1f')} "
              f"{r['cpu_median_s']:>8.3f} {_fmt(r['cpu_ratio_vs_row_space'], '8.1f')} "
              f"{_fmt(r['train_accuracy'], '7.2f', 100)} {_fmt(r['test_accuracy'], '6.2f', 100)} "
              f"{_fmt(r['cost'], '11.9f')}")


def blas_info(threads: int) -> dict:
    from threadpoolctl import threadpool_info

    libs = [{k: v for k, v in lib.items() if k != "filepath"} | {"file": Path(lib["filepath"]).name}
            for lib in threadpool_info()]
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name")), "")
    except OSError:
        pass
    return {"threads": threads, "libraries": libs, "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "cpu": cpu, "cpu_count": os.cpu_count()}


def print_blas(meta: dict) -> None:
    print(f"threads per BLAS/OpenMP pool: {meta['threads']}   python {meta['python']}   "
          f"numpy {meta['numpy']}   {meta['machine']} {meta['cpu']} ({meta['cpu_count']} cpus)")
    for lib in meta["libraries"]:
        print(f"  {lib['user_api']}: {lib['internal_api']} {lib.get('version')} "
              f"threading={lib.get('threading_layer', '-')} arch/kernel={lib.get('architecture', '-')} "
              f"num_threads={lib['num_threads']} ({lib['file']})")
    coretype = meta["openblas_coretype"]
    print(f"  OPENBLAS_CORETYPE={coretype}" if coretype else "  OPENBLAS_CORETYPE not set")


# ---- sections -------------------------------------------------------------------------------


def cat_section(ds, iterations: int, repeats: int, torch) -> dict:
    """The 4-layer cat run by every implementation, and the bare GEMM of each path's matmuls."""
    X, Y = ds.X_train, ds.Y_train
    gd = ("gd", {"lr": CAT_LR})
    args = (X, Y, CAT_DIMS, "relu", "course_deep", CAT_SEED, gd, iterations)
    cases = [Case("reference", "course-style baseline (reference.py)", reference_case(X, Y, iterations))]
    for path in ("plain", "row_space"):
        for dtype in ("float64", "float32"):
            cases.append(Case(f"scratchnet_{path}_{dtype}", f"scratchnet {path.replace('_', '-')} {dtype}",
                              scratchnet_case(*args, path=path, dtype=dtype)))
    if torch is not None:
        for dtype in ("float64", "float32"):
            cases.append(Case(f"torch_{dtype}", f"PyTorch {torch.__version__} CPU {dtype} autograd",
                              torch_case(torch, X, Y, dtype, iterations)))
    rng = np.random.RandomState(0)
    for dtype in ("float64", "float32"):
        run, scale = gemm_case(_plain_products(X, CAT_DIMS, dtype, [X.shape[1]], rng), iterations,
                               GEMM_PROBE)
        cases.append(Case(f"gemm_plain_{dtype}", f"bare GEMM, plain-path matmuls {dtype}", run, scale))
    per_iteration, once = _row_space_products(X, CAT_DIMS, "float64", rng)
    run, scale = gemm_case(per_iteration, iterations, GEMM_PROBE, once)
    cases.append(Case("gemm_row_space_float64", "bare GEMM, row-space matmuls float64", run, scale))

    run_rounds(cases, repeats)
    by_key = {c.key: c for c in cases}
    base = by_key["scratchnet_row_space_float64"]
    cost_at = (iterations - 1) // 100 * 100
    rows = [_row(c, ds, cost_at, base) for c in cases]
    skipped = None if torch is not None else "PyTorch skipped (not importable, or --no-torch)"
    return {"dims": CAT_DIMS, "lr": CAT_LR, "iterations": iterations, "seed": CAT_SEED,
            "cost_at": cost_at, "rows": rows, "torch_skipped": skipped}


def planar_section(iterations: int, epochs: int, repeats: int) -> dict:
    """The Python-overhead-bound runs on the flower (2, 400), each beside the bare GEMM of its matmuls."""
    from scratchnet.data import make_flower

    ds = make_flower()
    X, Y = ds.X_train, ds.Y_train
    m = X.shape[1]
    rng = np.random.RandomState(0)
    cases = [Case("shallow_tanh", f"scratchnet shallow tanh {PLANAR_DIMS}, {iterations} it",
                  scratchnet_case(X, Y, PLANAR_DIMS, "tanh", "small_random", PLANAR_SEED,
                                  ("gd", {"lr": PLANAR_LR}), iterations, "plain", "float64"))]
    run, scale = gemm_case(_plain_products(X, PLANAR_DIMS, "float64", [m], rng), iterations, iterations)
    cases.append(Case("gemm_shallow_tanh", "bare GEMM, same matmuls", run, scale))
    batches = [min(ADAM_BATCH, m - k) for k in range(0, m, ADAM_BATCH)]
    cases.append(Case("adam", f"scratchnet adam {ADAM_DIMS}, batch {ADAM_BATCH}, {epochs} epochs",
                      scratchnet_case(X, Y, ADAM_DIMS, "relu", "he", ADAM_SEED, ("adam", {"lr": ADAM_LR}),
                                      epochs, "plain", "float64", batch_size=ADAM_BATCH)))
    run, scale = gemm_case(_plain_products(X, ADAM_DIMS, "float64", batches, rng), epochs, epochs)
    cases.append(Case("gemm_adam", "bare GEMM, same matmuls", run, scale))
    run_rounds(cases, repeats)
    rows = []
    for c in cases:
        row = _row(c, ds, (iterations - 1) // 1000 * 1000 if c.key == "shallow_tanh" else None, None)
        rows.append(row)
    for run_row, gemm_row in zip(rows[::2], rows[1::2]):
        run_row["ratio_vs_gemm"] = run_row["median_s"] / gemm_row["median_s"]
        run_row["cpu_ratio_vs_gemm"] = run_row["cpu_median_s"] / gemm_row["cpu_median_s"]
    return {"shallow": {"dims": PLANAR_DIMS, "lr": PLANAR_LR, "iterations": iterations},
            "adam": {"dims": ADAM_DIMS, "lr": ADAM_LR, "batch_size": ADAM_BATCH, "epochs": epochs},
            "rows": rows}


_MEMORY_SCRIPT = """
import json, sys, tracemalloc
from threadpoolctl import threadpool_limits
from scratchnet.data import load_cat
from scratchnet.nn import GradientDescent, Network, fit

def peak_kib():
    # VmHWM: this process's own peak RSS. ru_maxrss would do on other systems, but Linux carries the
    # parent's peak RSS over execve into ru_maxrss, so a child of this (large) benchmark reads its parent
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

root, path = sys.argv[1], sys.argv[2]
iterations, threads, dims = int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
with threadpool_limits(threads):
    imported = peak_kib()
    ds = load_cat(root)
    loaded = peak_kib()
    net = Network.initialise(dims, "relu", initializer="course_deep", rng=1)
    tracemalloc.start()
    result = fit(net, ds.X_train, ds.Y_train, optimizer=GradientDescent(0.0075), iterations=iterations,
                 path=path)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
print(json.dumps({"path": result.path, "iterations": iterations, "after_imports_kib": imported,
                  "after_load_kib": loaded, "peak_kib": peak_kib(), "fit_traced_peak_bytes": traced_peak,
                  "x_train_bytes": ds.X_train.nbytes, "x_test_bytes": ds.X_test.nbytes}))
"""


def memory_section(data: Path, iterations: int, threads: int) -> dict:
    """Peak RSS of a deep_cat core run in a fresh process, per path, after imports, after loading the
    data and at the end; tracemalloc's peak over fit() is what training allocates beyond the loaded
    data (it shows no per-iteration copy of X). Linux only (reads /proc/self/status)."""
    out = {}
    for path, its in (("row_space", iterations), ("plain", min(iterations, 100))):
        proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(data), path, str(its), str(threads),
                               json.dumps(CAT_DIMS)],
                              capture_output=True, text=True, check=True)
        out[path] = json.loads(proc.stdout)
    return out


def startup_section(threads: int, repeats: int) -> dict:
    """Wall time of `python -c pass` and of importing scratchnet.nn + scratchnet.data, and the split of
    the latter by `python -X importtime`: self microseconds summed per root package (numpy, scratchnet...)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    code = "import scratchnet.nn, scratchnet.data"

    def wall(argv):
        times = []
        for _ in range(max(repeats, 3)):
            t = time.perf_counter()
            subprocess.run(argv, check=True, env=env)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    top: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            name = match.group(2).lstrip("_").split(".")[0]
            top[name] = top.get(name, 0) + int(match.group(1))
    return {"python_pass_s": wall([sys.executable, "-c", "pass"]),
            "import_scratchnet_s": wall([sys.executable, "-c", code]),
            "importtime_self_us": dict(sorted(top.items(), key=lambda kv: -kv[1]))}


# ---- goals and main -------------------------------------------------------------------------


def goals(cat: dict, planar: dict) -> dict:
    """The issue's goals, each from wall-clock medians ("value", what the issue asks) and from CPU-time
    medians ("cpu_value", steadier when other processes load the machine)."""
    rows = {r["key"]: r for r in cat["rows"]} | {r["key"]: r for r in planar["rows"]}

    def ratio(a: str, b: str, field: str) -> float:
        return rows[a][field] / rows[b][field]

    pairs = {"baseline_over_row_space": ("reference", "scratchnet_row_space_float64", ">=", GOAL_VS_BASELINE),
             "torch32_over_row_space": ("torch_float32", "scratchnet_row_space_float64", ">=", GOAL_VS_TORCH32),
             "plain_float64_over_gemm": ("scratchnet_plain_float64", "gemm_plain_float64", "<=",
                                         GOAL_PLAIN_VS_GEMM),
             "plain_float32_over_gemm": ("scratchnet_plain_float32", "gemm_plain_float32", "<=",
                                         GOAL_PLAIN_VS_GEMM),
             "planar_adam_over_gemm": ("adam", "gemm_adam", "<=", GOAL_PLAIN_VS_GEMM),
             "planar_shallow_over_gemm": ("shallow_tanh", "gemm_shallow_tanh", "<=", GOAL_PLAIN_VS_GEMM)}
    out = {}
    for name, (a, b, op, bound) in pairs.items():
        if a in rows and b in rows:
            out[name] = {"value": ratio(a, b, "median_s"), "cpu_value": ratio(a, b, "cpu_median_s"),
                         "goal": f"{op} {bound}"}
    shallow = rows["shallow_tanh"]
    out["planar_shallow_seconds"] = {"value": shallow["median_s"], "cpu_value": shallow["cpu_median_s"],
                                     "goal": f"< {GOAL_PLANAR_SECONDS}"}
    for g in out.values():
        op, bound = g["goal"].split()
        check = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__}[op]
        g["met"], g["cpu_met"] = check(g["value"], float(bound)), check(g["cpu_value"], float(bound))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ITERATIONS} iterations, 1 repeat (a smoke run, not a measurement)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds; the median is reported (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this JSON file")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the cat .h5 files")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        parser.error(f"--repeats must be >= 1; got {repeats}")
    cat_its = QUICK_ITERATIONS if args.quick else CAT_ITERATIONS
    planar_its = QUICK_ITERATIONS if args.quick else PLANAR_ITERATIONS
    adam_epochs = QUICK_ITERATIONS if args.quick else ADAM_EPOCHS

    from threadpoolctl import threadpool_limits

    from scratchnet.data import DataError, load_cat

    try:
        ds = load_cat(args.data)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch not importable: skipping it (pip install -e '.[bench]' installs torch==2.13.0)")
    if torch is not None:
        torch.set_num_threads(args.threads)

    with threadpool_limits(limits=args.threads):
        meta = blas_info(args.threads) | {"torch": getattr(torch, "__version__", None),
                                          "quick": args.quick, "repeats": repeats}
        print_blas(meta)
        cat = cat_section(ds, cat_its, repeats, torch)
        print_table(f"cat, {CAT_DIMS}, lr {CAT_LR}, {cat_its} iterations, course_deep seed {CAT_SEED}, "
                    f"median of {repeats}; x row-sp = time / scratchnet row-space float64",
                    cat["rows"], cat["cost_at"])
        print(f"(bare GEMM: {min(GEMM_PROBE, cat_its)} iterations timed, scaled to {cat_its})")
        planar = planar_section(planar_its, adam_epochs, repeats)
    print(f"\nplanar flower (2, 400), median of {repeats}; us/step from CPU time")
    print(f"{'run':<52} {'wall s':>8} {'x GEMM':>7} {'cpu s':>8} {'x GEMM':>7} {'us/step':>8} {'train %':>7}")
    for r in planar["rows"]:
        steps = planar["shallow"]["iterations"] if "shallow" in r["key"] else \
            planar["adam"]["epochs"] * -(-400 // ADAM_BATCH)
        print(f"{r['label']:<52} {r['median_s']:>8.3f} {_fmt(r.get('ratio_vs_gemm'), '7.1f')} "
              f"{r['cpu_median_s']:>8.3f} {_fmt(r.get('cpu_ratio_vs_gemm'), '7.1f')} "
              f"{1e6 * r['cpu_median_s'] / steps:>8.1f} {_fmt(r['train_accuracy'], '7.2f', 100)}")
    if cat["torch_skipped"]:
        print(cat["torch_skipped"])

    memory = memory_section(args.data, cat_its, args.threads)
    print("\npeak memory of a deep_cat core run (fresh process, peak RSS = VmHWM)")
    for path, mem in memory.items():
        print(f"  {path:<10} {mem['iterations']:>5} it: after imports {mem['after_imports_kib'] / 1024:.0f} MiB, "
              f"after loading the data {mem['after_load_kib'] / 1024:.0f} MiB, "
              f"peak {mem['peak_kib'] / 1024:.0f} MiB; fit() allocated at most "
              f"{mem['fit_traced_peak_bytes'] / 2**20:.1f} MiB (X_train is {mem['x_train_bytes'] / 2**20:.1f} MiB)")
    startup = startup_section(args.threads, repeats)
    print(f"\nstart-up: python -c pass {startup['python_pass_s']:.3f} s; "
          f"python -c 'import scratchnet.nn, scratchnet.data' {startup['import_scratchnet_s']:.3f} s")
    top = list(startup["importtime_self_us"].items())[:6]
    print("  -X importtime, self time per root package: "
          + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in top))

    result_goals = goals(cat, planar)
    print("\ngoals (wall-clock medians; CPU-time medians beside them)")
    for name, g in result_goals.items():
        print(f"  {name:<26} {g['value']:>8.2f} {'met' if g['met'] else 'NOT met':<8} cpu {g['cpu_value']:>8.2f} "
              f"{'met' if g['cpu_met'] else 'NOT met':<8} goal {g['goal']}")
    if args.json is not None:
        from scratchnet.io import write_json

        write_json(args.json, {"meta": meta, "cat": cat, "planar": planar, "memory": memory,
                               "startup": startup, "goals": result_goals})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
