"""`validate(cfg)`: what the schema's types cannot say, checked before any data is read.

Ranges (lr > 0, sizes >= 1, probabilities), a model family's depth, the hyperparameters an
optimizer or a generator takes, the run's name and root, and the keys Hydra's `+key=value` adds
even to a typed config. Each failure raises ConfigError naming the key, the value and what is
allowed. The name and the root are also checked while Hydra builds its own run folder from them
(the ${scratchnet_checked_root:} and ${scratchnet_checked_name:} resolvers), before it writes anything.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf

from scratchnet.config.images import data_problem, model_problem
from scratchnet.config.schema import Config, optimizer_kwargs
from scratchnet.data import GENERATORS
from scratchnet.nn import OPTIMIZERS

# the name becomes a folder: no slashes or spaces, and no leading dot (".", "..", hidden folders,
# and the staging folders .<name>.*.tmp beside the outputs)
NAME_PATTERN = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")
# a model family's number of hidden layers (deep takes any: the depth sweep runs 0 to 4 on one group)
DEPTHS = {"logistic": (0, "no hidden layer (model.hidden=[])"), "shallow": (1, "exactly one hidden layer")}


class ConfigError(ValueError):
    """A config value out of range or not among the allowed names."""

    def __init__(self, key: str, value: Any, expected: str):
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"config key {key} = {_show(value)}: expected {expected}")


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(str(value)) if isinstance(value, str) else str(value)


class StartRefused(BaseException):
    """A bad name or root met while Hydra sets up its run folder, before anything is written.

    Hydra turns an Exception raised there into a traceback and exit 1 (run_and_report in
    hydra._internal.utils); a BaseException passes through it, as Ctrl-C does, to the entry point
    (scratchnet.cli.train.main), which prints the one line and exits 2.
    """


def check_name(name: Any) -> str:
    """`name` if it can name a folder of its own; else ConfigError."""
    if not NAME_PATTERN.fullmatch(str(name)):
        raise ConfigError("name", name, "letters, digits and _ . + - only, not starting with '.' (it names a folder)")
    return str(name)


def check_root(root: Any) -> str:
    """`root` if it is an existing folder; else ConfigError (nothing is created there)."""
    if not str(root) or not os.path.isdir(str(root)):
        raise ConfigError("paths.root", root, "an existing folder: the checkout, or $SCRATCHNET_ROOT")
    return str(root)


def _refusing(check):
    def resolver(value: Any) -> str:
        try:
            return check(value)
        except ConfigError as error:
            raise StartRefused(str(error)) from None
    return resolver


def _at_least(key: str, value: Any, low: float, strict: bool = False) -> None:
    bad = not isinstance(value, (int, float)) or math.isnan(value) or (value <= low if strict else value < low)
    if bad:
        raise ConfigError(key, value, f"a number {'>' if strict else '>='} {low:g}")


def _no_unknown_keys(node: DictConfig, schema: type, prefix: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in node:
        if key not in fields:
            raise ConfigError(prefix + str(key), node[key], "a known key, one of " + ", ".join(fields))
        if dataclasses.is_dataclass(sub := typing.get_type_hints(schema)[key]):
            _no_unknown_keys(node[key], sub, f"{prefix}{key}.")


def validate(cfg: DictConfig) -> None:
    """Check every range in a composed config; raise ConfigError on the first bad one.

    Reads no data: it runs before the loaders, so a typo costs nothing.
    """
    _no_unknown_keys(cfg, Config, "")  # Hydra's `+key=value` adds keys even to a typed config
    check_name(cfg.name)
    check_root(cfg.paths.root)
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError("seed", cfg.seed, "an integer in [0, 2**32) (a NumPy RandomState seed)")
    _validate_train(cfg.train)
    _validate_model(cfg.model)
    _validate_optimizer(cfg.optimizer)
    _validate_data(cfg.data)
    for problem in (model_problem(cfg), data_problem(cfg.data) if cfg.data.kind in ("signs", "images") else None):
        if problem is not None:  # model.layers, image data options (scratchnet.config.images)
            raise ConfigError(*problem)
    tracking = cfg.tracking
    if tracking.kind == "local" and not tracking.db:
        raise ConfigError("tracking.db", tracking.db, "the SQLite file of the local store (${paths.root}/mlflow.db)")
    if tracking.kind == "server" and not tracking.uri:
        raise ConfigError("tracking.uri", tracking.uri, "the server's URI (e.g. http://127.0.0.1:5000)")


def _validate_train(train: DictConfig) -> None:
    _at_least("train.epochs", train.epochs, 1)
    _at_least("train.record_every", train.record_every, 1)
    _at_least("train.lambd", train.lambd, 0)
    if train.batch_size is not None:
        _at_least("train.batch_size", train.batch_size, 1)
    _at_least("train.decay_rate", train.decay_rate, 0, strict=True)
    _at_least("train.decay_interval", train.decay_interval, 1)
    factor = train.divergence_factor
    if factor is not None and not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
        raise ConfigError("train.divergence_factor", factor,
                          "a finite number > 1 (a cost above factor x max(starting cost, 1) is divergence), "
                          "or null for NaN/inf only")
    _at_least("train.blas_threads", train.blas_threads, 1)


def _validate_model(model: DictConfig) -> None:
    hidden = list(model.hidden)
    for i, n in enumerate(hidden):
        if n < 1:
            raise ConfigError("model.hidden", hidden,
                              f"hidden layer sizes >= 1 (size {i} is {n}); [] for logistic regression")
    if model.family in DEPTHS and len(hidden) != DEPTHS[model.family][0]:
        raise ConfigError("model.hidden", hidden, f"{DEPTHS[model.family][1]} for model.family "
                                                  f"{model.family} (model=deep takes any number)")
    if not 0 < model.keep_prob <= 1:
        raise ConfigError("model.keep_prob", model.keep_prob, "a probability in (0, 1]; 1.0 turns dropout off")
    if not hidden and model.keep_prob != 1:  # dropout acts on hidden layers: it would do nothing
        raise ConfigError("model.keep_prob", model.keep_prob,
                          "1.0 for a model without hidden layers (dropout drops hidden units; there are none)")


def _validate_optimizer(optimizer: DictConfig) -> None:
    lr = optimizer.lr
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError("optimizer.lr", lr, "a finite number > 0")
    accepted = tuple(inspect.signature(OPTIMIZERS[optimizer.name]).parameters)
    for key, value in optimizer_kwargs(optimizer).items():
        if key not in accepted:
            raise ConfigError(f"optimizer.{key}", value,
                              f"null for optimizer {optimizer.name}, which takes {', '.join(accepted)}")
        if key.startswith("beta") and not 0 <= value < 1:
            raise ConfigError(f"optimizer.{key}", value, "a decay rate in [0, 1)")
        if key == "epsilon" and not value > 0:
            raise ConfigError(f"optimizer.{key}", value, "a number > 0")


def _validate_data(data: DictConfig) -> None:
    if data.kind == "generated":
        if data.name not in GENERATORS:
            raise ConfigError("data.name", data.name, "one of " + ", ".join(GENERATORS))
        accepted = tuple(inspect.signature(GENERATORS[data.name]).parameters)
        for key, value in data.params.items():
            if key not in accepted:
                raise ConfigError(f"data.params.{key}", value,
                                  f"a parameter of the {data.name} generator, one of {', '.join(accepted)}")
    elif data.params and data.kind not in ("signs", "images"):
        raise ConfigError("data.params", dict(data.params), f"no params for the {data.kind} set (files, not generated)")


for _name, _check in (("scratchnet_checked_root", check_root), ("scratchnet_checked_name", check_name)):
    if not OmegaConf.has_resolver(_name):
        OmegaConf.register_new_resolver(_name, _refusing(_check))
