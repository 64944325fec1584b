"""`hydra/launcher=slurm`: hydra-submitit-launcher's Slurm launcher, made to hold on a real cluster.

The plugin's own launcher waits for each job's result in turn, so one job that ends without a result
(scancel, SIGKILL, out of memory, its time limit) raises UncompletedJobError and loses every other
result and the summary; and without accounting (no sacct) it never learns that such a job is gone,
so it waits forever. This one:

- collects each job's result on its own: an error or a lost job becomes a job.json (FAILED, KILLED)
  that the summary lists, and the others are still collected;
- watches the queue with squeue, which needs no accounting (sacct is never polled, so no warning per
  poll either): a task that left the queue, or ended, with no result file for RESULT_GRACE_S is lost;
- cancels every job of the sweep (scancel) when the launching process gets Ctrl-C or SIGTERM, and
  waits a little for them to end their runs KILLED;
- refuses a signal_delay_s that does not fit timeout_min, with one line, before anything is submitted.

Hydra instantiates launchers from the `hydra_plugins` package only: hydra_plugins/scratchnet_slurm
registers this class there, and conf/hydra/launcher/slurm.yaml names that one.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher import submitit_launcher
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from omegaconf import OmegaConf, open_dict

from scratchnet.sweeps.jobs import write_marker

log = logging.getLogger(__name__)

RESULT_GRACE_S = 15  # a task gone from the queue may still be writing its result (submitit waits as long)
CANCEL_WAIT_S = 60  # after scancel: time for the tasks to end their runs (Slurm's KillWait, then SIGKILL)
POLL_S = (2, 30)  # squeue every 2 s at first, backing off to every 30 s on a long sweep
# squeue states of a task that will still run or is running; anything else has ended
ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD",
          "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT"}
SETTINGS = ("partition", "cpus_per_task", "mem_gb", "timeout_min", "array_parallelism")  # the parent's params


def settings(launcher_cfg: Mapping) -> dict:
    """What the parent run records of a Slurm sweep's launcher."""
    return {key: launcher_cfg.get(key) for key in SETTINGS}


def signal_delay_limit(timeout_min: float) -> float:
    """The longest signal_delay_s that fits a time limit: submitit takes the pre-timeout signal for
    a time-out (the job ends FAILED) only after min(0.8 x limit, limit - 10 min) of running, else for a
    preemption (it requeues the job); and the job needs most of its limit to run."""
    limit = 60 * timeout_min
    return min(max(0.2 * limit, 600), 0.5 * limit)


def check_settings(launcher_cfg: Mapping) -> None:
    """Raise ValueError, one line, for a signal_delay_s that does not fit timeout_min."""
    timeout, delay = launcher_cfg.get("timeout_min"), launcher_cfg.get("signal_delay_s")
    if timeout is None or delay is None:
        return
    bound = signal_delay_limit(timeout)
    if not 0 <= delay <= bound:
        raise ValueError(f"hydra.launcher.signal_delay_s = {delay}: expected 0 to {bound:g} s for "
                         f"hydra.launcher.timeout_min = {timeout}: at most max(20% of the limit, 600 s), or "
                         f"submitit takes the pre-timeout signal for a preemption and requeues the job, and at "
                         f"most half the limit, or the signal stops the job early")


class SlurmLauncher(submitit_launcher.SlurmLauncher):
    """The submitit Slurm launcher with per-job results, a queue watch without sacct and cancel on exit."""

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        check_settings(self.params)
        jobs = self._submit(job_overrides, initial_job_idx)
        numbered = {initial_job_idx + i: (job, list(o)) for i, (job, o) in enumerate(zip(jobs, job_overrides))}
        queue = Queue(jobs)
        try:
            returns = self._collect(numbered, queue)
        except BaseException:  # Ctrl-C, SIGTERM (Terminated), anything: the jobs must not outlive the sweep
            queue.cancel()
            raise
        return [returns[num] for num in sorted(numbered)]

    def _submit(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
        """Submit the batch as one array (what the plugin's launch does before it waits)."""
        import submitit

        params = dict(self.params)
        executor = submitit.AutoExecutor(cluster="slurm", folder=params.pop("submitit_folder"),
                                         slurm_max_num_timeout=params.pop("max_num_timeout"))
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        if "mode" in self.config.hydra.sweep:
            sweep_dir.chmod(int(str(self.config.hydra.sweep.mode), 8))
        log.info("Submitit 'slurm' sweep output dir : %s", sweep_dir)
        args = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            args.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        return executor.map_array(self, *zip(*args))

    def _collect(self, numbered: dict[int, tuple], queue: Queue) -> dict[int, JobReturn]:
        """Each job's JobReturn, as its result file lands or once it is found lost."""
        pending, returns = dict(numbered), {}
        started, next_poll = time.monotonic(), 0.0
        while pending:
            for num, (job, overrides) in list(pending.items()):
                if job.paths.result_pickle.exists():
                    returns[num] = self._result(job, num, overrides)
                    del pending[num]
            now = time.monotonic()
            if pending and now >= next_poll:
                next_poll = now + min(POLL_S[1], max(POLL_S[0], (now - started) / 10))
                for num, reason in queue.lost({num: job for num, (job, _) in pending.items()}).items():
                    job, overrides = pending.pop(num)
                    log.error("sweep job #%d: %s", num, reason)
                    returns[num] = self._handled(num, overrides, "KILLED", reason)
            if pending:
                time.sleep(1)
        return returns

    def _result(self, job, num: int, overrides: list[str]) -> JobReturn:
        """The job's JobReturn from its result file; an error outside the task (the file holds its
        traceback) becomes a FAILED job.json."""
        try:
            return job.results()[0]
        except Exception as error:  # noqa: BLE001 - submitit's FailedJobError, or an unreadable result
            lines = [ln for ln in str(error).splitlines() if ln.strip() and not set(ln) <= {"-"}]
            reason = next((ln.strip() for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "")
            log.error("sweep job #%d (Slurm job %s) failed outside its task: %s", num, job.job_id, reason)
            return self._handled(num, overrides, "FAILED", f"{type(error).__name__}: {reason}")

    def _handled(self, num: int, overrides: list[str], status: str, reason: str) -> JobReturn:
        """A job.json for a job with no JobReturn of its own, and a JobReturn the sweeper will not
        re-raise (COMPLETED: the summary lists it with `status`, the exit code says it)."""
        write_marker(self._job_dir(num, overrides), num, status, overrides, reason)
        return JobReturn(overrides=overrides, status=JobStatus.COMPLETED, _return_value=None)

    def _job_dir(self, num: int, overrides: list[str]) -> Path:
        """The job's Hydra folder, as the job itself would resolve it (hydra.sweep.dir/subdir)."""
        sweep = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep.hydra.job):
            sweep.hydra.job.num = num
        return Path(str(sweep.hydra.sweep.dir)) / str(sweep.hydra.sweep.subdir)


class Queue:
    """The Slurm queue's view of a sweep's array tasks, through squeue (no accounting needed)."""

    def __init__(self, jobs: Sequence) -> None:
        self.array_ids = sorted({job.job_id.split("_")[0] for job in jobs})
        self.jobs = list(jobs)
        self._gone: dict[str, tuple[float, str | None]] = {}  # task -> (first seen ended, its state)

    def states(self) -> dict[str, str] | None:
        """{task id: state} of every task squeue lists (ended ones too, until Slurm forgets them);
        None when squeue fails (the controller is busy or down: nothing can be concluded)."""
        cmd = ["squeue", "-h", "-r", "-t", "all", "-o", "%i|%T", "-j", ",".join(self.array_ids)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            log.debug("squeue failed: %s", error)
            return None
        if proc.returncode != 0:
            log.debug("squeue failed (%d): %s", proc.returncode, proc.stderr.strip())
            return None
        return dict(line.split("|", 1) for line in proc.stdout.split() if "|" in line)

    def lost(self, pending: Mapping[int, object]) -> dict[int, str]:
        """{job number: reason} of the pending jobs whose task ended (or left the queue) at least
        RESULT_GRACE_S ago and still has no result file."""
        states = self.states()
        if states is None:
            return {}
        now, lost = time.monotonic(), {}
        for num, job in pending.items():
            state = states.get(job.job_id)
            if state in ACTIVE:
                self._gone.pop(job.job_id, None)
                continue
            since, state = self._gone.setdefault(job.job_id, (now, state))
            if now - since >= RESULT_GRACE_S and not job.paths.result_pickle.exists():
                ended = f"ended {state}" if state else "left the queue"
                lost[num] = (f"Slurm job {job.job_id} {ended} without a result (killed: scancel, SIGKILL, "
                             f"out of memory or its time limit; its log: {job.paths.stderr})")
        return lost

    def cancel(self) -> None:
        """scancel the sweep's arrays, then wait up to CANCEL_WAIT_S for their tasks to end."""
        log.warning("stopping the sweep's Slurm jobs: scancel %s", " ".join(self.array_ids))
        try:
            subprocess.run(["scancel", *self.array_ids], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            log.error("scancel %s failed: %s; cancel them by hand", " ".join(self.array_ids), error)
            return
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            states = self.states()
            if states is not None and not any(states.get(job.job_id) in ACTIVE for job in self.jobs):
                return
            time.sleep(1)
        log.warning("Slurm jobs %s still listed %d s after scancel", " ".join(self.array_ids), CANCEL_WAIT_S)
