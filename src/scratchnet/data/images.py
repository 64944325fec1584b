"""A folder of image files -> labelled images (ImageSet) -> a Dataset flattened as the course does.

Two ways to name the class of a file:
- labels="folder": `root/<class>/<file>`, the class is the sub-folder's name;
- labels="name": `root/<file>`, the class is group 1 of `name_pattern` matched at the start of the
  file name; the default `^(.)` takes the first character, as SIGNS names its files (`3_IMG_5861.jpg`).
Files are read in sorted order of their path below `root`, so the examples' order is the same on
every machine. Hidden entries (`.DS_Store`, macOS `._x.jpg` forks) are skipped; anything else that
is not a readable image is a problem, and every problem in the folder is named in one DataError.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scratchnet.data.dataset import Dataset
from scratchnet.data.duplicates import NEAR_THRESHOLD, find_duplicates
from scratchnet.data.errors import DataError
from scratchnet.data.imageset import ImageSet, to_dataset
from scratchnet.data.pixels import read_image

LABEL_RULES = ("folder", "name")
FIRST_CHARACTER = r"^(.)"


def image_size(size: int | Sequence[int]) -> tuple[int, int]:
    """64 -> (64, 64); (H, W) stays; anything else raises DataError."""
    try:
        pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0
                                 for d in pair):
        raise DataError(f"expected an image size as one positive integer or (height, width), found {size!r}")
    return int(pair[0]), int(pair[1])


def read_image_folder(root: Path | str, *, size: int | Sequence[int] = 64, labels: str = "folder",
                      name_pattern: str = FIRST_CHARACTER, classes: Sequence[str] | None = None,
                      prefix: str = "") -> ImageSet:
    """Read every image below `root` (see the module doc for `labels` and `name_pattern`).

    `classes` fixes the class list and its order (a file of another class is a problem); without it
    the classes are the sorted names found. Names in the result are `prefix` + the path below root.
    """
    root, (height, width) = Path(root), image_size(size)
    found, problems = _labelled_files(root, labels, name_pattern)
    names = sorted(found)
    known = tuple(str(c) for c in classes) if classes is not None else tuple(sorted(set(found.values())))
    unknown = sorted({found[n] for n in names} - set(known))
    if unknown:
        problems += [f"{n!r}: class {found[n]!r} is not one of {list(known)}" for n in names
                     if found[n] in unknown]
    images = np.empty((len(names), height, width, 3))  # (m, H, W, 3)
    for i, name in enumerate(names):
        try:
            images[i] = read_image(root / name, (height, width))
        except DataError as error:
            problems.append(f"{name!r}: {error.message}")
    if problems:
        raise DataError(f"{len(problems)} problem(s) in the image folder: " + "; ".join(sorted(problems)), root)
    if not names:
        raise DataError(f"expected image files in it ({_layout(labels)}), found none", root)
    index = {c: k for k, c in enumerate(known)}
    labels_ = np.array([index[found[n]] for n in names], dtype=np.int64)
    return ImageSet(tuple(prefix + n for n in names), images, labels_, known)


def _labelled_files(root: Path, labels: str, name_pattern: str) -> tuple[dict[str, str], list[str]]:
    """{path below root (posix): class name} for every visible file, and the problems of the layout."""
    if labels not in LABEL_RULES:
        raise DataError(f"expected labels to be one of {list(LABEL_RULES)}, found {labels!r}")
    if not root.is_dir():
        raise DataError(f"expected a folder of images, found {'a file' if root.exists() else 'nothing'}",
                        root)
    found, problems = {}, []
    if labels == "folder":
        for entry in _visible(root):
            if not entry.is_dir():
                problems.append(f"{entry.name!r}: a file outside any class folder ({_layout(labels)})")
                continue
            files = _files(entry, problems, f"{entry.name}/")
            if not files:
                problems.append(f"{entry.name + '/'!r}: a class folder with no image files")
            found |= {f"{entry.name}/{f.name}": entry.name for f in files}
        return found, problems
    try:
        pattern = re.compile(name_pattern)
    except re.error as error:
        raise DataError(f"name_pattern {name_pattern!r} is not a regular expression ({error})") from None
    for file in _files(root, problems, ""):
        match = pattern.match(file.name)
        if match is None or not match.groups() or not match.group(1):
            problems.append(f"{file.name!r}: no class in the name (name_pattern {name_pattern!r})")
        else:
            found[file.name] = match.group(1)
    return found, problems


def _visible(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def _files(folder: Path, problems: list[str], prefix: str) -> list[Path]:
    """The visible files of `folder`; a sub-folder inside it is a problem (the layout is one level)."""
    files = []
    for entry in _visible(folder):
        if entry.is_file():
            files.append(entry)
        else:
            problems.append(f"{prefix + entry.name + '/'!r}: a folder where image files were expected")
    return files


def _layout(labels: str) -> str:
    return "one sub-folder per class" if labels == "folder" else "files named by class"


def load_images(path: Path | str, *, test_path: Path | str | None = None, size: int | Sequence[int] = 64,
                labels: str = "folder", name_pattern: str = FIRST_CHARACTER,
                classes: Sequence[str] | None = None, name: str | None = None,
                exclude_test_copies: bool = True, threshold: float = NEAR_THRESHOLD) -> Dataset:
    """A Dataset from a folder of images (and a test folder read with the same rules and classes).

    With a test folder, every training image that copies a test image (find_duplicates) is left
    out by default and named in `excluded`. `name` defaults to the folder's name.
    """
    path = Path(path)
    rules = {"size": size, "labels": labels, "name_pattern": name_pattern}
    train = read_image_folder(path, classes=classes, **rules)
    if test_path is None:
        return to_dataset(name or path.name, train)
    test = read_image_folder(test_path, classes=train.classes, **rules)
    excluded: tuple[str, ...] = ()
    if exclude_test_copies:
        excluded = find_duplicates({"train": train, "test": test}, test="test", threshold=threshold).train_copies
        train = train.without(excluded)
    return to_dataset(name or path.name, train, test, excluded)
