"""The Dataset container (examples as columns), validated on construction, and its HDF5 form."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scratchnet.data.errors import DataError, about, require_file, require_keys
from scratchnet.files import atomic_path


@dataclass(frozen=True, eq=False)  # eq on arrays is ambiguous; compare digest() instead
class Dataset:
    """A labelled data set: X is (n_features, m) float64, Y is (1, m) int64 class indices.

    `X_test`/`Y_test` are both None when the set has no test split (the planar sets).
    `classes[k]` names label k. The arrays are made read-only so the digest stays true.
    `image_shape` (H, W, C) is set when each column is an image flattened as the course does
    (x.reshape(m, -1).T); `images(split)` undoes that. `excluded` names the source examples the
    loader left out on purpose (SIGNS: training copies of test images). Neither enters the digest,
    which covers the arrays only (like `name` and `classes`), so existing digests stay the same.
    """

    name: str
    X_train: np.ndarray  # (n_features, m_train)
    Y_train: np.ndarray  # (1, m_train)
    X_test: np.ndarray | None  # (n_features, m_test)
    Y_test: np.ndarray | None  # (1, m_test)
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int] | None = None  # (H, W, C) of one example, if an image
    excluded: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        object.__setattr__(self, "excluded", tuple(str(e) for e in self.excluded))
        if not self.classes:
            self._fail("at least one class name", "none")
        if (self.X_test is None) != (self.Y_test is None):
            self._fail("X_test and Y_test both given or both None",
                       f"X_test {_kind(self.X_test)}, Y_test {_kind(self.Y_test)}")
        self._check_split("train", self.X_train, self.Y_train)
        if self.X_test is not None:
            self._check_split("test", self.X_test, self.Y_test)
            if self.X_test.shape[0] != self.X_train.shape[0]:
                self._fail(f"X_test with {self.X_train.shape[0]} features like X_train",
                           f"{self.X_test.shape[0]}")
        if self.image_shape is not None:
            self._check_image_shape()
        for array in self._arrays().values():
            array.flags.writeable = False

    def _fail(self, expected: str, found: str) -> None:
        raise DataError(f"dataset {self.name!r}: expected {expected}, found {found}")

    def _check_split(self, split: str, X: object, Y: object) -> None:
        for key, array, dtype in ((f"X_{split}", X, np.float64), (f"Y_{split}", Y, np.int64)):
            if not isinstance(array, np.ndarray):
                self._fail(f"{key} as a numpy array", type(array).__name__)
            if array.ndim != 2:
                self._fail(f"{key} 2-D with examples as columns", f"shape {array.shape}")
            if array.dtype != dtype:
                self._fail(f"{key} of dtype {np.dtype(dtype)}", f"{array.dtype}")
        if X.shape[1] == 0 or X.shape[0] == 0:
            self._fail(f"X_{split} non-empty", f"shape {X.shape}")
        if Y.shape[0] != 1:
            self._fail(f"Y_{split} of shape (1, m)", f"{Y.shape}")
        if Y.shape[1] != X.shape[1]:
            self._fail(f"Y_{split} with one label per X_{split} column ({X.shape[1]})",
                       f"{Y.shape[1]} labels")
        if not np.isfinite(X).all():
            bad = X[~np.isfinite(X)].flat[0]
            self._fail(f"finite values in X_{split}", f"{bad.item()}")
        outside = Y[(Y < 0) | (Y >= len(self.classes))]
        if outside.size:
            self._fail(f"Y_{split} labels in 0..{len(self.classes) - 1} (one per class)",
                       f"{outside.flat[0].item()}")

    def _check_image_shape(self) -> None:
        shape = self.image_shape
        if (not isinstance(shape, (tuple, list)) or len(shape) != 3
                or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                           for d in shape)):
            self._fail("image_shape as three positive integers (H, W, C)", f"{self.image_shape!r}")
        shape = tuple(int(d) for d in shape)
        if int(np.prod(shape)) != self.n_features:
            self._fail(f"image_shape whose H*W*C equals the {self.n_features} features",
                       f"{shape} ({int(np.prod(shape))})")
        object.__setattr__(self, "image_shape", shape)

    def examples(self, split: str, example_axis: int = 1, dtype: str | None = None) -> np.ndarray | None:
        """The `split` examples as a network with this `example_axis` takes them (None: no test split).

        Axis 1 (dense nets): X itself, (n_x, m) columns. Axis 0 (image nets): the images (m, H, W, C)
        as one C-ordered array of `dtype`, a copy (images() is a strided view of X).
        """
        if split == "test" and self.X_test is None:
            return None
        if example_axis == 1:
            return self.X_train if split == "train" else self.X_test
        return np.ascontiguousarray(self.images(split), dtype=dtype)

    def images(self, split: str) -> np.ndarray:
        """The `split` ("train" or "test") examples as images (m, H, W, C), values as in X.

        Inverts the course's flattening exactly: X = x.reshape(m, -1).T / 255 gives back x / 255.
        A read-only view of X, no copy.
        """
        if split not in ("train", "test"):
            raise ValueError(f"images: expected split 'train' or 'test', found {split!r}")
        if self.image_shape is None:
            self._fail("an image_shape to give images", "none (its examples are not images)")
        X = self.X_train if split == "train" else self.X_test
        if X is None:
            self._fail("a test split", "none")
        return X.T.reshape(X.shape[1], *self.image_shape)  # (m, H, W, C)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"X_train": self.X_train, "Y_train": self.Y_train}
        if self.X_test is not None:
            arrays |= {"X_test": self.X_test, "Y_test": self.Y_test}
        return arrays

    @property
    def n_features(self) -> int:
        return self.X_train.shape[0]

    @property
    def m_train(self) -> int:
        return self.X_train.shape[1]

    def digest(self) -> str:
        """sha256 hex of every array's name, dtype, shape and C-order bytes (same in any process)."""
        h = hashlib.sha256()
        for key, array in self._arrays().items():
            h.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
            h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()


def _kind(array: object) -> str:
    return "None" if array is None else "given"


def from_rows(name: str, X: np.ndarray, y: np.ndarray, classes: tuple[str, ...],
              X_test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Dataset:
    """A Dataset from rows-as-examples arrays (sklearn's layout, the course's before its final .T).

    X (m, n) becomes X (n, m) float64, a view as the course has it; y (m,) or (m, 1) becomes (1, m) int64.
    """
    def columns(X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64).T

    def labels(y: np.ndarray) -> np.ndarray:
        return np.asarray(y).reshape(1, -1).astype(np.int64)

    test = (None, None) if X_test is None else (columns(X_test), labels(y_test))
    return Dataset(name, columns(X), labels(y), *test, classes)


def read_h5(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """Read every top-level array and attribute of an HDF5 file into memory, then close it."""
    require_file(path)
    import h5py  # lazy: keeps `import scratchnet.data` light

    try:
        with h5py.File(path, "r") as f:
            arrays = {k: v[()] for k, v in f.items() if isinstance(v, h5py.Dataset)}
            attrs = dict(f.attrs)
    except (OSError, ValueError) as error:  # h5py reports truncation and bad signatures as OSError
        raise DataError(f"expected a readable HDF5 file, found an unreadable one ({error})",
                        path) from None
    return arrays, attrs


def save_dataset(ds: Dataset, path: Path) -> None:
    """Write `ds` to HDF5 at `path` atomically (scratchnet.files.atomic_path: a temp file, then one rename)."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for key, array in ds._arrays().items():
            f.create_dataset(key, data=array)
        f.attrs["name"] = ds.name
        f.attrs["classes"] = list(ds.classes)
        if ds.image_shape is not None:
            f.attrs["image_shape"] = list(ds.image_shape)
        if ds.excluded:  # h5py cannot store an empty list of strings
            f.attrs["excluded"] = list(ds.excluded)


def load_dataset(path: Path) -> Dataset:
    """Read a Dataset written by save_dataset, validating it like the raw loaders."""
    path = Path(path)
    arrays, attrs = read_h5(path)
    require_keys(path, arrays, ("X_train", "Y_train"))
    require_keys(path, attrs, ("name", "classes"))
    with about(path):
        return Dataset(
            name=_text(attrs["name"]),
            X_train=arrays["X_train"],
            Y_train=arrays["Y_train"],
            X_test=arrays.get("X_test"),
            Y_test=arrays.get("Y_test"),
            classes=tuple(_text(c) for c in np.atleast_1d(attrs["classes"])),
            image_shape=(tuple(int(d) for d in attrs["image_shape"])
                         if "image_shape" in attrs else None),
            excluded=tuple(_text(e) for e in np.atleast_1d(attrs.get("excluded", []))),
        )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
