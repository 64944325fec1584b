"""Many runs in one process: configs composed with Hydra's compose API, run here or in forked workers.

A DVC stage that trains a study's runs (scratchnet.stages.train) or an architecture over seeds
(scratchnet.stages.seeds) pays Python's, Hydra's and MLflow's start-up once instead of once a run.
`compose(overrides)` gives the config `python -m scratchnet.train <overrides>` would run (the same
conf/, the same schema, no hydra node); `run_all(fn, tasks, jobs)` calls fn on each task, in this
process (jobs=1) or in `jobs` workers forked from it, which inherit every module already imported.
Each run pins BLAS to train.blas_threads (runs.threads), so its results do not depend on `jobs`.
"""

from __future__ import annotations

import logging
import multiprocessing
import shlex
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from omegaconf import DictConfig

from scratchnet.paths import CONF_DIR
from scratchnet.runs.errors import EXPECTED_ERRORS
from scratchnet.runs.threads import available_cores

T = TypeVar("T")
R = TypeVar("R")
LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"  # Hydra's console format


def split_overrides(spec: str) -> list[str]:
    """One run's overrides from one command-line argument: 'experiment=a data=b' -> ['experiment=a', 'data=b']."""
    return shlex.split(spec)


def compose(overrides: Sequence[str]) -> DictConfig:
    """The composed config for these overrides, as `python -m scratchnet.train <overrides>` gets it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import scratchnet.config  # noqa: F401 - registers the schema and ${scratchnet_root:}

    # the context restores Hydra's global state on exit (initialising costs ~5 ms against compose's
    # ~0.1 s), so a caller's own initialize/compose afterwards (tests, notebooks) still works
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3", job_name="train"):
        return hydra_compose(config_name="config", overrides=list(overrides))


def console_logging() -> None:
    """INFO lines on stderr in Hydra's format (the CLI gets them from Hydra's job logging)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)


class RunFailed(Exception):
    """An expected failure of one run in a worker, carried back as its message (the error classes
    take several constructor arguments, so they do not survive pickling as themselves)."""


def _guarded(call: tuple[Callable[[T], R], T]) -> tuple[bool, Any]:
    fn, task = call
    try:
        return True, fn(task)
    except EXPECTED_ERRORS as error:
        return False, str(error)


def default_jobs(n_tasks: int) -> int:
    """One worker per core, never more than there are tasks."""
    return max(1, min(n_tasks, available_cores()))


def run_all(fn: Callable[[T], R], tasks: Iterable[T], jobs: int = 1) -> list[R]:
    """[fn(task) for task in tasks], in order; with jobs > 1 in that many forked workers.

    fn must be a module-level function. An expected error of a run (EXPECTED_ERRORS) stops the
    batch with RunFailed naming it; any other exception propagates as it is.
    """
    tasks = list(tasks)
    if jobs <= 1 or len(tasks) <= 1:
        return [fn(task) for task in tasks]
    # fork: the workers start with every module imported and nothing opened yet (no MLflow client
    # exists before the first run), so each opens its own connection to the store
    with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks))) as pool:
        results = []
        for ok, value in pool.imap(_guarded, [(fn, task) for task in tasks], chunksize=1):
            if not ok:
                pool.terminate()
                raise RunFailed(value)
            results.append(value)
        pool.close()  # let the workers finish and exit on their own (leaving the block would kill them)
        pool.join()
    return results
