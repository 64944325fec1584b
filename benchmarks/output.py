"""The benchmark's printed report: the machine and BLAS, each section's table, the goals."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

import numpy as np

from benchmarks.cases import ADAM_BATCH, CAT_DIMS, CAT_LR, CAT_SEED, GEMM_PROBE


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


def print_cat(cat: dict, repeats: int) -> None:
    iterations = cat["iterations"]
    print_table(f"cat, {CAT_DIMS}, lr {CAT_LR}, {iterations} iterations, course_deep seed {CAT_SEED}, "
                f"median of {repeats}; x row-sp = time / scratchnet row-space float64", cat["rows"], cat["cost_at"])
    print(f"(bare GEMM: {min(GEMM_PROBE, iterations)} iterations timed, scaled to {iterations})")


def print_planar(planar: dict, repeats: int) -> None:
    print(f"\nplanar flower (2, 400), median of {repeats}; us/step from CPU time")
    print(f"{'run':<52} {'wall s':>8} {'x GEMM':>7} {'cpu s':>8} {'x GEMM':>7} {'us/step':>8} {'train %':>7}")
    for r in planar["rows"]:
        steps = planar["shallow"]["iterations"] if "shallow" in r["key"] else \
            planar["adam"]["epochs"] * -(-400 // ADAM_BATCH)
        print(f"{r['label']:<52} {r['median_s']:>8.3f} {_fmt(r.get('ratio_vs_gemm'), '7.1f')} "
              f"{r['cpu_median_s']:>8.3f} {_fmt(r.get('cpu_ratio_vs_gemm'), '7.1f')} "
              f"{1e6 * r['cpu_median_s'] / steps:>8.1f} {_fmt(r['train_accuracy'], '7.2f', 100)}")


def print_memory(memory: dict) -> None:
    print("\npeak memory of a deep_cat core run (fresh process, peak RSS = VmHWM)")
    for path, mem in memory.items():
        print(f"  {path:<10} {mem['iterations']:>5} it: after imports {mem['after_imports_kib'] / 1024:.0f} MiB, "
              f"after loading the data {mem['after_load_kib'] / 1024:.0f} MiB, "
              f"peak {mem['peak_kib'] / 1024:.0f} MiB; fit() allocated at most "
              f"{mem['fit_traced_peak_bytes'] / 2**20:.1f} MiB (X_train is {mem['x_train_bytes'] / 2**20:.1f} MiB)")


def print_startup(startup: dict) -> None:
    print(f"\nstart-up: python -c pass {startup['python_pass_s']:.3f} s; "
          f"python -c 'import scratchnet.nn, scratchnet.data' {startup['import_scratchnet_s']:.3f} s")
    top = list(startup["importtime_self_us"].items())[:6]
    print("  -X importtime, self time per root package: "
          + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in top))


def print_goals(goals: dict) -> None:
    print("\ngoals (wall-clock medians; CPU-time medians beside them)")
    for name, g in goals.items():
        print(f"  {name:<26} {g['value']:>8.2f} {'met' if g['met'] else 'NOT met':<8} cpu {g['cpu_value']:>8.2f} "
              f"{'met' if g['cpu_met'] else 'NOT met':<8} goal {g['goal']}")
