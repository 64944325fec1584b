"""SIGNS, the course's hand signs for 0..5 (64x64 RGB): train on the JPEG export, test on the course's h5.

`root` is data/raw/signs. Training images: 64x64_SIGNS/train_signs + val_signs (1080 JPEGs, the
course's training set; label = the file name's first character). Test images: test_signs.h5, the
course's own 120 (`test_set_x`, `test_set_y`, `list_classes`). The export's test_signs folder holds
the same 120 photos as the h5 and is not used. The export also holds copies of test photos among
its training images: load_signs leaves them out by default (Dataset.excluded names them) and
check_signs reports every duplicate it finds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet.data.dataset import Dataset, read_h5
from scratchnet.data.duplicates import NEAR_THRESHOLD, DuplicateReport, find_duplicates
from scratchnet.data.errors import DataError, require_keys
from scratchnet.data.images import read_image_folder
from scratchnet.data.imageset import ImageSet, concat, to_dataset

CLASSES = ("0", "1", "2", "3", "4", "5")  # the number of fingers shown
IMAGE_SHAPE = (64, 64, 3)
EXPORT = "64x64_SIGNS"
TRAIN_FOLDERS = ("train_signs", "val_signs")
TEST_FILE = "test_signs.h5"
TEST_SPLIT = "test"


def read_signs(root: Path | str) -> dict[str, ImageSet]:
    """The SIGNS images by split: {"train_signs": 864, "val_signs": 216, "test": 120} as ImageSets.

    Training names are "<folder>/<file>" ("train_signs/0_IMG_5957 (1).jpg"), test names
    "test_signs.h5[<index>]".
    """
    root = Path(root)
    test = read_signs_test(root / TEST_FILE)  # first: the small file fails fast
    sets = {}
    for folder in TRAIN_FOLDERS:
        path = root / EXPORT / folder
        if not path.is_dir():
            raise DataError(f"expected the SIGNS JPEG folder, found {'a file' if path.exists() else 'nothing'}; "
                            f"run `dvc pull` to fetch the raw data", path)
        sets[folder] = read_image_folder(path, size=IMAGE_SHAPE[:2], labels="name", classes=CLASSES,
                                         prefix=f"{folder}/")
    sets[TEST_SPLIT] = test
    return sets


def read_signs_test(path: Path) -> ImageSet:
    """The course's test_signs.h5, validated: (N, 64, 64, 3) uint8, labels 0..5, list_classes 0..5."""
    arrays, _ = read_h5(path)  # names the file and says `dvc pull` if it is missing
    require_keys(path, arrays, ("test_set_x", "test_set_y", "list_classes"))
    x, y = arrays["test_set_x"], arrays["test_set_y"]  # (N, 64, 64, 3) uint8, (N,)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE or x.shape[0] == 0:
        raise DataError(f"test_set_x: expected images of shape (N, 64, 64, 3), N > 0, found {x.shape}", path)
    if x.dtype != np.uint8:
        raise DataError(f"test_set_x: expected dtype uint8, found {x.dtype}", path)
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise DataError(f"test_set_y: expected shape ({x.shape[0]},), one label per image, found {y.shape}",
                        path)
    bad = y[~np.isin(y, np.arange(len(CLASSES)))]
    if bad.size:
        raise DataError(f"test_set_y: expected labels in 0..{len(CLASSES) - 1}, found {bad.flat[0].item()!r}",
                        path)
    found = tuple(c.decode() if isinstance(c, bytes) else str(c) for c in arrays["list_classes"])
    if found != CLASSES:
        raise DataError(f"list_classes: expected {list(CLASSES)}, found {list(found)}", path)
    names = tuple(f"{path.name}[{i}]" for i in range(x.shape[0]))
    return ImageSet(names, x / 255.0, y.astype(np.int64), CLASSES)


def check_signs(root: Path | str, threshold: float = NEAR_THRESHOLD) -> DuplicateReport:
    """Exact duplicates in and across train_signs, val_signs and the test set; training copies of test images."""
    return find_duplicates(read_signs(root), test=TEST_SPLIT, threshold=threshold)


def load_signs(root: Path | str, *, exclude_test_copies: bool = True,
               threshold: float = NEAR_THRESHOLD) -> Dataset:
    """SIGNS as a Dataset: X (12288, m) = x.reshape(m, -1).T / 255 as the course flattens it.

    Train: train_signs + val_signs in that order (1080), minus, by default, every training image
    that copies a test image (named in `excluded`); test: the course's 120. Classes "0".."5".
    """
    sets = read_signs(root)
    train = concat([sets[f] for f in TRAIN_FOLDERS])
    excluded: tuple[str, ...] = ()
    if exclude_test_copies:
        excluded = find_duplicates(sets, test=TEST_SPLIT, threshold=threshold).train_copies
        train = train.without(excluded)
    return to_dataset("signs", train, sets[TEST_SPLIT], excluded)
