"""Sweeps through the real entry point (`python -m scratchnet.train -m ...`) into fresh SQLite stores."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnet import tracking
from scratchnet.cli import sweep as sweep_cli
from scratchnet.data import make_flower, save_dataset
from scratchnet.runs.multirun import TAG_JOB, TAG_OVERRIDES, TAG_ROLE, TAG_SWEEP, TAG_THREADS
from scratchnet.runs.threads import launcher_jobs
from scratchnet.sweeps.callback import SweepCallback
from scratchnet.sweeps.records import MARKER_FILE, JobRecord, swept_keys, with_unrecorded
from scratchnet.sweeps.summary import over_seeds, run_table, table

REPO = Path(__file__).resolve().parents[1]


def run_sweep(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    """A multirun with outputs, Hydra's sweep dir and the MLflow store all inside tmp_path."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    cmd = [sys.executable, "-m", "scratchnet.train", "-m", *overrides,
           f"paths.experiments={tmp_path / 'experiments'}", f"hydra.sweep.dir={tmp_path / 'multirun'}",
           f"tracking.db={tmp_path / 'mlflow.db'}", f"tracking.artifacts={tmp_path / 'mlartifacts'}"]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def client_for(tmp_path: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking.resolve_uri({"kind": "local", "db": str(tmp_path / "mlflow.db")}))


def all_runs(client) -> list:
    ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids, max_results=1000)


def read_summary(tmp_path: Path, name: str) -> list[dict]:
    with open(tmp_path / "experiments" / "sweeps" / name / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def planar_file(tmp_path) -> Path:
    """The course's flower written where data.path points (the DVC generate stage's job in the repo)."""
    path = tmp_path / "planar.h5"
    save_dataset(make_flower(), path)
    return path


# ---------------------------------------------------------------------------------------------------
# units


@pytest.mark.parametrize("launcher, jobs", [
    ({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}, 1),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2}, 2),
    ({"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 1}, 1),
    ({"_target_": "hydra_plugins.scratchnet_slurm.SlurmLauncher", "array_parallelism": 16}, 16),
])
def test_launcher_jobs_counts_the_jobs_that_run_at_once(launcher, jobs):
    from omegaconf import OmegaConf

    assert launcher_jobs(OmegaConf.create({"launcher": launcher})) == jobs


@pytest.mark.parametrize("env, threads", [({}, 1), ({"SLURM_CPUS_PER_TASK": "3"}, 3)])
def test_blas_threads_default_to_the_slurm_allocation_else_one(monkeypatch, env, threads):
    from hydra import compose, initialize_config_dir

    from scratchnet.paths import CONF_DIR

    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["experiment=deep_cat"])
    assert cfg.train.blas_threads == threads


def test_swept_keys_are_those_that_differ():
    records = [JobRecord(job=i, overrides=["experiment=logistic_cat", f"optimizer.lr={lr}"], status="FINISHED",
                               run_id=str(i)) for i, lr in enumerate(["0.1", "0.01"])]
    assert swept_keys(records) == ["optimizer.lr"]
    header, rows = table(records)
    assert header == ["job", "status", "optimizer.lr", "error"]  # run ids: the side file runs.csv
    assert rows == [["0", "FINISHED", "0.1", ""], ["1", "FINISHED", "0.01", ""]]
    assert over_seeds(records) is None  # no seed swept


def test_summary_over_seeds_by_hand():
    def job(i, seed, lr, acc, failed=False):
        return JobRecord(job=i, overrides=["experiment=deep_cat", f"seed={seed}", f"optimizer.lr={lr}"],
                         status="FAILED" if failed else "FINISHED", run_id=f"r{i}",
                         metrics={} if failed else {"test/accuracy": acc, "fit_seconds": 0.5 + i})
    records = [job(0, 0, "0.1", 0.70), job(1, 1, "0.1", 0.74), job(2, 2, "0.1", 0.78),
               job(3, 0, "0.2", 0.80), job(4, 1, "0.2", 0.80), job(5, 2, "0.2", 0.0, failed=True)]
    header, rows = over_seeds(records)
    assert header == ["optimizer.lr", "n", "test/accuracy mean", "test/accuracy std"]  # no fit_seconds
    # 0.70, 0.74, 0.78: mean 0.74, deviations -0.04, 0, 0.04 -> std sqrt(0.0032 / 2) = 0.04
    assert rows[0][:2] == ["0.1", "3"] and float(rows[0][2]) == pytest.approx(0.74) and \
        float(rows[0][3]) == pytest.approx(0.04)
    assert rows[1] == ["0.2", "2", repr(0.8), "0.0"]  # the failed job is left out; equal values: 0 exactly
    assert table(records)[0] == ["job", "status", "seed", "optimizer.lr", "test/accuracy", "error"]
    assert run_table(records)[1][1] == ["1", "FINISHED", "r1", "1.5"]


def test_callback_rejects_an_unknown_figure():
    with pytest.raises(ValueError, match="hydra.callbacks.sweep.figure: expected one of cost_curves, "
                                         "decision_boundaries, accuracy_vs_depth or null, found 'pie'"):
        SweepCallback(name="x", out_dir="/tmp/x", figure="pie")


def test_a_job_the_launcher_ran_but_mlflow_lacks_is_summarised_as_failed(tmp_path):
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / MARKER_FILE).write_text(
        '{"job": 1, "status": "FAILED", "overrides": ["optimizer.lr=2"], "error": "OSError: disk full"}')
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / MARKER_FILE).write_text(
        '{"job": 0, "status": "FINISHED", "overrides": ["optimizer.lr=1"], "error": ""}')
    recorded = [JobRecord(job=0, overrides=["optimizer.lr=1"], status="FINISHED", run_id="abc")]
    records = with_unrecorded(recorded, tmp_path)
    assert [(r.job, r.status, r.error) for r in records] == [
        (0, "FINISHED", ""), (1, "FAILED", "OSError: disk full (no MLflow run recorded)")]


# ---------------------------------------------------------------------------------------------------
# a parallel sweep on a fresh store


def test_joblib_sweep_one_parent_every_child_once_and_the_summary_matches(tmp_path):
    assert not (tmp_path / "mlflow.db").exists()  # the callback creates it, before any worker starts
    proc = run_sweep(tmp_path, "experiment=logistic_cat", "train.epochs=30", "optimizer.lr=0.01,0.001,0.0001",
                     "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.callbacks.sweep.name=small")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "sweep small: 3 of 3 jobs finished" in proc.stderr

    client = client_for(tmp_path)
    runs = all_runs(client)
    parents = [r for r in runs if r.data.tags.get(TAG_ROLE) == "parent"]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "small"
    assert parent.data.metrics == {"jobs": 3.0, "failed_jobs": 0.0}
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 4 and len(children) == 3
    assert sorted(int(c.data.tags[TAG_JOB]) for c in children) == [0, 1, 2]  # each job exactly once
    threads = "1"  # train.blas_threads: 1 outside a Slurm allocation, whatever n_jobs
    by_lr = {}
    for child in children:
        tags, params = child.data.tags, child.data.params
        assert child.info.status == "FINISHED"
        assert tags[TAG_SWEEP] == "small" and tags[TAG_THREADS] == threads
        # the job's overrides as it ran them, plumbing (paths, tracking, output_dir) left out
        assert tags[TAG_OVERRIDES] == f"experiment=logistic_cat train.epochs=30 optimizer.lr={params['optimizer.lr']}"
        assert params["train.epochs"] == "30"
        # the sweep's context reached the (joblib) job inside its config, not through the environment
        assert params["tracking.parent_run_id"] == parent.info.run_id and params["tracking.sweep"] == "small"
        assert params["output_dir"] == str(tmp_path / "experiments" / "sweeps" / "small" / tags[TAG_JOB])
        assert {"train/accuracy", "test/accuracy", "train/cost"} <= set(child.data.metrics)
        by_lr[params["optimizer.lr"]] = child
    assert sorted(by_lr) == ["0.0001", "0.001", "0.01"]
    assert not (tmp_path / "multirun" / "sweep.json").exists()

    rows = read_summary(tmp_path, "small")
    assert [row["job"] for row in rows] == ["0", "1", "2"]
    for row in rows:
        child = by_lr[row["optimizer.lr"]]
        assert row["status"] == "FINISHED" and "run_id" not in row and "fit_seconds" not in row
        assert row["job"] == child.data.tags[TAG_JOB]
        for metric in ("train/accuracy", "test/accuracy", "train/cost"):
            assert float(row[metric]) == child.data.metrics[metric]  # repr round-trips exactly
        metrics_json = Path(child.data.params["output_dir"]) / "metrics.json"
        assert metrics_json.is_file()

    with open(tmp_path / "experiments" / "sweeps" / "small" / "runs.csv", newline="") as f:  # the side file
        assert {r["run_id"]: r["job"] for r in csv.DictReader(f)} == {
            c.info.run_id: c.data.tags[TAG_JOB] for c in children}
    # each job's config.yaml is a function of its config: the sweep's run ids are written as null
    config = (tmp_path / "experiments" / "sweeps" / "small" / "0" / "config.yaml").read_text()
    assert "parent_run_id: null" in config and "sweep: null" in config and parent.info.run_id not in config

    # the summary, its figure and the table are on the parent run too
    logged = {f.path for f in client.list_artifacts(parent.info.run_id, "summary")}
    assert logged == {"summary/summary.csv", "summary/summary.md"}  # no figure asked for
    md = (tmp_path / "experiments" / "sweeps" / "small" / "summary.md").read_text()
    assert "3 jobs, 3 finished, 0 failed." in md and "| job | status | optimizer.lr |" in md

    # and the same table comes back from MLflow alone
    csv_before = (tmp_path / "experiments" / "sweeps" / "small" / "summary.csv").read_text()
    out = tmp_path / "again"
    uri = tracking.resolve_uri({"kind": "local", "db": str(tmp_path / "mlflow.db")})
    assert sweep_cli.main(["summarize", "small", "--tracking-uri", uri, "--out", str(out)]) == 0
    assert (out / "summary.csv").read_text() == csv_before


def test_a_failing_job_is_listed_failed_and_the_others_and_the_summary_finish(tmp_path):
    proc = run_sweep(tmp_path, "experiment=logistic_cat", "train.epochs=30", "optimizer.lr=0.01,-1,0.001",
                     "hydra.callbacks.sweep.name=broken", "hydra.callbacks.sweep.figure=cost_curves")
    assert proc.returncode == 1
    assert "sweep broken: 2 of 3 jobs finished" in proc.stderr
    assert "job #1 FAILED (experiment=logistic_cat train.epochs=30 optimizer.lr=-1): " in proc.stderr
    assert "ConfigError: config key optimizer.lr = -1.0: expected a finite number > 0" in proc.stderr
    assert "Traceback" not in proc.stderr

    rows = read_summary(tmp_path, "broken")
    assert [(r["job"], r["status"], r["optimizer.lr"]) for r in rows] == [
        ("0", "FINISHED", "0.01"), ("1", "FAILED", "-1"), ("2", "FINISHED", "0.001")]
    assert rows[1]["error"] == "ConfigError: config key optimizer.lr = -1.0: expected a finite number > 0"
    assert rows[1]["train/accuracy"] == "" and float(rows[2]["train/accuracy"]) > 0

    client = client_for(tmp_path)
    runs = all_runs(client)
    parent = next(r for r in runs if r.data.tags.get(TAG_ROLE) == "parent")
    assert parent.info.status == "FINISHED"  # some jobs finished: the parent holds their table
    assert parent.data.metrics == {"jobs": 3.0, "failed_jobs": 1.0}
    statuses = sorted((r.data.tags[TAG_JOB], r.info.status) for r in runs if r is not parent
                      and r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
    assert statuses == [("0", "FINISHED"), ("1", "FAILED"), ("2", "FINISHED")]
    logged = {f.path for f in client.list_artifacts(parent.info.run_id, "summary")}
    assert logged == {"summary/summary.csv", "summary/summary.md", "summary/cost_curves.png"}
    assert (tmp_path / "experiments" / "sweeps" / "broken" / "cost_curves.png").stat().st_size > 10_000
    marker = json.loads((tmp_path / "multirun" / "1" / MARKER_FILE).read_text())
    assert marker["status"] == "FAILED" and marker["error"].startswith("ConfigError: config key optimizer.lr")


def test_all_jobs_failing_fails_the_parent_run(tmp_path):
    proc = run_sweep(tmp_path, "experiment=logistic_cat", "train.epochs=30", "optimizer.lr=-1,0",
                     "hydra.callbacks.sweep.name=hopeless")
    assert proc.returncode == 1 and "sweep hopeless: 0 of 2 jobs finished" in proc.stderr
    runs = all_runs(client_for(tmp_path))
    parent = next(r for r in runs if r.data.tags.get(TAG_ROLE) == "parent")
    assert parent.info.status == "FAILED" and parent.data.tags["error"] == "JobFailed: all 2 jobs failed"
    assert [r["status"] for r in read_summary(tmp_path, "hopeless")] == ["FAILED", "FAILED"]


@pytest.mark.e2e
def test_a_sweep_over_seeds_aggregates_them(tmp_path):
    """`seed=range(3)` with two learning rates: 6 jobs, and the summary's table over seeds per lr."""
    proc = run_sweep(tmp_path, "experiment=shallow_cat", "+sweep=seeds", "seed=range(3)", "train.epochs=40",
                     "optimizer.lr=0.0075,0.01")
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = tmp_path / "experiments" / "sweeps" / "seeds_shallow_cat"  # the preset names it after the experiment
    rows = read_summary(tmp_path, "seeds_shallow_cat")
    assert sorted((r["seed"], r["optimizer.lr"]) for r in rows) == [(str(s), lr) for s in range(3)
                                                                   for lr in ("0.0075", "0.01")]
    with open(folder / "over_seeds.csv", newline="") as f:
        grouped = {r["optimizer.lr"]: r for r in csv.DictReader(f)}
    for lr, row in grouped.items():
        accuracies = [float(r["test/accuracy"]) for r in rows if r["optimizer.lr"] == lr]
        assert row["n"] == "3"
        assert float(row["test/accuracy mean"]) == pytest.approx(sum(accuracies) / 3, abs=1e-12)
        spread = (sum((a - sum(accuracies) / 3) ** 2 for a in accuracies) / 2) ** 0.5
        assert float(row["test/accuracy std"]) == pytest.approx(spread, abs=1e-12)
    assert len({r["train/cost"] for r in rows}) == 6  # the seeds really changed the nets
    md = (folder / "summary.md").read_text()
    assert "## Over seeds" in md and "| optimizer.lr | n | test/accuracy mean |" in md
    assert (folder / "cost_curves.png").is_file()


def test_jobs_train_with_the_blas_threads_asked_for_and_repeat_byte_for_byte(tmp_path):
    """train.blas_threads=2: both jobs record 2 (threadpoolctl's count inside train) and, one config
    and seed, write the same metrics.json, cost.csv and model.npz."""
    proc = run_sweep(tmp_path, "experiment=deep_cat", "train.epochs=300", "train.first_layer=plain",
                     "train.blas_threads=2", "name=twice_a,twice_b", "hydra.callbacks.sweep.name=threads")
    assert proc.returncode == 0, proc.stderr[-3000:]
    children = [r for r in all_runs(client_for(tmp_path)) if r.data.tags.get(TAG_ROLE) == "job"]
    assert sorted((r.data.tags[TAG_THREADS], r.data.params["train.blas_threads"]) for r in children) == [
        ("2", "2"), ("2", "2")]
    jobs = tmp_path / "experiments" / "sweeps" / "threads"
    for name in ("metrics.json", "cost.csv", "model.npz"):
        assert (jobs / "0" / name).read_bytes() == (jobs / "1" / name).read_bytes(), name


def test_a_slurm_signal_delay_that_does_not_fit_the_time_limit_is_refused_before_anything_starts(tmp_path):
    """signal_delay_s=120 with a 1-minute limit would land submitit's pre-timeout signal at the start
    (a preemption: the job is requeued): one line, exit 2, no store, no parent run, nothing submitted."""
    proc = run_sweep(tmp_path, "experiment=logistic_cat", "seed=1,2", "hydra/launcher=slurm",
                     "hydra.launcher.timeout_min=1")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "scratchnet sweep: error: hydra.launcher.signal_delay_s = 120: expected 0 to 30 s for "
        "hydra.launcher.timeout_min = 1: at most max(20% of the limit, 600 s), or submitit takes the "
        "pre-timeout signal for a preemption and requeues the job, and at most half the limit, or the signal "
        "stops the job early")
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "multirun").exists()


# ---------------------------------------------------------------------------------------------------
# the course's studies through the sweep path


@pytest.mark.slow
def test_lr_compare_reproduces_the_course_table(tmp_path):
    proc = run_sweep(tmp_path, "+sweep=lr_compare", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {r["optimizer.lr"]: r for r in read_summary(tmp_path, "lr_compare")}
    assert sorted(rows) == ["0.0001", "0.001", "0.01"]
    for lr, train, test in [("0.01", 99.52153110047847, 68.0), ("0.001", 88.99521531100478, 64.0),
                            ("0.0001", 68.42105263157895, 36.0)]:
        assert 100 * float(rows[lr]["train/accuracy"]) == pytest.approx(train, abs=1e-9)
        assert 100 * float(rows[lr]["test/accuracy"]) == pytest.approx(test, abs=1e-9)
    assert (tmp_path / "experiments" / "sweeps" / "lr_compare" / "cost_curves.png").is_file()


@pytest.mark.slow
def test_hidden_sizes_reproduces_the_course_table(tmp_path, planar_file):
    proc = run_sweep(tmp_path, "+sweep=hidden_sizes", f"data.path={planar_file}",
                     "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_summary(tmp_path, "hidden_sizes")
    table = {r["model.hidden"]: round(100 * float(r["train/accuracy"]), 9) for r in rows}
    assert table == {"[1]": 67.5, "[2]": 67.25, "[3]": 90.75, "[4]": 90.5, "[5]": 91.25, "[20]": 90.5,
                     "[50]": 90.25}
    assert (tmp_path / "experiments" / "sweeps" / "hidden_sizes" / "decision_boundaries.png").is_file()
