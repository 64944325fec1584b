"""The seed stage: one experiment over several seeds in one process, the spread computed exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from scratchnet.models import load_model
from scratchnet.stages.seed_runs import main, spread


def test_spread_is_the_sample_statistics_with_a_t_interval():
    s = spread([0.5, 0.7, 0.9])
    assert (s["n"], s["min"], s["max"]) == (3, 0.5, 0.9)
    assert s["mean"] == pytest.approx(0.7, abs=1e-15) and s["std"] == pytest.approx(0.2, abs=1e-15)
    half = 4.302652729749464 * 0.2 / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert s["ci95"] == pytest.approx([0.7 - half, 0.7 + half], abs=1e-12)
    assert spread([0.25]) == {"n": 1, "mean": 0.25, "std": None, "min": 0.25, "max": 0.25, "ci95": None,
                              "values": [0.25]}


def test_two_seeds_of_a_shrunk_conv_cat_run_in_one_process(tmp_path, data_root, capsys, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_ROOT", raising=False)
    out = tmp_path / "seeds"
    code = main(["conv_cat", f"paths.root={tmp_path}", f"data.path={data_root / 'cat'}", "train.epochs=2",
                 "tracking=none", "--seeds", "4", "7", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    runs = {s: json.loads((out / "runs" / f"seed_{s}" / "metrics.json").read_text()) for s in (4, 7)}
    assert summary["seeds"] == [4, 7] and summary["epochs"] == 2
    assert summary["test_accuracy"]["values"] == [runs[4]["test"]["accuracy"], runs[7]["test"]["accuracy"]]
    assert summary["train_cost"]["values"] == [runs[4]["train"]["cost"], runs[7]["train"]["cost"]]
    assert summary["test_accuracy"] == spread(summary["test_accuracy"]["values"])
    weights = [load_model(out / "runs" / f"seed_{s}" / "model.npz").layers[0].W for s in (4, 7)]
    assert not np.array_equal(*weights)  # the seed reached the initialisation
    assert set(json.loads((out / "timing.json").read_text())["fit_seconds"]) == {"4", "7"}
    assert "seeds: conv_cat: test accuracy" in capsys.readouterr().out


def test_a_bad_override_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["conv_cat", "model.layers.1=rellu", "--seeds", "1", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seeds: error: config key model.layers[1] = 'rellu'") and err.count("\n") == 1
    assert not (tmp_path / "s").exists()
