"""What a hard kill leaves behind, and a tracking server that stops answering, through the real commands.

- `kill -9` mid-run leaves its MLflow run RUNNING; the next start on the same store ends it KILLED
  with a reason, and leaves the runs of live processes (and of other hosts) alone;
- a dead process's staging folder (.<name>.<pid>-<start>-<place>.*.tmp) is removed by the next
  run, a live one's kept; the error-analysis stage never reads a staging folder;
- a frozen `mlflow server` (SIGSTOP) fails a run within the bound MLflow's own retry settings give.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from scratchnet.tracking import stale
from scratchnet.tracking.process import Process, this_process
from scratchnet.tracking.store import HTTP_LIMITS, LAST_WORD_LIMITS, request_bound

REPO = Path(__file__).resolve().parents[1]
RAW_CAT = REPO / "data" / "raw" / "cat"
TRAIN = [sys.executable, "-m", "scratchnet.train"]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    return base | {"MLFLOW_DISABLE_TELEMETRY": "true"} | extra


def cat_root(root: Path) -> Path:
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "cat").symlink_to(RAW_CAT)
    return root


def train_cmd(root: Path, *overrides: str) -> list[str]:
    return [*TRAIN, "experiment=deep_cat", f"paths.root={root}", *overrides]


def start_training(root: Path, log: Path, *overrides: str, uri: str | None = None) -> subprocess.Popen:
    """A deep_cat run that trains for ever, once its log shows training epochs (past MLflow's set-up)."""
    extra = {"MLFLOW_TRACKING_URI": uri} if uri else {}
    proc = subprocess.Popen(train_cmd(root, "train.epochs=10000000", f"hydra.run.dir={log.parent}", *overrides),
                            cwd=root, env=env(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_log(proc, log, "epoch 300/")
    return proc


def wait_for_log(proc: subprocess.Popen, log: Path, text: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode} before {text!r}:\n{proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"no {text!r} in {log} after {timeout:.0f} s")


def runs(root: Path) -> dict[str, tuple[str, dict[str, str]]]:
    """run name -> (status, tags) of every run in <root>/mlflow.db, read with sqlite3."""
    with sqlite3.connect(root / "mlflow.db") as con:
        rows = con.execute("SELECT run_uuid, name, status FROM runs").fetchall()
        tags = con.execute("SELECT run_uuid, key, value FROM tags").fetchall()
    return {name: (status, {k: v for u, k, v in tags if u == uuid}) for uuid, name, status in rows}


def start_ticks(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def forge_run(root: Path, name: str, tags: dict[str, str]) -> None:
    """A RUNNING run as another process would have left it (made with MLflow's own client)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    client.create_run(client.get_experiment_by_name("cat").experiment_id, run_name=name, tags=tags)


def staging(experiments: Path, owner: Process, suffix: str) -> Path:
    folder = experiments / f".deep_cat.{owner.pid}-{owner.start}-{owner.place}.{suffix}.tmp"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text('{"test": {"accuracy": 1.0}, "train": {"accuracy": 1.0}}\n')
    (folder / "model.npz").write_bytes(b"PK\x03\x04 half a model")
    return folder


@pytest.mark.slow
def test_a_hard_kill_is_ended_killed_by_the_next_start_and_live_runs_are_left_alone(tmp_path):
    root = cat_root(tmp_path)
    first = subprocess.run(train_cmd(root, "train.epochs=3"), cwd=root, env=env(), capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr
    me = this_process()

    killed = start_training(root, root / "hydra" / "killed" / "train.log")
    dead = Process(me.host, me.machine, me.boot, me.pid_ns, killed.pid, start_ticks(killed.pid))
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    assert {name: status for name, (status, _) in runs(root).items()} == {
        "deep_cat train.epochs=3": "FINISHED", "deep_cat train.epochs=10000000": "RUNNING"}
    # what a kill mid-write leaves (a staging folder), and one a live process is writing (this one)
    experiments = root / "experiments"
    dead_staging, live_staging = staging(experiments, dead, "abcd1234"), staging(experiments, me, "efgh5678")
    reused = Process(me.host, me.machine, me.boot, me.pid_ns, me.pid, me.start - 1)  # same pid, earlier start
    tagged = {"pid_reused": (me.host, reused.key), "this_live_process": (me.host, me.key),
              "other_host": ("elsewhere", dead.key),
              "other_pid_namespace": (me.host, dead.key.replace(me.pid_ns, "pid:[1]"))}
    for name, (host, key) in tagged.items():
        forge_run(root, name, {stale.TAG_HOST: host, stale.TAG_PROCESS: key})
    forge_run(root, "untagged", {})  # not one of ours: never touched

    # the next start (a run that goes on training) ends the dead runs
    live = start_training(root, root / "hydra" / "live" / "train.log", "seed=5")
    try:
        assert {name: s for name, (s, _) in runs(root).items()} == {
            "deep_cat train.epochs=3": "FINISHED", "deep_cat train.epochs=10000000": "KILLED",
            "deep_cat train.epochs=10000000 seed=5": "RUNNING", "pid_reused": "KILLED",
            "this_live_process": "RUNNING", "other_host": "RUNNING", "other_pid_namespace": "RUNNING",
            "untagged": "RUNNING"}
        # a run that starts while another trains leaves that one alone, and cleans the dead staging folder
        second = subprocess.run(train_cmd(root, "train.epochs=4"), cwd=root, env=env(), capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 0, second.stderr
        after = runs(root)
        status = {name: s for name, (s, _) in after.items()}
        assert status == {"deep_cat train.epochs=3": "FINISHED", "deep_cat train.epochs=10000000": "KILLED",
                          "deep_cat train.epochs=10000000 seed=5": "RUNNING", "deep_cat train.epochs=4": "FINISHED",
                          "pid_reused": "KILLED", "this_live_process": "RUNNING", "other_host": "RUNNING",
                          "other_pid_namespace": "RUNNING", "untagged": "RUNNING"}
        reason = after["deep_cat train.epochs=10000000"][1][stale.TAG_REASON]
        assert re.fullmatch(rf"process {killed.pid} on {me.host} is gone; ended KILLED at \S+Z by process \d+ "
                            rf"on {me.host}", reason), reason
        assert after["pid_reused"][1][stale.TAG_REASON].startswith(
            f"process {me.pid} on {me.host} is gone (the pid now belongs to a process started later)")
        said = (root / "hydra" / "live" / "train.log").read_text()  # the start that ended them says so
        assert f"was left RUNNING: process {killed.pid} on {me.host} is gone" in said, said
        # every run names its process: host, pid, start (for people) and the key a later start compares
        tags = after["deep_cat train.epochs=4"][1]
        assert tags[stale.TAG_HOST] == me.host and tags[stale.TAG_PID].isdigit()
        assert datetime.strptime(tags[stale.TAG_STARTED], "%Y-%m-%dT%H:%M:%SZ")
        assert Process.parse(me.host, tags[stale.TAG_PROCESS]).pid == int(tags[stale.TAG_PID])
        assert not dead_staging.exists() and live_staging.is_dir()
        assert sorted(p.name for p in experiments.iterdir()) == sorted(["deep_cat", live_staging.name])
    finally:
        live.send_signal(signal.SIGTERM)
        live.wait(30)
    assert runs(root)["deep_cat train.epochs=10000000 seed=5"][0] == "KILLED"  # it ended itself


def test_the_error_analysis_never_reads_a_staging_folder(tmp_path):
    """experiments/.deep_cat.*.tmp (a run still writing, or one killed mid-write) holds a 'perfect'
    model that is half a file: the stage's default glob *cat*/metrics.json must not pick it."""
    root = cat_root(tmp_path)
    proc = subprocess.run([*TRAIN, "experiment=logistic_cat", f"paths.root={root}", "train.epochs=50",
                           "tracking=none"], cwd=root, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    staging(root / "experiments", this_process(), "abcd1234")
    out = subprocess.run([sys.executable, "-m", "scratchnet.stages.errors", "--experiments", root / "experiments",
                          "--data", RAW_CAT, "--out", tmp_path / "errors", "--no-mlflow"], cwd=root, env=env(),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("errors: logistic_cat: ")
    assert json.loads((tmp_path / "errors" / "metrics.json").read_text())["model"] == "logistic_cat"


def test_the_http_bound_follows_mlflow_and_urllib3():
    """(1 + retries) attempts of `timeout` s; urllib3 2 sleeps 0 s after the first failure, then
    factor * 2**(k-1) + up to `jitter` s after the k-th."""
    assert request_bound(HTTP_LIMITS) == 3 * 15 + (2 * 2 + 1.0) == 50
    assert request_bound(LAST_WORD_LIMITS | {"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0"}) == 5
    # MLflow's defaults (7 retries, 120 s): 20 minutes; urllib3 caps a sleep at 120 s
    assert request_bound({}) == 8 * 120 + sum(min(2 * 2 ** (k - 1) + 1, 120) for k in range(2, 8)) == 1209
    old = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "30", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3"}
    assert request_bound(old) == 4 * 30 + (4 + 1) + (8 + 1) == 134  # what the issue measured: 135-148 s


def _log_time(line: str) -> float:
    stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", line)[1]
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


@contextlib.contextmanager
def frozen(server):
    """SIGSTOP the server's whole process group (it accepts connections, never answers), then SIGCONT."""
    os.killpg(server.process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(server.process.pid, signal.SIGCONT)


@pytest.mark.e2e
@pytest.mark.slow
def test_a_frozen_tracking_server_fails_the_run_within_the_bound(tmp_path, report):
    import servers

    root = cat_root(tmp_path / "root")
    with servers.mlflow_server(tmp_path / "server") as server:
        # frozen before the command: the /health probe gives up after 5 s
        with frozen(server):
            started = time.monotonic()
            proc = subprocess.run(train_cmd(root, "train.epochs=3"), cwd=root, capture_output=True, text=True,
                                  timeout=120, env=env(MLFLOW_TRACKING_URI=server.url))
            before_start = time.monotonic() - started
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert f"tracking server {server.url} is unreachable (timed out)" in proc.stderr
        assert before_start < 30, before_start

        # frozen mid-run: training goes on, the next request (the cost history) waits for the bound
        log = root / "hydra" / "frozen" / "train.log"
        proc = subprocess.Popen(train_cmd(root, "train.first_layer=plain", "train.epochs=200", "train.record_every=50",
                                          f"hydra.run.dir={log.parent}"), cwd=root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env(MLFLOW_TRACKING_URI=server.url))
        wait_for_log(proc, log, "epoch 50/200")
        with frozen(server):
            stopped = time.monotonic()
            rc = proc.wait(300)
            ended = time.time()
            waited_total = time.monotonic() - stopped
        stderr = proc.stderr.read()
        assert rc == 2 and "Traceback" not in stderr, stderr
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("scratchnet-train: error: logging train/cost (run ") and server.url in last, last
        trained = _log_time([ln for ln in log.read_text().splitlines() if "epoch 199/200" in ln][-1])
        waited = ended - trained  # from the end of training (the first request after it) to the exit
        bound = request_bound(HTTP_LIMITS) + request_bound(LAST_WORD_LIMITS)  # the call, then ending the run
        report.append(f"frozen tracking server: the run failed {waited:.1f} s after training ended "
                      f"({waited_total:.1f} s after SIGSTOP; bound {bound:.0f} s)")
        assert 3 * 15 <= waited <= bound + 10, (waited, bound)

        # the run could not be ended while the server was frozen; the next start ends it KILLED
        again = subprocess.run(train_cmd(root, "train.epochs=3"), cwd=root, capture_output=True, text=True,
                               timeout=300, env=env(MLFLOW_TRACKING_URI=server.url))
        assert again.returncode == 0, again.stderr
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=server.url)
        found = {r.info.run_name: r for r in client.search_runs([client.get_experiment_by_name("cat").experiment_id])}
        frozen_run = found["deep_cat train.first_layer=plain train.epochs=200 train.record_every=50"]
        assert frozen_run.info.status in ("KILLED", "FAILED"), frozen_run.info.status
        if frozen_run.info.status == "KILLED":
            assert f"process {proc.pid} on " in frozen_run.data.tags[stale.TAG_REASON]
        assert found["deep_cat train.epochs=3"].info.status == "FINISHED"
    shutil.rmtree(tmp_path / "server", ignore_errors=True)
