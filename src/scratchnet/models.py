"""The model file: one .npz holding the architecture (JSON), the weights of a Network and the data's
class names and image shape (JSON)."""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from scratchnet.files import atomic_path
from scratchnet.nn import Network


class ModelFileError(Exception):
    """A model file that is missing, unreadable, or not a model of the expected shape."""


class Model(NamedTuple):
    """A model file read back: the network and what it was trained on."""

    network: Network
    classes: tuple[str, ...] | None  # label k's name; None in files written before they were stored
    image_shape: tuple[int, ...] | None  # (H, W, C) of the training images; None for other data or old files


DATA_KEY = "data"  # the .npz entry (JSON) holding classes and image_shape; no layer key looks like it


def save_model(network: Network, path: str | os.PathLike, classes: Sequence[str] | None = None,
               image_shape: Sequence[int] | None = None) -> None:
    """Write the network's architecture and weights (and the data's class names and image shape,
    so predict can name a class) to one .npz file, atomically."""
    architecture = json.dumps(network.config(), sort_keys=True)
    data = {"classes": None if classes is None else [str(c) for c in classes],
            "image_shape": None if image_shape is None else [int(n) for n in image_shape]}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez(f, architecture=np.array(architecture), **{DATA_KEY: np.array(json.dumps(data))},
                     **network.arrays())


def read_model(path: str | os.PathLike, n_features: int | None = None, n_classes: int | None = None) -> Model:
    """Read a model written by `save_model` (or by the code before the layer contract: its
    layer_dims architecture is upgraded on load); with n_features, check the model takes that many
    inputs per example, with n_classes that its output tells that many classes apart."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found: train one first "
                             f"(e.g. `python -m scratchnet.train experiment=deep_cat`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        architecture = json.loads(str(arrays.pop("architecture")))
        data = json.loads(str(arrays.pop(DATA_KEY))) if DATA_KEY in arrays else {}
        network = Network.from_config(architecture, arrays)
        classes = None if data.get("classes") is None else tuple(str(c) for c in data["classes"])
        image_shape = None if data.get("image_shape") is None else tuple(int(n) for n in data["image_shape"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile, EOFError) as e:
        raise ModelFileError(f"model file {path} is not a readable scratchnet model "
                             f"(expected an .npz with 'architecture' and layers.<i>.<key> arrays): {e}") from e
    _check_classes(path, network, classes)
    _check_sizes(path, network, n_features, n_classes)
    return Model(network, classes, image_shape)


def load_model(path: str | os.PathLike, n_features: int | None = None, n_classes: int | None = None) -> Network:
    """The network of read_model(path, n_features, n_classes)."""
    return read_model(path, n_features, n_classes).network


def _check_classes(path: Path, network: Network, classes: tuple[str, ...] | None) -> None:
    expected = 2 if network.output == "sigmoid" else network.n_outputs
    if classes is not None and len(classes) != expected:
        raise ModelFileError(f"model file {path} names {len(classes)} classes {list(classes)} for a "
                             f"{network.n_outputs}-unit {network.output} output ({expected} classes)")


def _check_sizes(path: Path, network: Network, n_features: int | None, n_classes: int | None) -> None:
    n_inputs = math.prod(network.input_shape)
    if n_features is not None and n_inputs != n_features:
        raise ModelFileError(f"model file {path} takes {n_inputs} input features per example "
                             f"({network.describe()}); the data has {n_features}")
    if n_classes is not None:
        n_out, act = network.n_outputs, network.output
        if not (act == "softmax" and n_out == n_classes) and not (act == "sigmoid" and n_out == 1 == n_classes - 1):
            expected = "1 sigmoid unit (or 2 softmax units)" if n_classes == 2 else f"{n_classes} softmax units"
            raise ModelFileError(f"model file {path} has a {n_out}-unit {act} output; "
                                 f"a {n_classes}-class model has {expected}")
