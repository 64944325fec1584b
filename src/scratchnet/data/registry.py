"""The data a config names: `load_data(cfg.data, root)` dispatches to the loaders by `data.kind`."""

from __future__ import annotations

from collections.abc import MutableSequence
from pathlib import Path

from scratchnet.data.cat import load_cat
from scratchnet.data.dataset import Dataset, load_dataset
from scratchnet.data.errors import DataError, require_file
from scratchnet.data.football import load_football
from scratchnet.data.generators import GENERATORS
from scratchnet.data.images import load_images
from scratchnet.data.signs import load_signs
from scratchnet.paths import under_root

GENERATED_HINT = "run `dvc repro generate` to generate the 2-D sets into data/generated/"


def data_path(data_cfg, root: str | Path) -> Path:
    """data.path, with a relative path taken from the repo root (never from the current directory)."""
    return under_root(str(data_cfg.path), root)


def load_data(data_cfg, root: str | Path) -> Dataset:
    """The Dataset for a `data` config: cat (folder), football (data.mat), a generated .h5, signs
    (data/raw/signs) or images (any folder; data.params as load_images takes them, test_path and
    every other path taken from the repo root).

    A generated set is read from the file `dvc repro generate` wrote; a missing file raises DataError
    saying so. The file must hold the set the config names, drawn with the config's data.params.
    """
    path = data_path(data_cfg, root)
    if data_cfg.kind == "cat":
        return load_cat(path)
    if data_cfg.kind == "football":
        return load_football(path)
    if data_cfg.kind == "generated":
        require_file(path, GENERATED_HINT, expected=f"the generated {data_cfg.name} set")
        ds = load_dataset(path)
        if ds.name != data_cfg.name:
            raise DataError(f"expected the {data_cfg.name} set, found the {ds.name} set; {GENERATED_HINT}", path)
        # a file left from other params (or a data.params override) would train on the wrong set
        # without a word: redraw the set (seeded, well under a second) and compare digests
        params = dict(data_cfg.params)
        if GENERATORS[data_cfg.name](**params).digest() != ds.digest():
            raise DataError(f"expected the {data_cfg.name} set drawn with data.params {params}, found a set "
                            f"drawn with other params; set them in conf/data/{data_cfg.name}.yaml and "
                            f"{GENERATED_HINT}", path)
        return ds
    if data_cfg.kind == "signs":
        return load_signs(path, **_options(data_cfg))
    if data_cfg.kind == "images":
        options = _options(data_cfg)
        test_path = options.pop("test_path", None)
        size = options.pop("size", 64)
        return load_images(path, test_path=None if test_path is None else under_root(test_path, root),
                           size=size if isinstance(size, int) else tuple(size), name=str(data_cfg.name), **options)
    raise DataError(f"data.kind: expected cat, football, generated, signs or images, found {data_cfg.kind!r}")


def _options(data_cfg) -> dict:
    """data.params as plain values (a config's list, such as size or classes, as a list)."""
    return {str(k): list(v) if isinstance(v, MutableSequence) else v for k, v in data_cfg.params.items()}
