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


# --- the training command: a scratch root per test ---------------------------------------------

REPO = Path(__file__).resolve().parents[1]
RAW_CAT = REPO / "data" / "raw" / "cat"
TRAIN = [sys.executable, "-m", "scratchnet.train"]
CAT_CLASSES = np.array([b"non-cat", b"cat"])


def env(**extra: str) -> dict[str, str]:
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    return base | {"MLFLOW_DISABLE_TELEMETRY": "true", "HYDRA_FULL_ERROR": "0"} | extra


def train_cmd(root: Path, *overrides: str, experiment: str = "logistic_cat") -> list[str]:
    """The real command with data, outputs, Hydra's log and the MLflow store all under `root`."""
    return [*TRAIN, f"experiment={experiment}", f"paths.root={root}", *overrides]


def run_train(root: Path, *overrides: str, experiment: str = "logistic_cat", timeout: float = 120,
              **kw) -> subprocess.CompletedProcess:
    return run(train_cmd(root, *overrides, experiment=experiment), timeout=timeout, cwd=root,
               env=kw.pop("env", None) or env(), **kw)


def with_cat_data(root: Path) -> Path:
    """`root` with data/raw/cat linked to the checkout's real cat files."""
    (root / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (root / "data" / "raw" / "cat").symlink_to(RAW_CAT)
    return root


def output_files(root: Path) -> list[str]:
    """Every file under <root>/experiments (relative paths), temp files included."""
    base = root / "experiments"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) if base.exists() else []


def mlflow_runs(root: Path) -> list[tuple[str, str, str | None]]:
    """(run name, status, error tag) of every run in <root>/mlflow.db, read with sqlite3 directly."""
    import sqlite3

    db = root / "mlflow.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT r.name, r.status, (SELECT value FROM tags t WHERE t.run_uuid = r.run_uuid "
            "AND t.key = 'error') FROM runs r ORDER BY r.start_time").fetchall()


def assert_nothing_written(root: Path) -> None:
    assert output_files(root) == [], "a failed run left outputs behind"
    for name, status, _ in mlflow_runs(root):
        assert status == "FAILED", f"MLflow run {name!r} is {status} after a failed command"


def assert_one_error_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2 with exactly one `scratchnet-train: error:` line holding the fragments, no traceback."""
    line = assert_clean_failure(proc, *fragments)
    assert proc.returncode == 2, proc.stderr
    assert line.startswith("scratchnet-train: error: ")
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert errors == [line], proc.stderr


# bad cat files: (what to write into train_catvnoncat.h5, expected message fragments)
def _h5(path: Path, **arrays) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)


def _images(n: int, shape=(64, 64, 3), dtype=np.uint8) -> np.ndarray:
    return np.random.RandomState(0).randint(0, 256, size=(n, *shape)).astype(dtype)


def _cat_truncated(path: Path) -> None:
    data = (RAW_CAT / "train_catvnoncat.h5").read_bytes()
    path.write_bytes(data[: len(data) // 3])


BAD_CAT = {
    "truncated": (_cat_truncated, ["train_catvnoncat.h5", "expected a readable HDF5 file"]),
    "not_hdf5": (lambda p: p.write_text("id,label\n1,cat\n"),
                 ["train_catvnoncat.h5", "expected a readable HDF5 file"]),
    "wrong_keys": (lambda p: _h5(p, images=_images(3), labels=np.array([0, 1, 0])),
                   ["train_catvnoncat.h5", "missing key 'train_set_x'", "found keys ['images', 'labels']"]),
    "image_shape": (lambda p: _h5(p, train_set_x=_images(3, (32, 32, 3)), train_set_y=np.array([0, 1, 0]),
                                  list_classes=CAT_CLASSES),
                    ["train_set_x: expected images of shape (N, 64, 64, 3), found (3, 32, 32, 3)"]),
    "image_dtype": (lambda p: _h5(p, train_set_x=_images(3, dtype=np.float32), train_set_y=np.array([0, 1, 0]),
                                  list_classes=CAT_CLASSES),
                    ["train_set_x: expected dtype uint8, found float32"]),
    "label_2": (lambda p: _h5(p, train_set_x=_images(3), train_set_y=np.array([0, 2, 1]),
                              list_classes=CAT_CLASSES),
                ["train_set_y: expected labels in {0, 1}, found 2"]),
    "label_count": (lambda p: _h5(p, train_set_x=_images(3), train_set_y=np.array([0, 1]),
                                  list_classes=CAT_CLASSES),
                    ["train_set_y: expected shape (3,), one label per image, found (2,)"]),
    "empty": (lambda p: _h5(p, train_set_x=_images(0), train_set_y=np.zeros(0, np.int64),
                            list_classes=CAT_CLASSES),
              ["expected X_train non-empty, found shape (12288, 0)"]),
}


def test_missing_raw_data_says_dvc_pull(tmp_path):
    proc = run_train(tmp_path)  # an empty root: no data/raw at all
    assert_one_error_line(proc, str(tmp_path / "data" / "raw" / "cat" / "train_catvnoncat.h5"),
                          "expected a data file, found nothing", "dvc pull")
    assert len(proc.stderr.splitlines()) == 1, proc.stderr  # nothing else: the data is checked first
    assert_nothing_written(tmp_path)
    assert mlflow_runs(tmp_path) == []  # data is read before any run is opened


@pytest.mark.parametrize("case", list(BAD_CAT))
def test_bad_cat_file(case, tmp_path):
    folder = tmp_path / "data" / "raw" / "cat"
    folder.mkdir(parents=True)
    write, fragments = BAD_CAT[case]
    write(folder / "train_catvnoncat.h5")
    (folder / "test_catvnoncat.h5").symlink_to(RAW_CAT / "test_catvnoncat.h5")
    proc = run_train(tmp_path)
    assert_one_error_line(proc, *fragments)
    assert str(folder) in proc.stderr  # names the file (or its folder)
    assert_nothing_written(tmp_path)


# bad generated (2-D) sets: written with h5py directly, since save_dataset refuses to write them
def _planar_h5(path: Path, X_train, Y_train, X_test=None, Y_test=None, name="planar") -> None:
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("X_train", data=X_train)
        f.create_dataset("Y_train", data=Y_train)
        if X_test is not None:
            f.create_dataset("X_test", data=X_test)
            f.create_dataset("Y_test", data=Y_test)
        f.attrs["name"] = name
        f.attrs["classes"] = ["red", "blue"]


def _xy(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    return rng.randn(n, m), (rng.rand(1, m) > 0.5).astype(np.int64)


def _with_value(value: float):
    def write(path: Path) -> None:
        X, Y = _xy(2, 40)
        X[1, 17] = value
        _planar_h5(path, X, Y)
    return write


def _feature_mismatch(path: Path) -> None:
    X, Y = _xy(2, 40)
    X3, Y3 = _xy(3, 10, seed=1)
    _planar_h5(path, X, Y, X3, Y3)


def _empty_2d(path: Path) -> None:
    _planar_h5(path, np.zeros((2, 0)), np.zeros((1, 0), np.int64))


def _labels_float(path: Path) -> None:
    X, Y = _xy(2, 40)
    _planar_h5(path, X, Y.astype(np.float64))


def _other_set(path: Path) -> None:
    X, Y = _xy(2, 40)
    _planar_h5(path, X, Y, name="noisy_moons")


BAD_2D = {
    "nan": (_with_value(np.nan), ["expected finite values in X_train, found nan"]),
    "inf": (_with_value(np.inf), ["expected finite values in X_train, found inf"]),
    "feature_counts": (_feature_mismatch, ["expected X_test with 2 features like X_train, found 3"]),
    "empty": (_empty_2d, ["expected X_train non-empty, found shape (2, 0)"]),
    "label_dtype": (_labels_float, ["expected Y_train of dtype int64, found float64"]),
    "other_set": (_other_set, ["expected the planar set, found the noisy_moons set", "dvc repro planar"]),
}


@pytest.mark.parametrize("case", list(BAD_2D))
def test_bad_2d_set(case, tmp_path):
    path = tmp_path / "bad.h5"
    write, fragments = BAD_2D[case]
    write(path)
    proc = run_train(tmp_path, f"data.path={path}", experiment="shallow_planar")
    assert_one_error_line(proc, str(path), *fragments)
    assert_nothing_written(tmp_path)


def test_missing_generated_set_says_dvc_repro(tmp_path):
    proc = run_train(tmp_path, experiment="shallow_planar")
    assert_one_error_line(proc, str(tmp_path / "data" / "planar" / "planar.h5"), "dvc repro planar")
    assert_nothing_written(tmp_path)


# config values validate() refuses: (override, fragment of the message)
BAD_CONFIG = {
    "name=a/b": "config key name = 'a/b': expected letters, digits",
    "seed=-1": "config key seed = -1: expected an integer in [0, 2**32)",
    "dtype=float16": "config key dtype = 'float16': expected one of float64, float32",
    "train.iterations=0": "config key train.iterations = 0: expected a number >= 1",
    "train.record_every=0": "config key train.record_every = 0: expected a number >= 1",
    "train.path=fast": "config key train.path = 'fast': expected one of auto, plain, row_space",
    "train.lambd=-0.1": "config key train.lambd = -0.1: expected a number >= 0",
    "train.batch_size=0": "config key train.batch_size = 0: expected a number >= 1",
    "model.hidden=[4,0]": "config key model.hidden = [4, 0]: expected hidden layer sizes >= 1",
    "model.hidden_activation=swish": "config key model.hidden_activation = 'swish': expected one of",
    "model.output_activation=linear": "config key model.output_activation = 'linear': expected one of",
    "model.initializer=glorot": "config key model.initializer = 'glorot': expected one of",
    "model.keep_prob=0": "config key model.keep_prob = 0.0: expected a probability in (0, 1]",
    "model.keep_prob=1.5": "config key model.keep_prob = 1.5: expected a probability in (0, 1]",
    "optimizer.name=lbfgs": "config key optimizer.name = 'lbfgs': expected one of",
    "optimizer.lr=0": "config key optimizer.lr = 0.0: expected a finite number > 0",
    "optimizer.lr=-0.01": "config key optimizer.lr = -0.01: expected a finite number > 0",
    "optimizer.lr=nan": "config key optimizer.lr = nan: expected a finite number > 0",
    "optimizer.lr=inf": "config key optimizer.lr = inf: expected a finite number > 0",
    "data.kind=csv": "config key data.kind = 'csv': expected one of cat, football, generated",
    "+data.params.n=3": "config key data.params = {'n': 3}: expected no params for the cat set",
    "tracking.kind=cloud": "config key tracking.kind = 'cloud': expected one of local, server, none",
    "tracking.db=null": "config key tracking.db = None: expected the SQLite file",
    "+train.momentum=0.9": "config key train.momentum = 0.9: expected a known key",
}


@pytest.mark.parametrize("override", list(BAD_CONFIG))
def test_invalid_config_value(override, tmp_path):
    with_cat_data(tmp_path)
    proc = run_train(tmp_path, override)
    assert_one_error_line(proc, BAD_CONFIG[override])
    assert len(proc.stderr.splitlines()) == 1, proc.stderr  # validated before anything else runs
    assert_nothing_written(tmp_path)
    assert not (tmp_path / "mlflow.db").exists()  # no store touched, no run started


# config errors Hydra itself reports while composing: (override, fragments of its first line, more)
HYDRA_ERRORS = {
    "experiment=nope": ("Could not find 'experiment/nope'", "Available options in 'experiment':"),
    "data=nope": ("Could not find 'data/nope'", "Available options in 'data':"),
    "train.foo=1": ("Could not override 'train.foo'", "Key 'foo' not in 'TrainConfig'"),
    "colour=red": ("Could not override 'colour'", "Key 'colour' not in 'Config'"),
    "train.iterations=abc": ("Error merging override train.iterations=abc",
                             "Value 'abc' of type 'str' could not be converted to Integer"),
    "seed=1.5": ("Error merging override seed=1.5", "could not be converted to Integer"),
}


@pytest.mark.parametrize("override", list(HYDRA_ERRORS))
def test_hydra_compose_error(override, tmp_path):
    with_cat_data(tmp_path)
    cmd = train_cmd(tmp_path, override) if not override.startswith("experiment=") else \
        [*TRAIN, override, f"paths.root={tmp_path}"]
    proc = run(cmd, cwd=tmp_path, env=env())
    first, more = HYDRA_ERRORS[override]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert first in proc.stderr.splitlines()[0], proc.stderr
    assert more in proc.stderr, proc.stderr
    assert_nothing_written(tmp_path)
    assert not (tmp_path / "mlflow.db").exists()


def test_experiment_nope_lists_every_experiment(tmp_path):
    proc = run([*TRAIN, "experiment=nope", f"paths.root={tmp_path}"], cwd=tmp_path, env=env())
    listed = {ln.strip() for ln in proc.stderr.split("Available options in 'experiment':")[1].splitlines()
              if ln.startswith("\t")}
    on_disk = {p.stem for p in (REPO / "conf" / "experiment").glob("*.yaml")}
    assert on_disk and on_disk <= listed, proc.stderr


def test_cost_becoming_inf_names_iteration_and_last_finite_cost(tmp_path):
    """lr=1e305 overflows W after one step: the cost of iteration 1 is inf; iteration 0's is ln 2."""
    with_cat_data(tmp_path)
    proc = run_train(tmp_path, "optimizer.lr=1e305", "train.iterations=50")
    assert_clean_failure(proc, "training diverged: cost became inf at iteration 1",
                         "last finite cost 0.693147 at iteration 0", "lower optimizer.lr")
    assert proc.returncode == 2
    assert output_files(tmp_path) == []
    [(name, status, error)] = mlflow_runs(tmp_path)  # the run was open: it must say FAILED, and why
    assert status == "FAILED" and name.endswith("optimizer.lr=1e305 train.iterations=50"), name
    assert "DivergenceError" in error and "iteration 1" in error
