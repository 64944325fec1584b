"""The regularisation study's football set: where the French keeper should kick (data.mat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.data.dataset import Dataset
from scratchnet.data.errors import DataError, about, binary_labels, require_file, require_keys

# y = 1: a French player headed the ball (blue in the course's plots); y = 0: the opponents (red)
CLASSES = ("opponents", "france")


def load_football(path: Path) -> Dataset:
    """Load data.mat: X (211, 2), y, Xval (200, 2), yval, transposed to examples as columns."""
    path = Path(path)
    require_file(path)
    import scipy.io  # lazy: scipy is slow to import

    try:
        mat = scipy.io.loadmat(path)
    # loadmat reports damage as MatReadError, OSError, ValueError or IndexError depending on where
    # the file breaks; any failure to parse is the same fact for the user: the file is unreadable
    except Exception as error:  # noqa: BLE001
        raise DataError(f"expected a readable MATLAB .mat file, found an unreadable one ({error})",
                        path) from None
    require_keys(path, (k for k in mat if not k.startswith("__")), ("X", "y", "Xval", "yval"))
    X_train, Y_train = _split(path, mat, "X", "y")
    X_test, Y_test = _split(path, mat, "Xval", "yval")
    with about(path):
        return Dataset("football", X_train, Y_train, X_test, Y_test, CLASSES)


def _split(path: Path, mat: dict, x_key: str, y_key: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = mat[x_key], mat[y_key]  # (m, 2) float64, (m, 1) uint8
    if x.ndim != 2 or x.shape[1] != 2:
        raise DataError(f"{x_key}: expected shape (m, 2), found {x.shape}", path)
    if y.shape != (x.shape[0], 1):
        raise DataError(f"{y_key}: expected shape ({x.shape[0]}, 1), one label per row of "
                        f"{x_key}, found {y.shape}", path)
    return x.T.astype(np.float64), binary_labels(path, y_key, y)
