"""Course 2's three studies in the report: which runs form a study, the course's numbers, and the section.

A study is three experiments that differ in one choice (initialiser, regulariser, optimizer) and
the accuracies the course prints for them. `section(doc, study, runs, ...)` adds to a report the
study's table (our numbers from metrics.json beside the course's, and whether they match), a grid
of decision boundaries (one panel per run), the cost curves overlaid and a sentence generated from
the numbers. The runs are compare.Run objects read from experiments/<name>/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scratchnet.report import Document
    from scratchnet.stages.compare import Run

LINE_STYLES = ("-", "--", ":", "-.")  # curves that coincide (gd and momentum) stay visible
ZOOM_PAD = 0.1  # zoomed boundaries: this fraction of the data's range on every side
SATURATED_START = 10  # a run starting at more than this times the winner's starting cost "starts saturated"
# config keys never shown as a study's settings: bookkeeping, not what the study varies
NOT_SETTINGS = ("name", "output_dir", "paths.", "tracking.", "hydra.")
# the settings every run of a study shares, shown above its table when they are equal across runs
COMMON_KEYS = ("data.name", "model.hidden_activation", "model.initializer", "optimizer.name", "optimizer.lr",
               "train.iterations", "train.batch_size", "train.lambd", "model.keep_prob", "seed")


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

TABLE_HEADER = ["experiment", "settings", "parameters", "iterations", "final cost", "train accuracy",
                "test accuracy", "course train", "course test", "matches the course", "MLflow run id"]


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


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _flat(node, prefix: str = "") -> dict[str, object]:
    from omegaconf import OmegaConf

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
    keys = sorted({k for f in flats.values() for k in f if not k.startswith(NOT_SETTINGS)})
    varying = [k for k in keys if len({repr(f.get(k)) for f in flats.values()}) > 1]
    return {name: ", ".join(f"{k}={_value(f[k])}" for k in varying if f.get(k) is not None)
            for name, f in flats.items()}


def common_settings(runs: list[Run]) -> str:
    """The COMMON_KEYS every run shares, plus the layer dims when they are the same."""
    flats = [_flat(r.config) for r in runs]
    parts = []
    dims = {str(r.network.layer_dims) for r in runs}
    if len(dims) == 1:
        parts.append(f"layer dims {dims.pop()}")
    for k in COMMON_KEYS:
        values = {repr(f.get(k)) for f in flats}
        if len(values) == 1 and flats[0].get(k) is not None:
            parts.append(f"{k}={_value(flats[0][k])}")
    return ", ".join(parts)


def table_rows(study: Study, runs: list[Run]) -> list[list[str]]:
    """One row per run: our numbers from metrics.json, the course's, and the match mark."""
    by_name = {r.name: r for r in runs}
    shown = settings(runs)
    rows = []
    for name, expected in study.runs:
        r = by_name[name]
        rows.append([r.name, shown[r.name] or "-", str(r.network.n_parameters),
                     str(_iterations(r)), f"{_final_cost(r):.6f}",
                     _pct(r.train_accuracy), _pct(r.test_accuracy), f"{expected.train}%",
                     "-" if expected.test is None else f"{expected.test}%", match_mark(r, expected),
                     r.run_id or "-"])
    return rows


def score(run: Run) -> tuple[float, str]:
    """Test accuracy when there is a test split, else train accuracy."""
    return (run.test_accuracy, "test") if run.test_accuracy is not None else (run.train_accuracy, "train")


def symmetric(run: Run) -> bool:
    """True when every hidden layer's units are identical (all rows of W and entries of b equal):
    gradient descent cannot tell them apart, so they stay equal (the zeros initialiser's failure)."""
    hidden = [layer for layer in run.network.layers if "W" in layer.parameters][:-1]  # the dense layers
    return bool(hidden) and all(np.all(layer.W == layer.W[:1]) and np.all(layer.b == layer.b[:1])
                                for layer in hidden)


def _both(run: Run) -> str:
    return _pct(run.train_accuracy) + ("" if run.test_accuracy is None else f" / {_pct(run.test_accuracy)}")


def _iterations(run: Run) -> int:
    return int(run.metrics.get("iterations", run.config.train.iterations))


def _final_cost(run: Run) -> float:
    """The trained model's cost on the whole training set (metrics.json), the table's final cost."""
    return float(run.metrics["train"]["cost"])


def _keep_probs(run: Run) -> list[float]:
    from omegaconf import OmegaConf

    keep = OmegaConf.select(run.config, "model.keep_prob")
    return [] if keep is None else [float(keep)] if isinstance(keep, (int, float)) else [float(k) for k in keep]


def _regularised(run: Run) -> bool:
    """L2 (train.lambd > 0) or dropout (a model.keep_prob below 1) in the run's config."""
    from omegaconf import OmegaConf

    return float(OmegaConf.select(run.config, "train.lambd") or 0) > 0 or any(k < 1 for k in _keep_probs(run))


def _ranking(study: Study, runs: list[Run]) -> tuple[Run, str]:
    """The winner and the opening sentence: its score, ties, and its margin over the others (grouped
    when they score the same)."""
    order = {n: i for i, n in enumerate(study.names)}
    ranked = sorted(runs, key=lambda r: (-score(r)[0], order[r.name]))
    best = ranked[0]
    value, split = score(best)
    text = f"`{best.name}` scores best with {_pct(value)} {split} accuracy"
    tied = [r for r in ranked[1:] if score(r)[0] == value]
    if tied:
        text += ", tied with " + " and ".join(f"`{r.name}`" for r in tied)
    groups: dict[float, list[Run]] = {}
    for r in ranked[1:]:
        if score(r)[0] < value:
            groups.setdefault(score(r)[0], []).append(r)
    parts = []
    for other, group in groups.items():
        names = " and ".join(f"`{r.name}`" for r in group)
        parts.append(f"{names} ({'both ' if len(group) == 2 else 'all ' if len(group) > 2 else ''}"
                     f"{_pct(other)}) by {100 * (value - other):.2f} points")
    if parts:
        text += ", ahead of " + ", ".join(parts)
    return best, text + "."


def sentence(study: Study, runs: list[Run], base_rate: float) -> str:
    """What the study shows, from the numbers: the winner and its margin, then what sets the others apart.
    base_rate: the share of the larger class in the training set (what always guessing one class scores)."""
    best, text = _ranking(study, runs)
    starts = {r.name: r.costs[0][1] for r in runs if r.costs}
    reference = starts.get(best.name, math.nan)  # the winner's starting cost
    for r in [r for r in runs if r is not best]:
        if symmetric(r):
            chance = (f", no better than always guessing the larger class ({_pct(base_rate)})"
                      if abs(r.train_accuracy - base_rate) < 0.005 else "")
            text += (f" `{r.name}` ends with every hidden layer's units still identical: the symmetry never "
                     f"breaks, so it stays at {_both(r)}{chance}.")
        elif r.name in starts and starts[r.name] > SATURATED_START * reference:
            text += (f" `{r.name}` starts at cost {starts[r.name]:.4g}, {starts[r.name] / reference:.0f} times "
                     f"`{best.name}`'s {reference:.4g}: its large weights saturate the output; after "
                     f"{_iterations(r)} iterations its cost is {_final_cost(r):.4g} against "
                     f"{_final_cost(best):.4g}, with {_both(r)}.")
    plain = [r for r in runs if not _regularised(r)]
    if study.key == "reg" and len(plain) == 1 and plain[0].test_accuracy is not None:
        base = plain[0]
        gap = base.train_accuracy - base.test_accuracy
        text += (f" Without regularisation `{base.name}` fits the training set to {_pct(base.train_accuracy)} "
                 f"but scores {_pct(base.test_accuracy)} on test ({100 * gap:.2f} points lower"
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
        if any(k < 1 for k in _keep_probs(r)) and r.costs and _final_cost(r) > 2 * r.costs[-1][1]:
            fixed = bool(r.config.train.get("course_compat"))
            text += (f" `{r.name}`'s cost under its dropout mask{'' if fixed else 's'} ends at {r.costs[-1][1]:.4g}, "
                     f"the full network's (no dropout, as it predicts) at {_final_cost(r):.4g}"
                     + (": with course_compat it trained with the course's one fixed mask." if fixed else "."))
    if study.key == "opt":
        ranked = [best, *sorted((r for r in runs if r is not best), key=_final_cost)]
        text += (f" Final cost after {_iterations(best)} epochs at lr {float(best.config.optimizer.lr):g}: "
                 + ", ".join(f"`{r.name}` {_final_cost(r):.4g}"
                             + ("" if r is best else f" ({_final_cost(r) / _final_cost(best):.1f} times)")
                             for r in ranked) + ".")
    return text


def boundary_grid(study: Study, runs: list[Run], root: Path, path: Path):
    """One decision-boundary panel per run over its training points; returns (path, the dataset)."""
    from scratchnet import plots
    from scratchnet.datasets import load_data

    ds = load_data(runs[0].config.data, root)  # a study's runs share their data set
    fig = plots.figure(4.2 * len(runs), 4.4)
    low, high = ds.X_train.min(axis=1), ds.X_train.max(axis=1)  # (2,)
    pad = ZOOM_PAD * (high - low)
    for k, r in enumerate(runs):
        ax = fig.add_subplot(1, len(runs), k + 1)
        plots.decision_boundary_ax(ax, r.network, ds.X_train, ds.Y_train, f"{r.name}: {_both(r)}")
        if study.zoom:
            ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
            ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    fig.tight_layout()
    plots.save(fig, path)
    return path, ds


def cost_figure(study: Study, runs: list[Run], path: Path) -> Path:
    """The study's cost curves overlaid; log scale when they span a wide range."""
    from scratchnet import plots

    fig = plots.figure(7.0, 4.5)
    ax = fig.add_subplot()
    for k, r in enumerate(runs):  # the settings are in the table: the legend names the runs
        if r.costs:
            plots.cost_curve_ax(ax, r.costs, label=r.name)
            ax.lines[-1].set_linestyle(LINE_STYLES[k % len(LINE_STYLES)])
    plots.log_scale_if_wide(ax, [r.costs for r in runs])
    if runs and runs[0].config.train.get("batch_size"):  # mini-batches: the cost is recorded per epoch
        ax.set_xlabel("epoch")
    ax.set_title(f"{study.title}: training cost")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots.save(fig, path)
    return path


def section(doc: Document, study: Study, runs: list[Run], root: Path, out: Path) -> dict:
    """Add the study's heading, settings, table, sentence and figures to `doc`; returns its summary."""
    by_name = {r.name: r for r in runs}
    runs = [by_name[n] for n in study.names]
    doc.heading(f"{study.title}: {study.varies}", level=3)
    doc.paragraph(f"Shared by the runs: {common_settings(runs)}. Settings lists what differs between them.")
    doc.table(TABLE_HEADER, table_rows(study, runs))
    grid, ds = boundary_grid(study, runs, root, out / f"study_{study.key}_boundaries.png")
    base_rate = float(max(ds.Y_train.mean(), 1 - ds.Y_train.mean()))
    doc.paragraph(sentence(study, runs, base_rate))
    doc.figure(grid, f"{study.title}: decision boundaries over the training points, one panel per run "
                     f"(train / test accuracy)")
    doc.figure(cost_figure(study, runs, out / f"study_{study.key}_cost.png"),
               f"{study.title}: training cost of each run")
    return {r.name: {"train_accuracy": r.train_accuracy, "test_accuracy": r.test_accuracy,
                     "course_train": e.train, "course_test": e.test, "matches": match_mark(r, e) == "✓"}
            for r, (_, e) in zip(runs, study.runs, strict=True)}
