"""One training run: `train(cfg)` validates, loads the data, trains, evaluates, writes and records.

`train(cfg)` is pure: a composed config in, the results out, with the run's outputs written to
cfg.output_dir as one set (a staging folder swapped in only after everything succeeded) and the
run recorded by scratchnet.tracking. The Hydra entry point around it is scratchnet.cli.train.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from scratchnet import tracking
from scratchnet.config import validate
from scratchnet.config.images import SPEC_FAMILIES
from scratchnet.config.overrides import keys, without_plumbing
from scratchnet.data import Dataset, data_path, load_data
from scratchnet.files import write_json
from scratchnet.nn import Network
from scratchnet.paths import under_root
from scratchnet.runs.build import build_network, fit_network, inputs
from scratchnet.runs.history import History
from scratchnet.runs.memory import check_memory
from scratchnet.runs.multirun import job_context
from scratchnet.runs.outputs import check_output_dir, staged, write_outputs
from scratchnet.runs.progress import Progress
from scratchnet.runs.threads import pinned_blas

log = logging.getLogger(__name__)


def run_name(name: str, overrides: list[str]) -> str:
    """The config's name plus the overrides that change what is trained: 'deep_cat optimizer.lr=0.01'."""
    # experiment= is what `name` already says; the plumbing keys say where things go, not what is trained
    kept = without_plumbing(overrides)
    return " ".join([name, *(o for o, key in zip(kept, keys(kept), strict=True) if key != "experiment")])


def hydra_overrides() -> list[str]:
    """The command line's overrides when running under Hydra's main, else []."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def evaluate(network: Network, ds: Dataset, lambd: float, X_train: np.ndarray, X_test: np.ndarray | None) -> dict:
    """Accuracies (fractions) and the trained model's cost on the training set (the train cost);
    X_train / X_test are the splits as the network takes them (build.inputs)."""
    network.forward(X_train)
    cost = float(network.cost(network.targets(ds.Y_train), lambd))  # after the last update
    test = None if X_test is None else network.accuracy(X_test, ds.Y_test)
    return {"train": {"accuracy": network.accuracy(X_train, ds.Y_train), "cost": cost},
            "test": {"accuracy": test}}


@pinned_blas
def train(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """Validate, load the data, train, evaluate, write the outputs and record the run; return the metrics.

    `overrides` (default: Hydra's command-line overrides) name the MLflow run and its
    hydra_overrides tag. Returns metrics.json's content plus fit_seconds, output_dir and run (the
    run.json ids).
    """
    validate(cfg)  # before any data is read
    overrides = hydra_overrides() if overrides is None else list(overrides)
    root = Path(cfg.paths.root)
    output_dir = under_root(cfg.output_dir, root)
    ds = load_data(cfg.data, root)
    keep = (under_root(cfg.paths.data, root), data_path(cfg.data, root))  # an output folder never holds the data
    check_output_dir(output_dir, root, keep)  # not a folder a run did not write; writable
    check_memory(cfg, ds)  # before the weights are drawn
    rng = np.random.RandomState(cfg.seed)  # the run's one generator: weights, then dropout / batches
    network = build_network(cfg, ds, rng)
    tags = {"model_family": str(cfg.model.family), "config_name": cfg.name,
            "hydra_overrides": " ".join(overrides), "dataset": ds.name}
    log.info("%s: %s, layers %s, %d epochs, output %s", cfg.name, ds.name, network.describe(),
             cfg.train.epochs, output_dir)

    parent_run_id, sweep_tags = job_context(cfg.tracking)  # a multirun job: child of the sweep's run
    with tracking.open_run(cfg.tracking, mlflow_experiment=ds.name, run_name=run_name(cfg.name, overrides),
                           params=OmegaConf.to_container(cfg, resolve=True), tags=tags | sweep_tags,
                           parent_run_id=parent_run_id) as run:  # provenance: this code's checkout
        run.log_dataset(ds, context="training", source=data_path(cfg.data, root))
        # a diverging run overflows before its cost turns NaN: fit raises DivergenceError for it,
        # so NumPy's RuntimeWarnings would only repeat that message as noise
        X_train, X_test = inputs(network, ds, "train"), inputs(network, ds, "test")  # images for image nets
        with Progress(cfg.train.epochs, label=cfg.name) as progress, np.errstate(over="ignore", invalid="ignore"):
            history = History(network, progress, cfg.train.record_accuracy, X_train, ds.Y_train, X_test, ds.Y_test)
            fitted = fit_network(cfg, network, X_train, ds.Y_train, rng, on_record=history)
        metrics = evaluate(network, ds, cfg.train.lambd, X_train, X_test) | {
            "epochs": fitted.epochs, "first_layer": fitted.first_layer, "n_parameters": network.n_parameters}
        if cfg.model.family in SPEC_FAMILIES:  # a dense run's layer_dims are in its config already
            metrics["layers"] = network.describe()
        run_ids = {"run_id": run.run_id, "experiment_id": run.experiment_id, "tracking_uri": run.tracking_uri}
        with staged(output_dir, root, keep) as staging:
            write_outputs(staging, cfg, network, ds, fitted.costs, metrics, fitted.seconds)
            history.write(staging)
            write_json(staging / "run.json", run_ids)
            _record(run, staging, fitted, metrics, history)
    log.info("%s: train accuracy %.4f, test accuracy %s, train cost %.6f, %.1f s -> %s", cfg.name,
             metrics["train"]["accuracy"], metrics["test"]["accuracy"], metrics["train"]["cost"],
             fitted.seconds, output_dir)
    return metrics | {"fit_seconds": fitted.seconds, "output_dir": str(output_dir), "run": run_ids}


def _record(run: tracking.RunLog, staging: Path, fitted, metrics: dict, history: History) -> None:
    """The costs (and accuracies) per recorded epoch, the final metrics, the output folder and the
    model into the MLflow run."""
    start = time.perf_counter()
    run.log_costs(fitted.costs)
    for split in ("train", "test"):  # empty unless train.record_accuracy
        if series := history.series(split):
            run.log_costs(series, key=f"{split}/accuracy")
    # the trained model's cost closes the train/cost history at step = epochs
    run.log_metrics({"train/cost": metrics["train"]["cost"]}, step=fitted.epochs)
    run.log_metrics({"train/accuracy": metrics["train"]["accuracy"], "test/accuracy": metrics["test"]["accuracy"],
                     "fit_seconds": fitted.seconds}, step=fitted.epochs)
    run.log_artifacts(staging)
    run.log_model(staging / "model.npz")
    log.debug("tracking: logged the results in %.2f s", time.perf_counter() - start)
