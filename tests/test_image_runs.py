"""Conv, residual and dense image runs through the real entry point, shrunk to a few epochs: the outputs,
the per-epoch accuracies (accuracy.csv, MLflow step = epoch, the progress line), the model file's class
names, and scratchnet-predict on an image of the SIGNS export printing a class name."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from scratchnet.data import load_data
from scratchnet.models import read_model
from scratchnet.paths import CONF_DIR
from scratchnet.runs.build import inputs
from scratchnet.runs.train import train

REPO = Path(__file__).resolve().parents[1]
SIGNS_EXPORT_TEST = REPO / "data" / "raw" / "signs" / "64x64_SIGNS" / "test_signs"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return subprocess.run([sys.executable, "-m", "scratchnet.train", f"paths.root={root}", *args],
                          capture_output=True, text=True, env=env, cwd=root, timeout=600)


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def check_outputs(out: Path, root: Path, cfg_overrides: list[str]) -> tuple[dict, list[dict]]:
    """metrics.json against the saved model re-evaluated on the data; accuracy.csv's last row = metrics."""
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"paths.root={root}", *cfg_overrides])
    ds = load_data(cfg.data, root)
    model = read_model(out / "model.npz")
    assert model.classes == ds.classes and model.image_shape == ds.image_shape
    net = model.network
    metrics = json.loads((out / "metrics.json").read_text())
    X_train, X_test = inputs(net, ds, "train"), inputs(net, ds, "test")
    assert metrics["train"]["accuracy"] == net.accuracy(X_train, ds.Y_train)
    assert metrics["test"]["accuracy"] == net.accuracy(X_test, ds.Y_test)
    assert metrics["n_parameters"] == net.n_parameters and metrics["epochs"] == cfg.train.epochs
    history = rows(out / "accuracy.csv")
    assert [int(r["epoch"]) for r in history] == list(range(cfg.train.epochs))
    assert float(history[-1]["train_accuracy"]) == metrics["train"]["accuracy"]  # the model after the last epoch
    assert float(history[-1]["test_accuracy"]) == metrics["test"]["accuracy"]
    assert (out / "cost.csv").read_text().splitlines()[0] == "epoch,cost"  # unchanged: accuracies live apart
    return metrics, history


def test_conv_signs_through_the_cli_with_a_local_store_then_predict_prints_a_sign(tmp_path):
    signs = REPO / "data" / "raw" / "signs"
    overrides = ["experiment=conv_signs", f"data.path={signs}", "train.epochs=3"]
    proc = cli(tmp_path, *overrides, f"hydra.run.dir={tmp_path / 'hydra'}")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "experiments" / "conv_signs"
    metrics, history = check_outputs(out, tmp_path, overrides)
    assert metrics["layers"] == ("conv 4x4x8 same, maxpool 8x8, relu, conv 2x2x16 same, maxpool 4x4, relu, flatten, "
                                 "dense 6, softmax")  # the relu/max-pool swap, as the model file holds it
    assert metrics["n_parameters"] == 1286 and metrics["first_layer"] == "plain"
    # the progress line of every epoch, with both accuracies, in Hydra's log
    log = (tmp_path / "hydra" / "train.log").read_text()
    for row in history:
        epoch = int(row["epoch"])
        assert (f"conv_signs  epoch {epoch}/3  cost " in log and
                f"train {float(row['train_accuracy']):.4f}  test {float(row['test_accuracy']):.4f}" in log)

    # the MLflow run: per-epoch train/cost, train/accuracy and test/accuracy at step = epoch
    from mlflow import MlflowClient

    run_id = json.loads((out / "run.json").read_text())["run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    for key, column in (("train/accuracy", "train_accuracy"), ("test/accuracy", "test_accuracy")):
        logged = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert logged == [*((int(r["epoch"]), float(r[column])) for r in history),
                          (3, metrics[key.split("/")[0]]["accuracy"])]
    costs = sorted(m.step for m in client.get_metric_history(run_id, "train/cost"))
    assert costs == [0, 1, 2, 3]
    assert client.get_run(run_id).data.tags["model_family"] == "conv"

    # predict on a photo of the export: the model file names the class
    photo = sorted(SIGNS_EXPORT_TEST.glob("*.jpg"))[0]
    predicted = subprocess.run([Path(sys.executable).parent / "scratchnet-predict", photo, "--model",
                                out / "model.npz"], capture_output=True, text=True, timeout=60)
    assert predicted.returncode == 0, predicted.stderr
    from scratchnet.cli.predict import load_classifier, predict_image

    expected = predict_image(load_classifier(out / "model.npz"), photo)
    assert expected.label in tuple("012345")
    assert predicted.stdout == f"{photo}: {expected.label} (p={expected.probability:.2f})\n"


def test_conv_signs_with_tracking_none_writes_no_store(tmp_path):
    overrides = ["experiment=conv_signs", f"data.path={REPO / 'data' / 'raw' / 'signs'}", "train.epochs=1",
                 "tracking=none"]
    proc = cli(tmp_path, *overrides)
    assert proc.returncode == 0, proc.stderr
    check_outputs(tmp_path / "experiments" / "conv_signs", tmp_path, overrides)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlartifacts").exists()
    assert proc.stdout.startswith("conv_signs: train accuracy ")


@pytest.mark.parametrize("experiment, epochs", [("resnet_cat", 2), ("dense_signs", 3)])
def test_resnet_cat_and_dense_signs_train_and_record_their_accuracies(experiment, epochs, tmp_path, data_root):
    data = {"resnet_cat": data_root / "cat", "dense_signs": data_root / "signs"}[experiment]
    overrides = [f"experiment={experiment}", f"data.path={data}", f"train.epochs={epochs}", "train.record_every=1",
                 "tracking=none"]
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"paths.root={tmp_path}", *overrides])
    result = train(cfg, overrides=overrides)
    out = tmp_path / "experiments" / experiment
    metrics, history = check_outputs(out, tmp_path, overrides)
    assert result["train"] == metrics["train"]
    net = read_model(out / "model.npz").network
    if experiment == "resnet_cat":  # float32, sigmoid, the BatchNorm buffers saved and reloaded
        assert net.dtype == np.float32 and net.output == "sigmoid" and "layers" in metrics
        assert read_model(out / "model.npz").classes == ("non-cat", "cat")
    else:  # a dense stack keeps metrics.json's keys as the course runs have them
        assert net.layer_dims == [12288, 25, 12, 6] and "layers" not in metrics
    assert len(history) == epochs
