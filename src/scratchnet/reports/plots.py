"""Plots as PNG files: cost curves and course-style decision boundaries, one run or several.

matplotlib is imported inside the functions (it costs ~0.3 s) and only through its object API
(Figure + the Agg canvas): nothing here touches pyplot's global state or the caller's backend.
The `*_ax` functions draw into a given Axes; `cost_figure` and `boundary_grid` draw several runs.
PNGs carry no Software entry (the matplotlib version), so DVC sees the same bytes across upgrades.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scratchnet.files import atomic_path
from scratchnet.nn import Network

Costs = Sequence[tuple[int, float]]  # (epoch, cost) pairs

GRID_STEPS = 300  # decision-boundary resolution per axis: the course's h=0.01 grid would be ~1e6 points
MARGIN = 1.0  # the course pads the data's range by 1 on every side
CMAP = "Spectral"  # the course's colour map
LINE_STYLES = ("-", "--", ":", "-.")  # overlaid curves that coincide (gd and momentum) stay visible
LOG_SCALE_RATIO = 10  # cost axis in log scale when the costs shown span more than this factor


def preload() -> None:
    """Import matplotlib's Figure and Agg canvas now (~0.4 s), e.g. before forking workers that draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401


def figure(width: float = 6.0, height: float = 4.5):
    """A new matplotlib Figure on the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: str | os.PathLike) -> Path:
    """Write `fig` as PNG atomically (a temp file beside `path`, then one rename); returns the path."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    return Path(path)


def cost_curve_ax(ax, costs: Costs, title: str = "", label: str | None = None) -> None:
    """Cost against epoch from (epoch, cost) pairs, as the course plots it."""
    epochs, values = zip(*costs, strict=True) if costs else ((), ())
    ax.plot(epochs, values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost")
    if title:
        ax.set_title(title)


def log_scale_if_wide(ax, histories: Sequence[Costs]) -> None:
    """Switch the cost axis to log scale when the positive costs drawn span more than LOG_SCALE_RATIO."""
    values = [c for costs in histories for _, c in costs if c > 0]
    if values and max(values) / min(values) > LOG_SCALE_RATIO:
        ax.set_yscale("log")
        ax.set_ylabel("cost (log scale)")


def cost_curve(costs: Costs, path: str | os.PathLike, title: str = "") -> None:
    """The cost curve of one run written to `path` (PNG)."""
    fig = figure()
    cost_curve_ax(fig.add_subplot(), costs, title)
    fig.tight_layout()
    save(fig, path)


def cost_figure(curves: Sequence[tuple[str, Costs]], path: str | os.PathLike, title: str) -> Path:
    """Several runs' cost curves overlaid, one labelled line each; log scale when they span a wide range."""
    fig = figure(7.0, 4.5)
    ax = fig.add_subplot()
    for k, (label, costs) in enumerate(curves):
        if costs:
            cost_curve_ax(ax, costs, label=label)
            ax.lines[-1].set_linestyle(LINE_STYLES[k % len(LINE_STYLES)])
    log_scale_if_wide(ax, [costs for _, costs in curves])
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, path)
    return Path(path)


def decision_boundary_ax(ax, network: Network, X: np.ndarray, Y: np.ndarray, title: str = "") -> None:
    """The network's predicted class over the plane, with the points X (2, m) coloured by Y (1, m)."""
    if X.shape[0] != 2:
        raise ValueError(f"a decision boundary needs 2-D inputs; X has {X.shape[0]} features")
    x_min, x_max = X[0].min() - MARGIN, X[0].max() + MARGIN
    y_min, y_max = X[1].min() - MARGIN, X[1].max() + MARGIN
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, GRID_STEPS), np.linspace(y_min, y_max, GRID_STEPS))
    grid = np.stack([xx.ravel(), yy.ravel()]).astype(network.dtype)  # (2, GRID_STEPS**2)
    Z = network.predict(grid).reshape(xx.shape)  # (GRID_STEPS, GRID_STEPS) class labels
    n_classes = max(int(Y.max()) + 1, network.n_outputs if network.output == "softmax" else 2)
    levels = np.arange(n_classes + 1) - 0.5  # one band per class
    ax.contourf(xx, yy, Z, levels=levels, cmap=CMAP, vmin=0, vmax=n_classes - 1)
    ax.scatter(X[0], X[1], c=Y.ravel(), s=12, cmap=CMAP, vmin=0, vmax=n_classes - 1, edgecolors="k", linewidths=0.3)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)


def decision_boundary(network: Network, X: np.ndarray, Y: np.ndarray, path: str | os.PathLike,
                      title: str = "") -> None:
    """The decision boundary over the training points written to `path` (PNG)."""
    fig = figure(5.5, 5.0)
    decision_boundary_ax(fig.add_subplot(), network, X, Y, title)
    fig.tight_layout()
    save(fig, path)


def boundary_grid(panels: Sequence[tuple[Network, np.ndarray, np.ndarray, str]], path: str | os.PathLike,
                  zoom: float | None = None, columns: int = 4) -> Path:
    """One decision-boundary panel per (network, X, Y, title), `columns` to a row. zoom: frame each
    panel on its points plus this fraction of their range (instead of MARGIN around them)."""
    cols = min(columns, len(panels))
    rows = -(-len(panels) // cols)
    fig = figure(4.2 * cols, 4.4 * rows)
    for k, (network, X, Y, title) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        decision_boundary_ax(ax, network, X, Y, title)
        if zoom is not None:
            low, high = X.min(axis=1), X.max(axis=1)  # (2,)
            pad = zoom * (high - low)
            ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
            ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
    fig.tight_layout()
    save(fig, path)
    return Path(path)
