"""The NumPy core: gradients by central differences, the row-space path, determinism, state."""

import subprocess
import sys

import numpy as np
import pytest

from nets import dense_layers, perturb_biases
from scratchnet.nn import GradientDescent, Network, dense_stack, fit
from scratchnet.nn.activations import HIDDEN_ACTIVATIONS
from scratchnet.nn.gradcheck import gradient_check


def _problem(n_x=4, m=7, seed=0, classes=2):
    rng = np.random.RandomState(seed)
    return rng.randn(n_x, m), rng.randint(0, classes, (1, m))


def _perturbed_net(dims, act, **kw):
    net = dense_stack(dims, act, initializer="xavier", rng=1, **kw)
    perturb_biases(net, np.random.RandomState(5))
    return net


@pytest.mark.parametrize("act", HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("dims", [[4, 1], [4, 5, 1], [4, 5, 3, 3, 1]], ids=["0h", "1h", "3h"])
@pytest.mark.parametrize("lambd", [0.0, 0.7])
def test_gradients_match_central_differences(act, dims, lambd):
    X, Y = _problem()
    assert gradient_check(_perturbed_net(dims, act), X, Y, lambd=lambd) < 1e-7


def test_softmax_gradients_match_central_differences():
    X, Y = _problem(classes=3)
    net = _perturbed_net([4, 5, 3], "tanh", output="softmax")
    assert gradient_check(net, X, Y) < 1e-7


def test_gradient_check_catches_a_wrong_backward(monkeypatch):
    X, Y = _problem()
    net = _perturbed_net([4, 5, 1], "tanh")
    layer = net.layers[0]
    real_backward = layer.backward

    def off_by_two(dZ, need_input_grad=True):
        out = real_backward(dZ, need_input_grad)
        layer.gradients["W"] *= 2
        return out

    monkeypatch.setattr(layer, "backward", off_by_two)
    assert gradient_check(net, X, Y) > 1e-2


@pytest.mark.parametrize("lambd", [0.0, 0.3])
def test_row_space_path_equals_plain_path(lambd):
    # more features than examples, the case where the row-space path runs
    X, Y = _problem(n_x=50, m=12, seed=3)
    results = {}
    for path in ("plain", "row_space"):
        net = dense_stack([50, 6, 3, 1], "relu", initializer="he", rng=2)
        r = fit(net, X, Y, optimizer=GradientDescent(0.05), epochs=200, record_every=1,
                lambd=lambd, first_layer=path)
        assert r.first_layer == path
        results[path] = (np.array([c for _, c in r.costs]), net)
    (c_plain, net_plain), (c_row, net_row) = results["plain"], results["row_space"]
    np.testing.assert_allclose(c_row, c_plain, rtol=1e-9)
    np.testing.assert_allclose(dense_layers(net_row)[0].W, dense_layers(net_plain)[0].W, rtol=1e-9, atol=1e-12)
    assert (net_row.predict(X) == net_plain.predict(X)).all()


def test_auto_path_choice():
    X, Y = _problem(n_x=50, m=12)
    net = dense_stack([50, 1], "relu", initializer="zeros")
    assert fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=2).first_layer == "row_space"
    X, Y = _problem(n_x=2, m=12)
    net = dense_stack([2, 1], "relu", initializer="zeros")
    assert fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=2).first_layer == "plain"


def test_same_seed_same_weights_in_one_process():
    a = dense_stack([30, 8, 4, 1], "relu", initializer="he", rng=7)
    b = dense_stack([30, 8, 4, 1], "relu", initializer="he", rng=7)
    for la, lb in zip(dense_layers(a), dense_layers(b)):
        assert la.W.tobytes() == lb.W.tobytes()
    c = dense_stack([30, 8, 4, 1], "relu", initializer="he", rng=8)
    assert a.layers[0].W.tobytes() != c.layers[0].W.tobytes()


def test_same_seed_same_trained_weights_across_processes():
    code = (
        "import hashlib, numpy as np\n"
        "from scratchnet.nn import dense_stack, fit, GradientDescent\n"
        "rng = np.random.RandomState(0); X = rng.randn(20, 30); Y = (rng.rand(1, 30) > .5).astype(int)\n"
        "net = dense_stack([20, 5, 1], 'tanh', initializer='small_random', rng=3)\n"
        "fit(net, X, Y, optimizer=GradientDescent(0.5), epochs=50)\n"
        "print(hashlib.sha256(b''.join(a.tobytes() for l in net.layers for a in l.parameters.values())).hexdigest())\n"
    )
    digests = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout for _ in range(2)}
    assert len(digests) == 1 and len(digests.pop().strip()) == 64


def test_course_initialisers_draw_the_course_weights():
    np.random.seed(1)
    W1, W2 = np.random.randn(7, 12288) * 0.01, np.random.randn(1, 7) * 0.01
    net = dense_stack([12288, 7, 1], "relu", initializer="small_random", rng=1)
    first, second = dense_layers(net)
    assert (first.W == W1).all() and (second.W == W2).all()
    np.random.seed(1)
    dims = [12288, 20, 7, 5, 1]
    expected = [np.random.randn(n, p) / np.sqrt(p) for p, n in zip(dims[:-1], dims[1:])]
    net = dense_stack(dims, "relu", initializer="course_deep", rng=1)
    assert all((layer.W == W).all() for layer, W in zip(dense_layers(net), expected, strict=True))
    assert all((layer.b == 0).all() for layer in dense_layers(net))


def test_stable_cost_has_no_log_zero():
    # a saturated sigmoid (a = 1 exactly in float64) still gives a finite, correct cost
    net = dense_stack([1, 1], "relu", initializer="zeros")
    net.layers[0].W[...] = 100.0
    X, T = np.array([[1.0, 1.0]]), np.array([[1.0, 0.0]])
    net.forward(X)
    assert net.cost(T) == pytest.approx((100.0 + np.log1p(np.exp(-100.0))) / 2)


def test_divergence_is_detected_at_its_epoch():
    from scratchnet.nn import DivergenceError

    X, Y = _problem(n_x=3, m=20)
    net = dense_stack([3, 4, 1], "tanh", initializer="he", rng=1)
    # an absurd step sends the weights to inf after the first update, so epoch 1's cost is not finite
    message = r"cost became (nan|inf) at epoch 1 \(last finite cost 0\.\d+ at epoch 0"
    with pytest.raises(DivergenceError, match=message) as err:
        fit(net, X, Y, optimizer=GradientDescent(1e308), epochs=100)
    assert err.value.epoch == 1 and not np.isfinite(err.value.cost)


@pytest.mark.parametrize("dims, act, lr", [([3, 1], "relu", 1e300), ([3, 4, 1], "tanh", 1e305)],
                         ids=["logistic", "shallow-tanh"])
def test_a_finite_explosion_is_divergence_too(dims, act, lr):
    # tanh and the stable cost keep these finite (costs of ~1e300): not a trained model all the same
    from scratchnet.nn import DivergenceError

    X, Y = _problem(n_x=3, m=20)
    net = dense_stack(dims, act, initializer="he", rng=1)
    with pytest.raises(DivergenceError, match=r"at epoch 1 is more than 1000 times its starting cost 0\.\d+") as err:
        fit(net, X, Y, optimizer=GradientDescent(lr), epochs=100)
    assert err.value.epoch == 1 and np.isfinite(err.value.cost) and err.value.cost > 1e3
    # the ratio test is configurable: off, only NaN/inf count and this run goes on to its end
    net = dense_stack(dims, act, initializer="he", rng=1)
    assert fit(net, X, Y, optimizer=GradientDescent(lr), epochs=5, divergence_factor=None).epochs == 5


def test_a_high_starting_cost_is_not_divergence():
    # course 2's large-random init starts near cost 1774 and falls: the factor is relative to the start
    from scratchnet.nn.training import Divergence

    watch = Divergence(1e3)
    for epoch, cost in enumerate([1773.6, 900.0, 12.0, 0.5]):
        watch.check(epoch, cost)
    assert watch.start == 1773.6 and watch.last_finite == (3, 0.5)


def test_state_round_trip_and_mismatch():
    net = dense_stack([6, 4, 1], "tanh", initializer="he", rng=1)
    X, _ = _problem(n_x=6)
    again = Network.from_config(net.config(), net.arrays())
    assert again.layer_dims == [6, 4, 1] and again.hidden_activation == "tanh"
    assert (again.predict_proba(X) == net.predict_proba(X)).all()
    config = net.config()
    config["layers"][0]["units"] = 5
    with pytest.raises(ValueError, match=r"layer 0: dense: expected W \(5, 6\); found W \(4, 6\)"):
        Network.from_config(config, net.arrays())


def test_an_old_model_state_is_upgraded():
    # the pre-layer-contract state: layer_dims, activations, and layers.<i>.W/b over the dense layers only
    net = dense_stack([6, 4, 3, 1], "tanh", initializer="he", rng=1)
    old = {"layer_dims": [6, 4, 3, 1], "hidden_activation": "tanh", "output_activation": "sigmoid"}
    old_arrays = {f"layers.{i}.{k}": layer.parameters[k] for i, layer in enumerate(dense_layers(net)) for k in "Wb"}
    again = Network.from_config(old, old_arrays)
    assert again.config() == net.config()
    X, _ = _problem(n_x=6)
    assert (again.predict_proba(X) == net.predict_proba(X)).all()
    old["layer_dims"] = [6, 5, 3, 1]
    with pytest.raises(ValueError, match=r"layer 0: expected W \(5, 6\)"):
        Network.from_config(old, old_arrays)


@pytest.mark.parametrize("kwargs, message", [
    ({"layer_dims": [4, 0, 1]}, "each >= 1"),
    ({"hidden_activation": "swish"}, "hidden_activation must be one of"),
    ({"initializer": "ones"}, "initializer must be one of"),
    ({"dtype": "float16"}, "dtype must be one of"),
])
def test_invalid_architecture_is_rejected(kwargs, message):
    args = {"layer_dims": [4, 3, 1]} | kwargs
    with pytest.raises(ValueError, match=message):
        dense_stack(**args)


def test_float32_option_trains_in_float32():
    X, Y = _problem(n_x=5, m=30)
    net = dense_stack([5, 4, 1], "relu", initializer="he", rng=1, dtype="float32")
    fit(net, X, Y, optimizer=GradientDescent(0.1), epochs=5)
    assert all(layer.W.dtype == np.float32 for layer in dense_layers(net))
