"""The typed training config: dataclasses Hydra checks at compose time, and `validate` for the ranges.

Hydra merges conf/config.yaml and its groups onto `Config` (registered as `scratchnet_schema`), so
an unknown key or a value of the wrong type fails while composing. `validate(cfg)` then checks
what a type cannot say (lr > 0, sizes >= 1, names in the core's tables) and raises ConfigError
naming the key, the value and what is allowed. Neither reads any data.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional  # noqa: UP035 - OmegaConf's dataclass support wants typing.Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from scratchnet.data import GENERATORS
from scratchnet.nn import INITIALIZERS, OPTIMIZERS, SCHEDULES
from scratchnet.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from scratchnet.nn.network import DTYPES
from scratchnet.nn.training import PATHS

# the repo root: src/scratchnet/config.py -> parents[2]; conf/ sits there (editable install)
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
CONF_DIR = PACKAGE_ROOT / "conf"
ROOT_ENV = "SCRATCHNET_ROOT"  # points data, outputs and the MLflow store at another checkout

DATA_KINDS = ("cat", "football", "generated")
TRACKING_KINDS = ("local", "server", "none")  # scratchnet.tracking.KINDS (not imported: it is heavier)
MODEL_FAMILIES = ("logistic", "shallow", "deep")  # by the number of hidden layers: 0, 1, 2+
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.+-]+")  # the name becomes a folder: no slashes or spaces


class ConfigError(ValueError):
    """A config value out of range or not among the allowed names."""

    def __init__(self, key: str, value: Any, expected: str):
        self.key, self.value, self.expected = key, value, expected
        super().__init__(f"config key {key} = {_show(value)}: expected {expected}")


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass
class DataConfig:
    name: str = MISSING  # cat, football, planar, noisy_circles, ... (also the MLflow experiment)
    kind: str = MISSING  # cat | football | generated
    path: str = MISSING  # cat: the folder of both .h5; football: data.mat; generated: the .h5
    params: dict[str, Any] = field(default_factory=dict)  # generated only: GENERATORS[name](**params)


@dataclass
class ModelConfig:
    hidden: list[int] = field(default_factory=list)  # hidden sizes only; n_x from the data, output 1
    hidden_activation: str = "relu"
    output_activation: str = "sigmoid"  # sigmoid: 1 output unit; softmax: one per class
    initializer: str = "course_deep"
    keep_prob: float = 1.0  # dropout keep probability of the hidden layers; 1.0 = off


@dataclass
class OptimizerConfig:
    """The optimizer's name and hyperparameters; a null one takes the optimizer's default."""

    name: str = "gd"  # gd | momentum | adam (scratchnet.nn.OPTIMIZERS)
    lr: float = MISSING
    beta: Optional[float] = None  # noqa: UP045 - momentum
    beta1: Optional[float] = None  # noqa: UP045 - adam
    beta2: Optional[float] = None  # noqa: UP045 - adam
    epsilon: Optional[float] = None  # noqa: UP045 - adam


def optimizer_kwargs(optimizer_cfg) -> dict[str, float]:
    """The hyperparameters to pass to make_optimizer: every non-null one but the name."""
    return {k: v for k, v in optimizer_cfg.items() if k != "name" and v is not None}


@dataclass
class TrackingConfig:
    kind: str = "local"  # local (SQLite file) | server | none; read by scratchnet.tracking
    db: Optional[str] = None  # noqa: UP045 - local: the SQLite file
    artifacts: Optional[str] = None  # noqa: UP045 - local: the artifact root
    uri: Optional[str] = None  # noqa: UP045 - server: its URI


@dataclass
class TrainConfig:
    iterations: int = 2500
    record_every: int = 100
    path: str = "auto"  # first-layer formulation: auto | plain | row_space
    lambd: float = 0.0  # L2 strength
    batch_size: Optional[int] = None  # noqa: UP045 - None: full batch
    course_compat: bool = False  # re-seed inside the loop as course 2 does (scratchnet.nn.CourseCompat)
    lr_schedule: str = "constant"  # constant | inverse_time | step (scratchnet.nn.SCHEDULES), per epoch
    decay_rate: float = 1.0  # inverse_time and step: lr0 / (1 + decay_rate * epoch or its step count)
    decay_interval: int = 1000  # step: epochs per step


@dataclass
class PathsConfig:
    root: str = MISSING
    data: str = MISSING
    experiments: str = MISSING


@dataclass
class Config:
    name: str = MISSING
    seed: int = 1
    dtype: str = "float64"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    output_dir: str = MISSING


def repo_root() -> str:
    """$SCRATCHNET_ROOT if set, else the checkout holding conf/ (never the current directory)."""
    env = os.environ.get(ROOT_ENV)
    return str(Path(env).expanduser().resolve()) if env else str(PACKAGE_ROOT)


def register() -> None:
    """Register the schema and the ${scratchnet_root:} resolver (idempotent)."""
    if not OmegaConf.has_resolver("scratchnet_root"):
        OmegaConf.register_new_resolver("scratchnet_root", repo_root)
    ConfigStore.instance().store(name="scratchnet_schema", node=Config)


register()


def model_family(hidden: list[int]) -> str:
    """logistic (no hidden layer), shallow (one) or deep (two or more): the MLflow model_family tag."""
    return MODEL_FAMILIES[min(len(hidden), 2)]


def _one_of(key: str, value: Any, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise ConfigError(key, value, "one of " + ", ".join(allowed))


def _at_least(key: str, value: Any, low: float, strict: bool = False) -> None:
    bad = not isinstance(value, (int, float)) or math.isnan(value) or (value <= low if strict else value < low)
    if bad:
        raise ConfigError(key, value, f"a number {'>' if strict else '>='} {low:g}")


def _no_unknown_keys(node: DictConfig, schema: type, prefix: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(schema)}
    for key in node:
        if key not in fields:
            raise ConfigError(prefix + str(key), node[key], "a known key, one of " + ", ".join(fields))
        if dataclasses.is_dataclass(sub := _field_type(schema, key)):
            _no_unknown_keys(node[key], sub, f"{prefix}{key}.")


def _field_type(schema: type, key: str) -> Any:
    return typing.get_type_hints(schema)[key]


def validate(cfg: DictConfig) -> None:
    """Check every range and name in a composed config; raise ConfigError on the first bad one.

    Reads no data: it runs before the loaders, so a typo costs nothing.
    """
    _no_unknown_keys(cfg, Config, "")  # Hydra's `+key=value` adds keys even to a typed config
    if not NAME_PATTERN.fullmatch(str(cfg.name)):
        raise ConfigError("name", cfg.name, "letters, digits and _ . + - only (it names a folder)")
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError("seed", cfg.seed, "an integer in [0, 2**32) (a NumPy RandomState seed)")
    _one_of("dtype", cfg.dtype, DTYPES)

    train = cfg.train
    _at_least("train.iterations", train.iterations, 1)
    _at_least("train.record_every", train.record_every, 1)
    _one_of("train.path", train.path, PATHS)
    _at_least("train.lambd", train.lambd, 0)
    if train.batch_size is not None:
        _at_least("train.batch_size", train.batch_size, 1)
    _one_of("train.lr_schedule", train.lr_schedule, tuple(SCHEDULES))
    _at_least("train.decay_rate", train.decay_rate, 0, strict=True)
    _at_least("train.decay_interval", train.decay_interval, 1)

    model = cfg.model
    for i, n in enumerate(model.hidden):
        if n < 1:
            raise ConfigError("model.hidden", list(model.hidden),
                              f"hidden layer sizes >= 1 (size {i} is {n}); [] for logistic regression")
    _one_of("model.hidden_activation", model.hidden_activation, HIDDEN_ACTIVATIONS)
    _one_of("model.output_activation", model.output_activation, OUTPUT_ACTIVATIONS)
    _one_of("model.initializer", model.initializer, tuple(INITIALIZERS))
    if not 0 < model.keep_prob <= 1:
        raise ConfigError("model.keep_prob", model.keep_prob, "a probability in (0, 1]; 1.0 turns dropout off")

    _one_of("optimizer.name", cfg.optimizer.name, tuple(OPTIMIZERS))
    lr = cfg.optimizer.lr
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ConfigError("optimizer.lr", lr, "a finite number > 0")
    accepted = tuple(inspect.signature(OPTIMIZERS[cfg.optimizer.name]).parameters)
    for key, value in optimizer_kwargs(cfg.optimizer).items():
        if key not in accepted:
            raise ConfigError(f"optimizer.{key}", value,
                              f"null for optimizer {cfg.optimizer.name}, which takes {', '.join(accepted)}")
        if key.startswith("beta") and not 0 <= value < 1:
            raise ConfigError(f"optimizer.{key}", value, "a decay rate in [0, 1)")
        if key == "epsilon" and not value > 0:
            raise ConfigError(f"optimizer.{key}", value, "a number > 0")

    data = cfg.data
    _one_of("data.kind", data.kind, DATA_KINDS)
    if data.kind == "generated":
        _one_of("data.name", data.name, tuple(GENERATORS))
        accepted = tuple(inspect.signature(GENERATORS[data.name]).parameters)
        for key, value in data.params.items():
            if key not in accepted:
                raise ConfigError(f"data.params.{key}", value,
                                  f"a parameter of the {data.name} generator, one of {', '.join(accepted)}")
    elif data.params:
        raise ConfigError("data.params", dict(data.params), f"no params for the {data.kind} set (files, not generated)")

    tracking = cfg.tracking
    _one_of("tracking.kind", tracking.kind, TRACKING_KINDS)
    if tracking.kind == "local" and not tracking.db:
        raise ConfigError("tracking.db", tracking.db, "the SQLite file of the local store (${paths.root}/mlflow.db)")
    if tracking.kind == "server" and not tracking.uri:
        raise ConfigError("tracking.uri", tracking.uri, "the server's URI (e.g. http://127.0.0.1:5000)")
