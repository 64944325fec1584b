"""Shared fixtures: where the DVC-tracked raw data sits in this checkout."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_root() -> Path:
    """`<repo>/data/raw`; a missing folder is a failure, not a skip: CI runs `dvc pull` first."""
    root = REPO / "data" / "raw"
    if not (root / "cat" / "train_catvnoncat.h5").is_file():
        pytest.fail(f"{root} has no raw data: run `make data` (dvc pull) before the tests")
    return root
