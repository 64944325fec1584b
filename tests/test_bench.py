"""The benchmark compares like with like: both core paths and the course-style baseline train the same
net to the same numbers; its short mode runs end to end and writes its JSON. No timed assertions."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import reference
from scratchnet.data import load_cat
from scratchnet.nn import GradientDescent, dense_stack, fit

REPO = Path(__file__).resolve().parents[1]  # `python -m benchmarks.bench` runs from the repo root
DIMS = [12288, 20, 7, 5, 1]
ITERATIONS = 30


@pytest.fixture(scope="module")
def cat(data_root):
    return load_cat(data_root / "cat")


def _core(ds, path, iterations=ITERATIONS):
    net = dense_stack(DIMS, "relu", initializer="course_deep", rng=1)
    result = fit(net, ds.X_train, ds.Y_train, optimizer=GradientDescent(0.0075), epochs=iterations,
                 record_every=1, first_layer=path)
    assert result.first_layer == path
    return net, np.array([c for _, c in result.costs])


@pytest.fixture(scope="module")
def plain(cat):
    return _core(cat, "plain")


def test_row_space_path_agrees_with_plain(cat, plain):
    net_p, costs_p = plain
    net_r, costs_r = _core(cat, "row_space")
    assert len(costs_p) == ITERATIONS
    np.testing.assert_allclose(costs_r, costs_p, rtol=1e-9, atol=0)
    # the cost moved, so agreeing is not trivial
    assert costs_p[-1] < costs_p[0] - 1e-3
    for X in (cat.X_train, cat.X_test):
        np.testing.assert_array_equal(net_r.predict(X), net_p.predict(X))
    np.testing.assert_allclose(net_r.layers[0].W, net_p.layers[0].W, rtol=0, atol=1e-12)


def test_reference_baseline_agrees_with_core(cat, plain):
    net, costs = plain
    params, ref_costs = reference.L_layer_model(cat.X_train, cat.Y_train, DIMS, np.random.RandomState(1),
                                                learning_rate=0.0075, num_iterations=ITERATIONS)
    ref = dict(ref_costs)
    assert sorted(ref) == [0, ITERATIONS - 1]
    np.testing.assert_allclose([ref[0], ref[ITERATIONS - 1]], [costs[0], costs[-1]], rtol=1e-9, atol=0)
    assert ref[0] == pytest.approx(0.771749, abs=1e-6)  # the course's printed first cost
    for X, Y in ((cat.X_train, cat.Y_train), (cat.X_test, cat.Y_test)):
        ref_pred = reference.predict(X, params)
        np.testing.assert_array_equal(ref_pred, net.predict(X))
        assert np.mean(ref_pred == Y) == net.accuracy(X, Y)
    for i, layer in enumerate((l for l in net.layers if "W" in l.parameters), start=1):
        np.testing.assert_allclose(params["W" + str(i)], layer.W, rtol=1e-9, atol=1e-15)


def test_two_layer_reference_matches_core(cat):
    params, ref_costs = reference.two_layer_model(cat.X_train, cat.Y_train, [12288, 7, 1],
                                                  np.random.RandomState(1), num_iterations=5)
    net = dense_stack([12288, 7, 1], "relu", initializer="small_random", rng=1)
    result = fit(net, cat.X_train, cat.Y_train, optimizer=GradientDescent(0.0075), epochs=5, first_layer="plain")
    np.testing.assert_allclose([c for _, c in ref_costs], [c for _, c in result.costs], rtol=1e-9)
    assert ref_costs[0][1] == pytest.approx(0.693049735659989, abs=1e-9)  # the course's first cost


def test_bench_quick_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "OPENBLAS_CORETYPE" in proc.stdout and "threads per BLAS/OpenMP pool: 1" in proc.stdout
    data = json.loads(out.read_text())
    assert set(data) == {"meta", "cat", "planar", "memory", "startup", "goals"}
    assert data["meta"]["threads"] == 1 and data["meta"]["quick"] is True
    assert any(lib["user_api"] == "blas" and lib["num_threads"] == 1 for lib in data["meta"]["libraries"])
    rows = {r["key"]: r for r in data["cat"]["rows"]}
    expected = {"reference", "scratchnet_plain_float64", "scratchnet_plain_float32",
                "scratchnet_row_space_float64", "scratchnet_row_space_float32",
                "gemm_plain_float64", "gemm_plain_float32", "gemm_row_space_float64"}
    assert expected <= set(rows)
    assert ("torch_float32" in rows) == (data["cat"]["torch_skipped"] is None)
    assert data["cat"]["iterations"] == 50 and rows["reference"]["cost_at"] == 0
    # same start, same first cost, same accuracies for the float64 implementations
    for key in ("reference", "scratchnet_plain_float64", "scratchnet_row_space_float64"):
        assert rows[key]["cost"] == pytest.approx(0.771749328, abs=1e-9)
        assert rows[key]["median_s"] > 0 and len(rows[key]["times"]) == 1
    assert rows["scratchnet_row_space_float64"]["ratio_vs_row_space"] == 1.0
    assert rows["reference"]["train_accuracy"] == rows["scratchnet_plain_float64"]["train_accuracy"]
    assert rows["gemm_plain_float64"]["train_accuracy"] is None
    assert {r["key"] for r in data["planar"]["rows"]} >= {"shallow_tanh", "gemm_shallow_tanh"}
    assert data["memory"]["row_space"]["path"] == "row_space"
    assert data["memory"]["plain"]["peak_kib"] >= data["memory"]["plain"]["after_load_kib"] > 0
    assert "numpy" in data["startup"]["importtime_self_us"]
    assert {"baseline_over_row_space", "plain_float64_over_gemm", "planar_shallow_seconds"} <= set(data["goals"])
    assert all(isinstance(g["met"], bool) and isinstance(g["cpu_met"], bool) for g in data["goals"].values())
    assert data["goals"]["baseline_over_row_space"]["value"] == pytest.approx(
        rows["reference"]["median_s"] / rows["scratchnet_row_space_float64"]["median_s"])
    assert all(len(r["cpu_times"]) == 1 and r["cpu_median_s"] > 0 for r in rows.values())


def test_bench_rejects_bad_arguments(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", "--threads", "0"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2 and "--threads must be >= 1; got 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--quick", "--data", str(tmp_path),
                           "--json", str(tmp_path / "b.json")], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2 and str(tmp_path) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "b.json").exists()
