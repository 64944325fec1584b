"""The course's SIGNS ConvNet built from specs and trained a few epochs (on random images: the real
SIGNS loader is the data layer's)."""

import numpy as np
import pytest

from scratchnet.nn import Adam, fit, from_specs
from scratchnet.nn.layers import Conv2D, Dense

SIGNS_CONVNET = [  # course 4, week 1: no conv biases; TF1's xavier_initializer is glorot_uniform
    {"type": "conv2d", "filters": 8, "f": 4, "padding": "same", "bias": False}, "relu",
    {"type": "maxpool2d", "f": 8, "stride": 8},
    {"type": "conv2d", "filters": 16, "f": 2, "padding": "same", "bias": False}, "relu",
    {"type": "maxpool2d", "f": 4, "stride": 4},
    "flatten", {"type": "dense", "units": 6},
]


def signs_convnet(dtype="float64", rng=0):
    return from_specs((64, 64, 3), SIGNS_CONVNET, output="softmax", initializer="glorot_uniform", rng=rng,
                      dtype=dtype)


def test_signs_convnet_builds_as_the_course_describes_it():
    net = signs_convnet()
    conv1, conv2, dense = (layer for layer in net.layers if layer.parameters)
    assert isinstance(conv1, Conv2D) and conv1.W.shape == (4, 4, 3, 8) and not conv1.bias
    assert isinstance(conv2, Conv2D) and conv2.W.shape == (2, 2, 8, 16) and not conv2.bias
    assert isinstance(dense, Dense) and dense.W.shape == (6, 64)
    assert net.n_parameters == 4 * 4 * 3 * 8 + 2 * 2 * 8 * 16 + 64 * 6 + 6
    shapes, shape = [], net.input_shape
    for layer in net.layers:
        shape = layer.output_shape(shape)
        shapes.append(shape)
    assert shapes == [(64, 64, 8), (64, 64, 8), (8, 8, 8), (8, 8, 16), (8, 8, 16), (2, 2, 16), (64,), (6,)]
    assert net.describe() == ("conv 4x4x8 same, relu, maxpool 8x8, conv 2x2x16 same, relu, maxpool 4x4, "
                              "flatten, dense 6, softmax")
    assert net.example_axis == 0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_few_adam_epochs_lower_the_cost(dtype):
    rng = np.random.RandomState(0)
    X = rng.rand(160, 64, 64, 3)  # pixels in [0, 1] as the course's X / 255
    Y = rng.randint(0, 6, (1, 160))
    net = signs_convnet(dtype)
    result = fit(net, X, Y, optimizer=Adam(0.009), epochs=6, batch_size=64, rng=np.random.RandomState(1),
                 record_every=1)
    costs = [c for _, c in result.costs]
    assert len(costs) == 6 and np.all(np.isfinite(costs))
    assert costs[-1] < costs[0] - 0.05, costs
    assert net.dtype == np.dtype(dtype)
    assert net.predict(X.astype(dtype)).shape == (1, 160)


def _held_bytes(net) -> int:
    """What the layers hold between calls: their workspaces and kept rows / padded inputs."""
    total = 0
    for layer in net.layers:
        work = getattr(layer, "_work", None)
        total += sum(a.nbytes for a in work._flat.values()) if work else 0
        for name in ("A_pad", "cols"):
            held = getattr(layer, name, None)
            total += held.nbytes if held is not None and held.base is None else 0
    return total


def test_inference_on_a_whole_data_set_stays_bounded():
    """Predicting on many images streams the im2col rows through a bounded buffer and keeps nothing
    batch-sized afterwards; the peak is the activations themselves."""
    import tracemalloc

    from scratchnet.nn import im2col

    rng = np.random.RandomState(0)
    net = signs_convnet("float32")
    fit(net, rng.rand(128, 64, 64, 3), rng.randint(0, 6, (1, 128)), optimizer=Adam(0.009), epochs=1,
        batch_size=64, rng=np.random.RandomState(1))
    held = _held_bytes(net)
    X = rng.rand(400, 64, 64, 3).astype("float32")
    tracemalloc.start()
    net.predict_proba(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert _held_bytes(net) <= held  # inference added no buffer
    assert all(getattr(layer, "A_pad", None) is None for layer in net.layers)
    conv1_out = 400 * 64 * 64 * 8 * 4  # the largest activation: conv 1's Z, and relu's copy of it
    assert peak < 2 * conv1_out + X.nbytes + 2 * im2col.CACHE_BYTES + 16 * 2**20, peak / 2**20
    assert sum(a.nbytes for a in im2col.SCRATCH._flat.values()) <= 2 * im2col.CACHE_BYTES


def test_relu_after_max_pool_trains_the_same_network():
    """The exact rewrite: relu and max-pool swapped train to bit-identical weights."""
    from scratchnet.nn.rewrites import relu_after_max_pool

    swapped = relu_after_max_pool(SIGNS_CONVNET)
    assert [s if isinstance(s, str) else s["type"] for s in swapped] == [
        "conv2d", "maxpool2d", "relu", "conv2d", "maxpool2d", "relu", "flatten", "dense"]
    assert relu_after_max_pool(["relu", {"type": "avgpool2d", "f": 2}]) == ["relu", {"type": "avgpool2d", "f": 2}]
    rng = np.random.RandomState(0)
    X, Y = rng.rand(96, 64, 64, 3) - 0.5, rng.randint(0, 6, (1, 96))  # negative pixels: windows with max <= 0
    nets = [from_specs((64, 64, 3), specs, output="softmax", initializer="glorot_uniform", rng=0)
            for specs in (SIGNS_CONVNET, swapped)]
    costs = [fit(net, X, Y, optimizer=Adam(0.009), epochs=2, batch_size=32, rng=np.random.RandomState(1),
                 record_every=1).costs for net in nets]
    assert costs[0] == costs[1]
    for a, b in zip(*([layer for layer in net.layers if layer.parameters] for net in nets)):
        for key in a.parameters:
            np.testing.assert_array_equal(a.parameters[key], b.parameters[key])


def test_prediction_on_many_images_goes_by_chunks_and_gives_the_same_probabilities(monkeypatch):
    from scratchnet.nn import network as network_module

    net = signs_convnet()
    X = np.random.RandomState(3).rand(2 * network_module.INFERENCE_CHUNK + 5, 64, 64, 3)
    seen = []
    real = net._layers_forward
    monkeypatch.setattr(net, "_layers_forward", lambda A, *a: seen.append(A.shape[0]) or real(A, *a))
    P = net.predict_proba(X)
    assert seen == [network_module.INFERENCE_CHUNK, network_module.INFERENCE_CHUNK, 5]
    assert P.shape == (6, X.shape[0]) and net.head.Z.shape == (6, X.shape[0])
    # each example's probabilities do not depend on which chunk it was in
    np.testing.assert_allclose(P[:, :7], net.head.forward(real(X[:7], False, None)), rtol=1e-12, atol=0)
