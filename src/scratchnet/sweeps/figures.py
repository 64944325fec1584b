"""A sweep summary's figure, drawn from the finished jobs' MLflow runs: cost curves, decision
boundaries (one panel per job) or train/test accuracy against the number of hidden layers."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from scratchnet import tracking
from scratchnet.data import Dataset, load_data
from scratchnet.models import load_model
from scratchnet.nn import Network
from scratchnet.reports import plots
from scratchnet.sweeps.records import JobRecord, label, swept_keys


def cost_curves(records: list[JobRecord], path: Path, client) -> None:
    keys = swept_keys(records)
    plots.cost_figure([(label(r, keys), tracking.metric_history(client, r.run_id, "train/cost")) for r in records],
                      path, "cost per epoch")


def _network_and_data(record: JobRecord, client) -> tuple[Network, Dataset]:
    p = record.params
    # the job's data config back from its flattened params (data.name, data.params.seed, ...)
    data_cfg = OmegaConf.from_dotlist([f"{k.removeprefix('data.')}={v}" for k, v in p.items()
                                       if k.startswith("data.")])
    data_cfg.setdefault("params", {})
    with tempfile.TemporaryDirectory() as tmp:
        local = tracking.download_artifacts(client, record.run_id, "model", tmp)
        network = load_model(next(local.glob("*.npz")))
    return network, load_data(data_cfg, p.get("paths.root", "."))


def decision_boundaries(records: list[JobRecord], path: Path, client) -> None:
    keys = swept_keys(records)
    panels = []
    for r in records:
        network, ds = _network_and_data(r, client)
        accuracy = r.metrics.get("train/accuracy")
        title = label(r, keys) + (f": {100 * accuracy:.2f}%" if accuracy is not None else "")
        panels.append((network, ds.X_train, ds.Y_train, title))
    plots.boundary_grid(panels, path)


def accuracy_vs_depth(records: list[JobRecord], path: Path, client) -> None:
    points = sorted(((len(json.loads(r.params.get("model.hidden", "[]"))), r) for r in records),
                    key=lambda point: (point[0], point[1].job))
    fig = plots.figure(6.0, 4.5)
    ax = fig.add_subplot()
    for split in ("train", "test"):
        xs = [d for d, r in points if f"{split}/accuracy" in r.metrics]
        ys = [100 * r.metrics[f"{split}/accuracy"] for d, r in points if f"{split}/accuracy" in r.metrics]
        ax.plot(xs, ys, marker="o", label=split)
    ax.set_xlabel("hidden layers")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(sorted({d for d, _ in points}))
    ax.legend()
    fig.tight_layout()
    plots.save(fig, path)


FIGURE_MAKERS = {"cost_curves": cost_curves, "decision_boundaries": decision_boundaries,
                 "accuracy_vs_depth": accuracy_vs_depth}
FIGURES = tuple(FIGURE_MAKERS)
