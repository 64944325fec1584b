"""Sweeps stopped by Ctrl-C or SIGTERM while their jobs train (issue 14): every started run KILLED.

Each sweep runs as the README's command in a session of its own (so SIGINT to its process group is
what Ctrl-C in a terminal sends: the launching process and joblib's workers alike), into a fresh
SQLite store that the test reads directly, read-only, to see the runs' states while it runs.
"""

from __future__ import annotations

import csv
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scratchnet.data import make_flower, save_dataset

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

WAIT_S = 240  # for the jobs to start training (two loky workers start on a loaded 2-core machine)
STOP_S = 60  # from the signal to the command's exit


def start_sweep(root: Path, *overrides: str) -> subprocess.Popen:
    """`python -m scratchnet.train -m ...` in its own session; outputs, store and logs under root."""
    save_dataset(make_flower(), root / "planar.h5")
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    cmd = [sys.executable, "-m", "scratchnet.train", "-m", *overrides, f"data.path={root / 'planar.h5'}",
           f"paths.experiments={root / 'experiments'}", f"hydra.sweep.dir={root / 'multirun'}",
           f"tracking.db={root / 'mlflow.db'}", f"tracking.artifacts={root / 'mlartifacts'}"]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=open(root / "out", "wb"), stderr=open(root / "err", "wb"),
                            start_new_session=True)


def runs(root: Path) -> list[tuple[str, str, str, str]]:
    """(role, job number, status, error tag) of every run in the store, parent first, then by job."""
    try:
        db = sqlite3.connect(f"file:{root / 'mlflow.db'}?mode=ro", uri=True, timeout=5)
        rows = db.execute("""SELECT r.run_uuid, r.status, t.key, t.value FROM runs r LEFT JOIN tags t
                             ON t.run_uuid = r.run_uuid AND t.key IN
                             ('scratchnet.sweep.role', 'scratchnet.sweep.job', 'error')""").fetchall()
        db.close()
    except sqlite3.OperationalError:  # not created yet, or locked for a moment
        return []
    found: dict[str, dict] = {}
    for run_id, status, key, value in rows:
        found.setdefault(run_id, {"status": status})[key] = value
    out = [(r.get("scratchnet.sweep.role", ""), r.get("scratchnet.sweep.job", ""), r["status"], r.get("error") or "")
           for r in found.values()]
    return sorted(out, key=lambda r: (r[0] != "parent", int(r[1] or -1)))


def wait_for(root: Path, proc: subprocess.Popen, want) -> None:
    """Poll the store until want(job runs) holds; fail if the sweep ends first or WAIT_S pass."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the sweep ended ({proc.returncode}) first:\n{(root / 'err').read_text()[-3000:]}"
        if want([r for r in runs(root) if r[0] == "job"]):
            return
        time.sleep(0.5)
    pytest.fail(f"not seen within {WAIT_S} s: {runs(root)}")


def stop(proc: subprocess.Popen, sig: int) -> int:
    """Send `sig` to the sweep's process group; its exit code (SIGKILL and fail after STOP_S)."""
    os.killpg(proc.pid, sig)
    try:
        return proc.wait(STOP_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        pytest.fail(f"the sweep still ran {STOP_S} s after the signal")


def console_lines(root: Path) -> list[str]:
    """stderr without Hydra's log lines ([time][logger][LEVEL] - ...)."""
    return [ln for ln in (root / "err").read_text().splitlines() if ln.strip() and not ln.startswith("[20")]


def summary(root: Path, name: str) -> list[tuple[str, str]]:
    with open(root / "experiments" / "sweeps" / name / "summary.csv", newline="") as f:
        return [(r["job"], r["status"]) for r in csv.DictReader(f)]


def running(n: int):
    return lambda jobs: sum(status == "RUNNING" for _, _, status, _ in jobs) == n


@pytest.mark.parametrize("sig, code, what", [(signal.SIGINT, 130, "interrupted (SIGINT)"),
                                             (signal.SIGTERM, 143, "terminated (SIGTERM)")])
def test_a_stopped_joblib_sweep_ends_every_started_run_killed(tmp_path, sig, code, what):
    """Issue 14's command: both in-flight jobs' runs and the parent KILLED, one line, no traceback."""
    proc = start_sweep(tmp_path, "+sweep=hidden_sizes", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                       "train.epochs=60000")
    wait_for(tmp_path, proc, running(2))
    assert stop(proc, sig) == code
    summary_md = tmp_path / "experiments" / "sweeps" / "hidden_sizes" / "summary.md"
    assert console_lines(tmp_path) == [
        f"sweep hidden_sizes {what}: 0 of 2 started jobs finished, 2 KILLED; summary in {summary_md}"]
    found = runs(tmp_path)
    assert [(role, status) for role, _, status, _ in found] == [("parent", "KILLED"), ("job", "KILLED"),
                                                                ("job", "KILLED")]
    assert all(error for _, _, _, error in found)  # each says why
    assert summary(tmp_path, "hidden_sizes") == [("0", "KILLED"), ("1", "KILLED")]


def test_sigterm_to_a_basic_sweep_kills_it_and_keeps_what_finished(tmp_path):
    """The basic launcher: job 0 finished and is summarised, job 1's run and the parent end KILLED."""
    proc = start_sweep(tmp_path, "experiment=shallow_planar", "train.epochs=100,60000",
                       "hydra.callbacks.sweep.name=basic_stop")
    wait_for(tmp_path, proc, lambda jobs: [(j, s) for _, j, s, _ in jobs] == [("0", "FINISHED"), ("1", "RUNNING")])
    assert stop(proc, signal.SIGTERM) == 143
    summary_md = tmp_path / "experiments" / "sweeps" / "basic_stop" / "summary.md"
    assert console_lines(tmp_path) == [f"sweep basic_stop terminated (SIGTERM): 1 of 2 started jobs finished, "
                                       f"1 KILLED; summary in {summary_md}"]
    assert runs(tmp_path) == [("parent", "", "KILLED", "Terminated"), ("job", "0", "FINISHED", ""),
                              ("job", "1", "KILLED", "Terminated")]
    assert summary(tmp_path, "basic_stop") == [("0", "FINISHED"), ("1", "KILLED")]
    assert (tmp_path / "experiments" / "sweeps" / "basic_stop" / "0" / "metrics.json").is_file()
    assert not (tmp_path / "experiments" / "sweeps" / "basic_stop" / "1").exists()  # staging removed
