"""Training plots as PNG files: the cost curve and the course-style decision boundary.

matplotlib is imported inside the functions (it costs ~0.3 s) and only through its object API
(Figure + the Agg canvas): nothing here touches pyplot's global state or the caller's backend.
The `*_ax` functions draw into a given Axes, for grids of runs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from scratchnet.io import atomic_path
from scratchnet.nn import Network

GRID_STEPS = 300  # decision-boundary resolution per axis: the course's h=0.01 grid would be ~1e6 points
MARGIN = 1.0  # the course pads the data's range by 1 on every side
CMAP = "Spectral"  # the course's colour map


def figure(width: float = 6.0, height: float = 4.5):
    """A new matplotlib Figure on the Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def save(fig, path: str | os.PathLike) -> None:
    """Write `fig` as PNG atomically (a temp file beside `path`, then one rename)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def cost_curve_ax(ax, costs: Sequence[tuple[int, float]], title: str = "", label: str | None = None) -> None:
    """Cost against iteration from (iteration, cost) pairs, as the course plots it."""
    iterations, values = zip(*costs, strict=True) if costs else ((), ())
    ax.plot(iterations, values, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    if title:
        ax.set_title(title)


LOG_SCALE_RATIO = 10  # cost axis in log scale when the costs shown span more than this factor


def log_scale_if_wide(ax, histories: Sequence[Sequence[tuple[int, float]]]) -> None:
    """Switch the cost axis to log scale when the positive costs drawn span more than LOG_SCALE_RATIO."""
    values = [c for costs in histories for _, c in costs if c > 0]
    if values and max(values) / min(values) > LOG_SCALE_RATIO:
        ax.set_yscale("log")
        ax.set_ylabel("cost (log scale)")


def cost_curve(costs: Sequence[tuple[int, float]], path: str | os.PathLike, title: str = "") -> None:
    """The cost curve of one run written to `path` (PNG)."""
    fig = figure()
    cost_curve_ax(fig.add_subplot(), costs, title)
    fig.tight_layout()
    save(fig, path)


def decision_boundary_ax(ax, network: Network, X: np.ndarray, Y: np.ndarray, title: str = "") -> None:
    """The network's predicted class over the plane, with the points X (2, m) coloured by Y (1, m)."""
    if X.shape[0] != 2:
        raise ValueError(f"a decision boundary needs 2-D inputs; X has {X.shape[0]} features")
    x_min, x_max = X[0].min() - MARGIN, X[0].max() + MARGIN
    y_min, y_max = X[1].min() - MARGIN, X[1].max() + MARGIN
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, GRID_STEPS), np.linspace(y_min, y_max, GRID_STEPS))
    grid = np.stack([xx.ravel(), yy.ravel()]).astype(network.dtype)  # (2, GRID_STEPS**2)
    Z = network.predict(grid).reshape(xx.shape)  # (GRID_STEPS, GRID_STEPS) class labels
    n_classes = max(int(Y.max()) + 1, network.layer_dims[-1] if network.output_activation == "softmax" else 2)
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
