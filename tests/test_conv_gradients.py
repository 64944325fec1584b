"""Central differences (float64) for every new layer alone and in stacks, input gradients included,
and the config()/arrays() round trip of every layer through Network.from_config."""

import json

import numpy as np
import pytest

from scratchnet.nn import Adam, Network, fit, from_specs
from scratchnet.nn.gradcheck import THRESHOLD, gradient_check, random_problem, relative_error
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.layers import LAYERS, Flatten

DENSE_OUT = [{"type": "flatten"}, {"type": "dense", "units": 3}]


def perturbed(net: Network, seed: int = 5) -> Network:
    """Nonzero biases, BN gamma away from 1 and beta away from 0, so their gradients are exercised."""
    rng = np.random.RandomState(seed)
    for layer in net.layers:
        for key, p in layer.parameters.items():
            if key.endswith("b") or key.endswith("beta"):
                p += rng.randn(*p.shape) * 0.3
            elif key.endswith("gamma"):
                p += rng.randn(*p.shape) * 0.3
    return net


def check(input_shape, specs, m=4, seed=0, initializer="xavier", **kw) -> float:
    net = perturbed(from_specs(input_shape, specs, output="softmax", initializer=initializer, rng=seed))
    X, Y = random_problem(net, m, seed)
    return gradient_check(net, X, Y, **kw)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("padding", [0, 1, "same"])
def test_conv2d(stride, padding):
    conv = {"type": "conv2d", "filters": 3, "f": 3, "stride": stride, "padding": padding}
    # a second conv before it, so its input gradient is checked too (through the first one's dW)
    first = {"type": "conv2d", "filters": 2, "f": 2, "padding": "same"}
    assert check((7, 6, 2), [first, conv, *DENSE_OUT]) < THRESHOLD


@pytest.mark.parametrize("pool", ["maxpool2d", "avgpool2d"])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1), (3, 2), (2, 3)], ids=["2s2", "3s1", "3s2", "2s3"])
def test_pools(pool, f, stride):
    specs = [{"type": "conv2d", "filters": 2, "f": 3, "padding": 1}, {"type": pool, "f": f, "stride": stride},
             {"type": "conv2d", "filters": 2, "f": 2}, *DENSE_OUT]
    assert check((8, 9, 2), specs) < THRESHOLD


def test_batchnorm_columns():
    specs = [{"type": "dense", "units": 5}, {"type": "batchnorm"}, "relu", {"type": "dense", "units": 4},
             {"type": "batchnorm", "momentum": 0.9}, "tanh", {"type": "dense", "units": 3}]
    assert check((4,), specs, m=6) < THRESHOLD


def test_batchnorm_channels():
    specs = [{"type": "conv2d", "filters": 3, "f": 3, "padding": "same"}, {"type": "batchnorm"}, "relu",
             {"type": "conv2d", "filters": 2, "f": 2}, {"type": "batchnorm", "epsilon": 1e-5}, "tanh", *DENSE_OUT]
    assert check((5, 5, 2), specs, m=3) < THRESHOLD


@pytest.mark.parametrize("block", [
    {"type": "identity_block", "f": 3, "filters": [2, 3, 3]},
    {"type": "convolutional_block", "f": 2, "filters": [2, 3, 4], "stride": 2},
    {"type": "convolutional_block", "f": 3, "filters": [3, 2, 2], "stride": 1, "bias": False},
], ids=["identity", "conv_s2", "conv_s1_nobias"])
def test_residual_blocks(block):
    # a conv in front so the block's input gradient (main + shortcut) is checked too
    specs = [{"type": "conv2d", "filters": 3, "f": 2, "padding": "same"}, block, *DENSE_OUT]
    assert check((5, 5, 2), specs, m=3) < THRESHOLD


def test_small_convnet():
    specs = [{"type": "conv2d", "filters": 4, "f": 3, "padding": "same"}, "relu", {"type": "maxpool2d", "f": 2},
             {"type": "conv2d", "filters": 3, "f": 2, "padding": "same"}, "relu", {"type": "maxpool2d", "f": 2},
             "flatten", {"type": "dense", "units": 4}]
    assert check((8, 8, 3), specs, m=5, initializer="he") < THRESHOLD
    assert check((8, 8, 3), specs, m=5, initializer="he", lambd=0.7) < THRESHOLD


def test_gradient_check_catches_a_wrong_conv_backward(monkeypatch):
    net = perturbed(from_specs((6, 6, 2), [{"type": "conv2d", "filters": 2, "f": 3}, *DENSE_OUT], output="softmax"))
    X, Y = random_problem(net, 3, 0)
    layer = net.layers[0]
    real = layer.backward

    def wrong(dZ, need_input_grad=True):
        out = real(dZ, need_input_grad)
        layer.gradients["W"][0, 0] *= 1.01  # one kernel offset 1% off
        return out

    monkeypatch.setattr(layer, "backward", wrong)
    assert gradient_check(net, X, Y) > 1e-4


def input_gradient_error(layer, X, training=True, eps=1e-6) -> float:
    """dL/dX from backward against central differences of L(X) = sum(G * forward(X))."""
    G = np.random.RandomState(9).randn(*layer.forward(X, training=training).shape)
    layer.forward(X, training=training)
    analytic = layer.backward(G)
    numeric = np.empty(X.size)
    for j in range(X.size):
        idx = np.unravel_index(j, X.shape)
        saved = X[idx]
        X[idx] = saved + eps
        plus = np.sum(G * layer.forward(X, training=training))
        X[idx] = saved - eps
        minus = np.sum(G * layer.forward(X, training=training))
        X[idx] = saved
        numeric[j] = (plus - minus) / (2 * eps)
    return relative_error(analytic.ravel(), numeric)


@pytest.mark.parametrize("spec, shape", [
    ({"type": "conv2d", "filters": 3, "f": 3, "stride": 2, "padding": "same"}, (6, 7, 2)),
    ({"type": "maxpool2d", "f": 3, "stride": 2}, (7, 7, 2)),
    ({"type": "avgpool2d", "f": 2, "stride": 1}, (5, 4, 2)),
    ({"type": "batchnorm"}, (4, 3, 2)),
    ({"type": "batchnorm"}, (5,)),
    ({"type": "identity_block", "f": 2, "filters": [2, 2, 2]}, (4, 4, 2)),
    ({"type": "convolutional_block", "f": 3, "filters": [2, 2, 3], "stride": 2}, (5, 5, 2)),
], ids=["conv", "maxpool", "avgpool", "bn_channels", "bn_columns", "identity", "conv_block"])
@pytest.mark.parametrize("training", [True, False])
def test_input_gradients_alone(spec, shape, training):
    layer = LAYERS[spec["type"]].init(spec, shape, np.random.RandomState(3), INITIALIZERS["xavier"], "float64")
    perturbed(Network(shape, [layer, Flatten()] if len(shape) == 3 else [layer], "softmax"), seed=4)
    X = np.random.RandomState(2).randn(3, *shape) if len(shape) == 3 else np.random.RandomState(2).randn(shape[0], 3)
    if not training and spec["type"] != "avgpool2d" and spec["type"] != "batchnorm":
        # conv and max-pool keep what backward needs (padded input, where the maxima are) only while training
        out = layer.forward(X, training=False)
        with pytest.raises(ValueError, match=r"(conv2d|maxpool2d): backward needs a forward pass with training=True"):
            layer.backward(np.ones_like(out))
        return
    assert input_gradient_error(layer, X, training) < THRESHOLD


ROUND_TRIP = {
    "conv": [{"type": "conv2d", "filters": 3, "f": 3, "stride": 2, "padding": "same"},
             {"type": "conv2d", "filters": 2, "f": 2, "padding": 1, "bias": False}, "relu"],
    "pools": [{"type": "maxpool2d", "f": 3, "stride": 1}, {"type": "avgpool2d", "f": 2}],
    "batchnorm": [{"type": "conv2d", "filters": 3, "f": 1}, {"type": "batchnorm", "momentum": 0.5}, "relu"],
    "residual": [{"type": "convolutional_block", "f": 2, "filters": [2, 3, 4], "stride": 2},
                 {"type": "identity_block", "f": 3, "filters": [2, 2, 4], "momentum": 0.8}],
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_config_round_trip(name):
    net = from_specs((8, 8, 3), [*ROUND_TRIP[name], "flatten", {"type": "dense", "units": 3}], output="softmax",
                     initializer="he", rng=1)
    X, Y = random_problem(net, 6, 2)
    fit(net, X, Y, optimizer=Adam(0.01), epochs=3)  # moves the weights and BN's running averages
    config = json.loads(json.dumps(net.config()))  # plain JSON values
    rebuilt = Network.from_config(config, {k: v.copy() for k, v in net.arrays().items()})
    assert rebuilt.config() == net.config()
    assert rebuilt.describe() == net.describe()
    np.testing.assert_array_equal(rebuilt.predict_proba(X), net.predict_proba(X))
    np.testing.assert_array_equal(rebuilt.forward(X, training=True), net.forward(X, training=True))
    if name in ("batchnorm", "residual"):
        assert any(k.endswith("moving_mean") and v.any() for k, v in net.arrays().items())


def test_round_trip_names_a_wrong_array():
    net = from_specs((6, 6, 3), [{"type": "identity_block", "f": 2, "filters": [2, 2, 3]}, *DENSE_OUT],
                     output="softmax")
    arrays = net.arrays()
    arrays["layers.0.conv2.W"] = np.zeros((3, 3, 2, 2))
    with pytest.raises(ValueError, match=r"layer 0: conv2d: expected W \(2, 2, 2, 2\); found W \(3, 3, 2, 2\)"):
        Network.from_config(net.config(), arrays)


def test_residual_block_specs():
    net = from_specs((8, 8, 3), [{"type": "convolutional_block", "f": 3, "filters": [2, 2, 4]},
                                 {"type": "identity_block", "f": 3, "filters": [2, 2, 4]}, *DENSE_OUT],
                     output="softmax")
    block = net.layers[0]
    assert block.config()["stride"] == 2  # the course's default s = 2
    assert block.output_shape((8, 8, 3)) == (4, 4, 4)
    assert block.regularised == ("conv1.W", "conv2.W", "conv3.W", "conv_shortcut.W")
    assert sorted(block.buffers) == sorted(f"bn{k}.{b}" for k in ("1", "2", "3", "_shortcut")
                                           for b in ("moving_mean", "moving_variance"))
    assert block.parameters["conv2.W"] is block.main[3][1].parameters["W"]  # the sub-layer's own array
    assert net.describe().startswith("convolutional block f3 [2, 2, 4] stride 2, identity block f3 [2, 2, 4]")
    with pytest.raises(ValueError, match=r"identity shortcut needs F3 = the input.s channels \(3\)"):
        from_specs((8, 8, 3), [{"type": "identity_block", "f": 3, "filters": [2, 2, 4]}, *DENSE_OUT])
