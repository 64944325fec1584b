"""ImageSet: decoded images with names and labels, and how they become Dataset columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scratchnet.data.dataset import Dataset
from scratchnet.data.errors import DataError


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Decoded images with their names and labels, before flattening into Dataset columns."""

    names: tuple[str, ...]  # one per image, unique, e.g. "train_signs/0_IMG_5957 (1).jpg"
    images: np.ndarray  # (m, H, W, 3) float64 in [0, 1]
    labels: np.ndarray  # (m,) int64 indices into classes
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        m = len(self.names)
        if self.images.ndim != 4 or self.images.shape[0] != m or self.labels.shape != (m,):
            raise ValueError(f"ImageSet: expected {m} images (m, H, W, C) and labels (m,), found "
                             f"{self.images.shape} and {self.labels.shape}")

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, keep: np.ndarray) -> ImageSet:
        """The images where the boolean mask `keep` (m,) is True, in the same order."""
        return ImageSet(tuple(n for n, k in zip(self.names, keep) if k), self.images[keep],
                        self.labels[keep], self.classes)

    def without(self, names: Sequence[str]) -> ImageSet:
        """The images not named in `names`, in the same order."""
        drop = set(names)
        return self.subset(np.array([n not in drop for n in self.names], dtype=bool))

    def columns(self) -> tuple[np.ndarray, np.ndarray]:
        """X (H*W*3, m) and Y (1, m) as the course flattens images: x.reshape(m, -1).T."""
        return self.images.reshape(len(self), -1).T, self.labels.reshape(1, -1)


def concat(sets: Sequence[ImageSet]) -> ImageSet:
    """Join image sets that share classes and image size (names stay as they are)."""
    first = sets[0]
    for other in sets[1:]:
        if other.classes != first.classes or other.images.shape[1:] != first.images.shape[1:]:
            raise ValueError(f"concat: expected the same classes and image shape, found {first.classes} "
                             f"{first.images.shape[1:]} and {other.classes} {other.images.shape[1:]}")
    return ImageSet(tuple(n for s in sets for n in s.names), np.concatenate([s.images for s in sets]),
                    np.concatenate([s.labels for s in sets]), first.classes)


def to_dataset(name: str, train: ImageSet, test: ImageSet | None = None, excluded: Sequence[str] = ()) -> Dataset:
    """A Dataset with image_shape from image sets: X = images.reshape(m, -1).T as in the course."""
    if test is not None and test.classes != train.classes:
        raise DataError(f"expected the test images to have the training classes {list(train.classes)}, "
                        f"found {list(test.classes)}")
    X_train, Y_train = train.columns()
    X_test, Y_test = test.columns() if test is not None else (None, None)
    return Dataset(name, X_train, Y_train, X_test, Y_test, train.classes,
                   image_shape=train.images.shape[1:], excluded=tuple(excluded))
