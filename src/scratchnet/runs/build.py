"""From a config to the NumPy core's objects: the network, the optimizer, the lr schedule, the fit.

This is the one place that knows the core's call signatures: config names (train.epochs,
train.first_layer, model.*) map onto the core's arguments here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from omegaconf import DictConfig

from scratchnet.config import ConfigError, optimizer_kwargs
from scratchnet.data import Dataset
from scratchnet.nn import Network, dense_stack, fit, make_optimizer, make_schedule


class Fitted(NamedTuple):
    """What a fit left, in the config's words."""

    costs: list[tuple[int, float]]  # (epoch, cost) at every recorded epoch
    epochs: int
    first_layer: str  # the first-layer formulation that ran: plain | row_space
    seconds: float


def build_network(cfg: DictConfig, ds: Dataset, rng: np.random.RandomState) -> Network:
    """layer_dims = [n_x, *model.hidden, n_out]: n_x from the data, n_out 1 (sigmoid) or n_classes (softmax)."""
    model = cfg.model
    n_classes = len(ds.classes)
    if model.output_activation == "sigmoid" and n_classes > 2:
        raise ConfigError("model.output_activation", "sigmoid",
                          f"softmax for the {ds.name} set's {n_classes} classes (a sigmoid output has 2)")
    n_out = 1 if model.output_activation == "sigmoid" else n_classes
    layer_dims = [ds.n_features, *model.hidden, n_out]
    return dense_stack(layer_dims, str(model.hidden_activation), str(model.output_activation), str(model.initializer),
                       rng=rng, dtype=str(cfg.dtype), keep_prob=model.keep_prob)


def build_optimizer(optimizer_cfg: DictConfig):
    """The optimizer optimizer.name names, with its non-null hyperparameters."""
    return make_optimizer(str(optimizer_cfg.name), **optimizer_kwargs(optimizer_cfg))


def build_schedule(train_cfg: DictConfig):
    """The per-epoch lr schedule train.lr_schedule names, or None for a constant lr."""
    if train_cfg.lr_schedule == "constant":
        return None
    kwargs = {"decay_rate": train_cfg.decay_rate}
    if train_cfg.lr_schedule == "step":
        kwargs["interval"] = train_cfg.decay_interval
    return make_schedule(str(train_cfg.lr_schedule), **kwargs)


def fit_network(cfg: DictConfig, network: Network, ds: Dataset, rng: np.random.RandomState,
                on_record: Callable[[int, float], None] | None = None) -> Fitted:
    """Train `network` on the training split as cfg.train and cfg.optimizer say."""
    train = cfg.train
    result = fit(network, ds.X_train, ds.Y_train, optimizer=build_optimizer(cfg.optimizer), epochs=train.epochs,
                 record_every=train.record_every, batch_size=train.batch_size, lambd=train.lambd, rng=rng,
                 first_layer=str(train.first_layer), on_record=on_record, schedule=build_schedule(train),
                 course_compat=train.course_compat, divergence_factor=train.divergence_factor)
    return Fitted(result.costs, result.epochs, result.first_layer, result.seconds)
