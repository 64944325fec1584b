"""DataError, and the small checks every loader shares so their messages read alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


class DataError(Exception):
    """Bad or missing input data: names the file (if any), what was expected, what was found."""

    def __init__(self, message: str, path: Path | str | None = None):
        self.message = message
        self.path = None if path is None else Path(path)
        super().__init__(message if self.path is None else f"{self.path}: {message}")


@contextmanager
def about(path: Path) -> Iterator[None]:
    """Attach `path` to any DataError raised inside that does not name a file yet."""
    try:
        yield
    except DataError as error:
        if error.path is not None:
            raise
        raise DataError(error.message, path) from None


def require_file(path: Path, hint: str = "run `dvc pull` to fetch the raw data",
                 expected: str = "a data file") -> None:
    """Raise DataError unless `path` is an existing file: expected ..., found a directory / nothing; hint."""
    if not path.is_file():
        found = "a directory" if path.is_dir() else "nothing"
        raise DataError(f"expected {expected}, found {found}; {hint}", path)


def require_keys(path: Path, found: Iterable[str], expected: Iterable[str]) -> None:
    """Raise DataError naming the first expected key missing from `found`."""
    found = sorted(found)
    for key in expected:
        if key not in found:
            raise DataError(f"missing key {key!r}; found keys {found}", path)


def binary_labels(path: Path, key: str, y: np.ndarray) -> np.ndarray:
    """Check that every label in `y` is 0 or 1 and return them as a (1, m) int64 row."""
    bad = y[~np.isin(y, (0, 1))]
    if bad.size:
        raise DataError(f"{key}: expected labels in {{0, 1}}, found {bad.flat[0].item()!r}", path)
    return y.reshape(1, -1).astype(np.int64)
