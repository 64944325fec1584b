"""A training run as one job of a Hydra multirun: its parent MLflow run and the tags it carries.

The sweep callback (scratchnet.sweeps.callback) puts the parent run id and the sweep's name into
every job's config (tracking.parent_run_id, tracking.sweep); the job's number and overrides come
from HydraConfig. Nothing travels through the environment or a shared file, so it works the same
in the launching process, in joblib workers and in a SLURM job on another node.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from scratchnet.config.overrides import without_plumbing
from scratchnet.runs.threads import blas_threads_in_use

TAG_SWEEP = "scratchnet.sweep"  # the sweep's name, on the parent and on every child
TAG_ROLE = "scratchnet.sweep.role"  # parent | job
TAG_JOB = "scratchnet.sweep.job"  # hydra.job.num
TAG_OVERRIDES = "scratchnet.sweep.overrides"  # the job's overrides, plumbing left out, space-separated
TAG_THREADS = "scratchnet.sweep.blas_threads"  # the BLAS threads the job trained with (threadpoolctl's count)
TAG_DIR = "scratchnet.sweep.dir"  # where the summary was written
TAG_FIGURE = "scratchnet.sweep.figure"


class JobInterrupted(Exception):
    """A sweep job stopped by Ctrl-C or SIGTERM, its run already ended KILLED.

    An Exception on purpose, where a single run exits 130 / 143: a SystemExit would slip past Hydra's
    run_job (no on_job_end, so no job.json) and past submitit's `except Exception` in a Slurm job (no
    result file, so the launching process never hears back). The sweep callback takes it as KILLED.
    """

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}; the run ended KILLED")
        self.signal_name = signal_name  # SIGINT | SIGTERM


def in_multirun() -> bool:
    """True inside a job of `python -m scratchnet.train -m ...`."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_overrides(hydra_cfg: DictConfig) -> list[str]:
    """hydra.overrides.task as written (unresolved: the output_dir one holds ${hydra:job.num})."""
    task = OmegaConf.select(hydra_cfg, "overrides.task")
    return [] if task is None else [str(o) for o in OmegaConf.to_container(task, resolve=False)]


def job_context(tracking_cfg) -> tuple[str | None, dict[str, str]]:
    """(parent run id, tags) for the MLflow run of a sweep job; (None, {}) for a single run."""
    parent = tracking_cfg.get("parent_run_id")
    if not parent or not in_multirun():
        return None, {}
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    return parent, {TAG_SWEEP: tracking_cfg.get("sweep") or "", TAG_ROLE: "job", TAG_JOB: str(hydra.job.num),
                    TAG_OVERRIDES: " ".join(without_plumbing(job_overrides(hydra))),
                    TAG_THREADS: str(blas_threads_in_use())}  # inside train(): its pinned pools
