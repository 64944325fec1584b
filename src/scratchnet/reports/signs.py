"""The SIGNS section of the report: our runs over seeds beside the course's TensorFlow numbers, and
what the data check found in the JPEG export.

A SIGNS experiment is read from experiments/seeds/<name>/ when a seed study trained it (the seed runner,
scratchnet.stages.seeds: per_seed.csv's values, metrics.json's 95% t interval), else from the single run
experiments/<name>/. The course trained its nets with TensorFlow's generator (and its own copy of the
training images, resized and compressed differently from the export): its numbers are one run each,
beside ours for scale, never a target to the digit.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

from scratchnet.data import check_signs
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError

# the course's printed results (TensorFlow 1 / Keras): train accuracy, test accuracy, cost after epoch 0
COURSE = {
    "dense_signs": (0.999074, 0.716667, 1.855702, "course 2 week 3, TensorFlow 1"),
    "conv_signs": (0.940741, 0.783333, 1.917929, "course 4 week 1, TensorFlow 1"),
    "resnet50_signs": (None, 0.8, None, "course 4 week 2, Keras: test accuracy above 0.8 after 10 epochs"),
}
HEADER = ["experiment", "runs", "train accuracy", "test accuracy", "test 95% interval", "cost after epoch 0",
          "course (TensorFlow-trained, one run)"]


def _first_cost(folder: Path) -> float | None:
    with open(folder / "cost.csv", newline="") as f:
        rows = list(csv.reader(f))[1:]
    return float(rows[0][1]) if rows and int(rows[0][0]) == 0 else None


def _over_seeds(folder: Path, name: str) -> dict:
    """results() of a seed study's folder (metrics.json, per_seed.csv) holding experiment `name`."""
    summary = json.loads((folder / "metrics.json").read_text())
    if name not in summary.get("experiments", {}):
        raise CompareError(f"{folder / 'metrics.json'}: expected the seed study of {name}, found "
                           f"{', '.join(summary.get('experiments', {})) or 'no experiment'}")
    with open(folder / "per_seed.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["experiment"] == name]
    e = summary["experiments"][name]
    return {"runs": f"{len(rows)} seeds ({', '.join(r['seed'] for r in rows)})",
            "train": [float(r["train_accuracy"]) for r in rows], "test": [float(r["test_accuracy"]) for r in rows],
            "ci95": [e["ci95_seeds_low"], e["ci95_seeds_high"]] if len(rows) > 1 else None,
            "first_costs": [float(r["first_cost"]) if r.get("first_cost") else None for r in rows]}


def results(experiments: Path, name: str) -> dict:
    """{runs, train, test (value lists), ci95, first_costs} of one SIGNS experiment, seeds or single."""
    folder = experiments / "seeds" / name
    if (folder / "metrics.json").is_file():
        return _over_seeds(folder, name)
    if not (experiments / name / "metrics.json").is_file():
        raise CompareError(f"{folder}/metrics.json: expected a seed study (dvc repro seeds_{name}) or the single "
                           f"run {experiments / name}/metrics.json; found neither")
    metrics = json.loads((experiments / name / "metrics.json").read_text())
    return {"runs": "1 run", "train": [metrics["train"]["accuracy"]], "test": [metrics["test"]["accuracy"]],
            "ci95": None, "first_costs": [_first_cost(experiments / name)]}


def _mean_spread(values: list[float], digits: int = 4) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return (f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f} "
            f"({min(values):.{digits}f} to {max(values):.{digits}f})")


def _course(name: str) -> str:
    if name not in COURSE:
        return "- (ours alone)"
    train, test, cost, source = COURSE[name]
    shown = [f"train {train:.6f}" if train is not None else None, f"test {test:.6f}" if test is not None else None,
             f"cost {cost:.6f} after epoch 0" if cost is not None else None]
    return ", ".join(s for s in shown if s) + f" ({source})"


def section(doc: Document, experiments: Path, names: list[str], signs_root: Path) -> dict:
    """The SIGNS table and the data check's findings; returns both for summary.json."""
    doc.heading("SIGNS: hand signs 0-5")
    doc.paragraph("Train on the JPEG export's 1080 training images minus the copies of test images the data "
                  "check finds, test on the course's own 120 (test_signs.h5). Accuracies are fractions; over "
                  "seeds: mean ± sample standard deviation (min to max) and the 95% t interval of the mean. The "
                  "course's numbers are single TensorFlow runs with its own generator and its own copy of the "
                  "training images: they show the scale, ours cannot match them to the digit.")
    found = {name: results(experiments, name) for name in names}
    doc.table(HEADER, [[f"`{n}`", r["runs"], _mean_spread(r["train"]), _mean_spread(r["test"]),
                        "-" if r["ci95"] is None else f"{r['ci95'][0]:.4f} to {r['ci95'][1]:.4f}",
                        _mean_spread(r["first_costs"], 6), _course(n)] for n, r in found.items()])
    check = check_signs(signs_root)
    doc.heading("The data check", level=3)
    counts = check.exact_counts()
    doc.paragraph(f"Exact duplicates (identical decoded pixels): {len(check.exact)} groups of "
                  f"{sum(len(g.names) for g in check.exact)} images, by the splits they touch: "
                  + ", ".join(f"{k} {v}" for k, v in counts.items()) + ". Near-copies of test images "
                  f"(the same photo, compressed differently; 1 - r of 8x8 grey thumbnails <= {check.threshold:g}): "
                  f"{len(check.near)} pairs; the farthest copy is at {check.gap[0]:.2g}, the closest "
                  f"different photo at {check.gap[1]:.2g}. Training sets leave out the {len(check.train_copies)} "
                  f"training images that copy a test image (1080 -> {1080 - len(check.train_copies)}); duplicates "
                  f"inside the training set stay (they weigh a photo twice, they do not leak the test set). "
                  f"Label conflicts among copies: {len(check.label_conflicts())}.")
    classes = sorted({p.train_class for p in check.near})
    doc.bullets([f"{p.test} ~ {p.train} (class {p.test_class}, d {p.distance:.2g})" for p in check.near]
                + [f"exact: {' = '.join(g.names)}" for g in check.exact[:3]]
                + [f"the dropped copies are all of class {', '.join(classes)}" if len(classes) == 1 else
                   f"the dropped copies are of classes {', '.join(classes)}"])
    return {"results": found, "data_check": {"exact_groups": len(check.exact), "exact_counts": counts,
                                             "near_pairs": len(check.near), "dropped": list(check.train_copies)}}
