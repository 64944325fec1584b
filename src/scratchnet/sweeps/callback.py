"""The multirun callback: one MLflow parent run per sweep, a child run per job, the summary at the end.

    python -m scratchnet.train -m +sweep=lr_compare                    # a preset (conf/sweep/)
    python -m scratchnet.train -m experiment=deep_cat optimizer.lr=0.1,0.01 hydra/launcher=joblib

`SweepCallback` is registered for every run in conf/hydra/callbacks/sweep.yaml and does nothing
outside multirun. In the launching process it creates the store and the experiments once
(`tracking.prepare_store`: parallel jobs never race on a fresh SQLite file), opens the parent run
and appends to hydra.overrides.task what every job needs: its own output_dir, and the parent run id
and the sweep's name as typed config keys (tracking.parent_run_id, tracking.sweep). So the context
travels inside each job's config, to joblib workers and pickled SLURM jobs alike; train() reads it
(scratchnet.runs.multirun). In each job the callback caps the process's BLAS threads at
train.blas_threads. A job that raises is recorded as a FAILED child run and does not stop the
others; a job stopped by Ctrl-C or SIGTERM is KILLED. At the end the summary (summary.csv,
summary.md, the figure) lands in out_dir and on the parent run, any job run its dead process left
RUNNING is ended KILLED, and the command exits 1 naming the jobs that did not finish (see
`SweepCallback.on_job_end`). A sweep stopped in its launching process (Ctrl-C, SIGTERM) ends the
same way, KILLED, through `SweepCallback.interrupted`.
"""


from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from scratchnet import tracking
from scratchnet.config.overrides import keys, quoted, values, without_plumbing
from scratchnet.config.validate import check_root
from scratchnet.runs.errors import Terminated
from scratchnet.runs.multirun import (
    TAG_DIR,
    TAG_FIGURE,
    TAG_ROLE,
    TAG_SWEEP,
    job_context,
    job_overrides,
)
from scratchnet.runs.threads import available_cores, launcher_jobs, limit_threads
from scratchnet.sweeps.ending import LEFT_OPEN, close_open_runs, parent_error, report
from scratchnet.sweeps.figures import FIGURES
from scratchnet.sweeps.jobs import job_error, job_status, mark_job, record_failure
from scratchnet.sweeps.records import collect, with_unrecorded
from scratchnet.sweeps.summary import write_summary

log = logging.getLogger(__name__)


class SweepCallback(Callback):
    """Parent run + summary for every Hydra multirun; BLAS threads and failure records for every job.

    name: the sweep's name (MLflow run name and tag); out_dir: where the summary goes.
    figure: cost_curves | decision_boundaries | accuracy_vs_depth | null (table only).
    """

    _active: ClassVar[SweepCallback | None] = None  # the sweep this (launching) process runs

    def __init__(self, name: str, out_dir: str, figure: str | None = None) -> None:
        if figure is not None and figure not in FIGURES:
            raise ValueError(f"hydra.callbacks.sweep.figure: expected one of {', '.join(FIGURES)} or null, "
                             f"found {figure!r}")
        self.name = name
        self.out_dir = Path(out_dir)
        self.figure = figure
        self._stack: contextlib.ExitStack | None = None
        self._parent: tracking.RunLog | None = None
        self._sweep_dir: Path | None = None
        self._ended = False
        self._launching = False  # True in the process that runs the sweep (jobs run here: basic launcher)

    def __getstate__(self) -> dict:
        """What a joblib/submitit worker gets: the settings, not the open parent run."""
        return {**self.__dict__, "_stack": None, "_parent": None, "_launching": False}

    # -- launching process --------------------------------------------------------------------------

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._launching = True
        SweepCallback._active = self
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
        launcher = _launcher_settings(config.hydra)  # an inconsistent Slurm preset stops here, before any run
        task = job_overrides(config.hydra)
        if "output_dir" not in keys(task):  # jobs sharing experiments/<name>/ would overwrite each other
            # ${hydra:job.num} stays an interpolation that each job resolves to its own number
            self._add_overrides(config, [f"output_dir={quoted(str(self.out_dir) + '/${hydra:job.num}')}"])
        self._sweep_dir = Path(str(config.hydra.sweep.dir))
        experiment = str(config.data.name)
        ids = tracking.prepare_store(config.tracking, sorted({experiment} | _swept_data(config)))  # once
        if not ids:
            log.warning("tracking=none: sweep %s runs without a parent run or summary", self.name)
            return
        self._stack = contextlib.ExitStack()
        params = {"sweep": {"name": self.name, "params": _sweeper_params(config),
                            "overrides": " ".join(task),
                            "launcher": str(OmegaConf.select(config, "hydra.launcher._target_")),
                            "n_jobs": launcher_jobs(config.hydra), "cores": available_cores(), **launcher}}
        self._parent = self._stack.enter_context(tracking.open_run(
            config.tracking, mlflow_experiment=experiment, run_name=self.name, params=params,
            tags={TAG_SWEEP: self.name, TAG_ROLE: "parent", TAG_DIR: str(self.out_dir), TAG_FIGURE: self.figure}))
        # the jobs' context, as config keys: every job's config carries it wherever the job runs
        self._add_overrides(config, [f"tracking.parent_run_id={self._parent.run_id}",
                                     f"tracking.sweep={quoted(self.name)}"])
        atexit.register(self._end_if_open)  # the sweep died some other way (a crashed worker, ...)
        log.info("sweep %s: parent run %s in experiment %s", self.name, self._parent.run_id, experiment)

    @staticmethod
    def _add_overrides(config: DictConfig, overrides: list[str]) -> None:
        """Append to hydra.overrides.task, which the sweeper reads after this callback for every job."""
        with open_dict(config.hydra), read_write(config.hydra):
            config.hydra.overrides.task.extend(overrides)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self._stack is None or self._ended:
            return
        records = self._close(None, LEFT_OPEN)
        lines = report(self.name, records, self.out_dir / "summary.md")
        print("\n".join(lines), file=sys.stderr)
        if len(lines) > 1:
            raise SystemExit(1)  # BaseException: passes Hydra's callback guard, so the command fails

    @classmethod
    def interrupted(cls, stop: KeyboardInterrupt) -> bool:
        """Ctrl-C or SIGTERM stopped the sweep this process runs: end every job run still RUNNING and
        the parent KILLED, write the summary of what ran, print one line. False if no sweep runs here."""
        sweep = cls._active
        if sweep is None or sweep._ended:
            return False
        stopped = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted (SIGINT)"
        if sweep._stack is None:  # tracking=none: nothing to end, nothing to summarise
            sweep._ended = True
            print(f"sweep {sweep.name} {stopped}: no parent run (tracking=none), no summary", file=sys.stderr)
            return True
        with _signals_ignored():  # a second Ctrl-C must not leave the runs half ended
            records = sweep._close(stop, f"the sweep was {stopped} while the job ran")
        print(report(sweep.name, records, sweep.out_dir / "summary.md", stopped)[0], file=sys.stderr)
        return True

    def _end_if_open(self) -> None:
        if self._stack is not None and not self._ended:
            self._close(RuntimeError("the sweep stopped before its end"), "the sweep stopped before its end")

    def _close(self, stop: BaseException | None, reason: str) -> list:
        """End the job runs left RUNNING (KILLED, `reason`), write the summary, end the parent run:
        with `stop` if given (KILLED for Ctrl-C / SIGTERM, else FAILED), else by the jobs' statuses."""
        self._ended = True
        try:
            records = self._summarise(reason)
        except BaseException as error:
            self._stack.__exit__(type(error), error, error.__traceback__)
            if not isinstance(error, Exception):
                raise
            # Hydra would only warn about an exception here; the command must fail
            print(f"scratchnet sweep: error: writing the summary of {self.name} failed: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)
            raise SystemExit(1) from None
        error = stop if stop is not None else parent_error(records)
        if error is None:
            self._stack.close()  # FINISHED: at least one job finished; the failed ones are in the table
        else:
            self._stack.__exit__(type(error), error, None)
        return records

    def _summarise(self, reason: str) -> list:
        """Write the summary into out_dir and onto the parent run; returns the job records."""
        client = self._parent.client
        records = with_unrecorded(collect(client, self._parent.run_id), self._sweep_dir)
        records = close_open_runs(records, self._parent.tracking_uri, self._sweep_dir, reason)
        for path in write_summary(records, self.out_dir, self.name, self.figure, client):
            self._parent.log_artifact(path, "summary")
        failed = sum(r.status != "FINISHED" for r in records)
        self._parent.log_metrics({"jobs": len(records), "failed_jobs": failed})
        return records

    # -- job process ---------------------------------------------------------------------------------

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _multirun(config):
            # train() pins train.blas_threads for its whole call, fit, plots and MLflow alike; this cap
            # bounds what the job's process runs outside train() (a joblib worker, a Slurm task)
            limit_threads(max(1, int(config.train.blas_threads)))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Record a failed or interrupted job and absorb its exception.

        Hydra's BasicSweeper re-raises the first failed job's exception after the batch, which
        skips on_multirun_end (no summary, a parent run left RUNNING). So a failure becomes a
        FAILED child run here (train's own run, or one made for a job that failed before opening
        it) and the JobReturn is marked COMPLETED; on_multirun_end then makes the command exit 1.
        A job stopped by Ctrl-C or SIGTERM (JobInterrupted: its run is KILLED already) is marked
        KILLED; run in this process (the basic launcher) it then stops the sweep.
        """
        if not _multirun(config):
            return
        error = job_error(job_return)
        status = job_status(error)
        mark_job(config, error)
        if error is None:
            return
        parent, tags = job_context(config.tracking)
        what = f"sweep job #{config.hydra.job.num} ({' '.join(without_plumbing(job_overrides(config.hydra)))})"
        if status == "KILLED":
            job_return.status, job_return.return_value = JobStatus.COMPLETED, None  # handled: it is KILLED
            log.debug("%s KILLED: %s", what, error)  # the log file; the console gets the sweep's one line
            if self._launching:  # the sweep's own process got the signal: stop the sweep, as asked
                raise Terminated() if error.signal_name == "SIGTERM" else KeyboardInterrupt()
            return
        if parent:
            log.error("%s failed: %s: %s", what, type(error).__name__, error)
            job_return.status, job_return.return_value = JobStatus.COMPLETED, None  # handled: the summary lists it
            record_failure(config, parent, tags, error)


@contextlib.contextmanager
def _signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored inside (main thread only; elsewhere a no-op)."""
    previous = {}
    with contextlib.suppress(ValueError):
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _multirun(config: DictConfig) -> bool:
    return str(OmegaConf.select(config, "hydra.mode")) == "RunMode.MULTIRUN"


def _launcher_settings(hydra_cfg: DictConfig) -> dict:
    """The Slurm settings for the parent's params ({} for other launchers), checked first."""
    if "slurm" not in str(OmegaConf.select(hydra_cfg, "launcher._target_") or "").lower():
        return {}
    from scratchnet.sweeps.slurm import check_settings, settings  # submitit only for Slurm sweeps

    check_settings(hydra_cfg.launcher)
    return {"slurm": settings(hydra_cfg.launcher)}


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
