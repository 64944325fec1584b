"""The training entry point run for real into tmp_path, with an MLflow SQLite store there, read back."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from scratchnet import tracking
from scratchnet.config import ConfigError
from scratchnet.data import GENERATORS, DataError, load_cat, load_data, save_dataset
from scratchnet.models import load_model
from scratchnet.paths import CONF_DIR
from scratchnet.reports import plots
from scratchnet.runs import train as train_module
from scratchnet.runs.outputs import OutputError, portable_config, reroot, staged
from scratchnet.runs.progress import Progress
from scratchnet.runs.train import train

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """A developer's MLFLOW_TRACKING_URI or SCRATCHNET_ROOT must not redirect these runs."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SCRATCHNET_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def make_cfg(root: Path, *overrides: str):
    """The real conf/ with outputs, data and the MLflow store under `root`."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=[f"paths.root={root}", *overrides])


def cat_overrides(data_root: Path) -> list[str]:
    return [f"data.path={data_root / 'cat'}"]


def write_generated(root: Path, name: str = "planar") -> Path:
    """What `dvc repro generate` writes, from the data config's own params."""
    cfg = make_cfg(root, f"data={name}")
    path = Path(cfg.data.path)
    save_dataset(GENERATORS[name](**cfg.data.params), path)
    return path


def recorded(epochs: int, every: int) -> list[int]:
    """The epochs fit records: every multiple of `every`, and the last."""
    steps = list(range(0, epochs, every))
    return steps if steps[-1] == epochs - 1 else [*steps, epochs - 1]


def client_for(root: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ---------------------------------------------------------------------------------------------------
# shrunk runs of each model family, every output checked, the MLflow run read back

SHRUNK = {  # experiment: (epochs, record_every, first_layer, n_parameters, family)
    "logistic_cat": (200, 50, "row_space", 12288 + 1, "logistic"),  # its cost rises for ~40 iterations first
    "shallow_planar": (300, 100, "plain", (2 * 4 + 4) + (4 + 1), "shallow"),
    "deep_cat": (30, 10, "row_space", 12288 * 20 + 20 + 20 * 7 + 7 + 7 * 5 + 5 + 5 + 1, "deep"),
}


@pytest.mark.parametrize("experiment", sorted(SHRUNK))
def test_shrunk_run_writes_every_output_and_records_it_in_mlflow(experiment, tmp_path, request):
    epochs, every, first_layer, n_parameters, family = SHRUNK[experiment]
    if experiment.endswith("_cat"):
        data = cat_overrides(request.getfixturevalue("data_root"))
    else:
        write_generated(tmp_path)
        data = []
    overrides = [f"experiment={experiment}", f"train.epochs={epochs}", f"train.record_every={every}"]
    cfg = make_cfg(tmp_path, *overrides, *data)
    result = train(cfg, overrides=overrides[1:])

    out = tmp_path / "experiments" / experiment
    assert result["output_dir"] == str(out)
    expected_files = {"metrics.json", "timing.json", "cost.csv", "model.npz", "config.yaml", "run.json",
                      "plots/cost.png"} | ({"plots/decision_boundary.png"} if experiment.endswith("planar") else set())
    assert set(snapshot(out)) == expected_files | {".scratchnet-run.json"}
    marker = json.loads((out / ".scratchnet-run.json").read_text())  # what a later run may replace
    assert (marker["written_by"], marker["format"], marker["files"]) == ("scratchnet", 1, sorted(expected_files))
    assert [p.name for p in out.parent.iterdir()] == [experiment]  # no staging folder left behind

    # metrics.json agrees with the saved model, re-evaluated from model.npz
    ds = load_data(cfg.data, tmp_path)
    network = load_model(out / "model.npz", n_features=ds.n_features)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train"]["accuracy"] == network.accuracy(ds.X_train, ds.Y_train)
    network.forward(ds.X_train)
    assert metrics["train"]["cost"] == network.cost(network.targets(ds.Y_train))
    if ds.X_test is None:
        assert metrics["test"] == {"accuracy": None}
    else:
        assert metrics["test"]["accuracy"] == network.accuracy(ds.X_test, ds.Y_test)
    assert (metrics["epochs"], metrics["first_layer"], metrics["n_parameters"]) == (epochs, first_layer, n_parameters)
    assert set(metrics) == {"train", "test", "epochs", "first_layer", "n_parameters"}
    assert network.layer_dims[1:-1] == list(cfg.model.hidden) and network.n_parameters == n_parameters
    fit_seconds = json.loads((out / "timing.json").read_text())["fit_seconds"]
    assert 0 < fit_seconds < 60

    # cost.csv: the recorded epochs; config.yaml: the composed, resolved config
    rows = (out / "cost.csv").read_text().splitlines()
    assert rows[0] == "epoch,cost"
    costs = [(int(i), float(c)) for i, c in (row.split(",") for row in rows[1:])]
    assert [i for i, _ in costs] == recorded(epochs, every)
    assert all(np.isfinite(c) for _, c in costs) and costs[-1][1] < costs[0][1]
    saved = OmegaConf.to_container(OmegaConf.load(out / "config.yaml"))
    assert saved == portable_config(cfg) and saved["paths"]["root"] == "."
    assert reroot(saved, ".", str(tmp_path)) == OmegaConf.to_container(cfg, resolve=True)  # the pair undoes itself
    assert saved["data"] == OmegaConf.to_container(cfg.data, resolve=True) | {"path": saved["data"]["path"]}
    assert all((out / p).read_bytes().startswith(PNG) for p in expected_files if p.endswith(".png"))

    # the MLflow run, read back from the SQLite store in tmp_path
    run_ids = json.loads((out / "run.json").read_text())
    assert run_ids == result["run"] and run_ids["tracking_uri"] == f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = client_for(tmp_path)
    run = client.get_run(run_ids["run_id"])
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == ds.name  # one MLflow experiment per data set
    assert run.info.experiment_id == run_ids["experiment_id"]

    params = run.data.params
    assert params == {k: str(v) if not isinstance(v, bool) else str(v).lower()
                      for k, v in tracking.flatten(OmegaConf.to_container(cfg, resolve=True)).items()}
    assert params["optimizer.lr"] == str(cfg.optimizer.lr) and params["train.epochs"] == str(epochs)
    assert params["model.family"] == family and params["tracking.parent_run_id"] == "null"
    assert params["model.hidden"] == json.dumps(list(cfg.model.hidden))

    history = sorted(client.get_metric_history(run.info.run_id, "train/cost"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in history] == [*costs, (epochs, metrics["train"]["cost"])]
    latest = run.data.metrics
    assert latest["train/accuracy"] == metrics["train"]["accuracy"]
    assert latest["train/cost"] == metrics["train"]["cost"]
    assert latest["fit_seconds"] == fit_seconds
    assert latest.get("test/accuracy") == metrics["test"]["accuracy"]  # absent (None) without a test split

    tags = run.data.tags
    assert tags["model_family"] == family and tags["config_name"] == experiment and "experiment" not in tags
    assert tags["hydra_overrides"] == " ".join(overrides[1:])
    assert tags["mlflow.runName"] == " ".join([experiment, *overrides[1:]])
    assert len(tags["git_commit"]) == 40 and tags["git_dirty"] in ("true", "false")

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == ds.name and dataset_input.dataset.digest == ds.digest()[:36]
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"

    def artifacts(path=None):
        for info in client.list_artifacts(run.info.run_id, path):
            yield from artifacts(info.path) if info.is_dir else [info.path]

    logged = set(artifacts())
    assert expected_files <= logged and {"model/model.npz", "pyfunc/MLmodel"} <= logged


# ---------------------------------------------------------------------------------------------------
# failures: a diverging run through the CLI, Ctrl-C, a failure while writing the outputs


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return subprocess.run([sys.executable, "-m", "scratchnet.train", f"paths.root={root}", *args],
                          capture_output=True, text=True, env=env, cwd=root, timeout=300)


def test_diverging_run_exits_2_with_one_line_is_failed_and_keeps_the_previous_outputs(tmp_path, data_root):
    short = ["experiment=logistic_cat", "train.epochs=20", *cat_overrides(data_root)]
    train(make_cfg(tmp_path, *short), overrides=[])
    out = tmp_path / "experiments" / "logistic_cat"
    before = snapshot(out)

    proc = cli(tmp_path, *short, "optimizer.lr=1e308")
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == ["scratchnet-train: error: training diverged: cost became nan at epoch 1 "
                      "(last finite cost 0.693147 at epoch 0); lower optimizer.lr"]
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr and proc.stdout == ""
    assert snapshot(out) == before
    assert [p.name for p in out.parent.iterdir()] == ["logistic_cat"]

    client = client_for(tmp_path)
    (experiment,) = [e for e in client.search_experiments() if e.name == "cat"]
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert [r.info.status for r in runs] == ["FAILED", "FINISHED"]
    assert "training diverged" in runs[0].data.tags["error"]
    assert runs[0].data.tags["hydra_overrides"].endswith("optimizer.lr=1e308")
    assert runs[1].info.run_id == json.loads((out / "run.json").read_text())["run_id"]  # still the good run


def test_cli_trains_prints_one_summary_line_and_keeps_hydras_log(tmp_path, data_root):
    proc = cli(tmp_path, "experiment=logistic_cat", "train.epochs=20", "tracking=none", *cat_overrides(data_root))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "experiments" / "logistic_cat"
    metrics = json.loads((out / "metrics.json").read_text())
    assert proc.stdout.startswith(f"logistic_cat: train accuracy {metrics['train']['accuracy']:.4f}, "
                                  f"test accuracy {metrics['test']['accuracy']:.4f}, ")
    assert proc.stdout.rstrip().endswith(f"-> {out}") and len(proc.stdout.splitlines()) == 1
    (log_file,) = (tmp_path / "outputs" / "logistic_cat").glob("*/train.log")
    lines = log_file.read_text().splitlines()
    costs = [line for line in lines if "[scratchnet.runs.progress][DEBUG]" in line]
    assert [line.split("epoch ")[1].split("/")[0] for line in costs] == ["0", "19"]  # record_every 100
    assert json.loads((out / "run.json").read_text()) == {"run_id": None, "experiment_id": None,
                                                          "tracking_uri": None}


@pytest.mark.parametrize("args, code, message", [
    (["experiment=nope"], 1, "Could not find 'experiment/nope'"),
    (["optimizer.lr=abc"], 1, "Value 'abc' of type 'str' could not be converted to Float"),
    (["model.initializer=glorot"], 1, "Invalid value 'glorot', expected one of [zeros, small_random, large_random, "
                                      "course_deep, he, xavier, glorot_uniform]"),
    (["model.keep_prob=0"], 2, "scratchnet-train: error: config key model.keep_prob = 0.0: expected a probability"),
    (["data=noisy_moons"], 2, "expected the generated noisy_moons set, found nothing; run `dvc repro generate`"),
])
def test_cli_rejects_bad_input_without_a_traceback(tmp_path, args, code, message):
    proc = cli(tmp_path, "tracking=none", *args)
    assert proc.returncode == code
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "experiments").exists()


def test_ctrl_c_ends_the_run_killed_and_keeps_the_previous_outputs(tmp_path, data_root, monkeypatch):
    short = ["experiment=deep_cat", "train.epochs=30", "train.record_every=10", *cat_overrides(data_root)]
    train(make_cfg(tmp_path, *short), overrides=[])
    out = tmp_path / "experiments" / "deep_cat"
    before = snapshot(out)

    class Interrupting(Progress):
        def __call__(self, iteration, cost):
            if iteration == 10:
                raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "Progress", Interrupting)
    with pytest.raises(KeyboardInterrupt):
        train(make_cfg(tmp_path, *short), overrides=["seed=3"])
    assert snapshot(out) == before and [p.name for p in out.parent.iterdir()] == ["deep_cat"]
    client = client_for(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("cat").experiment_id],
                              order_by=["attributes.start_time DESC"])
    assert [r.info.status for r in runs] == ["KILLED", "FINISHED"]


def test_a_failure_while_writing_outputs_keeps_the_previous_set_and_fails_the_run(tmp_path, data_root, monkeypatch):
    short = ["experiment=logistic_cat", "train.epochs=10", *cat_overrides(data_root)]
    train(make_cfg(tmp_path, *short), overrides=[])
    out = tmp_path / "experiments" / "logistic_cat"
    before = snapshot(out)

    def broken_plot(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "cost_curve", broken_plot)
    with pytest.raises(OutputError, match=f"cannot write the outputs to {out}: disk full"):
        train(make_cfg(tmp_path, *short, "train.epochs=15"), overrides=[])
    assert snapshot(out) == before and [p.name for p in out.parent.iterdir()] == ["logistic_cat"]
    client = client_for(tmp_path)
    runs = client.search_runs([client.get_experiment_by_name("cat").experiment_id],
                              order_by=["attributes.start_time DESC"])
    assert [r.info.status for r in runs] == ["FAILED", "FINISHED"]
    assert "disk full" in runs[0].data.tags["error"]


def test_staged_replaces_the_whole_set_only_on_success(tmp_path):
    out = tmp_path / "run"
    with staged(out) as staging:  # a previous run's set: two files and the marker listing them
        (staging / "old_only.txt").write_text("old")
        (staging / "metrics.json").write_text("old")
    before = snapshot(out)
    assert set(before) == {"old_only.txt", "metrics.json", ".scratchnet-run.json"}
    with pytest.raises(RuntimeError), staged(out) as staging:
        (staging / "metrics.json").write_text("new")
        raise RuntimeError("half-way")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    with staged(out) as staging:
        (staging / "metrics.json").write_text("new")
    assert {k: v for k, v in snapshot(out).items() if k != ".scratchnet-run.json"} == {"metrics.json": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the stale file from the old set is gone
    with staged(tmp_path / "fresh" / "run") as staging:
        (staging / "a").write_text("1")
    assert set(snapshot(tmp_path / "fresh")) == {"run/a", "run/.scratchnet-run.json"}


# ---------------------------------------------------------------------------------------------------
# data, network shape, progress, plots


def test_generated_data_is_read_from_the_dvc_file_and_missing_says_how_to_make_it(tmp_path):
    cfg = make_cfg(tmp_path, "data=noisy_moons")
    with pytest.raises(DataError, match=r"noisy_moons.h5: expected the generated noisy_moons set, found nothing; "
                                        r"run `dvc repro generate`"):
        load_data(cfg.data, tmp_path)
    path = write_generated(tmp_path, "noisy_moons")
    assert load_data(cfg.data, tmp_path).digest() == GENERATORS["noisy_moons"](**cfg.data.params).digest()
    save_dataset(GENERATORS["blobs"](), path)  # the wrong set under the right name
    with pytest.raises(DataError, match="expected the noisy_moons set, found the blobs set"):
        load_data(cfg.data, tmp_path)
    save_dataset(GENERATORS["noisy_moons"](**cfg.data.params), path)
    stale = make_cfg(tmp_path, "data=noisy_moons", "data.params.noise=0.05")  # params changed since the file
    with pytest.raises(DataError, match=r"noisy_moons.h5: expected the noisy_moons set drawn with data.params "
                                        r"\{'n_samples': 200, 'noise': 0.05, 'seed': 1\}, found a set drawn with "
                                        r"other params; set them in conf/data/noisy_moons.yaml and run `dvc repro"):
        load_data(stale.data, tmp_path)


def test_relative_data_paths_are_taken_from_the_root_not_the_cwd(tmp_path, monkeypatch):
    write_generated(tmp_path)
    monkeypatch.chdir(REPO)
    cfg = make_cfg(tmp_path, "data=planar", "data.path=data/generated/planar.h5")
    assert load_data(cfg.data, tmp_path).name == "planar"


def test_the_output_layer_follows_the_classes(tmp_path):
    write_generated(tmp_path, "blobs")
    cfg = make_cfg(tmp_path, "data=blobs", "tracking=none", "model.hidden=[5]", "train.epochs=5")
    with pytest.raises(ConfigError, match=r"config key model.output_activation = 'sigmoid': expected softmax "
                                          r"for the blobs set's 6 classes"):
        train(cfg, overrides=[])
    cfg = make_cfg(tmp_path, "data=blobs", "tracking=none", "model.hidden=[5]", "train.epochs=5",
                   "model.output_activation=softmax")
    train(cfg, overrides=[])
    assert load_model(tmp_path / "experiments" / "default" / "model.npz").layer_dims == [2, 5, 6]


def test_float32_and_seed_reach_the_network(tmp_path):
    write_generated(tmp_path)
    args = ["experiment=shallow_planar", "tracking=none", "train.epochs=3"]
    train(make_cfg(tmp_path, *args, "dtype=float32"), overrides=[])
    net = load_model(tmp_path / "experiments" / "shallow_planar" / "model.npz")
    assert net.dtype == np.float32
    weights = []
    for seed in (2, 2, 3):
        train(make_cfg(tmp_path, *args, f"seed={seed}"), overrides=[])
        weights.append(load_model(tmp_path / "experiments" / "shallow_planar" / "model.npz").layers[0].W)
    assert np.array_equal(weights[0], weights[1]) and not np.array_equal(weights[0], weights[2])


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_in_place_on_a_tty_and_logs_every_call(caplog):
    caplog.set_level(logging.DEBUG, logger="scratchnet.runs.progress")
    tty, pipe = FakeTTY(), io.StringIO()
    for stream in (tty, pipe):
        with Progress(2500, "deep_cat", stream) as progress:
            progress(0, 0.771749)
            progress(100, 0.672053)
    assert pipe.getvalue() == ""
    drawn = tty.getvalue()
    assert drawn.count("\r") == 2 and drawn.endswith("\n") and "\n" not in drawn[:-1]
    assert "deep_cat  epoch 100/2500  cost 0.672053" in drawn
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4 and messages[0].startswith("deep_cat  epoch 0/2500  cost 0.771749  ")


def test_decision_boundary_and_cost_curve_write_pngs(tmp_path):
    from scratchnet.nn import dense_stack

    ds = GENERATORS["planar"]()
    net = dense_stack([2, 4, 1], "tanh", initializer="small_random", rng=2)
    plots.decision_boundary(net, ds.X_train, ds.Y_train, tmp_path / "p" / "db.png", "planar")
    plots.cost_curve([(0, 0.7), (100, 0.5)], tmp_path / "p" / "cost.png", "costs")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["cost.png", "db.png"]
    assert all(p.read_bytes().startswith(PNG) for p in (tmp_path / "p").iterdir())
    fig = plots.figure()
    axes = fig.subplots(1, 2)
    plots.decision_boundary_ax(axes[0], net, ds.X_train, ds.Y_train, "a")
    plots.cost_curve_ax(axes[1], [(0, 0.7), (100, 0.5)], "b", label="lr 1.2")
    assert axes[0].get_title() == "a" and len(axes[1].lines) == 1
    with pytest.raises(ValueError, match="a decision boundary needs 2-D inputs; X has 3 features"):
        plots.decision_boundary_ax(axes[0], net, np.zeros((3, 5)), np.zeros((1, 5), dtype=np.int64))


def test_importing_the_entry_point_loads_no_heavy_library():
    code = ("import sys, scratchnet.train; "
            "print(sorted(m for m in ('mlflow', 'matplotlib', 'sklearn', 'scipy', 'h5py') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------------
# the course's 4-layer result through the entry point


@pytest.mark.slow
def test_deep_cat_with_the_course_settings_gives_the_course_accuracies(tmp_path, data_root):
    cfg = make_cfg(tmp_path, "experiment=deep_cat", "tracking=none", *cat_overrides(data_root))
    metrics = train(cfg, overrides=[])
    assert metrics["train"]["accuracy"] == 0.9856459330143541
    assert metrics["test"]["accuracy"] == 0.8
    costs = dict((int(i), float(c)) for i, c in (row.split(",") for row in
                 (tmp_path / "experiments" / "deep_cat" / "cost.csv").read_text().splitlines()[1:]))
    assert costs[0] == pytest.approx(0.771749, abs=1e-6) and costs[2400] == pytest.approx(0.092878, abs=1e-6)
    assert load_cat(data_root / "cat").digest() == load_data(cfg.data, tmp_path).digest()


def test_run_name_keeps_model_overrides_and_drops_plumbing():
    from scratchnet.runs.train import run_name

    overrides = ["experiment=deep_cat", "optimizer.lr=0.01", "paths.root=/tmp/x", "output_dir='/tmp/o p'",
                 "tracking=none", "tracking.db=/tmp/m.db", "hydra.run.dir=/tmp/h", "+model.keep_prob=0.9",
                 "name=x", "tracking.parent_run_id=abc", "model.hidden=[20,20]"]
    assert run_name("deep_cat", overrides) == "deep_cat optimizer.lr=0.01 +model.keep_prob=0.9 model.hidden=[20,20]"


def test_config_yaml_paths_are_relative_to_the_checkout():
    cfg = OmegaConf.create({"paths": {"root": "/repo", "data": "/repo/data"}, "output_dir": "/repo/experiments/x",
                            "data": {"path": "/repo/data/raw/cat"}, "elsewhere": "/other/file", "lr": 0.1,
                            "hidden": [20, 7]})
    assert portable_config(cfg) == {"paths": {"root": ".", "data": "./data"}, "output_dir": "./experiments/x",
                                    "data": {"path": "./data/raw/cat"}, "elsewhere": "/other/file", "lr": 0.1,
                                    "hidden": [20, 7]}
    assert reroot(portable_config(cfg), ".", "/elsewhere") == {  # what the exp stage does with params.yaml
        "paths": {"root": "/elsewhere", "data": "/elsewhere/data"}, "output_dir": "/elsewhere/experiments/x",
        "data": {"path": "/elsewhere/data/raw/cat"}, "elsewhere": "/other/file", "lr": 0.1, "hidden": [20, 7]}
    assert reroot({"a": "/repository/x", "b": "/repo"}, "/repo", ".") == {"a": "/repository/x", "b": "."}
