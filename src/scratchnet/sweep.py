"""Hydra multirun sweeps: one MLflow parent run per sweep, a child run per job, and the summary.

    python -m scratchnet.train -m +sweep=lr_compare                    # a preset (conf/sweep/)
    python -m scratchnet.train -m experiment=deep_cat optimizer.lr=0.1,0.01 hydra/launcher=joblib
    python -m scratchnet.sweep summarize lr_compare                    # the summary again, from MLflow

`SweepCallback` is registered for every run in conf/hydra/callbacks/sweep.yaml and does nothing
outside multirun. In the launching process it creates the store and the experiment once
(`tracking.prepare_store`: parallel jobs never race on a fresh SQLite file), opens the parent run and
writes <sweep dir>/sweep.json; in each job it caps the BLAS threads (jobs x threads <= cores) and
exports the parent run id, the job number and the overrides, which train() puts on the job's run.
A job that raises is recorded as a FAILED child run and does not stop the others; at the end the
summary (summary.csv, summary.md, the figure) lands in the sweep dir and on the parent run, and the
command exits 1 naming the failed jobs (see `SweepCallback.on_job_end`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import logging
import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)

# the job's side of the contract: on_job_start exports these, train() reads them (job_run_context)
ENV_PARENT_RUN = "SCRATCHNET_PARENT_RUN_ID"
ENV_SWEEP = "SCRATCHNET_SWEEP"
ENV_JOB = "SCRATCHNET_SWEEP_JOB"
ENV_OVERRIDES = "SCRATCHNET_SWEEP_OVERRIDES"
ENV_THREADS = "SCRATCHNET_BLAS_THREADS"
TAG_SWEEP = "scratchnet.sweep"  # the sweep's name, on the parent and on every child
TAG_ROLE = "scratchnet.sweep.role"  # parent | job
TAG_JOB = "scratchnet.sweep.job"  # hydra.job.num
TAG_OVERRIDES = "scratchnet.sweep.overrides"  # the job's overrides, space-separated
TAG_THREADS = "scratchnet.sweep.blas_threads"
TAG_DIR = "scratchnet.sweep.dir"  # where the summary was written
TAG_FIGURE = "scratchnet.sweep.figure"
STATE_FILE = "sweep.json"  # in hydra.sweep.dir: name, parent run id, tracking uri
MARKER_FILE = "job.json"  # in each job's Hydra folder: job number, status, error
FIGURES = ("cost_curves", "decision_boundaries", "accuracy_vs_depth")
# the override every multirun job gets from SweepCallback (its own folder); not a swept setting
PLUMBING_KEYS = ("output_dir",)


class SweepError(Exception):
    """A sweep cannot be summarised (no such parent run, no tracking store)."""


class JobFailed(Exception):
    """Stands for an exception raised by a job before it opened its own MLflow run."""


# ---------------------------------------------------------------------------------------------------
# threads


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


def _launcher_jobs(config: DictConfig) -> int:
    """How many jobs run at once: joblib's n_jobs; 1 for the basic launcher (and SLURM, where each
    task gets its own cpus_per_task, which the affinity mask already reflects)."""
    launcher = OmegaConf.select(config, "hydra.launcher") or {}
    if "joblib" in str(launcher.get("_target_", "")).lower():
        return int(launcher.get("n_jobs") or 1)
    return 1


def limit_threads(threads: int) -> None:
    """Cap the BLAS/OpenMP pools of this process at `threads` (numpy loaded first so they exist)."""
    import numpy  # noqa: F401 - loads OpenBLAS so threadpoolctl can see it
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)  # no context: the cap holds for this (worker) process


# ---------------------------------------------------------------------------------------------------
# the job's side


def in_multirun() -> bool:
    """True inside a job of `python -m scratchnet.train -m ...`."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def job_run_context() -> tuple[str | None, dict[str, str]]:
    """(parent run id, tags) for the MLflow run of a sweep job; (None, {}) outside a sweep."""
    parent = os.environ.get(ENV_PARENT_RUN)
    if not parent:
        return None, {}
    tags = {TAG_SWEEP: os.environ.get(ENV_SWEEP, ""), TAG_ROLE: "job", TAG_JOB: os.environ.get(ENV_JOB, ""),
            TAG_OVERRIDES: os.environ.get(ENV_OVERRIDES, ""), TAG_THREADS: os.environ.get(ENV_THREADS, "")}
    return parent, tags


def _job_overrides(config: DictConfig) -> list[str]:
    """hydra.overrides.task as written (unresolved: the output_dir one holds ${hydra:job.num})."""
    task = OmegaConf.select(config, "hydra.overrides.task")
    return [] if task is None else [str(o) for o in OmegaConf.to_container(task, resolve=False)]


def _shown(overrides: list[str]) -> list[str]:
    return [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in PLUMBING_KEYS]


# ---------------------------------------------------------------------------------------------------
# the callback


def _tracking():
    from scratchnet import tracking  # imports mlflow lazily, itself

    return tracking


def _client(tracking_cfg: Any = None, uri: str | None = None):
    """An MlflowClient for the store (through tracking.py, the one module that imports mlflow)."""
    tracking = _tracking()
    uri = uri or tracking.resolve_uri(tracking_cfg)
    if uri is None:
        raise SweepError("tracking is off (tracking=none): a sweep summary needs an MLflow store")
    return tracking.connect(uri), uri


class SweepCallback(Callback):
    """Parent run + summary for every Hydra multirun; BLAS threads and run context for every job.

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
        self._parent = None
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
        self._own_job_folders(config)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        name = self.name
        tracking = _tracking()
        experiment = str(config.data.name)
        experiments = {experiment} | _swept_data(config)
        ids = tracking.prepare_store(config.tracking, sorted(experiments))  # once, before any job
        if not ids:
            log.warning("tracking=none: sweep %s runs without a parent run or summary", name)
            return
        self._stack = contextlib.ExitStack()
        params = {"sweep": {"name": name, "params": _sweeper_params(config),
                            "overrides": " ".join(_job_overrides(config)),
                            "launcher": str(OmegaConf.select(config, "hydra.launcher._target_")),
                            "n_jobs": _launcher_jobs(config), "cores": available_cores()}}
        self._parent = self._stack.enter_context(tracking.open_run(
            config.tracking, experiment=experiment, run_name=name, params=params,
            tags={TAG_SWEEP: name, TAG_ROLE: "parent", TAG_DIR: str(self.out_dir),
                  TAG_FIGURE: self.figure}))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        from scratchnet.io import write_json

        write_json(sweep_dir / STATE_FILE, {"name": name, "parent_run_id": self._parent.run_id,
                                            "tracking_uri": self._parent.tracking_uri,
                                            "experiment_id": self._parent.experiment_id})
        os.environ[ENV_PARENT_RUN] = self._parent.run_id  # joblib's workers inherit it
        os.environ[ENV_SWEEP] = name
        self._install_safety_net()
        log.info("sweep %s: parent run %s in experiment %s", name, self._parent.run_id, experiment)

    def _own_job_folders(self, config: DictConfig) -> None:
        """Give every job the output_dir <out_dir>/<job number> (unless the command line sets one).

        Jobs sharing experiments/<name>/ would overwrite each other. The override is appended to
        hydra.overrides.task, which the sweeper reads after this callback; `${hydra:job.num}` stays
        an interpolation that each job resolves to its own number.
        """
        if any(o.split("=", 1)[0].lstrip("+~") in PLUMBING_KEYS for o in _job_overrides(config)):
            return
        with open_dict(config.hydra), read_write(config.hydra):
            config.hydra.overrides.task.append(f"output_dir='{self.out_dir}/${{hydra:job.num}}'")

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
            records = collect(self._parent.client, self._parent.run_id)
            records = _with_unrecorded(records, Path(str(config.hydra.sweep.dir)))
            paths = write_summary(records, self.out_dir, self.name, self.figure, self._parent.client)
            for path in paths:
                self._parent.log_artifact(path, "summary")
            failed = [r for r in records if r.status != "FINISHED"]
            self._parent.log_metrics({"jobs": len(records), "failed_jobs": len(failed)})
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

    # -- job process ---------------------------------------------------------------------------------

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if str(OmegaConf.select(config, "hydra.mode")) != "RunMode.MULTIRUN":
            return
        # train() pins BLAS to 1 thread for its whole call, fit, plots and MLflow alike (byte-identical
        # results whatever the launcher); this cap bounds what the job's process runs outside train()
        threads = blas_threads(_launcher_jobs(config))
        limit_threads(threads)
        os.environ[ENV_THREADS] = str(threads)
        os.environ[ENV_JOB] = str(config.hydra.job.num)
        os.environ[ENV_OVERRIDES] = " ".join(_shown(_job_overrides(config)))
        state = Path(str(config.hydra.sweep.dir)) / STATE_FILE
        if state.is_file():  # the launcher's env may not reach remote (SLURM) jobs; the file does
            info = json.loads(state.read_text())
            os.environ[ENV_PARENT_RUN], os.environ[ENV_SWEEP] = info["parent_run_id"], info["name"]

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Record a failed job and absorb its exception.

        Hydra's BasicSweeper re-raises the first failed job's exception after the batch, which
        skips on_multirun_end (no summary, a parent run left RUNNING). So a failure becomes a
        FAILED child run here (train's own run, or one made for a job that failed before opening
        it) and the JobReturn is marked COMPLETED; on_multirun_end then makes the command exit 1.
        """
        if str(OmegaConf.select(config, "hydra.mode")) != "RunMode.MULTIRUN":
            return
        parent, tags = job_run_context()
        try:
            failed = job_return.status == JobStatus.FAILED
            error = job_return._return_value if failed else None
            _write_marker(config, failed, error)
            if failed and parent:
                num = int(config.hydra.job.num)
                log.error("sweep job #%d (%s) failed: %s: %s", num, tags[TAG_OVERRIDES],
                          type(error).__name__, error)
                job_return.status = JobStatus.COMPLETED  # handled: the summary lists it, the exit code says it
                job_return.return_value = None
                self._record_failure(config, parent, tags, error)
        finally:
            for key in (ENV_JOB, ENV_OVERRIDES, ENV_THREADS):
                os.environ.pop(key, None)

    @staticmethod
    def _record_failure(config: DictConfig, parent: str, tags: dict[str, str], error: BaseException) -> None:
        tracking = _tracking()
        client, _ = _client(config.tracking)
        if _children(client, parent, job=tags[TAG_JOB]):
            return  # train opened its run, which open_run already ended FAILED with the error
        with contextlib.suppress(JobFailed):
            experiment = str(OmegaConf.select(config, "data.name", default=None) or "sweeps")
            with tracking.open_run(config.tracking, experiment=experiment,
                                   run_name=f"{tags[TAG_SWEEP]}#{tags[TAG_JOB]}", params={},
                                   tags=tags, parent_run_id=parent):
                raise JobFailed(f"{type(error).__name__}: {error}")


def _write_marker(config: DictConfig, failed: bool, error: BaseException | None) -> None:
    """<job's Hydra folder>/job.json: the launcher's view of the job, so a job whose MLflow run is
    missing still shows up in the summary."""
    from scratchnet.io import write_json

    folder = OmegaConf.select(config, "hydra.runtime.output_dir")
    if folder:
        write_json(Path(str(folder)) / MARKER_FILE, {
            "job": int(config.hydra.job.num), "status": "FAILED" if failed else "FINISHED",
            "overrides": _shown(_job_overrides(config)),
            "error": f"{type(error).__name__}: {error}" if error is not None else ""})


def _with_unrecorded(records: list[JobRecord], sweep_dir: Path) -> list[JobRecord]:
    """Add the jobs the launcher ran (job.json markers) that have no run in MLflow, as FAILED."""
    known = {r.job for r in records}
    extra = []
    for marker in sorted(sweep_dir.glob(f"*/{MARKER_FILE}")):
        info = json.loads(marker.read_text())
        if info["job"] not in known:
            reason = info["error"] or "the job finished but its MLflow run is missing"
            extra.append(JobRecord(job=info["job"], overrides=info["overrides"], status="FAILED", run_id="",
                                   error=f"{reason} (no MLflow run recorded)"))
    return sorted(records + extra, key=lambda r: r.job)


def _sweeper_params(config: DictConfig) -> str:
    return " ".join(f"{k}={v}" for k, v in _raw_params(config).items() if k not in PLUMBING_KEYS)


def _raw_params(config: DictConfig) -> dict:
    """hydra.sweeper.params unresolved (the output_dir entry only resolves inside a job)."""
    params = OmegaConf.select(config, "hydra.sweeper.params")
    return {} if params is None else OmegaConf.to_container(params, resolve=False)


def _swept_data(config: DictConfig) -> set[str]:
    """Data sets a sweep names (`data=a,b` on the command line or in hydra.sweeper.params), so
    their experiments exist before the jobs start. A data file's name is its `name` key."""
    values = [str(v) for k, v in _raw_params(config).items() if k == "data"]
    values += [o.split("=", 1)[1] for o in _job_overrides(config) if o.split("=", 1)[0].lstrip("+") == "data"]
    names = set()
    for value in values:
        for choice in value.removeprefix("choice(").removesuffix(")").split(","):
            if choice.strip():
                names.add(choice.strip())
    return names


# ---------------------------------------------------------------------------------------------------
# reading the sweep back from MLflow


@dataclass
class JobRecord:
    job: int
    overrides: list[str]
    status: str  # FINISHED | FAILED | KILLED | RUNNING
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    error: str = ""

    def settings(self) -> dict[str, str]:
        return dict(o.lstrip("+~").split("=", 1) for o in self.overrides if "=" in o)


def _quote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def _children(client, parent_run_id: str, job: str | None = None) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    query = f"tags.mlflow.parentRunId = {_quote(parent_run_id)}"
    if job is not None:
        query += f" and tags.`{TAG_JOB}` = {_quote(str(job))}"
    return client.search_runs(experiments, filter_string=query, max_results=10000)


def collect(client, parent_run_id: str) -> list[JobRecord]:
    """One record per job of the sweep, by job number; the latest run wins if a job ran twice."""
    by_job: dict[int, Any] = {}
    for run in _children(client, parent_run_id):
        job = run.data.tags.get(TAG_JOB, "")
        if not job.isdigit():
            continue
        num = int(job)
        if num not in by_job or run.info.start_time > by_job[num].info.start_time:
            if num in by_job:
                log.warning("job #%d has two runs (%s, %s): the later one is summarised", num,
                            by_job[num].info.run_id, run.info.run_id)
            by_job[num] = run
    records = []
    for num in sorted(by_job):
        run = by_job[num]
        tags = run.data.tags
        records.append(JobRecord(job=num, overrides=tags.get(TAG_OVERRIDES, "").split(),
                                 status=run.info.status, run_id=run.info.run_id,
                                 metrics=dict(run.data.metrics), params=dict(run.data.params),
                                 error=tags.get("error", "").removeprefix(f"{JobFailed.__name__}: ")))
    return records


def find_parent(client, name: str):
    """The latest parent run of the sweep called `name`."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string=f"tags.`{TAG_SWEEP}` = {_quote(name)} and "
                              f"tags.`{TAG_ROLE}` = 'parent'", order_by=["attributes.start_time DESC"],
                              max_results=1)
    if not runs:
        raise SweepError(f"no sweep called {name!r} in the tracking store (expected a run tagged "
                         f"{TAG_SWEEP}={name}, {TAG_ROLE}=parent)")
    return runs[0]


# ---------------------------------------------------------------------------------------------------
# the summary


def swept_keys(records: list[JobRecord]) -> list[str]:
    """The override keys whose value differs between jobs, in first-seen order."""
    keys: list[str] = []
    for r in records:
        keys += [k for k in r.settings() if k not in keys]
    return [k for k in keys if len({r.settings().get(k) for r in records}) > 1]


def table(records: list[JobRecord]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: job, status, the swept keys, every final metric, error, run id."""
    keys = swept_keys(records)
    metrics = sorted({m for r in records for m in r.metrics})
    header = ["job", "status", *keys, *metrics, "error", "run_id"]
    rows = []
    for r in records:
        settings = r.settings()
        rows.append([str(r.job), r.status, *(settings.get(k, "") for k in keys),
                     *(repr(r.metrics[m]) if m in r.metrics else "" for m in metrics),
                     r.error.splitlines()[0] if r.error else "", r.run_id])
    return header, rows


def _csv(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _md_cell(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value.replace("|", "\\|")
    return value if value.lstrip("-").isdigit() else f"{number:.6g}"


def _markdown(name: str, records: list[JobRecord], header: list[str], rows: list[list[str]],
              figure: str | None) -> str:
    fixed = [o for o in (records[0].overrides if records else []) if o.split("=", 1)[0].lstrip("+~")
             not in swept_keys(records)]
    failed = sum(r.status != "FINISHED" for r in records)
    lines = [f"# sweep {name}", "",
             f"{len(records)} jobs, {len(records) - failed} finished, {failed} failed.",
             f"Fixed overrides: `{' '.join(fixed)}`." if fixed else "", "",
             "| " + " | ".join(header[:-1]) + " |", "|" + "---|" * (len(header) - 1)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row[:-1]) + " |" for row in rows]
    if figure:
        lines += ["", f"![{figure}]({figure}.png)"]
    return "\n".join(lines) + "\n"


def write_summary(records: list[JobRecord], out_dir: Path, name: str, figure: str | None, client) -> list[Path]:
    """summary.csv, summary.md and <figure>.png in out_dir (each written atomically); their paths."""
    from scratchnet.io import write_text

    out_dir = Path(out_dir)
    header, rows = table(records)
    paths = [out_dir / "summary.csv", out_dir / "summary.md"]
    write_text(paths[0], _csv(header, rows))
    finished = [r for r in records if r.status == "FINISHED"]
    if figure and finished:
        paths.append(out_dir / f"{figure}.png")
        FIGURE_MAKERS[figure](finished, paths[-1], client)
    write_text(paths[1], _markdown(name, records, header, rows, figure if len(paths) == 3 else None))
    return paths


def _label(record: JobRecord, keys: list[str]) -> str:
    return ", ".join(f"{k}={record.settings().get(k, '')}" for k in keys) or f"job {record.job}"


def _cost_curves(records: list[JobRecord], path: Path, client) -> None:
    from scratchnet import plots

    keys = swept_keys(records)
    fig = plots.figure(7.0, 4.5)
    ax = fig.add_subplot()
    for r in records:
        history = sorted((m.step, m.value) for m in client.get_metric_history(r.run_id, "train/cost"))
        plots.cost_curve_ax(ax, history, label=_label(r, keys))
    ax.legend()
    ax.set_title("cost per iteration")
    fig.tight_layout()
    plots.save(fig, path)


def _network_and_data(record: JobRecord, client):
    from scratchnet.datasets import load_data
    from scratchnet.io import load_model

    p = record.params
    # the job's data config back from its flattened params (data.name, data.params.seed, ...)
    data_cfg = OmegaConf.from_dotlist([f"{k.removeprefix('data.')}={v}" for k, v in p.items()
                                       if k.startswith("data.")])
    data_cfg.setdefault("params", {})
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(record.run_id, "model", tmp)
        npz = next(Path(local).glob("*.npz"))
        network = load_model(npz)
    ds = load_data(data_cfg, p.get("paths.root", "."))
    return network, ds


def _decision_boundaries(records: list[JobRecord], path: Path, client) -> None:
    from scratchnet import plots

    keys = swept_keys(records)
    cols = min(4, len(records))
    rows = math.ceil(len(records) / cols)
    fig = plots.figure(4.0 * cols, 4.0 * rows)
    for i, r in enumerate(records):
        network, ds = _network_and_data(r, client)
        accuracy = r.metrics.get("train/accuracy")
        title = _label(r, keys) + (f": {100 * accuracy:.2f}%" if accuracy is not None else "")
        plots.decision_boundary_ax(fig.add_subplot(rows, cols, i + 1), network, ds.X_train, ds.Y_train, title)
    fig.tight_layout()
    plots.save(fig, path)


def _accuracy_vs_depth(records: list[JobRecord], path: Path, client) -> None:
    from scratchnet import plots

    points = sorted(((len(json.loads(r.params.get("model.hidden", "[]"))), r) for r in records),
                    key=lambda point: (point[0], point[1].job))
    fig = plots.figure(6.0, 4.5)
    ax = fig.add_subplot()
    for split in ("train", "test"):
        xs = [d for d, r in points if f"{split}/accuracy" in r.metrics]
        ys = [100 * r.metrics[f"{split}/accuracy"] for d, r in points if f"{split}/accuracy" in r.metrics]
        ax.plot(xs, ys, marker="o", label=split)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(sorted({d for d, _ in points}))
    ax.legend()
    fig.tight_layout()
    plots.save(fig, path)


FIGURE_MAKERS = {"cost_curves": _cost_curves, "decision_boundaries": _decision_boundaries,
                 "accuracy_vs_depth": _accuracy_vs_depth}


# ---------------------------------------------------------------------------------------------------
# command line


def summarize(name: str, uri: str | None = None, out_dir: str | os.PathLike | None = None,
              figure: str | None = "auto") -> list[Path]:
    """Rewrite the summary of the latest sweep called `name` from the tracking store alone."""
    tracking = _tracking()
    uri = uri or tracking.resolve_uri({"kind": "local"})
    client, uri = _client(uri=uri)
    parent = find_parent(client, name)
    if out_dir is None:
        from scratchnet.config import repo_root  # only for a parent run that names no summary folder

        out_dir = parent.data.tags.get(TAG_DIR) or Path(repo_root()) / "experiments" / "sweeps" / name
    if figure == "auto":
        figure = parent.data.tags.get(TAG_FIGURE) or None
    records = collect(client, parent.info.run_id)
    return write_summary(records, Path(out_dir), name, figure, client)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.sweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("summarize", help="rewrite a sweep's summary from MLflow")
    cmd.add_argument("name", help="the sweep's name (tag scratchnet.sweep), e.g. lr_compare")
    cmd.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else the repo's mlflow.db")
    cmd.add_argument("--out", help="folder for summary.csv/.md (default: where the sweep wrote them)")
    cmd.add_argument("--figure", choices=FIGURES, help="default: the one the sweep drew")
    args = parser.parse_args(argv)
    from scratchnet.data import DataError
    from scratchnet.io import ModelFileError

    started = time.perf_counter()
    try:
        paths = summarize(args.name, args.tracking_uri, args.out, args.figure or "auto")
    except (SweepError, _tracking().TrackingError, DataError, ModelFileError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in paths))
    log.debug("summary in %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
