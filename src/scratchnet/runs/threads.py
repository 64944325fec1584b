"""BLAS threads: one for every training run, and a cap per sweep job so jobs x threads <= cores."""

from __future__ import annotations

import functools
import os

from omegaconf import DictConfig, OmegaConf

# One BLAS thread for every run: OpenBLAS sums some products in another order with more threads, so
# the weights (and metrics.json) would depend on the core count and on the launcher (joblib jobs get
# cores // n_jobs threads). Measured on the 2-core dev machine, 1 thread is as fast for the row-space
# path (deep_cat 0.32 s either way) and faster under load for the plain path (2.6 s vs 8.5 s).
BLAS_THREADS = 1


def pinned_blas(func):
    """Run `func` with BLAS_THREADS BLAS threads, whatever the process's cap."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


def available_cores() -> int:
    """The cores this process may run on (the affinity mask, so SLURM/cgroup limits count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_threads(n_jobs: int | None, cores: int | None = None) -> int:
    """BLAS threads per job so that n_jobs x threads <= cores: max(1, cores // n_jobs).

    n_jobs follows joblib: None or 0 means 1, a negative value means cores + 1 + n_jobs (-1 = all).
    """
    cores = cores or available_cores()
    n = 1 if not n_jobs else int(n_jobs)
    if n < 0:
        n = max(1, cores + 1 + n)
    return max(1, cores // n)


def launcher_jobs(hydra_cfg: DictConfig) -> int:
    """How many jobs run at once: joblib's n_jobs; 1 for the basic launcher (and SLURM, where each
    task gets its own cpus_per_task, which the affinity mask already reflects)."""
    launcher = OmegaConf.select(hydra_cfg, "launcher") or {}
    if "joblib" in str(launcher.get("_target_", "")).lower():
        return int(launcher.get("n_jobs") or 1)
    return 1


def limit_threads(threads: int) -> None:
    """Cap the BLAS/OpenMP pools of this process at `threads` (numpy loaded first so they exist)."""
    import numpy  # noqa: F401 - loads OpenBLAS so threadpoolctl can see it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # no context: the cap holds for this (worker) process
