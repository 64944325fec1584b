"""Atomic writes (scratchnet.files) and the model file (scratchnet.models)."""

import subprocess
import sys

import numpy as np
import pytest

from scratchnet.files import atomic_path, csv_text, write_csv, write_json
from scratchnet.models import ModelFileError, load_model, save_model
from scratchnet.nn import dense_stack


def test_model_round_trip_is_exact(tmp_path):
    net = dense_stack([5, 3, 1], "tanh", initializer="he", rng=4)
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
    save_model(dense_stack([5, 1], initializer="zeros"), tmp_path / "m.npz")
    with pytest.raises(ModelFileError, match="takes 5 input features .* the data has 12288"):
        load_model(tmp_path / "m.npz", n_features=12288)
    assert load_model(tmp_path / "m.npz", n_classes=2).layer_dims == [5, 1]  # one sigmoid unit: two classes
    with pytest.raises(ModelFileError, match="has a 1-unit sigmoid output; a 3-class model has 3 softmax units"):
        load_model(tmp_path / "m.npz", n_classes=3)
    save_model(dense_stack([5, 3], output="softmax"), tmp_path / "s.npz")
    assert load_model(tmp_path / "s.npz", n_classes=3).layer_dims == [5, 3]
    with pytest.raises(ModelFileError, match=r"has a 3-unit softmax output; a 2-class model has 1 sigmoid unit "
                                             r"\(or 2 softmax units\)"):
        load_model(tmp_path / "s.npz", n_classes=2)


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


def test_importing_files_leaves_the_umask_alone():
    """The umask is read on first use; importing must not set it (a thread creating files meanwhile
    would get mode 0o666 & ~0 for a moment)."""
    code = ("import os, unittest.mock as m; calls = []; real = os.umask\n"
            "with m.patch.object(os, 'umask', lambda v: calls.append(v) or real(v)):\n"
            "    import scratchnet.files, scratchnet.models, scratchnet.data\n"
            "print(calls)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"


def test_csv_round_trips_floats_and_writes_atomically(tmp_path):
    assert csv_text(["epoch", "cost"], [(0, 0.1 + 0.2), (10, 1e-17)]) == "epoch,cost\n0,0.30000000000000004\n10,1e-17\n"
    write_csv(tmp_path / "a.csv", ["a", "b"], [["x,y", 1]])
    assert (tmp_path / "a.csv").read_text() == 'a,b\n"x,y",1\n'
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]
