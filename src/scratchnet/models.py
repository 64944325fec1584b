"""The model file: one .npz holding the architecture (JSON) and the weights of a Network."""

from __future__ import annotations

import json
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
    state = network.state()
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    arch = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez(f, architecture=np.array(json.dumps(arch, sort_keys=True)), **arrays)


def load_model(path: str | os.PathLike, n_features: int | None = None, n_classes: int | None = None) -> Network:
    """Read a model written by `save_model`; with n_features, check the model takes that many inputs,
    with n_classes that its output tells that many classes apart."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found: train one first "
                             f"(e.g. `python -m scratchnet.train experiment=deep_cat`)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            state = {k: npz[k] for k in npz.files}
        state |= json.loads(str(state.pop("architecture")))
        network = Network.from_state(state)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as e:
        raise ModelFileError(f"model file {path} is not a readable scratchnet model "
                             f"(expected an .npz with 'architecture' and layers.i.W/b): {e}") from e
    if n_features is not None and network.layer_dims[0] != n_features:
        raise ModelFileError(f"model file {path} takes {network.layer_dims[0]} input features "
                             f"(layer_dims {network.layer_dims}); the data has {n_features}")
    if n_classes is not None:
        n_out, act = network.layer_dims[-1], network.output_activation
        if not (act == "softmax" and n_out == n_classes) and not (act == "sigmoid" and n_out == 1 == n_classes - 1):
            expected = "1 sigmoid unit (or 2 softmax units)" if n_classes == 2 else f"{n_classes} softmax units"
            raise ModelFileError(f"model file {path} has a {n_out}-unit {act} output; "
                                 f"a {n_classes}-class model has {expected}")
    return network
