"""Optimizers, lr schedules and mini-batches: single steps against hand-worked numbers, exactness claims."""

import numpy as np
import pytest

from nets import dense_layers
from scratchnet.nn import (
    Adam,
    CourseCompat,
    GradientDescent,
    Momentum,
    dense_stack,
    fit,
    make_optimizer,
    make_schedule,
)


class _Layer:
    """The optimizer's view of a layer: parameters and gradients with local keys."""

    def __init__(self, W, b, dW, db):
        self.parameters = {"W": np.array(W, dtype=float), "b": np.array(b, dtype=float)}
        self.gradients = {"W": np.array(dW, dtype=float), "b": np.array(db, dtype=float)}


def _problem(n_x=3, m=40, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n_x, m)
    return X, (X[:1] * X[1:2] > 0).astype(np.int64)  # an xor-like target: needs the hidden layer


def _weights(net):
    return [(layer.W.copy(), layer.b.copy()) for layer in dense_layers(net)]


def _same(a, b):
    return all((Wa == Wb).all() and (ba == bb).all() for (Wa, ba), (Wb, bb) in zip(a, b, strict=True))


def test_gradient_descent_step_by_hand():
    layer = _Layer([[1.0, 2.0]], [[0.5]], [[0.5, -1.0]], [[2.0]])
    GradientDescent(0.1).step([layer])
    # W - 0.1 dW = [1 - 0.05, 2 + 0.1]; b = 0.5 - 0.2
    np.testing.assert_allclose(layer.parameters["W"], [[0.95, 2.1]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(layer.parameters["b"], [[0.3]], rtol=0, atol=1e-15)


def test_momentum_two_steps_by_hand():
    layer = _Layer([[1.0, 2.0], [3.0, 4.0]], [[0.0], [1.0]], [[0.5, -1.0], [2.0, 0.0]], [[1.0], [-3.0]])
    opt = Momentum(lr=0.1, beta=0.9)
    opt.step([layer])
    # v = 0.9 * 0 + 0.1 dW = [[.05, -.1], [.2, 0]]; W - 0.1 v = [[.995, 2.01], [2.98, 4]]
    np.testing.assert_allclose(opt.velocity[0]["W"], [[0.05, -0.1], [0.2, 0.0]], atol=1e-15)
    np.testing.assert_allclose(layer.parameters["W"], [[0.995, 2.01], [2.98, 4.0]], atol=1e-15)
    # v_b = [.1, -.3]; b - 0.1 v_b = [-.01, 1.03]
    np.testing.assert_allclose(layer.parameters["b"], [[-0.01], [1.03]], atol=1e-15)
    opt.step([layer])  # same gradient again: v = 0.9 * 0.1 dW + 0.1 dW = 0.19 dW
    np.testing.assert_allclose(opt.velocity[0]["W"], [[0.095, -0.19], [0.38, 0.0]], atol=1e-15)
    # W = [[.995 - .0095, 2.01 + .019], [2.98 - .038, 4]]
    np.testing.assert_allclose(layer.parameters["W"], [[0.9855, 2.029], [2.942, 4.0]], atol=1e-15)


def test_adam_two_steps_by_hand_with_bias_correction():
    layer = _Layer([[1.0, -1.0, 2.0]], [[0.0]], [[0.5, -2.0, 0.0]], [[0.5]])
    opt = Adam(lr=0.1, beta1=0.9, beta2=0.999, epsilon=1e-8)
    opt.step([layer])
    # t = 1: v = 0.1 g, s = 0.001 g^2, v^ = g, s^ = g^2: the step is lr g / (|g| + eps) ~ lr sign(g)
    # (without bias correction it would be 0.1 * 0.05 / sqrt(0.00025) = 0.316 for g = 0.5)
    assert opt.t == 1
    np.testing.assert_allclose(opt.v[0]["W"], [[0.05, -0.2, 0.0]], atol=1e-15)
    np.testing.assert_allclose(opt.s[0]["W"], [[0.00025, 0.004, 0.0]], atol=1e-15)
    # 0.1 * 0.5 / (0.5 + 1e-8) = 0.099999998; 0.1 * 2 / (2 + 1e-8) = 0.0999999995; g = 0 does not move
    np.testing.assert_allclose(layer.parameters["W"], [[1 - 0.099999998, -1 + 0.0999999995, 2.0]],
                               rtol=0, atol=1e-15)
    layer.gradients["b"][...] = 1.0
    opt.step([layer])
    # t = 2 for b: v = 0.9 * 0.05 + 0.1 * 1 = 0.145, v^ = 0.145 / (1 - 0.9^2) = 0.763157894736842
    # s = 0.999 * 0.00025 + 0.001 * 1 = 0.00124975, s^ = 0.00124975 / (1 - 0.999^2) = 0.625187593796907
    # step = 0.1 * 0.763157894736842 / (sqrt(0.625187593796907) + 1e-8) = 0.0965182013614906
    assert opt.t == 2
    assert opt.v[0]["b"][0, 0] == pytest.approx(0.145, abs=1e-15)
    assert opt.s[0]["b"][0, 0] == pytest.approx(0.00124975, abs=1e-15)
    assert layer.parameters["b"][0, 0] == pytest.approx(-0.099999998 - 0.0965182013614906, abs=1e-14)


def test_optimizer_state_is_aligned_with_the_layers_and_resets():
    net = dense_stack([3, 4, 2, 1], "relu", initializer="he", rng=1)
    X, Y = _problem()
    opt = Adam(lr=0.01)
    fit(net, X, Y, optimizer=opt, epochs=3)
    assert opt.t == 3 and len(opt.v) == len(net.layers) == len(opt.s)
    for layer, v in zip(net.layers, opt.v, strict=True):  # activation layers have no parameters
        assert set(v) == set(layer.parameters) and all(v[k].shape == p.shape for k, p in layer.parameters.items())
    assert [set(v) for v in opt.v] == [{"W", "b"}, set(), {"W", "b"}, set(), {"W", "b"}]
    opt.reset()
    assert opt.t == 0 and opt.v is None


def test_only_linear_optimizers_take_the_row_space_path():
    assert GradientDescent.linear and Momentum.linear and not Adam.linear
    X, Y = _problem(n_x=50, m=12)
    for opt, path in ((Momentum(0.01), "row_space"), (Adam(0.01), "plain")):
        net = dense_stack([50, 3, 1], "relu", initializer="he", rng=1)
        assert fit(net, X, Y, optimizer=opt, epochs=2).first_layer == path


@pytest.mark.parametrize("batch_size", [None, 5])
def test_momentum_is_exact_on_the_row_space_path(batch_size):
    # the row-space first layer is exact for an update linear in the gradient: momentum is one
    X, Y = _problem(n_x=50, m=12, seed=3)
    costs, firsts = [], []
    for path in ("plain", "row_space"):
        net = dense_stack([50, 6, 3, 1], "relu", initializer="he", rng=2)
        r = fit(net, X, Y, optimizer=Momentum(0.05, beta=0.9), epochs=100, record_every=1, lambd=0.3,
                batch_size=batch_size, rng=np.random.RandomState(4), first_layer=path)
        assert r.first_layer == path
        costs.append([c for _, c in r.costs])
        firsts.append(net.layers[0].W)
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-9)
    np.testing.assert_allclose(firsts[1], firsts[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name, kwargs, message", [
    ("sgd", {"lr": 0.1}, r"optimizer must be one of \('gd', 'momentum', 'adam'\); got 'sgd'"),
    ("gd", {"lr": 0.0}, "lr must be > 0; got 0.0"),
    ("momentum", {"lr": 0.1, "beta": 1.0}, r"beta must be in \[0, 1\); got 1.0"),
    ("adam", {"lr": 0.1, "beta2": -0.1}, r"beta2 must be in \[0, 1\); got -0.1"),
    ("adam", {"lr": 0.1, "epsilon": 0}, "epsilon must be > 0; got 0"),
])
def test_bad_optimizer_settings_are_named(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, **kwargs)


def test_schedules_match_the_course_values():
    # the course's own checks: lr0 0.5, decay_rate 0.3; step decay with interval 100
    inverse = make_schedule("inverse_time", decay_rate=0.3)
    assert inverse(0.5, 0) == 0.5 and inverse(0.5, 10) == pytest.approx(0.125, abs=1e-15)  # 0.5 / (1 + 3)
    step = make_schedule("step", decay_rate=0.3, interval=100)
    assert step(0.5, 10) == 0.5  # floor(10 / 100) = 0
    assert step(0.5, 100) == pytest.approx(0.5 / 1.3, abs=1e-15)
    assert make_schedule("constant")(0.5, 999) == 0.5
    with pytest.raises(ValueError, match="lr schedule must be one of"):
        make_schedule("cosine")
    with pytest.raises(ValueError, match="interval must be an integer >= 1; got 0"):
        make_schedule("step", decay_rate=1.0, interval=0)


def test_fit_applies_the_schedule_per_epoch_and_the_course_lag():
    X, Y = _problem(m=20)
    sched = make_schedule("inverse_time", decay_rate=1.0)
    net = dense_stack([3, 4, 1], "relu", initializer="he", rng=1)
    r = fit(net, X, Y, optimizer=GradientDescent(0.6), epochs=4, schedule=sched)
    assert [e for e, _ in r.learning_rates] == [0, 1, 2, 3]
    assert [lr for _, lr in r.learning_rates] == pytest.approx([0.6, 0.3, 0.2, 0.15], rel=1e-15)
    # the course sets lr after epoch i with decay(lr0, i): epochs 0 and 1 both train at lr0
    net = dense_stack([3, 4, 1], "relu", initializer="he", rng=1)
    r = fit(net, X, Y, optimizer=GradientDescent(0.6), epochs=4, schedule=sched, course_compat=True)
    assert [e for e, _ in r.learning_rates] == [0, 2, 3]
    assert [lr for _, lr in r.learning_rates] == pytest.approx([0.6, 0.3, 0.2], rel=1e-15)


@pytest.mark.parametrize("keep_prob", [1.0, 0.7])
def test_batch_size_m_equals_full_batch_exactly(keep_prob):
    X, Y = _problem(m=30)
    results = []
    for batch_size in (None, 30, 1000):
        net = dense_stack([3, 5, 4, 1], "relu", initializer="he", rng=1, keep_prob=keep_prob)
        r = fit(net, X, Y, optimizer=Momentum(0.1), epochs=50, record_every=1, batch_size=batch_size,
                rng=np.random.RandomState(7))
        results.append(([c for _, c in r.costs], _weights(net)))
    for costs, weights in results[1:]:
        assert costs == results[0][0] and _same(weights, results[0][1])


def _by_hand(X, Y, batch_size, epochs, orders, lr=0.1):
    """Mini-batch gd written out: the given permutation per epoch, batches in order."""
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    m = X.shape[1]
    for epoch in range(epochs):
        order = orders(epoch)
        for k in range(0, m, batch_size):
            cols = order[k:k + batch_size]
            T = net.targets(Y[:, cols])
            net.forward(X[:, cols])
            net.backward(T)
            GradientDescent(lr).step(net.layers)
    return _weights(net)


def test_mini_batches_shuffle_once_per_epoch_from_the_run_generator():
    X, Y = _problem(m=23)  # 23 = 2 * 10 + 3: the last batch is smaller
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=4, batch_size=10, rng=np.random.RandomState(5))
    draws = np.random.RandomState(5)
    orders = [draws.permutation(23) for _ in range(4)]
    assert _same(_weights(net), _by_hand(X, Y, 10, 4, lambda e: orders[e]))


def test_course_compat_reseeds_the_shuffle_each_epoch_like_the_course():
    X, Y = _problem(m=23)
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    # the run generator is not used at all: the course re-seeds np.random with 10 + 1 + epoch
    fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=4, batch_size=10, course_compat=True)
    expected = _by_hand(X, Y, 10, 4, lambda e: np.random.RandomState(11 + e).permutation(23))
    assert _same(_weights(net), expected)
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=4, batch_size=10,
        course_compat=CourseCompat(shuffle_seed=0))
    assert _same(_weights(net), _by_hand(X, Y, 10, 4, lambda e: np.random.RandomState(1 + e).permutation(23)))


def test_mini_batch_cost_is_the_example_weighted_epoch_mean():
    X, Y = _problem(m=23)
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    lr = 1e-300  # no visible movement: every batch's cost is the cost at the initial weights
    r = fit(net, X, Y, optimizer=GradientDescent(lr), epochs=1, batch_size=10, rng=np.random.RandomState(5))
    net.forward(X)
    assert r.costs[0][1] == pytest.approx(net.cost(net.targets(Y)), rel=1e-13)


def test_mini_batches_need_a_generator():
    X, Y = _problem(m=23)
    net = dense_stack([3, 5, 1], "tanh", initializer="xavier", rng=2)
    with pytest.raises(ValueError, match="dropout and mini-batches need the run's rng"):
        fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="batch_size must be >= 1 or None"):
        fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=1, batch_size=0)


@pytest.mark.parametrize("opt", [GradientDescent(0.05), Momentum(0.05, beta=0.9)], ids=["gd", "momentum"])
def test_a_second_fit_after_a_row_space_fit_keeps_training(opt):
    # the row-space first layer keys the optimizer's state to C/alpha while it is swapped in; the state
    # is reset at both swaps, so the same optimizer trains on (it used to raise KeyError: 'W')
    X, Y = _problem(n_x=50, m=12, seed=3)
    net = dense_stack([50, 6, 1], "relu", initializer="he", rng=2)
    first = fit(net, X, Y, optimizer=opt, epochs=20)
    assert first.first_layer == "row_space"
    for path in ("plain", "row_space"):
        again = fit(net, X, Y, optimizer=opt, epochs=20, first_layer=path)
        assert again.costs[-1][1] < first.costs[-1][1]
        first = again
    assert type(net.layers[0]).__name__ == "Dense"
