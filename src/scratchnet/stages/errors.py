"""DVC stage `errors`: error analysis of the best cat model on the test set, into experiments/errors/.

`python -m scratchnet.stages.errors [--experiments experiments] [--data data/raw/cat]
[--out experiments/errors] [--no-mlflow]`

The best cat model is the experiments/*cat*/ run with the highest test accuracy (ties: higher
train accuracy, then the name). Writes a gallery of every misclassified test image, the confusion
matrix with precision / recall / F1 (cat is the positive class), and four per-image measures that
stand in for the causes the course names, compared between misclassified and correct images:

- brightness: mean luminance Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601), channels in [0, 1];
- contrast: the standard deviation of that luminance over the pixels;
- centre_border_distance: Euclidean distance in RGB ([0, 1] per channel) between the mean colour
  of the central region (the middle half of each side: 32x32 of 64x64) and of the border (the
  outer eighth on every side: 8 pixels of 64); small = subject coloured like its background;
- saturation: mean HSV saturation (max - min) / max per pixel, 0 for black pixels.

Everything lands in errors.md / errors.html (self-contained), measures.csv (one row per test
image), measure_summary.csv (means, misclassified vs correct), measure_bins.csv (error rate per
quartile of each measure) and metrics.json (scores, confusion counts, misclassified indices); the same
figures go to the model's MLflow run (named by its run.json) under the artifact path `errors/`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.io import ModelFileError, write_json, write_text
from scratchnet.nn import Network
from scratchnet.predict import CLASSES, IMAGE_SIZE, load_cat_model
from scratchnet.report import Document

LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601 weights for R, G, B
N_BINS = 4  # quartiles: ~12 images per bin on the 50-image test set


class ErrorsStageError(Exception):
    """Missing or unusable inputs for the error analysis (no cat experiment, bad metrics file)."""


# --- per-image measures: (H, W, 3) uint8 in, one float out ---------------------------------------


def _unit(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, found shape {image.shape}")
    return image.astype(np.float64) / 255.0  # (H, W, 3) in [0, 1]


def luminance(image: np.ndarray) -> np.ndarray:
    """Y = 0.299 R + 0.587 G + 0.114 B per pixel, (H, W) in [0, 1]."""
    return _unit(image) @ LUMA


def brightness(image: np.ndarray) -> float:
    """Mean luminance, in [0, 1]."""
    return float(luminance(image).mean())


def contrast(image: np.ndarray) -> float:
    """Standard deviation of the luminance over the pixels (population std), in [0, 0.5]."""
    return float(luminance(image).std())


def centre_border_distance(image: np.ndarray) -> float:
    """||mean RGB of the centre - mean RGB of the border||, in [0, sqrt(3)].

    Centre: rows and columns H/4 .. 3H/4 (the middle half of each side). Border: every pixel
    within H/8 of an edge. Small when the subject is coloured like its surroundings.
    """
    rgb = _unit(image)
    H, W, _ = rgb.shape
    centre = rgb[H // 4: H - H // 4, W // 4: W - W // 4].reshape(-1, 3)
    rows, cols = np.ogrid[:H, :W]
    edge_h, edge_w = max(H // 8, 1), max(W // 8, 1)
    on_border = (rows < edge_h) | (rows >= H - edge_h) | (cols < edge_w) | (cols >= W - edge_w)
    border = rgb[on_border]  # (n_border, 3)
    return float(np.linalg.norm(centre.mean(axis=0) - border.mean(axis=0)))


def saturation(image: np.ndarray) -> float:
    """Mean HSV saturation, (max - min) / max per pixel (0 where max = 0), in [0, 1]."""
    rgb = _unit(image)
    high, low = rgb.max(axis=2), rgb.min(axis=2)
    s = np.divide(high - low, high, out=np.zeros_like(high), where=high > 0)
    return float(s.mean())


MEASURES: dict[str, Callable[[np.ndarray], float]] = {
    "brightness": brightness,
    "contrast": contrast,
    "centre_border_distance": centre_border_distance,
    "saturation": saturation,
}

# which of the course's named causes each measure stands for
CAUSES = {
    "brightness": "lighting: under- or over-exposed pictures",
    "contrast": "lighting and image quality (flat, low-contrast pictures)",
    "centre_border_distance": "a cat coloured like its background (centre vs border colour)",
    "saturation": "unusual colour (washed-out or vivid pictures)",
}


# --- choosing the model -------------------------------------------------------------------------


def best_cat_experiment(experiments: Path, names: list[str] | None = None) -> tuple[str, dict]:
    """The experiments/*cat*/ folder (or one of `names`) with the best test accuracy (ties: train
    accuracy, then the name)."""
    candidates = []
    paths = [experiments / n / "metrics.json" for n in names] if names else experiments.glob("*cat*/metrics.json")
    for path in sorted(paths):
        try:
            metrics = json.loads(path.read_text())
            key = (-float(metrics["test"]["accuracy"]), -float(metrics["train"]["accuracy"]),
                   path.parent.name)
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ErrorsStageError(f"{path}: expected metrics.json with test.accuracy and "
                                   f"train.accuracy, found an unreadable file ({e})") from None
        candidates.append((key, path.parent.name, metrics))
    if not candidates:
        raise ErrorsStageError(f"no cat experiment in {experiments}: expected "
                               f"{experiments}/<name with 'cat'>/metrics.json; run `dvc repro train`")
    _, name, metrics = min(candidates)
    return name, metrics


# --- the analysis -------------------------------------------------------------------------------


@dataclass
class ErrorAnalysis:
    labels: np.ndarray  # (m,) int 0/1
    predictions: np.ndarray  # (m,) int 0/1
    p_cat: np.ndarray  # (m,) P(cat | image)
    measures: dict[str, np.ndarray]  # name -> (m,)

    @property
    def misclassified(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.predictions != self.labels)]

    def confusion(self) -> np.ndarray:
        """(2, 2) counts: rows the true class, columns the prediction (0 non-cat, 1 cat)."""
        C = np.zeros((2, 2), dtype=np.int64)
        np.add.at(C, (self.labels, self.predictions), 1)
        return C

    def scores(self) -> dict[str, float]:
        """Accuracy, and precision / recall / F1 of the cat class (0 when undefined)."""
        (tn, fp), (fn, tp) = self.confusion()
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"accuracy": float((tp + tn) / len(self.labels)), "precision": float(precision),
                "recall": float(recall), "f1": float(f1)}

    def measure_summary(self) -> list[dict]:
        """Per measure: mean over correct and misclassified images."""
        wrong = self.predictions != self.labels
        rows = []
        for name, values in self.measures.items():
            rows.append({"measure": name,
                         "mean_correct": float(values[~wrong].mean()) if (~wrong).any() else float("nan"),
                         "mean_misclassified": float(values[wrong].mean()) if wrong.any() else float("nan")})
        return rows

    def measure_bins(self, n_bins: int = N_BINS) -> list[dict]:
        """Error rate per quantile bin of each measure: images sorted by the measure (stable, so
        ties keep test-set order) and cut into n_bins groups of near-equal size."""
        wrong = self.predictions != self.labels
        rows = []
        for name, values in self.measures.items():
            order = np.argsort(values, kind="stable")
            for k, members in enumerate(np.array_split(order, n_bins)):
                if not len(members):
                    continue
                rows.append({"measure": name, "bin": k + 1, "low": float(values[members].min()),
                             "high": float(values[members].max()), "n": int(len(members)),
                             "errors": int(wrong[members].sum()),
                             "error_rate": float(wrong[members].mean())})
        return rows


def images_from_columns(X: np.ndarray) -> np.ndarray:
    """(12288, m) floats x/255 back to (m, 64, 64, 3) uint8, exactly (the inverse of load_cat)."""
    return np.rint(X.T.reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 3) * 255).astype(np.uint8)


def analyse(network: Network, X: np.ndarray, Y: np.ndarray) -> ErrorAnalysis:
    """Predict on X (12288, m) and compute every measure of every image."""
    A = network.predict_proba(X)
    p_cat = A[0] if A.shape[0] == 1 else A[1]
    images = images_from_columns(X)
    return ErrorAnalysis(
        labels=Y.ravel().astype(np.int64),
        predictions=network.predict(X).ravel().astype(np.int64),
        p_cat=np.asarray(p_cat, dtype=np.float64),
        measures={name: np.array([f(img) for img in images]) for name, f in MEASURES.items()},
    )


# --- figures ------------------------------------------------------------------------------------


def _figure(rows: int, columns: int, width: float, height: float):
    """(figure, (rows, columns) axes) from plots.figure: no pyplot, so no global backend switch."""
    from scratchnet import plots

    fig = plots.figure(width, height)
    return fig, fig.subplots(rows, columns, squeeze=False)


def _save(fig, path: Path) -> Path:
    # not plots.save: no Software entry (the matplotlib version) in the PNG, which DVC tracks
    from scratchnet.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    return path


def gallery(images: np.ndarray, analysis: ErrorAnalysis, path: Path, columns: int = 5) -> list[int]:
    """A grid of every misclassified image titled with true label, prediction and P(prediction);
    returns the indices shown, in order."""
    shown = analysis.misclassified
    rows = max(1, -(-len(shown) // columns))
    fig, axes = _figure(rows, columns, 2.2 * columns, 2.6 * rows)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        pred = analysis.predictions[i]
        p = analysis.p_cat[i] if pred == 1 else 1 - analysis.p_cat[i]
        ax.imshow(images[i], interpolation="nearest")
        ax.set_title(f"#{i} true: {CLASSES[analysis.labels[i]]}\npred: {CLASSES[pred]} (p={p:.2f})",
                     fontsize=8)
    if not shown:
        axes[0, 0].text(0.5, 0.5, "no misclassified image", ha="center", va="center")
    fig.tight_layout()
    _save(fig, path)
    return shown


def confusion_figure(C: np.ndarray, path: Path) -> Path:
    fig, axes = _figure(1, 1, 3.6, 3.2)
    ax = axes[0, 0]
    ax.imshow(C, cmap="Blues")
    for (r, c), n in np.ndenumerate(C):
        ax.text(c, r, str(n), ha="center", va="center",
                color="white" if n > C.max() / 2 else "black", fontsize=14)
    ax.set_xticks([0, 1], [f"pred {c}" for c in CLASSES])
    ax.set_yticks([0, 1], [f"true {c}" for c in CLASSES])
    ax.set_title("test set confusion matrix")
    fig.tight_layout()
    return _save(fig, path)


def measures_figure(analysis: ErrorAnalysis, bins: list[dict], path: Path) -> Path:
    """Per measure: the values of correct vs misclassified images (strip), and error rate per bin."""
    names = list(analysis.measures)
    wrong = analysis.predictions != analysis.labels
    overall = wrong.mean()
    fig, axes = _figure(2, len(names), 3.4 * len(names), 6)
    jitter = np.random.RandomState(0).uniform(-0.12, 0.12, size=len(wrong))  # fixed: same PNG each run
    for j, name in enumerate(names):
        values = analysis.measures[name]
        ax = axes[0, j]
        ax.scatter(values[~wrong], 0 + jitter[~wrong], s=12, label="correct", color="tab:blue")
        ax.scatter(values[wrong], 1 + jitter[wrong], s=12, label="misclassified", color="tab:red")
        ax.set_yticks([0, 1], ["correct", "wrong"])
        ax.set_title(name, fontsize=10)
        ax = axes[1, j]
        rows = [b for b in bins if b["measure"] == name]
        ax.bar([b["bin"] for b in rows], [b["error_rate"] for b in rows], color="tab:red")
        ax.axhline(overall, color="k", linestyle="--", linewidth=1, label=f"overall {overall:.0%}")
        ax.set_xticks([b["bin"] for b in rows], [f"Q{b['bin']}" for b in rows])
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"{name} quartile (low to high)", fontsize=8)
        ax.set_ylabel("error rate")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


# --- text ---------------------------------------------------------------------------------------


def explain(analysis: ErrorAnalysis, bins: list[dict]) -> list[str]:
    """One sentence per measure: where the errors concentrate, against the overall error rate."""
    wrong = analysis.predictions != analysis.labels
    n_wrong, m = int(wrong.sum()), len(wrong)
    if not n_wrong:
        return ["The model classifies every test image correctly: there is nothing to explain."]
    overall = n_wrong / m
    (_, fp), (fn, _) = analysis.confusion()
    lines = [f"Of the {n_wrong} errors, {fp} are non-cat images taken for cats and {fn} are cats missed "
             f"(precision {analysis.scores()['precision']:.2f}, recall {analysis.scores()['recall']:.2f})."]
    summary = {r["measure"]: r for r in analysis.measure_summary()}
    for name in analysis.measures:
        rows = [b for b in bins if b["measure"] == name]
        worst = max(rows, key=lambda b: (b["error_rate"], -b["bin"]))
        s = summary[name]
        direction = "higher" if s["mean_misclassified"] > s["mean_correct"] else "lower"
        lines.append(
            f"**{name}** ({CAUSES[name]}): misclassified images have a {direction} mean "
            f"({s['mean_misclassified']:.3f} vs {s['mean_correct']:.3f} for correct ones); the "
            f"error rate peaks in quartile Q{worst['bin']} ({worst['low']:.3f} to {worst['high']:.3f}) "
            f"at {worst['error_rate']:.0%} ({worst['errors']}/{worst['n']}) against {overall:.0%} overall.")
    bin_size = m // N_BINS
    lines.append(
        f"Caution: {n_wrong} errors among {m} images; in a bin of about {bin_size} images one error "
        f"moves the rate by {1 / max(bin_size, 1):.0%}, so only large gaps mean much. Position, scale, "
        f"breed and camera angle, the course's other causes, are not measured here: look at the gallery.")
    return lines


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buffer.getvalue()


# --- the stage ----------------------------------------------------------------------------------


def run(experiments: Path, data: Path, out: Path, log_mlflow: bool = True, names: list[str] | None = None) -> dict:
    """Run the whole analysis; returns the metrics written to out/metrics.json."""
    from scratchnet.data import load_cat

    name, model_metrics = best_cat_experiment(experiments, names)
    network = load_cat_model(experiments / name / "model.npz")  # 12288 inputs, a two-class output
    dataset = load_cat(data)
    analysis = analyse(network, dataset.X_test, dataset.Y_test)
    images = images_from_columns(dataset.X_test)
    out.mkdir(parents=True, exist_ok=True)

    shown = gallery(images, analysis, out / "gallery.png")
    C = analysis.confusion()
    confusion_figure(C, out / "confusion.png")
    bins = analysis.measure_bins()
    measures_figure(analysis, bins, out / "measures.png")
    summary = analysis.measure_summary()
    per_image = [{"index": i, "label": CLASSES[analysis.labels[i]],
                  "prediction": CLASSES[analysis.predictions[i]], "p_cat": float(analysis.p_cat[i]),
                  "correct": int(analysis.labels[i] == analysis.predictions[i]),
                  **{k: float(v[i]) for k, v in analysis.measures.items()}}
                 for i in range(len(analysis.labels))]
    write_text(out / "measures.csv", _csv(per_image))
    write_text(out / "measure_bins.csv", _csv(bins))

    scores = analysis.scores()
    metrics = {"model": name, "n_test": len(analysis.labels), "n_misclassified": len(shown),
               "misclassified": shown, **scores,
               "confusion": {"tn": int(C[0, 0]), "fp": int(C[0, 1]), "fn": int(C[1, 0]), "tp": int(C[1, 1])}}
    # the measures' means go to measure_summary.csv: in metrics.json they would crowd `dvc metrics show`
    write_text(out / "measure_summary.csv", _csv(summary))

    doc = Document(f"Error analysis: {name} on the cat test set")
    doc.paragraph(f"Model `{name}` (best test accuracy among the cat experiments: "
                  f"{model_metrics['test']['accuracy']:.2%} test, {model_metrics['train']['accuracy']:.2%} "
                  f"train), evaluated on the {len(analysis.labels)} test images: "
                  f"{len(shown)} misclassified. Cat is the positive class.")
    doc.heading("Confusion matrix and scores")
    doc.table(["", "predicted non-cat", "predicted cat"],
              [["true non-cat", C[0, 0], C[0, 1]], ["true cat", C[1, 0], C[1, 1]]])
    doc.table(["accuracy", "precision", "recall", "F1"],
              [[f"{scores[k]:.4f}" for k in ("accuracy", "precision", "recall", "f1")]])
    doc.figure(out / "confusion.png", "Confusion matrix (rows: true class, columns: prediction)")
    doc.heading("Misclassified images")
    doc.paragraph("Test-set indices: " + (", ".join(str(i) for i in shown) or "none") + ".")
    doc.figure(out / "gallery.png", "Every misclassified test image: true label, prediction and "
                                    "the model's probability of its prediction")
    doc.heading("Measures: misclassified vs correct")
    doc.paragraph("brightness = mean luminance (0.299 R + 0.587 G + 0.114 B, in [0, 1]); contrast = "
                  "std of the luminance; centre_border_distance = RGB distance between the mean colour "
                  "of the central 32x32 and of the 8-pixel border; saturation = mean HSV saturation.")
    doc.table(["measure", "mean (correct)", "mean (misclassified)"],
              [[r["measure"], f"{r['mean_correct']:.4f}", f"{r['mean_misclassified']:.4f}"] for r in summary])
    doc.table(["measure", "quartile", "range", "images", "errors", "error rate"],
              [[b["measure"], f"Q{b['bin']}", f"{b['low']:.3f} to {b['high']:.3f}", b["n"], b["errors"],
                f"{b['error_rate']:.0%}"] for b in bins])
    doc.figure(out / "measures.png", "Top: each measure for correct and misclassified images. "
                                     "Bottom: error rate per quartile (dashed: overall error rate)")
    doc.heading("What the numbers suggest")
    doc.bullets(explain(analysis, bins))
    doc.write(out, "errors")
    write_json(out / "metrics.json", metrics)

    if log_mlflow:
        log_to_model_run(experiments / name / "run.json",
                         [out / f for f in ("gallery.png", "confusion.png", "measures.png",
                                            "errors.md", "errors.html", "measure_bins.csv")],
                         {f"errors/{k}": scores[k] for k in ("precision", "recall", "f1")})
    return metrics


def log_to_model_run(run_json: Path, files: list[Path], metrics: dict[str, float]) -> bool:
    """Attach files (artifact path errors/) and metrics to the MLflow run named in run.json.

    Returns False (and says why on stderr) when the run has no MLflow record (tracking=none).
    """
    try:
        info = json.loads(run_json.read_text())
    except (OSError, ValueError) as e:
        raise ErrorsStageError(f"{run_json}: expected the run's JSON record "
                               f"(run_id, tracking_uri), found an unreadable file ({e})") from None
    if not info.get("run_id") or not info.get("tracking_uri"):
        print(f"errors: {run_json} names no MLflow run (tracking off): figures not logged",
              file=sys.stderr)
        return False
    from scratchnet import tracking

    run = tracking.existing_run(info["tracking_uri"], info["run_id"])
    for path in files:
        run.log_artifact(path, "errors")
    run.log_metrics(metrics)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.errors", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="candidate experiments (default: experiments/*cat*)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--data", type=Path, default=Path("data/raw/cat"), help="folder of the cat .h5 files")
    parser.add_argument("--out", type=Path, default=Path("experiments/errors"))
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to the model's MLflow run")
    args = parser.parse_args(argv)
    from scratchnet.data import DataError
    from scratchnet.tracking import TrackingError  # mlflow itself loads only when logging

    try:
        metrics = run(args.experiments, args.data, args.out, log_mlflow=not args.no_mlflow, names=args.names)
    except (ErrorsStageError, ModelFileError, DataError, TrackingError) as e:
        print(f"errors: error: {e}", file=sys.stderr)
        return 1
    print(f"errors: {metrics['model']}: {metrics['n_misclassified']}/{metrics['n_test']} misclassified, "
          f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, F1 {metrics['f1']:.3f} "
          f"-> {args.out}/errors.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
