"""Predict cat / non-cat on your own images with a trained model: `scratchnet-predict photo.jpg`.

An image goes through the same steps as the training data: any format Pillow reads, EXIF
orientation applied, converted to RGB, resized to 64x64 with bicubic resampling (Pillow's default
for `resize`, which the course's own "test with your own image" cell used), then flattened as
`x.reshape(1, -1).T / 255` into a (12288, 1) column. Imports NumPy, Pillow and the NumPy core only
(no MLflow, no Hydra), so one prediction takes well under a second.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.data.cat import CLASSES, IMAGE_SHAPE, N_FEATURES
from scratchnet.models import ModelFileError, load_model
from scratchnet.nn import Network

DEFAULT_MODEL = Path("experiments/deep_cat/model.npz")


class ImageFileError(Exception):
    """A path that is missing or is not an image Pillow can decode."""


@dataclass(frozen=True)
class Prediction:
    path: Path
    label: str  # the predicted class name
    probability: float  # the model's probability of `label`, in [0, 1]
    p_cat: float  # P(cat | image)

    def line(self) -> str:
        return f"{self.path}: {self.label} (p={self.probability:.2f})"


def load_image(path: str | Path) -> np.ndarray:
    """Read any image Pillow can decode as a (64, 64, 3) uint8 array (RGB, bicubic resize)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageFileError(f"image file {path} not found")
    if not path.is_file():
        raise ImageFileError(f"image file {path} is not a file (use --dir for a folder)")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
            rgb = image.convert("RGB")  # drops alpha, expands palette and greyscale
            rgb = rgb.resize((IMAGE_SHAPE[1], IMAGE_SHAPE[0]), Image.Resampling.BICUBIC)  # (width, height)
            array = np.asarray(rgb, dtype=np.uint8)
    except UnidentifiedImageError:
        raise ImageFileError(f"{path} is not an image Pillow can read "
                             f"(expected e.g. JPEG, PNG, GIF, BMP, TIFF, WebP)") from None
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageFileError(f"{path}: cannot decode the image ({e})") from None
    return array  # (64, 64, 3)


def predict_image(network: Network, path: str | Path) -> Prediction:
    """Classify one image file with `network` (12288 inputs, sigmoid or 2-way softmax output)."""
    X = network.input_from_images(load_image(path)[None] / 255.0)  # (12288, 1) or (1, 64, 64, 3)
    A = network.predict_proba(X)  # (1, 1) sigmoid or (2, 1) softmax
    p_cat = float(A[0, 0] if A.shape[0] == 1 else A[1, 0])
    label = int(network.predict(X)[0, 0])
    probability = p_cat if label == 1 else 1.0 - p_cat
    return Prediction(Path(path), CLASSES[label], probability, p_cat)


def load_cat_model(path: str | Path) -> Network:
    """load_model with the checks a cat classifier needs: 12288 inputs, two classes."""
    return load_model(path, n_features=N_FEATURES, n_classes=len(CLASSES))


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
        description="Classify images as cat / non-cat with a trained scratchnet model. "
                    "Prints '<file>: <class> (p=<probability of that class>)' per image.")
    parser.add_argument("images", nargs="*", type=Path, help="image files (any format Pillow reads)")
    parser.add_argument("--dir", type=Path, help="also classify every image file in this folder")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help=f"model file written by training (default: {DEFAULT_MODEL})")
    args = parser.parse_args(argv)
    if not args.images and args.dir is None:
        parser.error("give at least one image file or --dir DIR")

    def fail(message: str) -> int:
        print(f"scratchnet-predict: error: {message}", file=sys.stderr)
        return 1

    try:
        network = load_cat_model(args.model)
        paths = list(args.images) + (image_files(args.dir) if args.dir is not None else [])
    except (ModelFileError, ImageFileError) as e:
        return fail(str(e))
    failures = 0
    for path in paths:  # one bad file does not hide the others' predictions
        try:
            print(predict_image(network, path).line(), flush=True)
        except ImageFileError as e:
            failures += 1
            fail(str(e))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
