"""Course 2's three studies in the report: which runs form a study, the course's numbers, and the section.

A study is three experiments that differ in one choice (initialiser, regulariser, optimizer) and
the accuracies the course prints for them. `section(doc, study, runs, ...)` adds to a report the
study's table (our numbers from metrics.json beside the course's, and whether they match), a grid
of decision boundaries (one panel per run), the cost curves overlaid and a sentence generated from
the numbers. The runs are reports.runs.Run objects read from experiments/<name>/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from scratchnet.config import is_plumbing
from scratchnet.data import load_data
from scratchnet.reports import plots
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError, Run, is_run, load_runs
from scratchnet.reports.tables import both, pct, ranking_sentence, rows

ZOOM_PAD = 0.1  # zoomed boundaries: this fraction of the data's range on every side
SATURATED_START = 10  # a run starting at more than this times the winner's starting cost "starts saturated"
# the settings every run of a study shares, shown above its table when they are equal across runs
COMMON_KEYS = ("data.name", "model.hidden_activation", "model.initializer", "optimizer.name", "optimizer.lr",
               "train.epochs", "train.batch_size", "train.lambd", "model.keep_prob", "seed")


@dataclass(frozen=True)
class Expected:
    """What the course prints for one run, as percentages written the way the course rounds them."""

    train: str  # e.g. "99.33": 2 decimals shown, so a match is within 0.005 points
    test: str | None = None  # None: the course's set has no test split


@dataclass(frozen=True)
class Study:
    key: str  # the `--studies` name: init | reg | opt
    title: str
    varies: str  # what changes between the runs, in words
    runs: tuple[tuple[str, Expected], ...]  # (experiment name, the course's numbers), in the course's order
    zoom: bool = False  # boundaries framed on the data (+10%) rather than plots.MARGIN around it

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.runs]


# the course's numbers: Improving Deep Neural Networks, week 1 (Initialization, Regularization) and
# week 2 (Optimization methods) notebooks, as the table gives them
STUDIES: dict[str, Study] = {s.key: s for s in (
    Study("init", "Initialisation (circles)", "the initialiser", (
        ("init_zeros", Expected("50", "50")),
        ("init_large_random", Expected("83", "86")),
        ("init_he", Expected("99.33", "96")),
    )),
    Study("reg", "Regularisation (football)", "the regulariser", (
        ("reg_none", Expected("94.79", "91.5")),
        ("reg_l2", Expected("93.84", "93")),
        ("reg_dropout", Expected("92.89", "95")),
    ), zoom=True),  # the field spans ~1 unit: a margin of 1 would shrink it to a corner (the course zooms too)
    Study("opt", "Optimisation (moons)", "the optimizer", (
        ("opt_gd", Expected("79.67")),
        ("opt_momentum", Expected("79.67")),
        ("opt_adam", Expected("94")),
    )),
)}

HEADER = ["experiment", "settings", "parameters", "epochs", "train cost", "train accuracy", "test accuracy",
          "course train", "course test", "matches the course"]


def matches(accuracy: float | None, expected: str | None) -> bool:
    """True when `accuracy` (a fraction) rounds to the course's percentage at the digits it shows:
    83 matches 82.5 to 83.5, 99.33 matches 99.325 to 99.335. No test split on both sides matches."""
    if expected is None or accuracy is None:
        return expected is None and accuracy is None
    digits = -Decimal(expected).as_tuple().exponent  # decimals the course shows
    return abs(100 * accuracy - float(expected)) <= 0.5 * 10.0 ** -digits + 1e-9  # 1e-9: float rounding


def match_mark(run: Run, expected: Expected) -> str:
    """'✓' when train and test both match, else '✗' and what is off by how many points."""
    off = []
    for split, ours, theirs in (("train", run.train_accuracy, expected.train), ("test", run.test_accuracy,
                                                                                 expected.test)):
        if not matches(ours, theirs):
            if ours is None or theirs is None:
                off.append(f"{split}: {'no' if ours is None else 'a'} test split")
            else:
                off.append(f"{split} {100 * ours - float(theirs):+.2f} points")
    return "✓" if not off else "✗ (" + ", ".join(off) + ")"


def _flat(node, prefix: str = "") -> dict[str, object]:
    container = OmegaConf.to_container(node, resolve=False) if not isinstance(node, dict) else node
    out = {}
    for k, v in container.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def _value(v: object) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def settings(runs: list[Run]) -> dict[str, str]:
    """Per run, the config values that differ between the study's runs (`key=value, ...`, nulls left out)."""
    flats = {r.name: _flat(r.config) for r in runs}
    keys = sorted({k for f in flats.values() for k in f if not is_plumbing(k)})
    varying = [k for k in keys if len({repr(f.get(k)) for f in flats.values()}) > 1]
    return {name: ", ".join(f"{k}={_value(f[k])}" for k in varying if f.get(k) is not None)
            for name, f in flats.items()}


def common_settings(runs: list[Run]) -> str:
    """The COMMON_KEYS every run shares, plus the layer dims when they are the same."""
    flats = [_flat(r.config) for r in runs]
    parts = []
    dims = {r.network.describe() for r in runs}
    if len(dims) == 1:
        parts.append(f"layer dims {dims.pop()}")
    for k in COMMON_KEYS:
        values = {repr(f.get(k)) for f in flats}
        if len(values) == 1 and flats[0].get(k) is not None:
            parts.append(f"{k}={_value(flats[0][k])}")
    return ", ".join(parts)


def table_rows(study: Study, runs: list[Run]) -> list[list[str]]:
    """One row per run in the course's order: our numbers from metrics.json, the course's, the match mark."""
    expected = dict(study.runs)
    shown = settings(runs)
    by_name = {r.name: r for r in runs}
    return rows([by_name[name] for name in study.names], HEADER, {
        "settings": lambda r: shown[r.name] or "-",
        "course train": lambda r: f"{expected[r.name].train}%",
        "course test": lambda r: "-" if expected[r.name].test is None else f"{expected[r.name].test}%",
        "matches the course": lambda r: match_mark(r, expected[r.name])})


def symmetric(run: Run) -> bool:
    """True when every hidden layer's units are identical (all rows of W and entries of b equal):
    gradient descent cannot tell them apart, so they stay equal (the zeros initialiser's failure)."""
    hidden = [layer for layer in run.network.layers if "W" in layer.parameters][:-1]  # the dense layers
    return bool(hidden) and all(np.all(layer.W == layer.W[:1]) and np.all(layer.b == layer.b[:1])
                                for layer in hidden)


def _keep_probs(run: Run) -> list[float]:
    keep = OmegaConf.select(run.config, "model.keep_prob")
    return [] if keep is None else [float(keep)] if isinstance(keep, (int, float)) else [float(k) for k in keep]


def _regularised(run: Run) -> bool:
    """L2 (train.lambd > 0) or dropout (a model.keep_prob below 1) in the run's config."""
    return float(OmegaConf.select(run.config, "train.lambd") or 0) > 0 or any(k < 1 for k in _keep_probs(run))


def sentence(study: Study, runs: list[Run], base_rate: float) -> str:
    """What the study shows, from the numbers: the winner and its margin, then what sets the others apart.
    base_rate: the share of the larger class in the training set (what always guessing one class scores)."""
    order = {n: i for i, n in enumerate(study.names)}
    ranked = sorted(runs, key=lambda r: (-r.score[0], order[r.name]))
    best, text = ranked[0], ranking_sentence(ranked)
    starts = {r.name: r.costs[0][1] for r in runs if r.costs}
    reference = starts.get(best.name, math.nan)  # the winner's starting cost
    for r in [r for r in runs if r is not best]:
        if symmetric(r):
            chance = (f", no better than always guessing the larger class ({pct(base_rate)})"
                      if abs(r.train_accuracy - base_rate) < 0.005 else "")
            text += (f" `{r.name}` ends with every hidden layer's units still identical: the symmetry never "
                     f"breaks, so it stays at {both(r)}{chance}.")
        elif r.name in starts and starts[r.name] > SATURATED_START * reference:
            text += (f" `{r.name}` starts at cost {starts[r.name]:.4g}, {starts[r.name] / reference:.0f} times "
                     f"`{best.name}`'s {reference:.4g}: its large weights saturate the output; after "
                     f"{r.epochs} epochs its train cost is {r.train_cost:.4g} against "
                     f"{best.train_cost:.4g}, with {both(r)}.")
    plain = [r for r in runs if not _regularised(r)]
    if study.key == "reg" and len(plain) == 1 and plain[0].test_accuracy is not None:
        base = plain[0]
        gap = base.train_accuracy - base.test_accuracy
        text += (f" Without regularisation `{base.name}` fits the training set to {pct(base.train_accuracy)} "
                 f"but scores {pct(base.test_accuracy)} on test ({100 * gap:.2f} points lower"
                 + (": it overfits" if gap > 0.01 else "") + ");")
        parts = []
        for r in [r for r in runs if r is not base]:
            d_train = 100 * (r.train_accuracy - base.train_accuracy)
            d_test = 100 * (r.test_accuracy - base.test_accuracy)
            parts.append(f"`{r.name}` {'gives up' if d_train < 0 else 'gains'} {abs(d_train):.2f} points on train "
                         f"and {'gains' if d_test > 0 else 'loses' if d_test < 0 else 'keeps'} "
                         f"{abs(d_test):.2f} on test")
        text += " " + " and ".join(parts) + "."
    for r in runs:  # dropout: the cost it trained on is not the cost of the network it predicts with
        if any(k < 1 for k in _keep_probs(r)) and r.costs and r.train_cost > 2 * r.costs[-1][1]:
            fixed = bool(r.config.train.get("course_compat"))
            text += (f" `{r.name}`'s cost under its dropout mask{'' if fixed else 's'} ends at {r.costs[-1][1]:.4g}, "
                     f"the full network's (no dropout, as it predicts) at {r.train_cost:.4g}"
                     + (": with course_compat it trained with the course's one fixed mask." if fixed else "."))
    if study.key == "opt":
        ranked = [best, *sorted((r for r in runs if r is not best), key=lambda r: r.train_cost)]
        text += (f" Train cost after {best.epochs} epochs at lr {float(best.config.optimizer.lr):g}: "
                 + ", ".join(f"`{r.name}` {r.train_cost:.4g}"
                             + ("" if r is best else f" ({r.train_cost / best.train_cost:.1f} times)")
                             for r in ranked) + ".")
    return text


def section(doc: Document, study: Study, runs: list[Run], root: Path, out: Path) -> dict:
    """Add the study's heading, settings, table, sentence and figures to `doc`; returns its summary."""
    by_name = {r.name: r for r in runs}
    runs = [by_name[n] for n in study.names]
    doc.heading(f"{study.title}: {study.varies}", level=3)
    doc.paragraph(f"Shared by the runs: {common_settings(runs)}. Settings lists what differs between them.")
    doc.table(HEADER, table_rows(study, runs))
    ds = load_data(runs[0].config.data, root)  # a study's runs share their data set
    base_rate = float(max(ds.Y_train.mean(), 1 - ds.Y_train.mean()))
    doc.paragraph(sentence(study, runs, base_rate))
    grid = plots.boundary_grid([(r.network, ds.X_train, ds.Y_train, f"{r.name}: {both(r)}") for r in runs],
                               out / f"study_{study.key}_boundaries.png", zoom=ZOOM_PAD if study.zoom else None)
    doc.figure(grid, f"{study.title}: decision boundaries over the training points, one panel per run "
                     f"(train / test accuracy)")
    # the settings are in the table: the legend names the runs
    costs = plots.cost_figure([(r.name, r.costs) for r in runs], out / f"study_{study.key}_cost.png",
                              f"{study.title}: training cost")
    doc.figure(costs, f"{study.title}: training cost of each run")
    return {r.name: {"train_accuracy": r.train_accuracy, "test_accuracy": r.test_accuracy,
                     "course_train": e.train, "course_test": e.test, "matches": match_mark(r, e) == "✓"}
            for r, (_, e) in zip(runs, study.runs, strict=True)}


def find_studies(experiments: Path, keys: list[str] | None = None) -> list[tuple[Study, list[Run]]]:
    """The studies `keys` with their runs (missing runs are an error), or by default every study
    whose runs are all in `experiments`."""
    if keys is None:
        chosen = [s for s in STUDIES.values() if all(is_run(experiments / n) for n in s.names)]
    else:
        unknown = [k for k in keys if k not in STUDIES]
        if unknown:
            raise CompareError(f"--studies {' '.join(unknown)}: expected study names among {', '.join(STUDIES)}")
        chosen = [STUDIES[k] for k in keys]
    return [(study, load_runs(experiments / n for n in study.names)) for study in chosen]
