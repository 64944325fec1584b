"""Classify your own images with a trained model: `scratchnet-predict photo.jpg [--model m.npz]`.

Any model training writes: dense or convolutional, a sigmoid or a softmax output, 2 classes or K.
The class names come from the model file ("cat" / "non-cat", "0".."5" for SIGNS); a file from before
they were stored is the course's cat model when it takes 64x64x3 images and tells 2 classes apart
(named non-cat / cat), else its classes are named by their index.
An image goes through scratchnet.data.read_image, the same rule as the training folders: any
format and mode Pillow reads (16-bit, 32-bit and float images scaled by their true range, or
refused in one line), EXIF orientation applied, transparency over white, RGB, resized to the model's
image size with bicubic resampling, / 255; a dense model then takes it flattened as x.reshape(1, -1).T.
The default --model is experiments/deep_cat/model.npz under the repo root (paths.repo_root), from
whichever folder you run it. Imports NumPy, Pillow and the NumPy core only (no MLflow, no Hydra).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.data import DataError, read_image
from scratchnet.data.cat import CLASSES as CAT_CLASSES
from scratchnet.data.cat import IMAGE_SHAPE as CAT_SHAPE
from scratchnet.models import ModelFileError, read_model
from scratchnet.nn import Network
from scratchnet.paths import repo_root

DEFAULT_MODEL = Path("experiments/deep_cat/model.npz")  # under the repo root


class ImageFileError(Exception):
    """A path that is missing or is not an image Pillow can decode."""


@dataclass(frozen=True)
class Classifier:
    """A trained network with what predict needs beside it: the class names and the image size."""

    network: Network
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]  # (H, W, 3) the images are resized to


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str  # the predicted class name
    probability: float  # the model's probability of `label`, in [0, 1]
    probabilities: tuple[float, ...]  # one per class, in the order of Classifier.classes

    def line(self) -> str:
        return f"{self.path}: {self.label} (p={self.probability:.2f})"


def load_classifier(path: str | Path) -> Classifier:
    """The model file at `path` as a Classifier; ModelFileError if it is not a model of images."""
    model = read_model(path)
    network = model.network
    n_classes = 2 if network.output == "sigmoid" else network.n_outputs
    shape = model.image_shape or _image_shape(network)
    if shape is None or len(shape) != 3 or shape[2] != 3 or math.prod(shape) != math.prod(network.input_shape):
        raise ModelFileError(f"model file {path} takes {math.prod(network.input_shape)} input features per "
                             f"example ({network.describe()}), not RGB images: predict needs a model trained "
                             f"on images (cat, signs, an image folder)")
    classes = model.classes
    if classes is None:  # written before model files named their classes
        classes = CAT_CLASSES if n_classes == 2 and tuple(shape) == CAT_SHAPE else tuple(map(str, range(n_classes)))
    return Classifier(network, tuple(classes), tuple(int(n) for n in shape))


def _image_shape(network: Network) -> tuple[int, ...] | None:
    """An image net's own input shape; for a dense net of n = 3 s^2 inputs, (s, s, 3)."""
    if len(network.input_shape) == 3:
        return network.input_shape
    side = math.isqrt(network.input_shape[0] // 3)
    return (side, side, 3) if 3 * side * side == network.input_shape[0] else None


def load_image(path: str | Path, shape: tuple[int, int, int] = CAT_SHAPE) -> np.ndarray:
    """One image file as (H, W, 3) float64 in [0, 1] at the model's size (scratchnet.data.read_image);
    ImageFileError with one line on a missing, non-image or undecodable file."""
    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"image file {path} not found")
    if not path.is_file():
        raise ImageFileError(f"image file {path} is not a file (use --dir for a folder)")
    try:
        return read_image(path, shape[:2])
    except DataError as error:
        raise ImageFileError(str(error)) from None


def predict_image(classifier: Classifier, path: str | Path) -> Prediction:
    """Classify one image file: the most probable class and its probability."""
    network = classifier.network
    X = network.input_from_images(load_image(path, classifier.image_shape)[None])  # (n_x, 1) or (1, H, W, 3)
    A = network.predict_proba(X)[:, 0]  # (1,) P(class 1) for sigmoid, (K,) for softmax
    probabilities = (1.0 - float(A[0]), float(A[0])) if A.shape[0] == 1 else tuple(float(a) for a in A)
    label = int(network.predict(X)[0, 0])  # sigmoid: p > 0.5 as the course; softmax: argmax
    return Prediction(Path(path), classifier.classes[label], probabilities[label], probabilities)


def image_files(directory: Path) -> list[Path]:
    """The files in `directory` (not recursive) whose extension Pillow registers, sorted by name."""
    from PIL import Image

    if not directory.is_dir():
        raise ImageFileError(f"--dir {directory}: expected a directory, found "
                             f"{'a file' if directory.exists() else 'nothing'}")
    known = {ext.lower() for ext in Image.registered_extensions()}
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in known)
    if not files:
        raise ImageFileError(f"--dir {directory}: no image files in it "
                             f"(looked for extensions like .jpg .png .gif .bmp .webp)")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scratchnet-predict",
        description="Classify images with a trained scratchnet model (cat / non-cat, SIGNS 0-5, your own "
                    "classes). Prints '<file>: <class> (p=<probability of that class>)' per image.")
    parser.add_argument("images", nargs="*", type=Path, help="image files (any format Pillow reads)")
    parser.add_argument("--dir", type=Path, help="also classify every image file in this folder")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"model file written by training (default: {DEFAULT_MODEL} under the repo root, "
                             f"{repo_root()})")
    args = parser.parse_args(argv)
    if not args.images and args.dir is None:
        parser.error("give at least one image file or --dir DIR")

    def fail(message: str) -> int:
        print(f"scratchnet-predict: error: {message}", file=sys.stderr)
        return 1

    try:
        classifier = load_classifier(args.model if args.model is not None else repo_root() / DEFAULT_MODEL)
        paths = list(args.images) + (image_files(args.dir) if args.dir is not None else [])
    except (ModelFileError, ImageFileError) as e:
        return fail(str(e))
    failures = 0
    for path in paths:  # one bad file does not hide the others' predictions
        try:
            print(predict_image(classifier, path).line(), flush=True)
        except ImageFileError as e:
            failures += 1
            fail(str(e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
