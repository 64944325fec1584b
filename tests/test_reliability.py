"""Bad input and faults through the real commands: one clear line, non-zero exit, no traceback,
nothing half-written, and an MLflow run that is FAILED or KILLED, never FINISHED, when things break.

Every case runs the console command in a subprocess, as a user would, with data, outputs and the
MLflow store pointed into tmp_path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scratchnet.io import save_model
from scratchnet.nn import Network

BIN = Path(sys.executable).parent
N_CAT = 12288  # 64 * 64 * 3


def run(cmd: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    env = kw.pop("env", None)
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                          env=env, **kw)


def assert_clean_failure(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Non-zero exit, no traceback, and a one-line error that contains every fragment."""
    assert proc.returncode != 0, f"expected a failure; stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    matching = [line for line in lines if all(f in line for f in fragments)]
    assert matching, f"no stderr line holds all of {fragments}; stderr:\n{proc.stderr}"
    return matching[0]


# --- model files for scratchnet-predict -------------------------------------------------------


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "photo.png"
    rgb = np.random.RandomState(0).randint(0, 256, size=(80, 100, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def _truncated(tmp: Path) -> Path:
    whole = tmp / "whole.npz"
    save_model(Network.initialise([N_CAT, 3, 1], rng=0), whole)
    cut = tmp / "truncated.npz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return cut


def _missing_architecture(tmp: Path) -> Path:
    path = tmp / "weights_only.npz"
    with open(path, "wb") as f:
        np.savez(f, **{"layers.0.W": np.zeros((1, N_CAT)), "layers.0.b": np.zeros((1, 1))})
    return path


def _text_file(tmp: Path) -> Path:
    path = tmp / "text.npz"
    path.write_text("hello, not a zip archive")
    return path


def _saved(tmp: Path, name: str, dims: list[int], output: str = "sigmoid") -> Path:
    path = tmp / name
    save_model(Network.initialise(dims, output_activation=output, rng=0), path)
    return path


BAD_MODELS = {
    "missing": (lambda t: t / "none.npz", ["not found", "none.npz"]),
    "not_a_zip": (_text_file, ["text.npz", "not a readable scratchnet model"]),
    "truncated": (_truncated, ["truncated.npz", "not a readable scratchnet model"]),
    "no_architecture": (_missing_architecture, ["weights_only.npz", "not a readable scratchnet model"]),
    "planar_input_size": (lambda t: _saved(t, "planar.npz", [2, 4, 1]),
                          ["planar.npz", "takes 2 input features", "the data has 12288"]),
    "three_classes": (lambda t: _saved(t, "three.npz", [N_CAT, 5, 3], "softmax"),
                      ["three.npz", "3-unit softmax output"]),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_predict_rejects_bad_model_file(case, tmp_path, photo):
    make, fragments = BAD_MODELS[case]
    model = make(tmp_path)
    proc = run([BIN / "scratchnet-predict", photo, "--model", model], timeout=60)
    assert proc.returncode == 1
    assert proc.stdout == ""  # no prediction printed from a bad model
    line = assert_clean_failure(proc, *fragments)
    assert line.startswith("scratchnet-predict: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
