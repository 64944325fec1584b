"""The multirun callback: one MLflow parent run per sweep, a child run per job, the summary at the end.

    python -m scratchnet.train -m +sweep=lr_compare                    # a preset (conf/sweep/)
    python -m scratchnet.train -m experiment=deep_cat optimizer.lr=0.1,0.01 hydra/launcher=joblib

`SweepCallback` is registered for every run in conf/hydra/callbacks/sweep.yaml and does nothing
outside multirun. In the launching process it creates the store and the experiments once
(`tracking.prepare_store`: parallel jobs never race on a fresh SQLite file), opens the parent run
and appends to hydra.overrides.task what every job needs: its own output_dir, and the parent run id
and the sweep's name as typed config keys (tracking.parent_run_id, tracking.sweep). So the context
travels inside each job's config, to joblib workers and pickled SLURM jobs alike; train() reads it
(scratchnet.runs.multirun). In each job the callback caps the BLAS threads (jobs x threads <= cores).
A job that raises is recorded as a FAILED child run and does not stop the others; at the end the
summary (summary.csv, summary.md, the figure) lands in out_dir and on the parent run, and the
command exits 1 naming the failed jobs (see `SweepCallback.on_job_end`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from scratchnet import tracking
from scratchnet.config.overrides import keys, quoted, values, without_plumbing
from scratchnet.config.validate import check_root
from scratchnet.files import write_json
from scratchnet.runs.multirun import (
    TAG_DIR,
    TAG_FIGURE,
    TAG_JOB,
    TAG_OVERRIDES,
    TAG_ROLE,
    TAG_SWEEP,
    job_context,
    job_overrides,
)
from scratchnet.runs.threads import available_cores, blas_threads, launcher_jobs, limit_threads
from scratchnet.sweeps.figures import FIGURES
from scratchnet.sweeps.records import MARKER_FILE, JobFailed, collect, with_unrecorded
from scratchnet.sweeps.summary import write_summary

log = logging.getLogger(__name__)


class SweepCallback(Callback):
    """Parent run + summary for every Hydra multirun; BLAS threads and failure records for every job.

    name: the sweep's name (MLflow run name and tag); out_dir: where the summary goes.
    figure: cost_curves | decision_boundaries | accuracy_vs_depth | null (table only).
    """

    def __init__(self, name: str, out_dir: str, figure: str | None = None) -> None:
        if figure is not None and figure not in FIGURES:
            raise ValueError(f"hydra.callbacks.sweep.figure: expected one of {', '.join(FIGURES)} or null, "
                             f"found {figure!r}")
        self.name = name
        self.out_dir = Path(out_dir)
        self.figure = figure
        self._stack: contextlib.ExitStack | None = None
        self._parent: tracking.RunLog | None = None
        self._ended = False
        self._interrupted = False

    def __getstate__(self) -> dict:
        """What a joblib/submitit worker gets: the settings, not the open parent run."""
        return {**self.__dict__, "_stack": None, "_parent": None}

    # -- launching process --------------------------------------------------------------------------

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            self._start(config)
        except Exception as error:  # Hydra would only warn and run the jobs without a parent run
            print(f"scratchnet sweep: error: {error}", file=sys.stderr)
            if self._stack is not None:
                self._ended = True
                self._stack.__exit__(type(error), error, error.__traceback__)
            raise SystemExit(2) from None

    def _start(self, config: DictConfig) -> None:
        check_root(config.paths.root)  # before the store is created there (a missing root is not made)
        task = job_overrides(config.hydra)
        if "output_dir" not in keys(task):  # jobs sharing experiments/<name>/ would overwrite each other
            # ${hydra:job.num} stays an interpolation that each job resolves to its own number
            self._add_overrides(config, [f"output_dir={quoted(str(self.out_dir) + '/${hydra:job.num}')}"])
        experiment = str(config.data.name)
        ids = tracking.prepare_store(config.tracking, sorted({experiment} | _swept_data(config)))  # once
        if not ids:
            log.warning("tracking=none: sweep %s runs without a parent run or summary", self.name)
            return
        self._stack = contextlib.ExitStack()
        params = {"sweep": {"name": self.name, "params": _sweeper_params(config),
                            "overrides": " ".join(task),
                            "launcher": str(OmegaConf.select(config, "hydra.launcher._target_")),
                            "n_jobs": launcher_jobs(config.hydra), "cores": available_cores()}}
        self._parent = self._stack.enter_context(tracking.open_run(
            config.tracking, mlflow_experiment=experiment, run_name=self.name, params=params,
            tags={TAG_SWEEP: self.name, TAG_ROLE: "parent", TAG_DIR: str(self.out_dir), TAG_FIGURE: self.figure}))
        # the jobs' context, as config keys: every job's config carries it wherever the job runs
        self._add_overrides(config, [f"tracking.parent_run_id={self._parent.run_id}",
                                     f"tracking.sweep={quoted(self.name)}"])
        self._install_safety_net()
        log.info("sweep %s: parent run %s in experiment %s", self.name, self._parent.run_id, experiment)

    @staticmethod
    def _add_overrides(config: DictConfig, overrides: list[str]) -> None:
        """Append to hydra.overrides.task, which the sweeper reads after this callback for every job."""
        with open_dict(config.hydra), read_write(config.hydra):
            config.hydra.overrides.task.extend(overrides)

    def _install_safety_net(self) -> None:
        """End the parent run if the sweep dies before on_multirun_end (KILLED on Ctrl-C, else FAILED)."""
        import atexit

        previous = signal.getsignal(signal.SIGINT)

        def on_sigint(signum, frame):
            self._interrupted = True
            if callable(previous):
                previous(signum, frame)
            raise KeyboardInterrupt

        with contextlib.suppress(ValueError):  # not the main thread: no handler, atexit still works
            signal.signal(signal.SIGINT, on_sigint)
        atexit.register(self._end_if_open)

    def _end_if_open(self) -> None:
        if self._stack is None or self._ended:
            return
        self._ended = True
        error = KeyboardInterrupt() if self._interrupted else RuntimeError("the sweep stopped before its end")
        self._stack.__exit__(type(error), error, None)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._stack is None or self._ended:
            return
        try:
            records = self._summarise(config)
        except BaseException as error:
            self._ended = True
            self._stack.__exit__(type(error), error, error.__traceback__)
            if not isinstance(error, Exception):
                raise
            # Hydra would only warn about an exception here; the command must fail
            print(f"scratchnet sweep: error: writing the summary of {self.name} failed: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        self._ended = True
        failed = [r for r in records if r.status != "FINISHED"]
        if not records or len(failed) == len(records):
            error = JobFailed(f"all {len(records)} jobs failed")
            self._stack.__exit__(JobFailed, error, None)
        else:
            self._stack.close()  # FINISHED: at least one job finished; the failed ones are in the table
        print(f"sweep {self.name}: {len(records) - len(failed)} of {len(records)} jobs finished; "
              f"summary in {self.out_dir / 'summary.md'}", file=sys.stderr)
        if failed:
            for r in failed:
                print(f"  job #{r.job} FAILED ({' '.join(r.overrides)}): {r.error}", file=sys.stderr)
            raise SystemExit(1)  # BaseException: passes Hydra's callback guard, so the command fails

    def _summarise(self, config: DictConfig) -> list:
        """Write the summary into out_dir and onto the parent run; returns the job records."""
        client = self._parent.client
        records = with_unrecorded(collect(client, self._parent.run_id), Path(str(config.hydra.sweep.dir)))
        for path in write_summary(records, self.out_dir, self.name, self.figure, client):
            self._parent.log_artifact(path, "summary")
        failed = sum(r.status != "FINISHED" for r in records)
        self._parent.log_metrics({"jobs": len(records), "failed_jobs": failed})
        return records

    # -- job process ---------------------------------------------------------------------------------

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _multirun(config):
            # train() pins BLAS to 1 thread for its whole call, fit, plots and MLflow alike (byte-identical
            # results whatever the launcher); this cap bounds what the job's process runs outside train()
            limit_threads(blas_threads(launcher_jobs(config.hydra)))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Record a failed job and absorb its exception.

        Hydra's BasicSweeper re-raises the first failed job's exception after the batch, which
        skips on_multirun_end (no summary, a parent run left RUNNING). So a failure becomes a
        FAILED child run here (train's own run, or one made for a job that failed before opening
        it) and the JobReturn is marked COMPLETED; on_multirun_end then makes the command exit 1.
        """
        if not _multirun(config):
            return
        error = _job_error(job_return)
        _write_marker(config, error)
        parent, tags = job_context(config.tracking)
        if error is not None and parent:
            log.error("sweep job #%s (%s) failed: %s: %s", tags[TAG_JOB], tags[TAG_OVERRIDES],
                      type(error).__name__, error)
            job_return.status = JobStatus.COMPLETED  # handled: the summary lists it, the exit code says it
            job_return.return_value = None
            _record_failure(config, parent, tags, error)


def _multirun(config: DictConfig) -> bool:
    return str(OmegaConf.select(config, "hydra.mode")) == "RunMode.MULTIRUN"


def _job_error(job_return: JobReturn) -> BaseException | None:
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


def _record_failure(config: DictConfig, parent: str, tags: dict[str, str], error: BaseException) -> None:
    """A FAILED child run for a job that failed before train() opened its own run."""
    client = tracking.connect(tracking.resolve_uri(config.tracking))
    if tracking.find_runs(client, {"mlflow.parentRunId": parent, TAG_JOB: tags[TAG_JOB]}):
        return  # train opened its run, which open_run already ended FAILED with the error
    with contextlib.suppress(JobFailed):
        experiment = str(OmegaConf.select(config, "data.name", default=None) or "sweeps")
        with tracking.open_run(config.tracking, mlflow_experiment=experiment,
                               run_name=f"{tags[TAG_SWEEP]}#{tags[TAG_JOB]}", params={}, tags=tags,
                               parent_run_id=parent):
            raise JobFailed(f"{type(error).__name__}: {error}")


def _write_marker(config: DictConfig, error: BaseException | None) -> None:
    """<job's Hydra folder>/job.json: the launcher's view of the job, so a job whose MLflow run is
    missing still shows up in the summary."""
    folder = OmegaConf.select(config, "hydra.runtime.output_dir")
    if folder:
        write_json(Path(str(folder)) / MARKER_FILE, {
            "job": int(config.hydra.job.num), "status": "FINISHED" if error is None else "FAILED",
            "overrides": without_plumbing(job_overrides(config.hydra)),
            "error": "" if error is None else f"{type(error).__name__}: {error}"})


def _raw_params(config: DictConfig) -> dict:
    """hydra.sweeper.params unresolved (an output_dir entry only resolves inside a job)."""
    params = OmegaConf.select(config, "hydra.sweeper.params")
    return {} if params is None else OmegaConf.to_container(params, resolve=False)


def _sweeper_params(config: DictConfig) -> str:
    return " ".join(without_plumbing(f"{k}={v}" for k, v in _raw_params(config).items()))


def _swept_data(config: DictConfig) -> set[str]:
    """Data sets a sweep names (`data=a,b` on the command line or in hydra.sweeper.params), so their
    MLflow experiments exist before the jobs start. A data file's name is its `name` key."""
    overrides = [f"{k}={v}" for k, v in _raw_params(config).items()] + job_overrides(config.hydra)
    return {value for o, key in zip(overrides, keys(overrides), strict=True) if key == "data"
            for value in values(o)}
