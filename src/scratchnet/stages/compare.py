"""DVC stage `compare`: logistic vs shallow vs deep, and course 2's three studies, into experiments/report/.

`python -m scratchnet.stages.compare [names ...] [--studies init reg opt] [--experiments experiments]
[--out experiments/report]`

A run is any experiments/<name>/ holding metrics.json, config.yaml and model.npz (what
`python -m scratchnet.train` writes). Per data set the report has a table (model, layer dims,
parameter count, iterations, learning rate, final cost, train and test accuracy, fit seconds,
MLflow run id), the cost curves overlaid, the decision boundaries of logistic vs shallow for 2-D
sets, and a generated summary. Then a section on course 2's studies (scratchnet.studies): per
study a table with the course's numbers beside ours, a decision-boundary grid, the cost curves and
a generated sentence. report.md links the PNGs beside it; report.html embeds them.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scratchnet.config import MODEL_FAMILIES as FAMILIES
from scratchnet.config import model_family, repo_root
from scratchnet.io import ModelFileError, load_model, write_json
from scratchnet.nn import Network
from scratchnet.report import Document
from scratchnet.studies import STUDIES, Study, score  # score: what the summaries rank by
from scratchnet.studies import section as study_section

RUN_FILES = ("metrics.json", "config.yaml", "model.npz")
SCRATCH_RUN = "exp"  # the `exp` stage's folder: whatever `dvc exp run -S ...` last trained


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
    costs: list[tuple[int, float]]  # cost.csv

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
        """How the summary names the run."""
        return f"`{self.name}` (the `dvc exp` scratch run)" if self.name == SCRATCH_RUN else f"`{self.name}`"

    @property
    def dataset(self) -> str:
        return str(self.config.data.name)

    @property
    def family(self) -> str:
        return model_family(self.network.layer_dims[1:-1])  # the hidden layers' sizes

    @property
    def test_accuracy(self) -> float | None:
        return self.metrics["test"]["accuracy"]

    @property
    def train_accuracy(self) -> float:
        return self.metrics["train"]["accuracy"]


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
        config.data.name, config.optimizer.lr, config.train.iterations  # noqa: B018
    except Exception as e:  # OmegaConf raises yaml and its own errors
        raise fail("config.yaml", f"expected the run's composed config with data.name, optimizer.lr, "
                                  f"train.iterations ({e!r})") from None
    try:
        network = load_model(folder / "model.npz")
    except ModelFileError as e:
        raise CompareError(str(e)) from None
    fit_seconds = None
    if (folder / "timing.json").is_file():
        fit_seconds = json.loads((folder / "timing.json").read_text()).get("fit_seconds")
    run_id = None
    if (folder / "run.json").is_file():
        run_id = json.loads((folder / "run.json").read_text()).get("run_id")
    costs = []
    if (folder / "cost.csv").is_file():
        with open(folder / "cost.csv", newline="") as f:
            costs = [(int(row["iteration"]), float(row["cost"])) for row in csv.DictReader(f)]
    return Run(folder.name, folder, config, metrics, fit_seconds, run_id, network, costs)


def _check_folders(folders: list[Path]) -> None:
    for p in folders:
        missing = [f for f in RUN_FILES if not (p / f).is_file()]
        if missing:
            raise CompareError(f"{p}: expected a run's outputs, missing {', '.join(missing)}; "
                               f"run `dvc repro train@{p.name}` first")


def _is_run(folder: Path) -> bool:
    return all((folder / f).is_file() for f in RUN_FILES)


def find_runs(experiments: Path, names: list[str] | None = None) -> list[Run]:
    """The runs `names` (default: every experiments/<name>/ holding a run's files, except the study
    runs, which have their own section), sorted by data set, family, then name. The DVC stage passes
    the names so the report covers its deps only."""
    if names:
        folders = [experiments / n for n in names]
        _check_folders(folders)
    else:
        in_studies = {n for s in STUDIES.values() for n in s.names}
        folders = [p for p in sorted(experiments.iterdir()) if p.is_dir() and not p.name.startswith(".")
                   and p.name not in in_studies and _is_run(p)] if experiments.is_dir() else []
    if not folders:
        raise CompareError(f"no experiment in {experiments}: expected folders with "
                           f"{', '.join(RUN_FILES)}; run `dvc repro train` first")
    runs = [load_run(p) for p in folders]
    return sorted(runs, key=lambda r: (r.dataset, FAMILIES.index(r.family), r.name))


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def table_rows(runs: list[Run]) -> list[list[str]]:
    """The per-data-set table's rows; numbers formatted from metrics.json as the tests expect."""
    return [[r.label, r.family, str(r.network.layer_dims), str(r.network.n_parameters),
             str(r.metrics.get("iterations", r.config.train.iterations)), f"{float(r.config.optimizer.lr):g}",
             f"{r.metrics['train']['cost']:.6f}", _pct(r.train_accuracy), _pct(r.test_accuracy),
             "-" if r.fit_seconds is None else f"{r.fit_seconds:.2f}", r.run_id or "-"]
            for r in runs]


TABLE_HEADER = ["experiment", "model", "layer dims", "parameters", "iterations", "learning rate",
                "final cost", "train accuracy", "test accuracy", "fit seconds", "MLflow run id"]


def summary(dataset: str, runs: list[Run]) -> str:
    """One generated paragraph: the winner, by how much, and the train/test gap where there is one."""
    ranked = sorted(runs, key=lambda r: (-score(r)[0], FAMILIES.index(r.family), r.name))
    best = ranked[0]
    value, split = score(best)
    text = f"On **{dataset}**, {best.mention} ({best.family}) scores best with {_pct(value)} {split} accuracy"
    tied = [r for r in ranked[1:] if score(r)[0] == value]
    behind = [r for r in ranked[1:] if score(r)[0] != value]
    if tied:
        text += ", tied with " + ", ".join(r.mention for r in tied)
    if behind:
        text += ", ahead of " + ", ".join(f"{r.mention} {_pct(score(r)[0])} ({100 * (value - score(r)[0]):+.2f} points)"
                                          for r in behind)
    text += "."
    if split == "train":
        text += " This set has no test split: the numbers measure fit, not generalisation."
    else:
        gap = best.train_accuracy - value
        text += (f" Its train accuracy is {_pct(best.train_accuracy)}, {100 * gap:.2f} points above test"
                 + (": it overfits the small training set." if gap > 0.1 else "."))
    if best.family != "logistic" and any(r.family == "logistic" for r in runs):
        logistic = max((r for r in runs if r.family == "logistic"), key=lambda r: score(r)[0])
        if value - score(logistic)[0] > 0.2:
            text += (f" The linear model trails by {100 * (value - score(logistic)[0]):.2f} points: the "
                     f"classes are not linearly separable.")
    return text


def cost_figure(dataset: str, runs: list[Run], path: Path) -> Path:
    """The cost curves of the runs on one data set overlaid; log scale when they span a wide range."""
    from scratchnet import plots

    fig = plots.figure(6.5, 4.5)
    ax = fig.add_subplot()
    for r in runs:
        if r.costs:
            plots.cost_curve_ax(ax, r.costs, label=f"{r.name} ({r.family}, lr={float(r.config.optimizer.lr):g})")
    plots.log_scale_if_wide(ax, [r.costs for r in runs])
    ax.set_title(f"{dataset}: training cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots.save(fig, path)
    return path


def boundary_figure(dataset: str, runs: list[Run], root: Path, path: Path) -> Path | None:
    """Decision boundaries of the logistic and the shallow run side by side (2-D sets only)."""
    from scratchnet import plots
    from scratchnet.datasets import load_data

    pair = [next((r for r in runs if r.family == fam), None) for fam in ("logistic", "shallow")]
    if any(r is None for r in pair) or pair[0].network.layer_dims[0] != 2:
        return None
    ds = load_data(pair[0].config.data, root)  # the loader training used, from the run's own config
    fig = plots.figure(11, 5)
    for k, r in enumerate(pair):
        plots.decision_boundary_ax(fig.add_subplot(1, 2, k + 1), r.network, ds.X_train, ds.Y_train,
                                   f"{r.name}: train accuracy {_pct(r.train_accuracy)}")
    fig.tight_layout()
    plots.save(fig, path)
    return path


def find_studies(experiments: Path, keys: list[str] | None = None) -> list[tuple[Study, list[Run]]]:
    """The studies `keys` with their runs (missing runs are an error), or by default every study
    whose runs are all in `experiments`."""
    if keys is None:
        chosen = [s for s in STUDIES.values() if all(_is_run(experiments / n) for n in s.names)]
    else:
        unknown = [k for k in keys if k not in STUDIES]
        if unknown:
            raise CompareError(f"--studies {' '.join(unknown)}: expected study names among {', '.join(STUDIES)}")
        chosen = [STUDIES[k] for k in keys]
    result = []
    for study in chosen:
        folders = [experiments / n for n in study.names]
        _check_folders(folders)
        result.append((study, [load_run(p) for p in folders]))
    return result


def build(experiments: Path, out: Path, root: Path, names: list[str] | None = None,
          studies: list[str] | None = None) -> dict:
    """Write report.md, report.html, the figures and summary.json; returns the summary.
    names: the architecture runs (default: every run not in a study); studies: the STUDIES keys
    (default: every study whose runs are all there)."""
    runs = find_runs(experiments, names)
    study_runs = find_studies(experiments, studies)
    datasets = sorted({r.dataset for r in runs})
    out.mkdir(parents=True, exist_ok=True)
    doc = Document("Logistic vs shallow vs deep: the architecture comparison")
    doc.paragraph(f"{len(runs)} runs from `{experiments}` on {len(datasets)} data sets. Accuracies are "
                  f"fractions of the examples shown as percentages; the final cost is the training cost "
                  f"of the trained model; fit seconds is the wall time of training alone (it varies "
                  f"from run to run and comes from timing.json). Every run id opens the run in MLflow.")
    doc.heading("Summary")
    doc.bullets([summary(d, [r for r in runs if r.dataset == d]) for d in datasets])
    result = {"runs": {}, "winners": {}}
    for d in datasets:
        group = [r for r in runs if r.dataset == d]
        doc.heading(f"Data set: {d}")
        doc.table(TABLE_HEADER, table_rows(group))
        doc.figure(cost_figure(d, group, out / f"cost_{d}.png"), f"{d}: cost against iteration, every run")
        boundary = boundary_figure(d, group, root, out / f"boundary_{d}.png")
        if boundary is not None:
            doc.figure(boundary, f"{d}: decision boundaries, logistic (left) vs shallow (right), "
                                 f"over the training points")
        best = max(group, key=lambda r: (score(r)[0], -FAMILIES.index(r.family)))
        result["winners"][d] = {"experiment": best.name, "family": best.family,
                                "split": score(best)[1], "accuracy": score(best)[0]}
    if study_runs:
        doc.heading("Improving deep networks: the course's three studies")
        doc.paragraph("Course 2's initialisation, regularisation and optimisation studies, each three runs "
                      "that differ in one choice. Our accuracies come from each run's metrics.json; the "
                      "course's are the percentages its notebooks print, and a run matches when ours "
                      "rounds to the course's number at the digits the course shows (83 matches 82.5 to "
                      "83.5, 99.33 matches 99.325 to 99.335), train and test both.")
        result["studies"] = {study.key: study_section(doc, study, group, root, out)
                             for study, group in study_runs}
    for r in runs:
        result["runs"][r.name] = {"dataset": r.dataset, "family": r.family, "layer_dims": r.network.layer_dims,
                                  "n_parameters": r.network.n_parameters, "train_accuracy": r.train_accuracy,
                                  "test_accuracy": r.test_accuracy, "final_cost": r.metrics["train"]["cost"]}
    doc.write(out, "report")
    write_json(out / "summary.json", result)  # deterministic: no timings, no run ids
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.compare",
                                     description="Compare every experiment into one report.")
    parser.add_argument("names", nargs="*", help="experiment folders to compare (default: every one not in a study)")
    parser.add_argument("--studies", nargs="*", choices=list(STUDIES), default=None,
                        help="course 2 studies to report (default: those whose runs are all there)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--out", type=Path, default=Path("experiments/report"))
    args = parser.parse_args(argv)
    from scratchnet.data import DataError

    try:
        result = build(args.experiments, args.out, Path(repo_root()), args.names, args.studies)
    except (CompareError, DataError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    for d, w in result["winners"].items():
        print(f"compare: {d}: {w['experiment']} ({w['family']}) {100 * w['accuracy']:.2f}% {w['split']}")
    for key, rows in result.get("studies", {}).items():
        matched = sum(row["matches"] for row in rows.values())
        print(f"compare: study {key}: {matched} of {len(rows)} runs match the course")
    print(f"compare: {len(result['runs'])} runs -> {args.out}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
