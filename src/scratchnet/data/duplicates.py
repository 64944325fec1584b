"""The data check: exact duplicate images (same decoded pixels) within and across splits, and
training images that are near-copies of a test image (the same photo, compressed differently).

Near-copies are found by the correlation of 8x8 grey thumbnails: d = 1 - r, where r is Pearson's
correlation of the block means of the luma (0.299 R + 0.587 G + 0.114 B). Block means average the
JPEG noise away, grey ignores the colour shifts between two encoders, and r ignores brightness and
contrast. Measured on SIGNS (tests/test_signs.py): the 120 test photos, once from the course's h5
and once from the JPEG export, are all within d = 5.4e-5 of each other; the closest two different
photos (consecutive frames of one burst) are at 8.7e-4, and the closest test/training pair that is
not a copy at 1.4e-3. The threshold 3e-4 sits in that gap, about 5x from either side.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scratchnet.data.imageset import ImageSet

NEAR_THRESHOLD = 3e-4  # d = 1 - r; see the module doc for the measured gap it sits in
THUMBNAIL = 8  # thumbnail side: 8x8 block means
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601, as Pillow's convert("L")
TEST_ROWS = 1024  # test images per block of distances: bounds memory at 8 KB per training image


@dataclass(frozen=True)
class ExactGroup:
    """Images with identical decoded pixels: their names, splits and classes, sorted by (split, name)."""

    names: tuple[str, ...]
    splits: tuple[str, ...]
    classes: tuple[str, ...]

    @property
    def where(self) -> str:
        """The splits it touches: "train_signs", "train_signs+val_signs", ..."""
        return "+".join(sorted(set(self.splits)))


@dataclass(frozen=True)
class NearPair:
    """A test image and a training image at thumbnail distance d = 1 - r."""

    test: str
    train: str
    distance: float
    test_class: str
    train_class: str


@dataclass(frozen=True)
class DuplicateReport:
    """What find_duplicates found; `train_copies` are the training images a clean set leaves out."""

    sizes: dict[str, int]  # images per split, in the order checked
    test: str | None  # the split taken as the test set (None: exact duplicates only)
    threshold: float
    exact: tuple[ExactGroup, ...]
    near: tuple[NearPair, ...]  # every (test, training) pair at d <= threshold, closest first
    closest_others: tuple[NearPair, ...]  # the closest pairs above the threshold: the gap
    train_copies: tuple[str, ...]  # training images that copy a test image (exactly or nearly), sorted

    def exact_counts(self) -> dict[str, int]:
        """Exact duplicate groups by the splits they touch, e.g. {"train_signs+val_signs": 15}."""
        counts: dict[str, int] = defaultdict(int)
        for group in self.exact:
            counts[group.where] += 1
        return dict(sorted(counts.items()))

    @property
    def gap(self) -> tuple[float | None, float | None]:
        """(largest d at or below the threshold, smallest d above it); None where there is none."""
        below = max((p.distance for p in self.near), default=None)
        above = min((p.distance for p in self.closest_others), default=None)
        return below, above

    def label_conflicts(self) -> list[str]:
        """Copies whose classes differ: one line each (a wrong label in one of them)."""
        lines = [" = ".join(g.names) + f" ({', '.join(g.classes)})" for g in self.exact if len(set(g.classes)) > 1]
        return lines + [f"{p.test} ~ {p.train} ({p.test_class}, {p.train_class})" for p in self.near
                        if p.test_class != p.train_class]

    def summary(self) -> str:
        """A few lines for people: counts, examples, the threshold and the gap."""
        counts = ", ".join(f"{k} {v}" for k, v in self.exact_counts().items()) or "none"
        lines = [f"checked {', '.join(f'{k} {v}' for k, v in self.sizes.items())} images",
                 f"exact duplicate groups: {len(self.exact)} ({sum(len(g.names) for g in self.exact)} images): "
                 f"{counts}"]
        lines += [f"  e.g. {' = '.join(g.names)}" for g in self.exact[:3]]
        if self.test is not None:
            below, above = self.gap
            lines.append(f"training copies of {self.test} images (1 - r of {THUMBNAIL}x{THUMBNAIL} grey "
                         f"thumbnails <= {self.threshold:g}): {len(self.near)} pairs, {len(self.train_copies)} "
                         f"training images; largest d {_g(below)}, closest non-copy {_g(above)}")
            lines += [f"  e.g. {p.test} ~ {p.train} (d {p.distance:.2g})" for p in self.near[:3]]
            lines += [f"  closest non-copy: {p.test} ~ {p.train} (d {p.distance:.2g})" for p in self.closest_others[:1]]
        conflicts = self.label_conflicts()
        lines.append(f"label conflicts among copies: {len(conflicts)}" + "".join(f"\n  {c}" for c in conflicts))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able: counts first, then every group and pair."""
        below, above = self.gap
        return {"sizes": self.sizes, "test": self.test, "threshold": self.threshold,
                "exact_groups": len(self.exact), "exact_counts": self.exact_counts(),
                "near_pairs": len(self.near), "train_copies": list(self.train_copies),
                "largest_copy_distance": below, "closest_non_copy_distance": above,
                "label_conflicts": self.label_conflicts(),
                "exact": [{"names": list(g.names), "splits": list(g.splits)} for g in self.exact],
                "near": [vars(p) for p in self.near], "closest_others": [vars(p) for p in self.closest_others]}


def _g(value: float | None) -> str:
    return "none" if value is None else f"{value:.2g}"


def find_duplicates(sets: Mapping[str, ImageSet], *, test: str | None = None,
                    threshold: float = NEAR_THRESHOLD, n_closest: int = 5) -> DuplicateReport:
    """Check the image sets `sets` (split name -> images of one size; names unique within a split).

    Exact duplicates are searched in and across all splits; near-copies between the split `test`
    and every other split (the training images). `n_closest` pairs above the threshold are kept.
    """
    if test is not None and test not in sets:
        raise ValueError(f"find_duplicates: test split {test!r} is not one of {list(sets)}")
    exact = _exact_groups(sets)
    near, others = (), ()
    if test is not None:
        near, others = _near_pairs(sets, test, threshold, n_closest)
    copies = {p.train for p in near}  # exact copies of a test image are at d ~ 0, but say it outright:
    for group in exact:
        if test in group.splits:
            copies |= {n for n, s in zip(group.names, group.splits) if s != test}
    return DuplicateReport({k: len(v) for k, v in sets.items()}, test, threshold, exact, near, others,
                           tuple(sorted(copies)))


def pixel_digest(image: np.ndarray) -> str:
    """sha256 of an image's decoded pixels (dtype and shape included)."""
    h = hashlib.sha256(f"{image.dtype.str}:{image.shape};".encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def _exact_groups(sets: Mapping[str, ImageSet]) -> tuple[ExactGroup, ...]:
    by_digest: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for split, images in sets.items():
        for name, image, label in zip(images.names, images.images, images.labels):
            by_digest[pixel_digest(image)].append((split, name, images.classes[label]))
    groups = [sorted(members) for members in by_digest.values() if len(members) > 1]
    return tuple(ExactGroup(tuple(n for _, n, _ in g), tuple(s for s, _, _ in g), tuple(c for _, _, c in g))
                 for g in sorted(groups))


def thumbnails(images: np.ndarray, side: int = THUMBNAIL) -> np.ndarray:
    """(m, H, W, 3) -> (m, side*side) grey block means, centred and scaled to unit length.

    Blocks are near-equal when side does not divide H or W; images under side pixels use one a block.

    A flat thumbnail (no variance) stays all zero, so its r with anything is 0 (d = 1).
    """
    grey = images @ LUMA  # (m, H, W)
    height, width = grey.shape[1:]
    rows = np.linspace(0, height, min(side, height) + 1).astype(int)[:-1]  # block starts; tiny images:
    cols = np.linspace(0, width, min(side, width) + 1).astype(int)[:-1]  # one pixel a block
    sums = np.add.reduceat(np.add.reduceat(grey, rows, axis=1), cols, axis=2)  # (m, side, side)
    counts = np.outer(np.diff([*rows, height]), np.diff([*cols, width]))
    t = (sums / counts).reshape(len(images), -1)
    t = t - t.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(t, axis=1, keepdims=True)
    return np.divide(t, norm, out=np.zeros_like(t), where=norm > 1e-12)


def _near_pairs(sets: Mapping[str, ImageSet], test: str, threshold: float,
                n_closest: int) -> tuple[tuple[NearPair, ...], tuple[NearPair, ...]]:
    tests = sets[test]
    train = [s for split, s in sets.items() if split != test]
    names = [n for s in train for n in s.names]
    classes = [s.classes[label] for s in train for label in s.labels]
    if not names or not len(tests):
        return (), ()
    T = thumbnails(tests.images)  # (m_test, 64)
    A = np.concatenate([thumbnails(s.images) for s in train])  # (m_train, 64)
    close, nearest = [], np.empty((len(tests), 2))  # (test index, train index, d); per test: (d, j) above
    for start in range(0, len(tests), TEST_ROWS):
        D = 1.0 - T[start:start + TEST_ROWS] @ A.T  # (rows, m_train), 1 - r
        close += [(start + i, j, max(D[i, j], 0.0)) for i, j in np.argwhere(D <= threshold)]
        far = np.where(D <= threshold, np.inf, D)
        j = far.argmin(axis=1)  # each test image's closest training image that is not a copy
        nearest[start:start + len(D)] = np.c_[far[np.arange(len(D)), j], j]

    def pair(i: int, j: int, d: float) -> NearPair:
        return NearPair(tests.names[i], names[j], float(d), tests.classes[tests.labels[i]], classes[j])

    near = sorted((pair(i, j, d) for i, j, d in close), key=lambda p: (p.distance, p.test, p.train))
    order = np.argsort(nearest[:, 0], kind="stable")[:n_closest]
    others = [pair(i, int(nearest[i, 1]), nearest[i, 0]) for i in order if np.isfinite(nearest[i, 0])]
    return tuple(near), tuple(others)
