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

from scratchnet.models import save_model
from scratchnet.nn import dense_stack

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
    save_model(dense_stack([N_CAT, 3, 1], rng=0), whole)
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
    save_model(dense_stack(dims, output=output, rng=0), path)
    return path


BAD_MODELS = {
    "missing": (lambda t: t / "none.npz", ["not found", "none.npz"]),
    "not_a_zip": (_text_file, ["text.npz", "not a readable scratchnet model"]),
    "truncated": (_truncated, ["truncated.npz", "not a readable scratchnet model"]),
    "no_architecture": (_missing_architecture, ["weights_only.npz", "not a readable scratchnet model"]),
    "planar_input_size": (lambda t: _saved(t, "planar.npz", [2, 4, 1]),
                          ["planar.npz", "takes 2 input features", "not RGB images"]),
}  # a softmax model on images is not bad input any more: test_predict and test_image_runs predict with one


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
def _generated_h5(path: Path, X_train, Y_train, X_test=None, Y_test=None, name="planar") -> None:
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
        _generated_h5(path, X, Y)
    return write


def _feature_mismatch(path: Path) -> None:
    X, Y = _xy(2, 40)
    X3, Y3 = _xy(3, 10, seed=1)
    _generated_h5(path, X, Y, X3, Y3)


def _empty_2d(path: Path) -> None:
    _generated_h5(path, np.zeros((2, 0)), np.zeros((1, 0), np.int64))


def _labels_float(path: Path) -> None:
    X, Y = _xy(2, 40)
    _generated_h5(path, X, Y.astype(np.float64))


def _other_set(path: Path) -> None:
    X, Y = _xy(2, 40)
    _generated_h5(path, X, Y, name="noisy_moons")


BAD_2D = {
    "nan": (_with_value(np.nan), ["expected finite values in X_train, found nan"]),
    "inf": (_with_value(np.inf), ["expected finite values in X_train, found inf"]),
    "feature_counts": (_feature_mismatch, ["expected X_test with 2 features like X_train, found 3"]),
    "empty": (_empty_2d, ["expected X_train non-empty, found shape (2, 0)"]),
    "label_dtype": (_labels_float, ["expected Y_train of dtype int64, found float64"]),
    "other_set": (_other_set, ["expected the planar set, found the noisy_moons set", "dvc repro generate"]),
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
    assert_one_error_line(proc, str(tmp_path / "data" / "generated" / "planar.h5"), "dvc repro generate")
    assert_nothing_written(tmp_path)


# config values validate() refuses: (override, fragment of the message)
BAD_CONFIG = {
    "name=a/b": "config key name = 'a/b': expected letters, digits",
    "seed=-1": "config key seed = -1: expected an integer in [0, 2**32)",
    "train.epochs=0": "config key train.epochs = 0: expected a number >= 1",
    "train.record_every=0": "config key train.record_every = 0: expected a number >= 1",
    "train.lambd=-0.1": "config key train.lambd = -0.1: expected a number >= 0",
    "train.batch_size=0": "config key train.batch_size = 0: expected a number >= 1",
    "model.hidden=[4,0]": "config key model.hidden = [4, 0]: expected hidden layer sizes >= 1",
    "model=shallow model.hidden=[4,4]": "config key model.hidden = [4, 4]: expected exactly one hidden layer for "
                                        "model.family shallow",
    "model=logistic model.hidden=[4]": "config key model.hidden = [4]: expected no hidden layer",
    "model.keep_prob=0": "config key model.keep_prob = 0.0: expected a probability in (0, 1]",
    "model.keep_prob=1.5": "config key model.keep_prob = 1.5: expected a probability in (0, 1]",
    "optimizer.lr=0": "config key optimizer.lr = 0.0: expected a finite number > 0",
    "optimizer.lr=-0.01": "config key optimizer.lr = -0.01: expected a finite number > 0",
    "optimizer.lr=nan": "config key optimizer.lr = nan: expected a finite number > 0",
    "optimizer.lr=inf": "config key optimizer.lr = inf: expected a finite number > 0",
    "+data.params.n=3": "config key data.params = {'n': 3}: expected no params for the cat set",
    "tracking.db=null": "config key tracking.db = None: expected the SQLite file",
    "+train.momentum=0.9": "config key train.momentum = 0.9: expected a known key",
    "train.decay_rate=0": "config key train.decay_rate = 0.0: expected a number > 0",
    "train.decay_interval=0": "config key train.decay_interval = 0: expected a number >= 1",
    "optimizer.beta=0.9": "config key optimizer.beta = 0.9: expected null for optimizer gd, which takes lr",
    "optimizer=momentum optimizer.beta=-0.1": "config key optimizer.beta = -0.1: expected a decay rate in [0, 1)",
    "optimizer=adam optimizer.beta1=1.0": "config key optimizer.beta1 = 1.0: expected a decay rate in [0, 1)",
    "optimizer=adam optimizer.epsilon=0": "config key optimizer.epsilon = 0.0: expected a number > 0",
    "data=planar data.name=spiral": "config key data.name = 'spiral': expected one of planar,",
    "data=planar +data.params.petals=5": ("config key data.params.petals = 5: "
                                          "expected a parameter of the planar generator, one of m, a, seed"),
    "tracking=server tracking.uri=null": "config key tracking.uri = None: expected the server's URI",
}


@pytest.mark.parametrize("override", list(BAD_CONFIG))
def test_invalid_config_value(override, tmp_path):
    with_cat_data(tmp_path)
    proc = run_train(tmp_path, *override.split())
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
    "train.epochs=abc": ("Error merging override train.epochs=abc",
                         "Value 'abc' of type 'str' could not be converted to Integer"),
    "seed=1.5": ("Error merging override seed=1.5", "could not be converted to Integer"),
    # names: the schema's enums list the allowed ones
    "dtype=float16": ("Error merging override dtype=float16", "Invalid value 'float16', expected one of "
                                                             "[float64, float32]"),
    "train.first_layer=fast": ("Error merging override train.first_layer=fast",
                               "Invalid value 'fast', expected one of [auto, plain, row_space]"),
    "model.hidden_activation=swish": ("Error merging override model.hidden_activation=swish",
                                      "Invalid value 'swish', expected one of [sigmoid, tanh, relu, leaky_relu]"),
    "model.output_activation=linear": ("Error merging override", "expected one of [sigmoid, softmax]"),
    "model.initializer=glorot": ("Error merging override", "Invalid value 'glorot', expected one of [zeros,"),
    "optimizer.name=lbfgs": ("Error merging override", "expected one of [gd, momentum, adam]"),
    "data.kind=csv": ("Error merging override", "expected one of [cat, football, generated, signs, images]"),
    "tracking.kind=cloud": ("Error merging override", "expected one of [local, server, none]"),
    "train.lr_schedule=cosine": ("Error merging override", "expected one of [constant, inverse_time, step]"),
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
    proc = run_train(tmp_path, "optimizer.lr=1e305", "train.epochs=50")
    assert_clean_failure(proc, "training diverged: cost became inf at epoch 1",
                         "last finite cost 0.693147 at epoch 0", "lower optimizer.lr")
    assert proc.returncode == 2
    assert output_files(tmp_path) == []
    [(name, status, error)] = mlflow_runs(tmp_path)  # the run was open: it must say FAILED, and why
    assert status == "FAILED" and name.endswith("optimizer.lr=1e305 train.epochs=50"), name
    assert "DivergenceError" in error and "epoch 1" in error


# --- faults: signals, an unreachable server, unwritable outputs ---------------------------------


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory) -> Path:
    """A root with cat data, a local MLflow store and one finished deep_cat run (3 iterations)."""
    root = with_cat_data(tmp_path_factory.mktemp("trained"))
    proc = run_train(root, "train.epochs=3", experiment="deep_cat", timeout=180)
    assert proc.returncode == 0, proc.stderr
    return root


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the command exited with {proc.returncode} before {what}:\n{proc.stderr.read()}")
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.parametrize("signame, code, said", [("SIGINT", 130, "interrupted"),
                                                 ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_signal_during_training_kills_the_run_and_keeps_outputs(signame, code, said, trained_root):
    import signal
    import time

    root = trained_root
    before = snapshot(root / "experiments")
    assert "deep_cat/model.npz" in before
    log = root / "hydra" / signame / "train.log"
    proc = subprocess.Popen(
        [str(c) for c in train_cmd(root, "train.epochs=10000000", f"hydra.run.dir={log.parent}",
                                   "train.record_every=100", experiment="deep_cat")],
        cwd=root, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the progress lines (DEBUG, log file only) prove the loop is running, past MLflow's set-up
        _wait_for(lambda: log.is_file() and "epoch 300/10000000" in log.read_text(), 120,
                  "training epochs in the log", proc)
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signame))
        rc = proc.wait(30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert rc == code, stderr
    assert took < 2.0, f"{signame}: exited {took:.2f} s after the signal"
    assert "Traceback" not in stderr and f"scratchnet-train: {said}; previous outputs kept" in stderr, stderr
    assert snapshot(root / "experiments") == before  # same files, same bytes, no temp folders left
    name, status, error = mlflow_runs(root)[-1]
    assert "train.epochs=10000000" in name, name
    assert status == "KILLED" and error.startswith(("KeyboardInterrupt", "Terminated")), (status, error)


@pytest.mark.slow
def test_rerun_after_interrupts_succeeds(trained_root):
    """After the signal tests (same module root), the same command finishes and replaces the outputs."""
    import json

    proc = run_train(trained_root, "train.epochs=4", experiment="deep_cat", timeout=180)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((trained_root / "experiments" / "deep_cat" / "metrics.json").read_text())
    assert metrics["epochs"] == 4
    assert [p.name for p in (trained_root / "experiments").iterdir()] == ["deep_cat"]  # no leftovers
    name, status, _ = mlflow_runs(trained_root)[-1]
    assert status == "FINISHED" and name.endswith("train.epochs=4"), (name, status)


def test_unreachable_server_fails_fast_and_local_fallback_works(tmp_path):
    import time

    from servers import free_port

    with_cat_data(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    start = time.monotonic()
    proc = run_train(tmp_path, "tracking=server", f"tracking.uri={dead}", "train.epochs=5")
    took = time.monotonic() - start
    assert_one_error_line(proc, f"tracking server {dead} is unreachable", "tracking=local")
    assert took < 30, f"took {took:.1f} s to give up on a dead server"
    assert_nothing_written(tmp_path)
    assert not (tmp_path / "mlflow.db").exists()
    # the documented fallback: the same command with tracking=local
    ok = run_train(tmp_path, "tracking=local", "train.epochs=5")
    assert ok.returncode == 0, ok.stderr
    assert [(s, e) for _, s, e in mlflow_runs(tmp_path)] == [("FINISHED", None)]
    assert "logistic_cat/model.npz" in output_files(tmp_path)


def test_silent_server_times_out(tmp_path):
    """A port that accepts connections but never answers: the health probe gives up in ~5 s."""
    import socket
    import time

    with_cat_data(tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes the handshake; nobody ever reads or answers
        uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
        start = time.monotonic()
        proc = run_train(tmp_path, "tracking=server", f"tracking.uri={uri}", "train.epochs=5")
        took = time.monotonic() - start
    assert_one_error_line(proc, f"tracking server {uri} is unreachable", "timed out", "tracking=local")
    assert took < 30, f"took {took:.1f} s to give up on a silent server"
    assert_nothing_written(tmp_path)


def test_output_dir_under_a_file_fails_before_training(tmp_path):
    """Works as root too (chmod would not stop root): no folder can be made under a regular file."""
    with_cat_data(tmp_path)
    blocker = tmp_path / "experiments"
    blocker.write_text("a file where the outputs folder should be\n")
    proc = run_train(tmp_path, "train.epochs=5")
    assert_one_error_line(proc, f"cannot write the outputs to {blocker / 'logistic_cat'}",
                          f"{blocker} is a file, not a folder")
    assert blocker.read_text() == "a file where the outputs folder should be\n"
    assert mlflow_runs(tmp_path) == []  # checked before any run is opened or any iteration is spent


def _disk_full_at(limit_bytes: int):
    """preexec_fn: files may not grow past `limit_bytes` (EFBIG, as on a full disk), also for root."""
    def limit() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get the EFBIG error instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return limit


def test_disk_full_while_writing_keeps_previous_outputs(tmp_path):
    """deep_cat's model.npz is 1.97 MB: with files capped at 1.5 MB its write fails mid-file."""
    with_cat_data(tmp_path)
    first = run_train(tmp_path, "tracking=none", "train.epochs=3", experiment="deep_cat")
    assert first.returncode == 0, first.stderr
    before = snapshot(tmp_path / "experiments")
    assert len(before["deep_cat/model.npz"]) > 1_500_000
    proc = run_train(tmp_path, "tracking=none", "train.epochs=3", "seed=7", experiment="deep_cat",
                     preexec_fn=_disk_full_at(1_500_000))
    assert_one_error_line(proc, f"cannot write the outputs to {tmp_path / 'experiments' / 'deep_cat'}",
                          "File too large")
    assert snapshot(tmp_path / "experiments") == before  # nothing half-written, no temp files


# --- determinism ---------------------------------------------------------------------------------

DETERMINISTIC_FILES = ("metrics.json", "model.npz", "cost.csv", "config.yaml")


def _content(folder: Path, file: str) -> bytes:
    """The file's bytes; config.yaml without its output_dir line (the one thing meant to differ)."""
    data = (folder / file).read_bytes()
    if file == "config.yaml":
        data = b"".join(ln for ln in data.splitlines(keepends=True) if not ln.startswith(b"output_dir:"))
    return data


@pytest.mark.slow
def test_same_seed_same_bytes_across_runs_and_launchers(tmp_path):
    """Two basic runs and joblib jobs (1 and 2 at a time) of one config and seed write the same bytes.

    metrics.json holds no wall-clock field (fit_seconds lives in timing.json), so it is compared
    whole. Before train() fixed BLAS at one thread, a job of a 2-job sweep (cores // 2 threads)
    differed from a basic run (2 threads) by ~1e-16 in the weights, and for the full deep_cat
    in metrics.json too: OpenBLAS sums in another order with another thread count.
    """
    with_cat_data(tmp_path)
    common = ("tracking=none", "train.epochs=300")
    folders = {}
    for name in ("basic_a", "basic_b"):
        folders[name] = tmp_path / name
        proc = run_train(tmp_path, *common, f"output_dir={folders[name]}", experiment="deep_cat",
                         env=env(OPENBLAS_NUM_THREADS="2"))  # what an idle 2-core machine would use
        assert proc.returncode == 0, proc.stderr
    for n_jobs, seeds in ((1, "1"), (2, "1,2")):
        proc = run([*TRAIN, "-m", "experiment=deep_cat", f"paths.root={tmp_path}", *common, f"seed={seeds}",
                    "hydra/launcher=joblib_local", f"hydra.launcher.n_jobs={n_jobs}",
                    f"hydra.callbacks.sweep.name=det{n_jobs}"], timeout=300, cwd=tmp_path, env=env())
        assert proc.returncode == 0, proc.stderr
    sweeps = tmp_path / "experiments" / "sweeps"
    folders["joblib_1_job"], folders["joblib_2_jobs"] = sweeps / "det1" / "0", sweeps / "det2" / "0"

    reference = {f: _content(folders["basic_a"], f) for f in DETERMINISTIC_FILES}
    assert b"fit_seconds" not in reference["metrics.json"]
    for name, folder in folders.items():
        for file in DETERMINISTIC_FILES:
            assert _content(folder, file) == reference[file], f"{name}/{file} differs from basic_a/{file}"
    # the comparison can tell runs apart: seed 2 draws other weights
    other_seed = sweeps / "det2" / "1"
    assert _content(other_seed, "model.npz") != reference["model.npz"]
    assert b"seed: 2" in _content(other_seed, "config.yaml")
