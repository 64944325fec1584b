"""Atomic writes and the model file."""

import numpy as np
import pytest

from scratchnet.io import ModelFileError, atomic_path, load_model, save_model, write_json
from scratchnet.nn import Network


def test_model_round_trip_is_exact(tmp_path):
    net = Network.initialise([5, 3, 1], "tanh", initializer="he", rng=4)
    save_model(net, tmp_path / "model.npz")
    again = load_model(tmp_path / "model.npz", n_features=5)
    X = np.random.RandomState(0).randn(5, 9)
    assert (again.predict_proba(X) == net.predict_proba(X)).all()
    assert again.layer_dims == [5, 3, 1] and again.hidden_activation == "tanh"
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temp files left


def test_model_errors(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="not a readable scratchnet model"):
        load_model(tmp_path / "bad.npz")
    save_model(Network.initialise([5, 1], initializer="zeros"), tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="takes 5 input features .* the data has 12288"):
        load_model(tmp_path / "m.npz", n_features=12288)


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "metrics.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text('{"a": 2, "half')
            raise RuntimeError("interrupted mid-write")
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_written_files_get_umask_permissions(tmp_path):
    import os
    import stat

    write_json(tmp_path / "m.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o666 & ~umask
