"""The model file: one .npz holding the architecture (JSON) and the weights of a Network."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np

from scratchnet.files import atomic_path
from scratchnet.nn import Network


class ModelFileError(Exception):
    """A model file that is missing, unreadable, or not a model of the expected shape."""


def save_model(network: Network, path: str | os.PathLike) -> None:
    """Write the network's architecture and weights to one .npz file, atomically."""
    architecture = json.dumps(network.config(), sort_keys=True)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez(f, architecture=np.array(architecture), **network.arrays())


def load_model(path: str | os.PathLike, n_features: int | None = None, n_classes: int | None = None) -> Network:
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
        network = Network.from_config(architecture, arrays)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as e:
        raise ModelFileError(f"model file {path} is not a readable scratchnet model "
                             f"(expected an .npz with 'architecture' and layers.<i>.<key> arrays): {e}") from e
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
    return network
