"""Atomic file writes and the model file (one .npz holding the architecture and the weights)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from scratchnet.nn import Network

UMASK = os.umask(0)  # the process's umask, read once (reading it means setting it)
os.umask(UMASK)


class ModelFileError(Exception):
    """A model file that is missing, unreadable, or not a model of the expected shape."""


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On any error (or Ctrl-C) the temporary file is removed and `path` keeps its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_model(network: Network, path: str | os.PathLike) -> None:
    """Write the network's architecture and weights to one .npz file, atomically."""
    state = network.state()
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    arch = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object, so numpy does not append ".npz" to the name
            np.savez(f, architecture=np.array(json.dumps(arch, sort_keys=True)), **arrays)


def load_model(path: str | os.PathLike, n_features: int | None = None) -> Network:
    """Read a model written by `save_model`; with n_features, check the model takes that many inputs."""
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
    return network
