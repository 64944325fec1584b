"""The typed training config: dataclasses and name enums Hydra checks while composing.

Hydra merges conf/config.yaml and its groups onto `Config` (registered as `scratchnet_schema`), so
an unknown key, a value of the wrong type or a name that is not in the core's tables (an
activation, an initialiser, an optimizer, ...) fails while composing. What a type cannot say
(lr > 0, sizes >= 1, a model family's depth) is `scratchnet.config.validate`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Optional  # noqa: UP035 - OmegaConf's dataclass support wants typing.Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from scratchnet.nn import DTYPES, FIRST_LAYERS, HIDDEN_ACTIVATIONS, INITIALIZERS, OPTIMIZERS, SCHEDULES
from scratchnet.nn import OUTPUTS as OUTPUT_ACTIVATIONS
from scratchnet.paths import repo_root
from scratchnet.tracking.store import KINDS as TRACKING_KINDS


def _names(name: str, values) -> type[StrEnum]:
    """A str enum whose members are `values` (member == its name == its value, so it compares,
    formats and serialises as the plain string); module-level, so pickled configs load in workers."""
    return StrEnum(name, {v: v for v in values}, module=__name__, qualname=name)


Dtype = _names("Dtype", DTYPES)
FirstLayer = _names("FirstLayer", FIRST_LAYERS)  # auto | plain | row_space
Schedule = _names("Schedule", SCHEDULES)
HiddenActivation = _names("HiddenActivation", HIDDEN_ACTIVATIONS)
OutputActivation = _names("OutputActivation", OUTPUT_ACTIVATIONS)
Initializer = _names("Initializer", INITIALIZERS)
OptimizerName = _names("OptimizerName", OPTIMIZERS)
DataKind = _names("DataKind", ("cat", "football", "generated", "signs", "images"))
TrackingKind = _names("TrackingKind", TRACKING_KINDS)
# from the model group: the dense families take `hidden` (validate checks the depth), conv and
# resnet a list of layer specs (`layers`); the reports rank ties in this order
Family = _names("Family", ("logistic", "shallow", "deep", "conv", "resnet"))

# Bookkeeping ("plumbing"): what a run is called and where its outputs, data and MLflow records go,
# never what is trained. Run names, a sweep job's overrides and a study's settings leave these out.
PLUMBING_KEYS = ("name", "output_dir", "paths", "tracking", "hydra")


def is_plumbing(key: str) -> bool:
    """True for a bookkeeping key: dotted (`tracking.db`) or a group (`hydra/launcher`), +/~ allowed."""
    key = key.lstrip("+~")
    return any(key == p or key.startswith((p + ".", p + "/")) for p in PLUMBING_KEYS)


@dataclass
class DataConfig:
    name: str = MISSING  # cat, football, planar, signs, ... (also the MLflow experiment)
    kind: DataKind = MISSING  # cat | football | generated | signs | images
    # cat: the folder of both .h5; football: data.mat; generated: the .h5; signs: data/raw/signs;
    # images: a folder of image files (one sub-folder per class, or the class in each file's name)
    path: str = MISSING
    # the loader's options, checked by validate against the loader: generated: GENERATORS[name](**params);
    # signs: exclude_test_copies; images: size, labels, name_pattern, test_path, classes,
    # exclude_test_copies (IMAGE_OPTIONS); cat and football take none
    params: dict[str, Any] = field(default_factory=dict)


# data.kind images: data.params' keys and what each means (conf/data/images.yaml sets every one)
IMAGE_OPTIONS = {
    "size": "the side the images are resized to, or [height, width] (64: the course's)",
    "labels": "folder (one sub-folder per class) or name (the class at the start of each file name)",
    "name_pattern": "labels=name: a regular expression whose group 1 is the class ('^(.)': the first character)",
    "test_path": "a folder of test images read with the same rules (null: no test split)",
    "classes": "the class names in label order (null: the sorted names found)",
    "exclude_test_copies": "leave out training images that copy a test image (true)",
}
SIGNS_OPTIONS = {"exclude_test_copies": "leave out the export's training copies of test images (true)"}
IMAGE_KINDS = ("cat", "signs", "images")  # the kinds whose examples are images (conv and resnet need one)


@dataclass
class ModelConfig:
    family: Family = MISSING  # logistic | shallow | deep | conv | resnet: set by conf/model/<family>.yaml
    hidden: list[int] = field(default_factory=list)  # dense families: hidden sizes only; n_x from the data
    # conv and resnet: the layer specs up to the output layer, which the builder appends (dense 1 for
    # sigmoid, n_classes for softmax): "relu", "flatten" or {type: conv2d, filters: 8, f: 4, ...};
    # the keys of each type are its layer class's (scratchnet.nn.layers), checked by validate
    layers: list[Any] = field(default_factory=list)
    hidden_activation: HiddenActivation = HiddenActivation.relu
    output_activation: OutputActivation = OutputActivation.sigmoid  # sigmoid: 1 unit; softmax: one per class
    initializer: Initializer = Initializer.course_deep
    keep_prob: float = 1.0  # dropout keep probability of the hidden layers; 1.0 = off


@dataclass
class OptimizerConfig:
    """The optimizer's name and hyperparameters; a null one takes the optimizer's default."""

    name: OptimizerName = OptimizerName.gd  # gd | momentum | adam (scratchnet.nn.OPTIMIZERS)
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
    kind: TrackingKind = TrackingKind.local  # local (SQLite file) | server | none
    db: Optional[str] = None  # noqa: UP045 - local: the SQLite file
    artifacts: Optional[str] = None  # noqa: UP045 - local: the artifact root
    uri: Optional[str] = None  # noqa: UP045 - server: its URI
    # a multirun job's context, set by scratchnet.sweeps.callback as overrides of every job (so it
    # travels inside the job's config to joblib workers and SLURM nodes alike); null for one run
    parent_run_id: Optional[str] = None  # noqa: UP045 - the sweep's MLflow parent run
    sweep: Optional[str] = None  # noqa: UP045 - the sweep's name


@dataclass
class TrainConfig:
    epochs: int = 2500  # full passes over the training set; one iteration each with the full batch
    record_every: int = 100  # epochs between recorded costs
    first_layer: FirstLayer = FirstLayer.auto  # auto | plain | row_space (the exact fast first layer)
    lambd: float = 0.0  # L2 strength
    batch_size: Optional[int] = None  # noqa: UP045 - None: full batch
    course_compat: bool = False  # re-seed inside the loop as course 2 does (scratchnet.nn.CourseCompat)
    lr_schedule: Schedule = Schedule.constant  # constant | inverse_time | step, per epoch
    decay_rate: float = 1.0  # inverse_time and step: lr0 / (1 + decay_rate * epoch or its step count)
    decay_interval: int = 1000  # step: epochs per step
    divergence_factor: Optional[float] = 1000.0  # noqa: UP045 - cost > factor x max(start, 1) diverges; null: NaN/inf only
    blas_threads: int = 1  # BLAS threads while training (conf/config.yaml: the Slurm allocation, else 1)
    # train and test accuracy at every recorded epoch too (accuracy.csv, MLflow train/accuracy and
    # test/accuracy with step = epoch): one inference pass over both splits each time
    record_accuracy: bool = False


@dataclass
class PathsConfig:
    root: str = MISSING
    data: str = MISSING
    experiments: str = MISSING


@dataclass
class Config:
    name: str = MISSING
    seed: int = 1
    dtype: Dtype = Dtype.float64
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    output_dir: str = MISSING


def register() -> None:
    """Register the schema and the ${scratchnet_root:} resolver (idempotent)."""
    if not OmegaConf.has_resolver("scratchnet_root"):
        OmegaConf.register_new_resolver("scratchnet_root", lambda: str(repo_root()))
    ConfigStore.instance().store(name="scratchnet_schema", node=Config)


register()
