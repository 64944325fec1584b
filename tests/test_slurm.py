"""Sweeps through a real Slurm cluster into an MLflow server backed by a real PostgreSQL 15.

The engines (tests/clusters.py, started once per session by conftest): a single-node Slurm cluster
(2 CPUs, munge, no accounting) and `mlflow server` on a throwaway PostgreSQL database, artifacts
proxied by the server. The sweeps are the README's commands: `python -m scratchnet.train -m
+sweep=lr_compare hydra/launcher=slurm tracking=server`, each job a task of one Slurm array that
shares nothing with the launching process but the file system and the tracking server.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import clusters
from test_server import cat_root, read_costs
from test_server import env as scratchnet_env

pytestmark = [pytest.mark.cluster, pytest.mark.e2e, pytest.mark.slow]

LR_COMPARE = {0: "0.01", 1: "0.001", 2: "0.0001"}  # conf/sweep/lr_compare.yaml, job number -> lr
LR_COMPARE_STEPS = [*range(0, 1500, 100), 1499, 1500]  # recorded every 100, the last, the trained model
OUTPUTS = ("metrics.json", "cost.csv", "model.npz", "config.yaml", "run.json", "timing.json")
SWEEP_TIMEOUT = 300  # s; the 3-job sweep takes ~20 s on an idle 2-core machine
SCANCEL_GRACE = 30  # s after scancel for the jobs and the sweep command to end (KillWait is 10 s)


def slurm_sweep(root: Path, slurm, server, name: str, *overrides: str, timeout: float = SWEEP_TIMEOUT,
                **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    """The README's Slurm sweep command in `root`, its sweep dir root/multirun/<name>; run to the end
    (CompletedProcess), or started and returned as a Popen when `popen` holds stdout/stderr."""
    cmd = [sys.executable, "-m", "scratchnet.train", "-m", *overrides, "hydra/launcher=slurm", "tracking=server",
           f"hydra.callbacks.sweep.name={name}", f"hydra.sweep.dir={root / 'multirun' / name}"]
    env = scratchnet_env(root, MLFLOW_TRACKING_URI=server.url, **slurm.env)
    if popen:
        return subprocess.Popen(cmd, cwd=root, env=env, start_new_session=True, **popen)
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)


def sweep_runs(client, name: str) -> tuple[list, list]:
    """(parent runs, job runs sorted by job number) of the sweep called `name`, in every experiment."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, f"tags.`scratchnet.sweep` = '{name}'", max_results=1000)
    parents = [r for r in runs if r.data.tags.get("scratchnet.sweep.role") == "parent"]
    jobs = [r for r in runs if r.data.tags.get("scratchnet.sweep.role") == "job"]
    return parents, sorted(jobs, key=lambda r: int(r.data.tags["scratchnet.sweep.job"]))


def summary_rows(folder: Path) -> list[dict]:
    with open(folder / "summary.csv") as f:
        return list(csv.DictReader(f))


def array_tasks(sweep_dir: Path) -> int:
    """How many array tasks submitit asked sbatch for (#SBATCH --array=0-N%P in the submission script)."""
    count = 0
    for script in (sweep_dir / "slurm").glob("*_submission.sh"):
        first, last = re.search(r"#SBATCH --array=(\d+)-(\d+)", script.read_text()).groups()
        count += int(last) - int(first) + 1
    return count


@pytest.fixture(scope="module")
def client(pg_tracking):
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # no tqdm bars in the test log
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=pg_tracking.url)


@pytest.fixture(scope="module")
def lr_sweep(slurm, pg_tracking, tmp_path_factory, report):
    """course 1's learning-rate study through Slurm into the PostgreSQL-backed server; (root, proc)."""
    root = cat_root(tmp_path_factory.mktemp("slurm_lr"))
    started = time.monotonic()
    proc = slurm_sweep(root, slurm, pg_tracking, "lr_compare", "+sweep=lr_compare")
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-3000:]
    sweep_dir = root / "multirun" / "lr_compare"
    submitted = min(p.stat().st_mtime for p in (sweep_dir / "slurm").glob("*_submission.sh"))
    summary = root / "experiments" / "sweeps" / "lr_compare" / "summary.md"
    report.append(f"lr_compare through Slurm: {array_tasks(sweep_dir)} array tasks submitted, "
                  f"{summary.stat().st_mtime - submitted:.1f} s from sbatch to summary.md, "
                  f"{seconds:.1f} s for the whole command")
    return root, proc


def test_slurm_sweep_lands_in_postgres_once(lr_sweep, client, pg_tracking, postgres, report):
    """One parent and one child per job, each complete and FINISHED; every point and artifact once."""
    root, _ = lr_sweep
    parents, jobs = sweep_runs(client, "lr_compare")
    assert len(parents) == 1, [p.info.run_id for p in parents]
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert [int(r.data.tags["scratchnet.sweep.job"]) for r in jobs] == [0, 1, 2]  # each job once
    points = 0
    for job in jobs:
        num = int(job.data.tags["scratchnet.sweep.job"])
        out = root / "experiments" / "sweeps" / "lr_compare" / str(num)
        metrics = json.loads((out / "metrics.json").read_text())
        assert job.info.status == "FINISHED"
        assert job.info.experiment_id == parent.info.experiment_id
        assert job.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert job.data.params["optimizer.lr"] == LR_COMPARE[num]
        assert job.data.tags["scratchnet.sweep.overrides"].split()[0] == f"optimizer.lr={LR_COMPARE[num]}"
        assert json.loads((out / "run.json").read_text())["run_id"] == job.info.run_id
        # the whole cost history, each step once, equal to the job's cost.csv and its trained model's cost
        history = client.get_metric_history(job.info.run_id, "train/cost")
        assert [m.step for m in history] == LR_COMPARE_STEPS
        assert [(m.step, m.value) for m in history] == read_costs(out / "cost.csv") + [
            (1500, metrics["train"]["cost"])]
        assert job.data.metrics["train/accuracy"] == metrics["train"]["accuracy"]
        assert job.data.metrics["test/accuracy"] == metrics["test"]["accuracy"]
        points += len(history)
        # every output uploaded through the server's proxy, byte for byte, and stored once
        assert set(OUTPUTS) | {"plots", "model", "pyfunc"} <= {f.path for f in client.list_artifacts(job.info.run_id)}
        got = Path(client.download_artifacts(job.info.run_id, "metrics.json", str(root / "dl" / job.info.run_id)))
        assert got.read_bytes() == (out / "metrics.json").read_bytes()
        stored = [p for p in (pg_tracking.log.parent / "artifacts").rglob("model.npz") if job.info.run_id in p.parts]
        assert len(stored) == 3  # model.npz, model/model.npz, pyfunc/artifacts/model.npz
    # the course's numbers (train 99.52 / 88.99 / 68.42 %, test 68 / 64 / 36 %) as images right of 209 and 50
    right = [(round(209 * r.data.metrics["train/accuracy"]), round(50 * r.data.metrics["test/accuracy"])) for r in jobs]
    assert right == [(208, 34), (186, 32), (143, 18)]
    # and that store is PostgreSQL: its metrics table holds each job's 17 points, no more
    rows = postgres.psql("SELECT j.value, count(*) FROM metrics m "
                         "JOIN tags j ON j.run_uuid = m.run_uuid AND j.key = 'scratchnet.sweep.job' "
                         "JOIN tags s ON s.run_uuid = m.run_uuid AND s.key = 'scratchnet.sweep' "
                         "AND s.value = 'lr_compare' WHERE m.key = 'train/cost' GROUP BY j.value ORDER BY j.value",
                         database="mlflow")
    assert rows.splitlines() == [f"{n}|{len(LR_COMPARE_STEPS)}" for n in range(3)]
    report.append(f"lr_compare in PostgreSQL: {1 + len(jobs)} runs (1 parent, {len(jobs)} jobs), "
                  f"{points} train/cost points")


def test_slurm_sweep_summary(lr_sweep, client):
    """The summary of all three jobs, in the sweep folder and on the parent run."""
    root, proc = lr_sweep
    folder = root / "experiments" / "sweeps" / "lr_compare"
    rows = summary_rows(folder)
    assert [(r["job"], r["status"], r["optimizer.lr"]) for r in rows] == [
        (str(n), "FINISHED", lr) for n, lr in LR_COMPARE.items()]
    parent = sweep_runs(client, "lr_compare")[0][0]
    assert parent.data.metrics == {"jobs": 3.0, "failed_jobs": 0.0}
    # the launcher's settings, as conf/hydra/launcher/slurm.yaml gives them
    assert {k: v for k, v in parent.data.params.items() if k.startswith("sweep.slurm.")} == {
        "sweep.slurm.partition": "null", "sweep.slurm.cpus_per_task": "1", "sweep.slurm.mem_gb": "2",
        "sweep.slurm.timeout_min": "60", "sweep.slurm.array_parallelism": "16"}
    assert parent.data.params["sweep.launcher"] == "hydra_plugins.scratchnet_slurm.SlurmLauncher"
    with open(folder / "runs.csv") as f:  # run ids: a side file, not in the DVC-tracked summary
        assert [r["run_id"] for r in csv.DictReader(f)] == [r.info.run_id for r in sweep_runs(client, "lr_compare")[1]]
    assert "run_id" not in rows[0]
    listed = {f.path for f in client.list_artifacts(parent.info.run_id, "summary")}
    assert listed == {"summary/summary.csv", "summary/summary.md", "summary/cost_curves.png"}
    assert f"sweep lr_compare: 3 of 3 jobs finished; summary in {folder / 'summary.md'}" in proc.stderr


def test_slurm_job_logs_in_the_sweep_folder(lr_sweep):
    """Each job's stdout and stderr in <sweep dir>/slurm/, named by array job and task."""
    root, _ = lr_sweep
    folder = root / "multirun" / "lr_compare" / "slurm"
    errs = sorted(folder.glob("*_*_0_log.err"))
    assert [p.name.split("_")[1] for p in errs] == ["0", "1", "2"]  # one per array task
    for task, err in enumerate(errs):
        text = err.read_text()
        assert f"-> {root / 'experiments' / 'sweeps' / 'lr_compare' / str(task)}" in text  # train's last line
        assert "Job completed successfully" in text  # submitit's
        assert err.with_name(err.name.replace(".err", ".out")).is_file()


def test_slurm_sweep_metrics_equal_basic_launcher(lr_sweep):
    """The same sweep run locally by Hydra's basic launcher gives the same bytes, job for job."""
    root, _ = lr_sweep
    local = root / "basic"
    cmd = [sys.executable, "-m", "scratchnet.train", "-m", "+sweep=lr_compare", "tracking=none",
           f"hydra.callbacks.sweep.out_dir={local}", f"hydra.sweep.dir={root / 'multirun' / 'basic'}"]
    proc = subprocess.run(cmd, cwd=root, env=scratchnet_env(root), capture_output=True, text=True,
                          timeout=SWEEP_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for num in LR_COMPARE:
        slurm_out = root / "experiments" / "sweeps" / "lr_compare" / str(num)
        for name in ("metrics.json", "cost.csv", "model.npz"):
            assert (local / str(num) / name).read_bytes() == (slurm_out / name).read_bytes(), (num, name)


def test_slurm_jobs_use_the_cores_they_are_given(lr_sweep, slurm, pg_tracking, client, tmp_path):
    """Each job trains with the cores it asked for: train.blas_threads from $SLURM_CPUS_PER_TASK
    (1 under the preset, 2 with cpus_per_task=2), recorded as the param and as the threads train used."""
    for job in sweep_runs(client, "lr_compare")[1]:
        assert job.data.params["train.blas_threads"] == "1"
        assert job.data.tags["scratchnet.sweep.blas_threads"] == "1"
    root = cat_root(tmp_path)
    proc = slurm_sweep(root, slurm, pg_tracking, "slurm_two_cores", "experiment=logistic_cat", "train.epochs=50",
                       "seed=1,2", "hydra.launcher.cpus_per_task=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parents, jobs = sweep_runs(client, "slurm_two_cores")
    assert parents[0].data.params["sweep.slurm.cpus_per_task"] == "2"
    assert [(r.data.params["train.blas_threads"], r.data.tags["scratchnet.sweep.blas_threads"]) for r in jobs] == [
        ("2", "2"), ("2", "2")]


def test_slurm_failed_job_counted_failed(slurm, pg_tracking, client, tmp_path):
    """A job that raises is a FAILED child run and a FAILED row; the others finish; the command exits 1."""
    root = cat_root(tmp_path)
    proc = slurm_sweep(root, slurm, pg_tracking, "slurm_broken", "experiment=logistic_cat", "optimizer.lr=0.01,-1")
    assert proc.returncode == 1, proc.stderr[-3000:]
    error = "ConfigError: config key optimizer.lr = -1.0: expected a finite number > 0"
    assert f"job #1 FAILED (experiment=logistic_cat optimizer.lr=-1): {error}" in proc.stderr
    parents, jobs = sweep_runs(client, "slurm_broken")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # one job finished: it holds the table
    assert parents[0].data.metrics == {"jobs": 2.0, "failed_jobs": 1.0}
    assert [(r.data.tags["scratchnet.sweep.job"], r.info.status) for r in jobs] == [("0", "FINISHED"), ("1", "FAILED")]
    assert error in jobs[1].data.tags["error"]
    rows = summary_rows(root / "experiments" / "sweeps" / "slurm_broken")
    assert [(r["job"], r["status"], r["error"]) for r in rows] == [("0", "FINISHED", ""), ("1", "FAILED", error)]


def _wait_running(client, name: str, n: int, proc: subprocess.Popen, timeout: float = 180,
                  job: int | None = None) -> None:
    """Until n job runs of the sweep are RUNNING (among them job number `job`, if given)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended ({proc.returncode}) before its jobs ran"
        running = [int(r.data.tags["scratchnet.sweep.job"]) for r in sweep_runs(client, name)[1]
                   if r.info.status == "RUNNING"]
        if len(running) == n and (job is None or job in running):
            return
        time.sleep(1)
    pytest.fail(f"{n} RUNNING job runs of {name} not seen within {timeout:.0f} s")


def _wait_status(client, name: str, job: int, status: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until job number `job` of the sweep has a run with `status`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended ({proc.returncode}) before job {job} was {status}"
        if any(int(r.data.tags["scratchnet.sweep.job"]) == job and r.info.status == status
               for r in sweep_runs(client, name)[1]):
            return
        time.sleep(1)
    pytest.fail(f"job {job} of {name} not {status} within {timeout:.0f} s")


@contextlib.contextmanager
def running_sweep(root: Path, slurm, server, name: str, *overrides: str):
    """A Slurm sweep started in the background (its own session); yields (proc, stderr file), and
    stops it by its PID (SIGTERM, then SIGKILL) if it still runs at the end."""
    err_path = root / "sweep.err"
    with open(root / "sweep.out", "wb") as out, open(err_path, "wb") as err:
        proc = slurm_sweep(root, slurm, server, name, *overrides, stdout=out, stderr=err)
    try:
        yield proc, err_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(SCANCEL_GRACE + 60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _ended(proc: subprocess.Popen, timeout: float) -> int | None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout)
    return proc.poll()


def _our_tasks(slurm, name: str) -> list[str]:
    """`<array job>_<task> <state>` of the sweep's tasks still pending or running."""
    return [line for line in slurm.queue() if f" {name} " in f" {line} "]


def test_scancel_ends_the_sweeps_runs_killed(slurm, pg_tracking, client, tmp_path):
    """`scancel -n <sweep>` while both jobs train: both child runs and the parent end KILLED, the
    command ends on its own, exits 1 naming the jobs, and the summary lists them KILLED."""
    root = cat_root(tmp_path)
    name = "slurm_cancelled"
    with running_sweep(root, slurm, pg_tracking, name, "experiment=deep_cat", "seed=1,2",
                       "train.epochs=1000000") as (proc, err):  # minutes of training
        _wait_running(client, name, 2, proc)
        cancel = slurm.run(clusters.SLURM_BIN["scancel"], f"--name={name}")
        assert cancel.returncode == 0, cancel.stderr
        ended = _ended(proc, SCANCEL_GRACE)
    parents, jobs = sweep_runs(client, name)
    assert [(r.info.status, r.data.tags["error"]) for r in jobs] == [("KILLED", "Terminated")] * 2
    assert ended == 1, f"exit {ended}, {SCANCEL_GRACE} s after scancel:\n{err.read_text()[-3000:]}"
    assert [(p.info.status, p.data.tags["error"]) for p in parents] == [("KILLED", "JobsKilled: 2 of 2 jobs KILLED")]
    assert [(r["job"], r["status"]) for r in summary_rows(root / "experiments" / "sweeps" / name)] == [
        ("0", "KILLED"), ("1", "KILLED")]
    lines = err.read_text().splitlines()
    summary = root / "experiments" / "sweeps" / name / "summary.md"
    assert f"sweep {name}: 0 of 2 jobs finished; summary in {summary}" in lines
    assert "  job #1 KILLED (experiment=deep_cat seed=2 train.epochs=1000000): Terminated" in lines


def test_ctrl_c_cancels_the_sweeps_jobs(slurm, pg_tracking, client, tmp_path):
    """Ctrl-C in the launching process: it scancels its jobs (they end their runs KILLED), ends the
    parent KILLED, writes the summary and exits 130 with one line; nothing is left in the queue."""
    root = cat_root(tmp_path)
    name = "slurm_ctrl_c"
    with running_sweep(root, slurm, pg_tracking, name, "experiment=deep_cat", "seed=1,2",
                       "train.epochs=1000000") as (proc, err):
        _wait_running(client, name, 2, proc)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends; the jobs are not in this process group
        ended = _ended(proc, SCANCEL_GRACE + 30)
    assert ended == 130, err.read_text()[-3000:]
    assert _our_tasks(slurm, name) == []
    parents, jobs = sweep_runs(client, name)
    assert [r.info.status for r in jobs] == ["KILLED", "KILLED"]
    assert [(p.info.status, p.data.tags["error"]) for p in parents] == [("KILLED", "KeyboardInterrupt")]
    summary = root / "experiments" / "sweeps" / name / "summary.md"
    assert [ln for ln in err.read_text().splitlines() if not ln.startswith("[20")] == [
        f"sweep {name} interrupted (SIGINT): 0 of 2 started jobs finished, 2 KILLED; summary in {summary}"]


def _task_pids(task: str) -> list[int]:
    """The PIDs of the Python processes running Slurm array task `task` (<array job>_<index>), found
    by their environment: the single node is this machine."""
    array_job, index = task.split("_")
    want = {f"SLURM_ARRAY_JOB_ID={array_job}".encode(), f"SLURM_ARRAY_TASK_ID={index}".encode()}
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            environ = set((proc / "environ").read_bytes().split(b"\0"))
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        argv = cmdline.split(b"\0")
        if want <= environ and argv[0].endswith((b"python", b"python3")) and b"submitit.core._submit" in argv:
            pids.append(int(proc.name))
    return pids


def test_a_job_killed_without_a_result_is_summarised_killed(slurm, pg_tracking, client, tmp_path):
    """SIGKILL to one task's Python (as the OOM killer would): no result file, so the launcher
    finds it gone from the queue, records it KILLED with the reason, ends its run KILLED, and still
    collects the other job and writes the summary; no wait forever, exit 1."""
    root = cat_root(tmp_path)
    name = "slurm_lost"
    with running_sweep(root, slurm, pg_tracking, name, "experiment=logistic_cat", "train.epochs=100,1000000") as (
            proc, err):
        _wait_running(client, name, 1, proc, job=1)
        # job 0 (100 epochs) is done in a second, but it must have started before the kill: a run
        # starting later ends the dead job's run itself (tracking.stale), before the launcher does
        _wait_status(client, name, 0, "FINISHED", proc)
        task = next(line.split()[0] for line in _our_tasks(slurm, name) if line.split()[0].endswith("_1"))
        pids = _task_pids(task)
        assert pids, f"no process of Slurm task {task} found"
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        ended = _ended(proc, SCANCEL_GRACE + 30)
    assert ended == 1, err.read_text()[-3000:]
    parents, jobs = sweep_runs(client, name)
    logs = [p.read_text()[-2000:] for p in (root / "multirun" / name / "slurm").glob("*_1_0_log.*")]
    assert [r.info.status for r in jobs] == ["FINISHED", "KILLED"], (jobs[1].data.tags.get("error"), logs)
    reason = jobs[1].data.tags["error"]
    assert reason.startswith(f"JobStopped: Slurm job {task} ended ") and "without a result" in reason, reason
    assert [(p.info.status, p.data.tags["error"]) for p in parents] == [("KILLED", "JobsKilled: 1 of 2 jobs KILLED")]
    rows = summary_rows(root / "experiments" / "sweeps" / name)
    assert [(r["job"], r["status"]) for r in rows] == [("0", "FINISHED"), ("1", "KILLED")]
    assert rows[1]["error"] == reason
