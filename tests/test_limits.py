"""What a run refuses before it starts, and what it stops on, through the real command: a cost that
explodes while staying finite, a model too large for memory, a name or root Hydra would write
outside the repo with, dropout on a model without hidden layers.

Each case runs `python -m scratchnet.train` in a subprocess against a root in tmp_path.
"""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from generated import generated_set
from refusals import one_error_line
from scratchnet.nn import OPTIMIZERS, from_specs
from scratchnet.runs import memory

REPO = Path(__file__).resolve().parents[1]
RAW_CAT = REPO / "data" / "raw" / "cat"


def make_root(root: Path, *generated: str, cat: bool = False) -> Path:
    (root / "data" / "generated").mkdir(parents=True)
    for name in generated:
        shutil.copy(generated_set(name), root / "data" / "generated" / f"{name}.h5")
    if cat:
        (root / "data" / "raw").mkdir()
        (root / "data" / "raw" / "cat").symlink_to(RAW_CAT)
    return root


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    return base | {"MLFLOW_DISABLE_TELEMETRY": "true"} | extra


def train(root: Path, *overrides: str, timeout: float = 300, **extra_env: str) -> subprocess.CompletedProcess:
    flags = [o for o in overrides if o.startswith("-")]
    return subprocess.run([sys.executable, "-m", "scratchnet.train", *flags,
                           *(o for o in overrides if not o.startswith("-"))],
                          capture_output=True, text=True, cwd=root, timeout=timeout,
                          env=env(SCRATCHNET_ROOT=str(root), **extra_env))


def runs(root: Path) -> list[tuple[str, str, str | None]]:
    """(run name, status, error tag) of every MLflow run in <root>/mlflow.db."""
    if not (root / "mlflow.db").exists():
        return []
    with sqlite3.connect(root / "mlflow.db") as con:
        return con.execute("SELECT r.name, r.status, (SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid "
                           "AND t.key = 'error') FROM runs r ORDER BY r.start_time").fetchall()


# --- divergence that stays finite ----------------------------------------------------------------

FINITE_DIVERGENCE = {  # experiment, lr: the cost of epoch 1 explodes but stays finite
    "shallow_planar": ("1e305", ["planar"], False, "starting cost 0.693"),
    "logistic_cat": ("1e300", [], True, "starting cost 0.693147"),
}


@pytest.mark.parametrize("experiment", list(FINITE_DIVERGENCE))
def test_a_finite_explosion_is_divergence_exit_2_and_a_failed_run(experiment, tmp_path):
    lr, generated, cat, start = FINITE_DIVERGENCE[experiment]
    root = make_root(tmp_path, *generated, cat=cat)
    proc = train(root, f"experiment={experiment}", f"optimizer.lr={lr}", "train.divergence_factor=1000")
    one_error_line(proc, "training diverged: cost", "at epoch 1 is more than 1000 times", start,
                   "(divergence factor 1000)", "lower optimizer.lr")
    [(name, status, error)] = runs(root)
    assert status == "FAILED" and "DivergenceError" in error and name.endswith("train.divergence_factor=1000")
    assert not (root / "experiments" / experiment).exists()  # nothing written


def test_divergence_factor_null_stops_on_nan_or_inf_only(tmp_path):
    """tanh keeps the cost finite (8.8e303 and so on): with null the run trains to the end."""
    root = make_root(tmp_path, "planar")
    proc = train(root, "experiment=shallow_planar", "optimizer.lr=1e305", "train.divergence_factor=null",
                 "train.epochs=50", "tracking=none")
    assert proc.returncode == 0, proc.stderr
    with open(root / "experiments" / "shallow_planar" / "cost.csv") as f:
        costs = [float(r["cost"]) for r in csv.DictReader(f)]
    assert costs[-1] > 1e300 and all(np.isfinite(costs))


@pytest.mark.parametrize("value", ["1", "0.5", "0", "-3", "nan", "inf"])
def test_divergence_factor_is_validated(value, tmp_path):
    root = make_root(tmp_path, "planar")
    proc = train(root, "experiment=shallow_planar", f"train.divergence_factor={value}")
    one_error_line(proc, "config key train.divergence_factor", "expected a finite number > 1", "or null")
    assert not (root / "mlflow.db").exists()


def test_a_sweep_counts_a_finite_explosion_as_a_failed_job(tmp_path):
    root = make_root(tmp_path, "planar")
    proc = train(root, "-m", "experiment=shallow_planar", "optimizer.lr=1.2,1e305", "train.epochs=200",
                 "train.divergence_factor=1000", "hydra.callbacks.sweep.name=explode")
    assert proc.returncode == 1, proc.stderr
    assert "sweep explode: 1 of 2 jobs finished" in proc.stderr
    assert "job #1 FAILED (experiment=shallow_planar optimizer.lr=1e+305 train.epochs=200 " \
           "train.divergence_factor=1000): DivergenceError: training diverged: cost" in proc.stderr
    with open(root / "experiments" / "sweeps" / "explode" / "summary.csv") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["FINISHED", "FAILED"]


def test_the_large_random_start_is_not_divergence(tmp_path):
    """Course 2's large-random initialisation starts at cost 1773.6 and falls: it trains to the end."""
    root = make_root(tmp_path, "circles")
    proc = train(root, "experiment=init_large_random", "tracking=none")
    assert proc.returncode == 0, proc.stderr
    with open(root / "experiments" / "init_large_random" / "cost.csv") as f:
        costs = [float(r["cost"]) for r in csv.DictReader(f)]
    assert round(costs[0], 1) == 1773.6 and costs[-1] < 1


# --- a model too large for memory ----------------------------------------------------------------


@pytest.mark.parametrize("experiment, generated, cat, total", [
    ("deep_cat", [], True, "20.3 TB"),  # W1 alone is 1e8 x 12288 float64 = 9.8 TB, its gradient as much
    ("deep_planar", ["planar"], False, "1.3 TB"),  # activations: 1e8 units x 400 examples, several times
])
def test_a_layer_too_large_for_memory_is_refused_before_allocating(experiment, generated, cat, total, tmp_path):
    root = make_root(tmp_path, *generated, cat=cat)
    start = time.monotonic()
    proc = train(root, f"experiment={experiment}", "model.hidden=[100000000]", timeout=120)
    took = time.monotonic() - start
    line = one_error_line(proc, f"not enough memory: this run needs about {total} (parameters ",
                          "gradients ", "optimizer state 0 B", "activations ", "available (",
                          "use smaller layers (model.hidden)")
    assert "MemoryError" not in proc.stderr and took < 60, (took, line)
    assert runs(root) == []  # refused before any MLflow run was opened


def test_the_memory_estimate_adds_up_by_hand():
    # [12288, 20, 7, 5, 1]: 245,973 parameters; per example the outputs 20+20+7+7+5+5+1 = 65 plus two
    # gradient arrays of the widest (20): 105 floats
    plan = memory.dense_plan([12288, 20, 7, 5, 1])
    assert [p.describe for p in plan] == ["dense 20", "activation", "dense 7", "activation", "dense 5",
                                          "activation", "dense 1"]
    need = memory.estimate(plan, examples=209, dtype="float64", optimizer="adam")
    assert (need.parameters, need.gradients, need.optimizer_state) == (245973 * 8, 245973 * 8, 2 * 245973 * 8)
    assert need.activations == 105 * 209 * 8 and need.conv_buffers == 0
    assert need.total == 4 * 245973 * 8 + 105 * 209 * 8
    assert memory.estimate(plan, examples=209, dtype="float32", optimizer="gd").total == 2 * 245973 * 4 + 105 * 209 * 4
    assert set(memory.OPTIMIZER_SLOTS) == set(OPTIMIZERS)  # a new optimizer needs its state counted


def test_the_estimate_of_a_conv_net_counts_its_padded_input_and_its_gradient():
    net = from_specs((64, 64, 3), [{"type": "conv2d", "filters": 8, "f": 4, "padding": "same"}, "relu",
                                   {"type": "maxpool2d", "f": 8}, "flatten", {"type": "dense", "units": 1}],
                     rng=0)
    plan = memory.network_plan(net)
    assert [p.output for p in plan] == [(64, 64, 8), (64, 64, 8), (8, 8, 8), (512,), (1,)]
    # "same" for f=4, s=1 pads 1 before and 2 after: (64 + 3) x (64 + 3) x 3, twice
    assert plan[0].buffers == 2 * 67 * 67 * 3 and plan[0].n_parameters == 4 * 4 * 3 * 8 + 8
    assert sum(p.buffers for p in plan) == plan[0].buffers


def test_available_memory_is_read_from_the_machine():
    room = memory.available()
    assert room is not None
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert 0 < room[0] <= int(meminfo["MemTotal"].split()[0]) * 1024
    assert room[1] == "MemAvailable in /proc/meminfo" or room[1].startswith("the cgroup limit ")


# --- names and roots: validated before Hydra writes anything -------------------------------------


@pytest.mark.parametrize("name", [".", "..", ".hidden", "../../etc", "a/b"])
def test_a_name_that_leaves_its_folder_is_refused_before_anything_is_written(name, tmp_path):
    root = make_root(tmp_path / "a" / "root", "planar")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    proc = train(root, "experiment=shallow_planar", f"name='{name}'")
    one_error_line(proc, f"config key name = '{name}'", "not starting with '.'")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before  # no outputs/, no etc/


@pytest.mark.parametrize("how", ["env", "override", "sweep"])
def test_a_missing_root_is_refused_and_not_created(how, tmp_path):
    missing = tmp_path / "nonexistent"
    cmd = [sys.executable, "-m", "scratchnet.train", *(["-m", "optimizer.lr=0.1,0.2"] if how == "sweep" else []),
           "experiment=deep_cat"]
    if how == "override":
        cmd.append(f"paths.root={missing}")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=env(**({} if how == "override" else {"SCRATCHNET_ROOT": str(missing)})))
    fragments = (f"config key paths.root = '{missing}'", "expected an existing folder")
    if how == "sweep":  # the sweep checks it before it creates the MLflow store there
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1].startswith("scratchnet sweep: error: " + fragments[0])
    else:
        one_error_line(proc, *fragments)
    assert not missing.exists() and sorted(p.name for p in tmp_path.iterdir()) == []


# --- dropout without hidden layers ---------------------------------------------------------------


@pytest.mark.parametrize("overrides", [["experiment=logistic_cat"], ["experiment=deep_cat", "model.hidden=[]"]])
def test_keep_prob_without_hidden_layers_is_refused(overrides, tmp_path):
    root = make_root(tmp_path, cat=True)
    proc = train(root, *overrides, "model.keep_prob=0.5")
    one_error_line(proc, "config key model.keep_prob = 0.5: expected 1.0 for a model without hidden layers")
    assert runs(root) == []


def test_keep_prob_with_a_hidden_layer_still_trains(tmp_path):
    root = make_root(tmp_path, "planar")
    proc = train(root, "experiment=shallow_planar", "model.keep_prob=0.8", "train.epochs=20", "tracking=none")
    assert proc.returncode == 0, proc.stderr
