"""How the errors move from the deep net to the conv and residual nets on the cat test set.

The course ends its error analysis of the 4-layer model by blaming the dense architecture; here the
same 50 test images go through deep_cat and the image nets: which of deep's misclassified images
each one gets right ("fixed"), which it gets wrong that deep got right ("broken"), and whether the
errors still gather where the course's causes would put them. The per-image measures are those of
reports.errors (lighting: brightness and contrast; colour: saturation and centre_border_distance).
They depend on the image only, so every model is scored on the same quartile bins, and a shift is a
change of error counts within a bin. Pose and scale are not measured: the gallery names the images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scratchnet.data import Dataset
from scratchnet.nn import Network
from scratchnet.reports.document import Document
from scratchnet.reports.errors import CAUSES, MEASURES, N_BINS

SMALL_SHIFT = 3  # images: a quarter of a ~12-image quartile, what a different few errors move


@dataclass
class ModelErrors:
    name: str
    wrong: np.ndarray  # (m,) bool: misclassified test images

    @property
    def indices(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.wrong)]


def model_errors(name: str, network: Network, ds: Dataset) -> ModelErrors:
    """The test images `network` misclassifies (columns for a dense net, images for an image net)."""
    X = ds.examples("test", network.example_axis, network.dtype)
    return ModelErrors(name, network.predict(X).ravel() != ds.Y_test.ravel())


def measures(ds: Dataset) -> dict[str, np.ndarray]:
    """Every reports.errors measure of every test image, from the uint8 pixels."""
    images = np.rint(ds.images("test") * 255).astype(np.uint8)  # exactly the files' pixels (x / 255 undone)
    return {name: np.array([f(image) for image in images]) for name, f in MEASURES.items()}


def quartile_bins(values: np.ndarray) -> list[np.ndarray]:
    """The test images sorted by a measure (stable) and cut into N_BINS near-equal groups, as reports.errors."""
    return np.array_split(np.argsort(values, kind="stable"), N_BINS)


def shift(base: ModelErrors, others: list[ModelErrors], ds: Dataset) -> dict:
    """fixed / broken indices per model, and the error count of every model in every quartile bin."""
    values = measures(ds)
    out = {"base": base.name, "n_test": int(len(base.wrong)), "misclassified": {base.name: base.indices}}
    for model in others:
        out["misclassified"][model.name] = model.indices
        out.setdefault("fixed", {})[model.name] = [int(i) for i in np.flatnonzero(base.wrong & ~model.wrong)]
        out.setdefault("broken", {})[model.name] = [int(i) for i in np.flatnonzero(~base.wrong & model.wrong)]
    rows = []
    for name, v in values.items():
        for k, members in enumerate(quartile_bins(v)):
            rows.append({"measure": name, "bin": k + 1, "low": float(v[members].min()), "high": float(v[members].max()),
                         "n": int(len(members)),
                         **{m.name: int(m.wrong[members].sum()) for m in [base, *others]}})
    out["bins"] = rows
    out["mean_measures"] = {m.name: {name: float(v[m.wrong].mean()) if m.wrong.any() else None
                                     for name, v in values.items()} for m in [base, *others]}
    out["mean_measures"]["all images"] = {name: float(v.mean()) for name, v in values.items()}
    return out


def section(doc: Document, result: dict) -> None:
    """The shift as a heading, a table of fixed / broken images and a table of errors per quartile."""
    base, models = result["base"], list(result["fixed"])
    doc.heading(f"Errors: {base} against the image nets")
    doc.paragraph(f"The {result['n_test']} cat test images. {base} misclassifies "
                  f"{len(result['misclassified'][base])}: {_ids(result['misclassified'][base])}.")
    doc.table(["model", "misclassified", f"fixed ({base} wrong, it right)", f"broken ({base} right, it wrong)"],
              [[m, len(result["misclassified"][m]), _ids(result["fixed"][m]), _ids(result["broken"][m])]
               for m in models])
    names = [base, *models]
    doc.paragraph("Errors per quartile of each measure (the same images for every model: the measures "
                  "depend on the image alone). " + "; ".join(f"{k}: {v}" for k, v in CAUSES.items()) + ".")
    doc.table(["measure", "quartile", "range", "images", *names],
              [[r["measure"], f"Q{r['bin']}", f"{r['low']:.3f} to {r['high']:.3f}", r["n"], *(r[n] for n in names)]
               for r in result["bins"]])
    doc.bullets([sentence(result, m) for m in models])


def sentence(result: dict, model: str) -> str:
    """How many of the base's errors `model` fixes and makes, and the quartiles whose counts moved most."""
    base = result["base"]
    moved = sorted(result["bins"], key=lambda r: (-abs(r[model] - r[base]), r["measure"], r["bin"]))
    largest = abs(moved[0][model] - moved[0][base])
    top = [r for r in moved if abs(r[model] - r[base]) == largest]
    shifts = "; ".join(f"{r['measure']} Q{r['bin']} ({r['low']:.3f} to {r['high']:.3f}) {r[base]} -> {r[model]}"
                       for r in top)
    return (f"`{model}` gets {len(result['fixed'][model])} of {base}'s {len(result['misclassified'][base])} errors "
            f"right and makes {len(result['broken'][model])} new ones ({len(result['misclassified'][model])} in "
            f"all). The largest change in a quartile is {largest} image{'s' if largest != 1 else ''}: {shifts}. "
            + (f"With about {result['n_test'] // N_BINS} images a quartile, {largest} is what swapping a few "
               f"images does: the errors move to other images, not to other lighting or colour."
               if largest <= SMALL_SHIFT else "That is more than a few images: the errors gather elsewhere."))


def _ids(indices: list[int]) -> str:
    return ", ".join(map(str, indices)) if indices else "none"
