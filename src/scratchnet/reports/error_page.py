"""The error analysis as figures and a page: the gallery of misclassified images, the confusion
matrix, the measures against the errors, and errors.md / errors.html (self-contained)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.data.cat import CLASSES
from scratchnet.reports import plots
from scratchnet.reports.document import Document
from scratchnet.reports.errors import ErrorAnalysis, explain

FIGURES = ("gallery.png", "confusion.png", "measures.png")


def _figure(rows: int, columns: int, width: float, height: float):
    """(figure, (rows, columns) axes) from plots.figure: no pyplot, so no global backend switch."""
    fig = plots.figure(width, height)
    return fig, fig.subplots(rows, columns, squeeze=False)


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
    plots.save(fig, path)
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
    return plots.save(fig, path)


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
    return plots.save(fig, path)


def write_page(name: str, model_metrics: dict, images: np.ndarray, analysis: ErrorAnalysis, bins: list[dict],
               out: Path) -> list[int]:
    """The three figures and errors.md / errors.html in `out` for model `name` (its metrics.json) on
    `images` (m, 64, 64, 3); returns the misclassified indices shown."""
    shown = gallery(images, analysis, out / "gallery.png")
    C = analysis.confusion()
    confusion_figure(C, out / "confusion.png")
    measures_figure(analysis, bins, out / "measures.png")
    scores = analysis.scores()
    summary = analysis.measure_summary()
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
    return shown
