"""The course's published results, reproduced exactly with the course's settings and seeds."""

import numpy as np
import pytest

from scratchnet.data import load_cat, make_flower
from scratchnet.nn import GradientDescent, dense_stack, fit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cat(data_root):
    return load_cat(data_root / "cat")


@pytest.fixture(scope="module")
def flower():
    return make_flower()


def _train(ds, dims, act, init, seed, lr, epochs, record_every=100, first_layer="auto"):
    net = dense_stack(dims, act, initializer=init, rng=seed)
    result = fit(net, ds.X_train, ds.Y_train, optimizer=GradientDescent(lr), epochs=epochs,
                 record_every=record_every, first_layer=first_layer)
    return net, dict(result.costs), result


def _pct(net, X, Y):
    return 100 * net.accuracy(X, Y)


def test_logistic_cat(cat):
    net, costs, _ = _train(cat, [12288, 1], "relu", "zeros", 1, 0.005, 2000)
    assert costs[0] == pytest.approx(0.693147, abs=1e-6)
    assert costs[1900] == pytest.approx(0.140872, abs=1e-6)
    assert _pct(net, cat.X_train, cat.Y_train) == pytest.approx(99.04306220095694, abs=1e-9)
    assert _pct(net, cat.X_test, cat.Y_test) == 70.0


@pytest.mark.parametrize("lr, train, test", [
    (0.01, 99.52153110047847, 68.0),
    (0.001, 88.99521531100478, 64.0),
    (0.0001, 68.42105263157895, 36.0),
])
def test_logistic_cat_learning_rates(cat, lr, train, test):
    net, _, _ = _train(cat, [12288, 1], "relu", "zeros", 1, lr, 1500)
    assert _pct(net, cat.X_train, cat.Y_train) == pytest.approx(train, abs=1e-9)
    assert _pct(net, cat.X_test, cat.Y_test) == test


def test_shallow_planar(flower):
    net, costs, _ = _train(flower, [2, 4, 1], "tanh", "small_random", 2, 1.2, 10000, 1000)
    # the course's own code (np.dot throughout) gives 0.2185499289997177 here, bit for bit what
    # this core gives; the issue quoted 0.218548, which neither reproduces on this machine
    assert costs[9000] == pytest.approx(0.218550, abs=1e-6)
    assert _pct(net, flower.X_train, flower.Y_train) == 90.75


@pytest.mark.parametrize("n_h, accuracy", [
    (1, 67.5), (2, 67.25), (3, 90.75), (4, 90.5), (5, 91.25), (20, 90.5), (50, 90.25),
])
def test_hidden_layer_sizes(flower, n_h, accuracy):
    net, _, _ = _train(flower, [2, n_h, 1], "tanh", "small_random", 2, 1.2, 5000)
    assert _pct(net, flower.X_train, flower.Y_train) == accuracy


def test_two_layer_cat(cat):
    net, costs, _ = _train(cat, [12288, 7, 1], "relu", "small_random", 1, 0.0075, 2500)
    assert costs[0] == pytest.approx(0.693049735659989, abs=1e-6)
    assert costs[2400] == pytest.approx(0.048555, abs=1e-6)
    assert _pct(net, cat.X_train, cat.Y_train) == 100.0
    assert _pct(net, cat.X_test, cat.Y_test) == 72.0


@pytest.mark.parametrize("path", ["row_space", "plain"])
def test_four_layer_cat(cat, path):
    net, costs, result = _train(cat, [12288, 20, 7, 5, 1], "relu", "course_deep", 1, 0.0075, 2500,
                                first_layer=path)
    assert result.first_layer == path
    assert costs[0] == pytest.approx(0.771749, abs=1e-6)
    assert costs[2400] == pytest.approx(0.092878, abs=1e-6)
    assert _pct(net, cat.X_train, cat.Y_train) == pytest.approx(98.56459330143541, abs=1e-9)
    assert _pct(net, cat.X_test, cat.Y_test) == 80.0
    assert net.layer_dims == [12288, 20, 7, 5, 1] and np.isfinite(net.layers[0].W).all()
