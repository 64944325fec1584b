"""The architecture comparison: per data set, logistic vs shallow vs deep in one table, the cost
curves overlaid, the decision boundaries of logistic vs shallow on 2-D sets, and a summary."""

from __future__ import annotations

from pathlib import Path

from scratchnet.data import load_data
from scratchnet.reports import plots
from scratchnet.reports.document import Document
from scratchnet.reports.runs import FAMILIES, Run
from scratchnet.reports.tables import pct, ranking_sentence, rows

# numbers that come from code, config and data only: fit seconds and run ids are in runs.md, beside the report
HEADER = ["experiment", "model", "layer dims", "parameters", "epochs", "learning rate", "train cost",
          "train accuracy", "test accuracy"]


def ranked(runs: list[Run]) -> list[Run]:
    """Best score first; ties: the simpler family, then the name."""
    return sorted(runs, key=lambda r: (-r.score[0], FAMILIES.index(r.family), r.name))


def summary(dataset: str, runs: list[Run]) -> str:
    """One generated paragraph: the winner, by how much, and the train/test gap where there is one."""
    order = ranked(runs)
    best = order[0]
    value, split = best.score
    text = f"On **{dataset}**, " + ranking_sentence(order, lambda r: r.mention, lambda r: f"{r.mention} ({r.family})")
    if split == "train":
        text += " This set has no test split: the numbers measure fit, not generalisation."
    else:
        gap = best.train_accuracy - value
        text += (f" Its train accuracy is {pct(best.train_accuracy)}, {100 * gap:.2f} points above test"
                 + (": it overfits the small training set." if gap > 0.1 else "."))
    if best.family != "logistic" and any(r.family == "logistic" for r in runs):
        logistic = max((r for r in runs if r.family == "logistic"), key=lambda r: r.score[0])
        if value - logistic.score[0] > 0.2:
            text += (f" The linear model trails by {100 * (value - logistic.score[0]):.2f} points: the "
                     f"classes are not linearly separable.")
    return text


def boundary_figure(runs: list[Run], root: Path, path: Path) -> Path | None:
    """Decision boundaries of the logistic and the shallow run side by side (2-D sets only)."""
    pair = [next((r for r in runs if r.family == family), None) for family in ("logistic", "shallow")]
    if any(r is None for r in pair) or pair[0].network.input_shape != (2,):
        return None
    ds = load_data(pair[0].config.data, root)  # the loader training used, from the run's own config
    return plots.boundary_grid([(r.network, ds.X_train, ds.Y_train, f"{r.name}: train accuracy "
                                 f"{pct(r.train_accuracy)}") for r in pair], path)


def section(doc: Document, dataset: str, runs: list[Run], root: Path, out: Path) -> dict:
    """Add one data set's heading, table and figures to `doc`; returns its winner."""
    doc.heading(f"Data set: {dataset}")
    doc.table(HEADER, rows(runs, HEADER))
    curves = [(f"{r.name} ({r.family}, lr={float(r.config.optimizer.lr):g})", r.costs) for r in runs]
    doc.figure(plots.cost_figure(curves, out / f"cost_{dataset}.png", f"{dataset}: training cost"),
               f"{dataset}: cost against epoch, every run")
    boundary = boundary_figure(runs, root, out / f"boundary_{dataset}.png")
    if boundary is not None:
        doc.figure(boundary, f"{dataset}: decision boundaries, logistic (left) vs shallow (right), "
                             f"over the training points")
    best = ranked(runs)[0]
    return {"experiment": best.name, "family": best.family, "split": best.score[1], "accuracy": best.score[0]}
