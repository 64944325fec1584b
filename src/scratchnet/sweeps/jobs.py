"""A sweep job's end, seen from the job's own process: its status, its job.json, a FAILED run if train had none."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from scratchnet import tracking
from scratchnet.config.overrides import without_plumbing
from scratchnet.files import write_json
from scratchnet.runs.multirun import TAG_JOB, TAG_SWEEP, JobInterrupted, job_overrides
from scratchnet.sweeps.records import MARKER_FILE, JobFailed


def job_error(job_return: JobReturn) -> BaseException | None:
    """The exception a failed job raised, through JobReturn's public API (None if it completed)."""
    if job_return.status != JobStatus.FAILED:
        return None
    # return_value re-raises a failed job's exception, after printing a line we log better ourselves
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            job_return.return_value  # noqa: B018
        except BaseException as error:  # noqa: BLE001 - it is the job's own exception, recorded below
            return error
    return None


def job_status(error: BaseException | None) -> str:
    """FINISHED, KILLED (Ctrl-C / SIGTERM: its run already ended KILLED) or FAILED."""
    if error is None:
        return "FINISHED"
    return "KILLED" if isinstance(error, JobInterrupted) else "FAILED"


def describe(error: BaseException | None) -> str:
    return "" if error is None else f"{type(error).__name__}: {error}"


def write_marker(folder: Path, job: int, status: str, overrides: list[str], error: str) -> None:
    """<job's Hydra folder>/job.json: the launcher's view of the job, so a job whose MLflow run is
    missing (or was never ended) still shows up in the summary with its status and reason."""
    write_json(Path(folder) / MARKER_FILE, {"job": int(job), "status": status,
                                            "overrides": without_plumbing(overrides), "error": error})


def mark_job(config: DictConfig, error: BaseException | None) -> None:
    """job.json for the job whose config (with its hydra node) this is."""
    folder = OmegaConf.select(config, "hydra.runtime.output_dir")
    if folder:
        write_marker(Path(str(folder)), int(config.hydra.job.num), job_status(error),
                     job_overrides(config.hydra), describe(error))


def record_failure(config: DictConfig, parent: str, tags: dict[str, str], error: BaseException) -> None:
    """A FAILED child run for a job that failed before train() opened its own run."""
    client = tracking.connect(tracking.resolve_uri(config.tracking))
    if tracking.find_runs(client, {"mlflow.parentRunId": parent, TAG_JOB: tags[TAG_JOB]}):
        return  # train opened its run, which open_run already ended FAILED with the error
    with contextlib.suppress(JobFailed):
        experiment = str(OmegaConf.select(config, "data.name", default=None) or "sweeps")
        with tracking.open_run(config.tracking, mlflow_experiment=experiment,
                               run_name=f"{tags[TAG_SWEEP]}#{tags[TAG_JOB]}", params={}, tags=tags,
                               parent_run_id=parent):
            raise JobFailed(describe(error))
