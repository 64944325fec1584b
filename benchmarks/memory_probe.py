"""Peak memory of one deep_cat core run in this (fresh) process; prints one JSON line.

    python benchmarks/memory_probe.py DATA PATH ITERATIONS THREADS DIMS   (run by sections.memory_section)
"""

from __future__ import annotations

import json
import sys
import tracemalloc

from threadpoolctl import threadpool_limits

from scratchnet.data import load_cat
from scratchnet.nn import GradientDescent, dense_stack, fit


def peak_kib() -> int:
    """VmHWM: this process's own peak RSS. ru_maxrss would do on other systems, but Linux carries the
    parent's peak RSS over execve into ru_maxrss, so a child of the (large) benchmark reads its parent."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main(argv: list[str]) -> dict:
    root, path = argv[0], argv[1]
    iterations, threads, dims = int(argv[2]), int(argv[3]), json.loads(argv[4])
    with threadpool_limits(threads):
        imported = peak_kib()
        ds = load_cat(root)
        loaded = peak_kib()
        net = dense_stack(dims, "relu", initializer="course_deep", rng=1)
        tracemalloc.start()
        result = fit(net, ds.X_train, ds.Y_train, optimizer=GradientDescent(0.0075), epochs=iterations,
                     first_layer=path)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"path": result.first_layer, "iterations": iterations, "after_imports_kib": imported,
            "after_load_kib": loaded, "peak_kib": peak_kib(), "fit_traced_peak_bytes": traced_peak,
            "x_train_bytes": ds.X_train.nbytes, "x_test_bytes": ds.X_test.nbytes}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
