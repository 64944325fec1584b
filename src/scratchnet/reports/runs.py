"""Experiment folders read back for the reports: metrics.json, config.yaml, model.npz, cost.csv, run ids."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scratchnet.config.schema import Family
from scratchnet.models import ModelFileError, load_model
from scratchnet.nn import Network

RUN_FILES = ("metrics.json", "config.yaml", "model.npz")
SCRATCH_RUN = "exp"  # the `exp` stage's folder: whatever `dvc exp run -S ...` last trained
FAMILIES = [str(f) for f in Family]  # logistic, shallow, deep: the reports' order


class CompareError(Exception):
    """An experiment folder with unreadable outputs, or no experiment at all."""


@dataclass
class Run:
    name: str  # the experiments/<name>/ folder
    folder: Path
    config: DictConfig  # config.yaml: the composed config of the run
    metrics: dict  # metrics.json
    fit_seconds: float | None  # timing.json (train writes it beside metrics.json)
    run_id: str | None  # run.json
    network: Network
    costs: list[tuple[int, float]]  # cost.csv: (epoch, cost)

    @property
    def label(self) -> str:
        """The folder name, plus the config's own name when they differ; the `exp` stage's run says
        that it is the `dvc exp` scratch run."""
        config_name = str(self.config.get("name", self.name))
        if self.name == SCRATCH_RUN:
            return f"{self.name} (`dvc exp` scratch run: {config_name})"
        return self.name if config_name == self.name else f"{self.name} ({config_name})"

    @property
    def mention(self) -> str:
        """How a sentence names the run."""
        return f"`{self.name}` (the `dvc exp` scratch run)" if self.name == SCRATCH_RUN else f"`{self.name}`"

    @property
    def dataset(self) -> str:
        return str(self.config.data.name)

    @property
    def family(self) -> str:
        return str(self.config.model.family)

    @property
    def epochs(self) -> int:
        return int(self.metrics.get("epochs", self.config.train.epochs))

    @property
    def train_cost(self) -> float:
        """The trained model's cost on the whole training set (metrics.json train.cost)."""
        return float(self.metrics["train"]["cost"])

    @property
    def train_accuracy(self) -> float:
        return self.metrics["train"]["accuracy"]

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics["test"]["accuracy"]

    @property
    def score(self) -> tuple[float, str]:
        """(accuracy, split) the reports rank by: test accuracy when there is a test split, else train."""
        return (self.test_accuracy, "test") if self.test_accuracy is not None else (self.train_accuracy, "train")


def _json(path: Path, key: str) -> object:
    return json.loads(path.read_text()).get(key) if path.is_file() else None


def _costs(path: Path) -> list[tuple[int, float]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [(int(epoch), float(cost)) for epoch, cost in list(csv.reader(f))[1:]]


def load_run(folder: Path) -> Run:
    """Read one experiment folder; CompareError names the file and what is wrong with it."""
    def fail(file: str, problem: str) -> CompareError:
        return CompareError(f"{folder / file}: {problem}")

    try:
        metrics = json.loads((folder / "metrics.json").read_text())
        metrics["train"]["accuracy"], metrics["test"]["accuracy"], metrics["train"]["cost"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise fail("metrics.json", f"expected JSON with train.accuracy, train.cost, test.accuracy ({e!r})") from None
    try:
        config = OmegaConf.load(folder / "config.yaml")
        config.data.name, config.model.family, config.optimizer.lr, config.train.epochs  # noqa: B018
    except Exception as e:  # OmegaConf raises yaml and its own errors
        raise fail("config.yaml", f"expected the run's composed config with data.name, model.family, "
                                  f"optimizer.lr, train.epochs ({e!r})") from None
    try:
        network = load_model(folder / "model.npz")
    except ModelFileError as e:
        raise CompareError(str(e)) from None
    return Run(folder.name, folder, config, metrics, _json(folder / "timing.json", "fit_seconds"),
               _json(folder / "run.json", "run_id"), network, _costs(folder / "cost.csv"))


def is_run(folder: Path) -> bool:
    return all((folder / f).is_file() for f in RUN_FILES)


def load_runs(folders: Iterable[Path]) -> list[Run]:
    """The runs in `folders`; CompareError for a folder without a run's outputs."""
    folders = list(folders)
    for p in folders:
        missing = [f for f in RUN_FILES if not (p / f).is_file()]
        if missing:
            raise CompareError(f"{p}: expected a run's outputs, missing {', '.join(missing)}; "
                               "run `dvc repro` first (the train_* stage that trains it)")
    return [load_run(p) for p in folders]


def find_runs(experiments: Path, names: list[str] | None = None, exclude: Iterable[str] = ()) -> list[Run]:
    """The runs `names` (default: every experiments/<name>/ holding a run's files but those in
    `exclude`), sorted by data set, family, then name. The DVC stage passes the names so the report
    covers its deps only."""
    if names:
        folders = [experiments / n for n in names]
    else:
        excluded = set(exclude)
        folders = [p for p in sorted(experiments.iterdir()) if p.is_dir() and not p.name.startswith(".")
                   and p.name not in excluded and is_run(p)] if experiments.is_dir() else []
    if not folders:
        raise CompareError(f"no experiment in {experiments}: expected folders with "
                           f"{', '.join(RUN_FILES)}; run `dvc repro` first")
    return sorted(load_runs(folders), key=lambda r: (r.dataset, FAMILIES.index(r.family), r.name))
