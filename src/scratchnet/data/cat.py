"""The course's cat / non-cat images (64x64 RGB) from train_catvnoncat.h5 and test_catvnoncat.h5."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.data.dataset import Dataset, read_h5
from scratchnet.data.errors import DataError, about, binary_labels, require_keys

IMAGE_SHAPE = (64, 64, 3)  # (height, width, RGB)
N_FEATURES = 64 * 64 * 3  # 12288: one column per image
CLASSES = ("non-cat", "cat")  # list_classes of the course's files: label 1 is cat


def load_cat(root: Path) -> Dataset:
    """Load the cat set from `root` (the folder holding both .h5 files).

    Each image is flattened and scaled as in the course: X = x.reshape(N, -1).T / 255,
    so X is (12288, N) float64 in [0, 1] and Y is (1, N) int64 with 1 = cat.
    """
    root = Path(root)
    X_train, Y_train, classes = _read_split(root / "train_catvnoncat.h5", "train")
    X_test, Y_test, test_classes = _read_split(root / "test_catvnoncat.h5", "test")
    if test_classes != classes:
        raise DataError(f"expected the same list_classes as the train file {classes}, "
                        f"found {test_classes}", root / "test_catvnoncat.h5")
    with about(root):
        return Dataset("cat", X_train, Y_train, X_test, Y_test, classes, image_shape=IMAGE_SHAPE)


def _read_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    arrays, _ = read_h5(path)
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    require_keys(path, arrays, (x_key, y_key, "list_classes"))
    x, y = arrays[x_key], arrays[y_key]  # (N, 64, 64, 3) uint8, (N,)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise DataError(f"{x_key}: expected images of shape (N, 64, 64, 3), found {x.shape}", path)
    if x.dtype != np.uint8:
        raise DataError(f"{x_key}: expected dtype uint8, found {x.dtype}", path)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"{y_key}: expected shape ({x.shape[0]},), one label per image, "
                        f"found {y.shape}", path)
    Y = binary_labels(path, y_key, y)  # (1, N)
    X = x.reshape(x.shape[0], int(np.prod(IMAGE_SHAPE))).T / 255.0  # (12288, N); -1 fails for N = 0
    classes = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in arrays["list_classes"])
    return X, Y, classes


def image_to_column(image: np.ndarray) -> np.ndarray:
    """(64, 64, 3) uint8 -> (12288, 1) float64 in [0, 1], flattened as load_cat flattens the training data."""
    if image.shape != IMAGE_SHAPE:
        raise ValueError(f"expected an image of shape {IMAGE_SHAPE}, found {image.shape}")
    return image.reshape(1, -1).T / 255.0  # (12288, 1)


def images_from_columns(X: np.ndarray) -> np.ndarray:
    """(12288, m) floats x/255 back to (m, 64, 64, 3) uint8, exactly (the inverse of load_cat)."""
    return np.rint(X.T.reshape(-1, *IMAGE_SHAPE) * 255).astype(np.uint8)
