"""The seed runner: every experiment of a seed study trained once per seed, in one process.

A study (conf/seeds.yaml, one top-level key each) names experiment configs, a number of seeds N and
overrides for all its runs. Run (experiment, seed) is the config `python -m scratchnet.train
experiment=<name> seed=<s> <overrides>` would train, s = 0 .. N-1; a seed changes everything random
in training (initial weights, mini-batch order, dropout masks: one RandomState(seed) draws them),
never the data. A run here writes no folder and no MLflow run of its own: it keeps its metrics and
its predicted label for every example of the compared split (test, or train for a set without a
test split). `run_study(study)` returns them all; scratchnet.stages.seeds writes and compares them.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass

import numpy as np
from omegaconf import DictConfig, OmegaConf

from scratchnet.config import validate
from scratchnet.config.seeds import SeedStudy
from scratchnet.data import Dataset, load_data
from scratchnet.runs.batch import compose, default_jobs, run_all
from scratchnet.runs.build import build_network, fit_network, inputs
from scratchnet.runs.threads import pinned_blas
from scratchnet.runs.train import evaluate


@dataclass
class SeedRun:
    """One (experiment, seed): metrics.json's numbers and the predicted label of every example."""

    experiment: str
    seed: int
    metrics: dict  # train.accuracy, train.cost, test.accuracy, epochs (as metrics.json)
    split: str  # test, or train when the set has none
    predictions: np.ndarray  # (m,) predicted labels on `split`
    labels: np.ndarray  # (m,) true labels on `split`
    fit_seconds: float = 0.0
    data: str = ""  # the data set's name
    first_cost: float | None = None  # the cost recorded at epoch 0 (cost.csv's first row), if recorded


def _data_key(cfg: DictConfig) -> str:
    return json.dumps(OmegaConf.to_container(cfg.data, resolve=True), sort_keys=True)


@functools.lru_cache(maxsize=8)
def _data(data_json: str, root: str) -> Dataset:
    """Load a data set once per process (a study trains on it N times per experiment)."""
    return load_data(OmegaConf.create(json.loads(data_json)), root)


@functools.lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    return compose(list(overrides))


def seed_config(overrides: tuple[str, ...], seed: int) -> DictConfig:
    """The config of `<overrides> seed=<seed>`: composed once per experiment (Hydra's compose costs
    ~0.2 s, more than a cat run's training), the seed set on a copy (no config value derives from it)."""
    cfg = copy.deepcopy(_composed(tuple(overrides)))
    cfg.seed = seed
    return cfg


def train_seed(run: tuple[tuple[str, ...], int]) -> SeedRun:
    """Validate, train and evaluate one (overrides, seed) of a study; nothing written."""
    return _train(seed_config(*run))


@pinned_blas  # as train(): cfg.train.blas_threads BLAS threads (another count may sum in another order)
def _train(cfg: DictConfig) -> SeedRun:
    validate(cfg)
    ds = _data(_data_key(cfg), str(cfg.paths.root))
    rng = np.random.RandomState(cfg.seed)  # as train(): the weights first, then masks and batches
    network = build_network(cfg, ds, rng)
    X_train, X_test = inputs(network, ds, "train"), inputs(network, ds, "test")  # images for image nets
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is fit's to report
        fitted = fit_network(cfg, network, X_train, ds.Y_train, rng)  # no per-epoch accuracy: nothing written
    metrics = evaluate(network, ds, cfg.train.lambd, X_train, X_test) | {"epochs": fitted.epochs}
    split = "train" if X_test is None else "test"
    labels = ds.Y_train if split == "train" else ds.Y_test
    predictions = network.predict(X_train if split == "train" else X_test)
    first = fitted.costs[0] if fitted.costs and fitted.costs[0][0] == 0 else None
    return SeedRun(cfg.name, int(cfg.seed), metrics, split, predictions.ravel().astype(np.int64),
                   np.asarray(labels).ravel().astype(np.int64), fitted.seconds, ds.name,
                   None if first is None else float(first[1]))


def run_study(study: SeedStudy, jobs: int | None = None) -> list[SeedRun]:
    """Every run of the study, in order (experiment by experiment, seed by seed)."""
    runs = study.runs()
    jobs = jobs or study.jobs or default_jobs(len(runs))
    if jobs > 1:  # compose each experiment and load its data here, once: the forked workers inherit both
        for overrides in dict.fromkeys(overrides for overrides, _ in runs):
            cfg = _composed(overrides)
            _data(_data_key(cfg), str(cfg.paths.root))
    return run_all(train_seed, runs, jobs)
