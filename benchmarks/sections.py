"""The benchmark's sections: rounds of cases, the cat and planar tables, memory, start-up, the goals."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.cases import (
    ADAM_BATCH,
    ADAM_DIMS,
    ADAM_LR,
    ADAM_SEED,
    CAT_DIMS,
    CAT_LR,
    CAT_SEED,
    GEMM_PROBE,
    PLANAR_DIMS,
    PLANAR_LR,
    PLANAR_SEED,
    Case,
    Outcome,
    gemm_case,
    plain_products,
    reference_case,
    row_space_products,
    scratchnet_case,
    torch_case,
)

MEMORY_PROBE = Path(__file__).with_name("memory_probe.py")  # run in a fresh process
# ratios the issue asks for
GOAL_VS_BASELINE = 30.0
GOAL_VS_TORCH32 = 20.0
GOAL_PLAIN_VS_GEMM = 1.25
GOAL_PLANAR_SECONDS = 1.0



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
        run, scale = gemm_case(plain_products(X, CAT_DIMS, dtype, [X.shape[1]], rng), iterations,
                               GEMM_PROBE)
        cases.append(Case(f"gemm_plain_{dtype}", f"bare GEMM, plain-path matmuls {dtype}", run, scale))
    per_iteration, once = row_space_products(X, CAT_DIMS, "float64", rng)
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
    run, scale = gemm_case(plain_products(X, PLANAR_DIMS, "float64", [m], rng), iterations, iterations)
    cases.append(Case("gemm_shallow_tanh", "bare GEMM, same matmuls", run, scale))
    batches = [min(ADAM_BATCH, m - k) for k in range(0, m, ADAM_BATCH)]
    cases.append(Case("adam", f"scratchnet adam {ADAM_DIMS}, batch {ADAM_BATCH}, {epochs} epochs",
                      scratchnet_case(X, Y, ADAM_DIMS, "relu", "he", ADAM_SEED, ("adam", {"lr": ADAM_LR}),
                                      epochs, "plain", "float64", batch_size=ADAM_BATCH)))
    run, scale = gemm_case(plain_products(X, ADAM_DIMS, "float64", batches, rng), epochs, epochs)
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


def memory_section(data: Path, iterations: int, threads: int) -> dict:
    """Peak RSS of a deep_cat core run in a fresh process, per path, after imports, after loading the
    data and at the end; tracemalloc's peak over fit() is what training allocates beyond the loaded
    data (it shows no per-iteration copy of X). Linux only (reads /proc/self/status)."""
    out = {}
    for path, its in (("row_space", iterations), ("plain", min(iterations, 100))):
        proc = subprocess.run([sys.executable, str(MEMORY_PROBE), str(data), path, str(its), str(threads),
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
