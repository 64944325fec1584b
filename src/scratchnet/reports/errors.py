"""Error analysis of a cat model on the test set: per-image measures, scores, and where errors gather.

The best cat model is the experiments/*cat*/ run with the highest test accuracy (ties: higher
train accuracy, then the name). The analysis holds the confusion matrix with precision / recall /
F1 (cat is the positive class, sklearn.metrics) and four per-image measures that stand in for the
causes the course names, compared between misclassified and correct images:

- brightness: mean luminance Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601), channels in [0, 1];
- contrast: the standard deviation of that luminance over the pixels;
- centre_border_distance: Euclidean distance in RGB ([0, 1] per channel) between the mean colour
  of the central region (the middle half of each side: 32x32 of 64x64) and of the border (the
  outer eighth on every side: 8 pixels of 64); small = subject coloured like its background;
- saturation: mean HSV saturation (max - min) / max per pixel, 0 for black pixels.

The figures and the page are reports.error_page; the DVC stage is scratchnet.stages.errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.data.cat import CLASSES, images_from_columns
from scratchnet.files import write_csv
from scratchnet.nn import Network

LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601 weights for R, G, B
N_BINS = 4  # quartiles: ~12 images per bin on the 50-image test set


class ErrorsStageError(Exception):
    """Missing or unusable inputs for the error analysis (no cat experiment, bad metrics file, run.json)."""


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
    # pathlib's * matches hidden names too: skip .<name>.*.tmp staging folders (a run still writing,
    # or one a hard kill left half-written)
    paths = [experiments / n / "metrics.json" for n in names] if names else \
        [p for p in experiments.glob("*cat*/metrics.json") if not p.parent.name.startswith(".")]
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
                               f"{experiments}/<name with 'cat'>/metrics.json; run `dvc repro train_cat`")
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
        from sklearn.metrics import confusion_matrix  # lazy: sklearn takes ~1 s to import

        return confusion_matrix(self.labels, self.predictions, labels=[0, 1])

    def scores(self) -> dict[str, float]:
        """Accuracy, and precision / recall / F1 of the cat class (0 when undefined)."""
        from sklearn.metrics import accuracy_score, precision_recall_fscore_support

        precision, recall, f1, _ = precision_recall_fscore_support(
            self.labels, self.predictions, labels=[0, 1], pos_label=1, average="binary", zero_division=0)
        return {"accuracy": float(accuracy_score(self.labels, self.predictions)), "precision": float(precision),
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


def write_tables(analysis: ErrorAnalysis, bins: list[dict], out: Path) -> None:
    """measures.csv (one row per test image), measure_bins.csv (error rate per quartile of each measure)
    and measure_summary.csv (means, misclassified vs correct), floats to 6 significant digits."""
    per_image = [{"index": i, "label": CLASSES[analysis.labels[i]],
                  "prediction": CLASSES[analysis.predictions[i]], "p_cat": float(analysis.p_cat[i]),
                  "correct": int(analysis.labels[i] == analysis.predictions[i]),
                  **{k: float(v[i]) for k, v in analysis.measures.items()}}
                 for i in range(len(analysis.labels))]
    for name, table in (("measures.csv", per_image), ("measure_bins.csv", bins),
                        ("measure_summary.csv", analysis.measure_summary())):
        write_csv(out / name, list(table[0]), [[f"{v:.6g}" if isinstance(v, float) else v for v in row.values()]
                                               for row in table])
