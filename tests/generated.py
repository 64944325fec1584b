"""The 2-D data sets `dvc repro generate` writes (data/generated/<name>.h5), drawn here for tests
that need them in a root of their own: a fresh clone's `make test` has not run the pipeline, so
the checkout's data/generated/ may not exist. Each set is drawn once per test session, from its
conf/data/<name>.yaml exactly as the stage draws it."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from omegaconf import OmegaConf


@cache
def _folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="scratchnet-generated-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@cache
def generated_set(name: str) -> Path:
    """A file holding the set `name`, byte for byte what the generate stage writes."""
    from scratchnet.data import GENERATORS, save_dataset
    from scratchnet.stages.generate import compose_data

    data, _ = compose_data(name)
    path = _folder() / f"{name}.h5"
    save_dataset(GENERATORS[data.name](**OmegaConf.to_container(data.params, resolve=True)), path)
    return path
