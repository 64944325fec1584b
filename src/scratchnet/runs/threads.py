"""BLAS threads: `train.blas_threads` for every training run, pinned while train() runs.

The default (conf/config.yaml) is the Slurm allocation, $SLURM_CPUS_PER_TASK, else 1: a sweep's jobs
run side by side, so locally one thread each, and on a cluster the cores each job was given (under
`TaskPlugin=task/none` the affinity mask holds every core of the node, so it cannot say).
"""

from __future__ import annotations

import functools
import os

from omegaconf import DictConfig, OmegaConf


def pinned_blas(func):
    """Run `func(cfg, ...)` with cfg.train.blas_threads BLAS threads, whatever the process's cap.

    A given thread count is deterministic; another count may not be: OpenBLAS sums some products in
    another order with more threads (~1e-16 in the weights, and for deep_cat in metrics.json).
    """
    @functools.wraps(func)
    def wrapper(cfg, *args, **kwargs):
        from threadpoolctl import threadpool_limits

        threads = max(1, int(cfg.train.blas_threads))  # < 1: validate() inside func refuses it
        with threadpool_limits(limits=threads, user_api="blas"):
            return func(cfg, *args, **kwargs)
    return wrapper


def blas_threads_in_use() -> int:
    """The threads of this process's BLAS pools now (threadpoolctl's view; 1 if none is loaded)."""
    from threadpoolctl import threadpool_info

    return max((lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=1)


def available_cores() -> int:
    """The cores this process may run on (the affinity mask, so cgroup/cpuset limits count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def launcher_jobs(hydra_cfg: DictConfig) -> int:
    """How many jobs of a sweep run at once on this machine: joblib's n_jobs (-1: one per core);
    1 for the basic launcher; Slurm's array_parallelism (on the cluster's nodes, not here)."""
    launcher = OmegaConf.select(hydra_cfg, "launcher") or {}
    target = str(launcher.get("_target_", "")).lower()
    if "joblib" in target:
        n = int(launcher.get("n_jobs") or 1)
        return n if n > 0 else max(1, available_cores() + 1 + n)
    if "slurm" in target:
        return int(launcher.get("array_parallelism") or 1)
    return 1


def limit_threads(threads: int) -> None:
    """Cap the BLAS/OpenMP pools of this process at `threads` (numpy loaded first so they exist)."""
    import numpy  # noqa: F401 - loads OpenBLAS so threadpoolctl can see it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # no context: the cap holds for this (worker) process
