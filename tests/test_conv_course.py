"""The course's published numbers through the layers: "Convolutional Model: step by step" (2021, and
the 2019 conv forward) and "Residual Networks" (2021), as issue 12 lists them.

Arrays the course prints to 8 decimals are asserted to those 8 decimals (np.round(x, 8) equals the
printed array); the 16-digit means agree to 1e-14 relative (the last digit moves with summation
order: one matmul instead of the course's per-window sums). The residual-block numbers were
computed by TensorFlow in float32: our float32 agrees to 5 significant digits (rtol 1e-5).
"""

import numpy as np
import pytest

from scratchnet.nn.im2col import pad
from scratchnet.nn.layers import AvgPool2D, Conv2D, ConvolutionalBlock, IdentityBlock, MaxPool2D

MEAN_RTOL = 1e-14


def printed(actual, expected):
    """actual rounded as the course prints it (8 decimals) equals the printed values."""
    np.testing.assert_array_equal(np.round(actual, 8), np.array(expected))


def test_zero_pad():
    np.random.seed(1)
    x = np.random.randn(4, 3, 3, 2)
    x_pad = pad(x, ((3, 3), (3, 3)))
    assert x_pad.shape == (4, 9, 9, 2)
    printed(x[1, 1], [[0.90085595, -0.68372786], [-0.12289023, -0.93576943], [-0.26788808, 0.53035547]])
    assert not x_pad[1, 1].any()
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6], x)


def test_conv_single_step():
    np.random.seed(1)
    a_slice_prev = np.random.randn(4, 4, 3)
    W = np.random.randn(4, 4, 3)
    b = np.random.randn(1, 1, 1)
    layer = Conv2D(W[..., None], b.reshape(1, 1, 1, 1), stride=1, padding="valid")
    Z = layer.forward(a_slice_prev[None])
    assert Z.shape == (1, 1, 1, 1)
    assert Z[0, 0, 0, 0] == pytest.approx(-6.999089450680221, rel=MEAN_RTOL)


@pytest.mark.parametrize("m, index, mean, row", [
    (2, (0, 2, 1), 0.5511276474566768,
     [-2.17796037, 8.07171329, -0.5772704, 3.36286738, 4.48113645, -2.89198428, 10.99288867, 3.03171932]),
    (10, (3, 2, 1), 0.692360880758,  # the 2019 notebook prints 12 digits
     [-1.28912231, 2.27650251, 6.61941931, 0.95527176, 8.25132576, 2.31329639, 13.00689405, 2.34576051]),
], ids=["2021", "2019"])
def test_conv_forward(m, index, mean, row):
    np.random.seed(1)
    A_prev = np.random.randn(m, 5, 7, 4)
    W = np.random.randn(3, 3, 4, 8)
    b = np.random.randn(1, 1, 1, 8)
    Z = Conv2D(W, b, stride=2, padding=1).forward(A_prev)
    assert Z.shape == (m, 3, 4, 8)
    assert Z.mean() == pytest.approx(mean, rel=MEAN_RTOL if m == 2 else 5e-12)
    printed(Z[index], row)


def test_conv_backward_course_means():
    """The course's dW, db are sums over the batch; the layer's are of the mean cost, so m times
    the layer's gradient is the course's. dA_prev is per example in both."""
    np.random.seed(1)
    A_prev = np.random.randn(10, 4, 4, 3)
    W = np.random.randn(2, 2, 3, 8)
    b = np.random.randn(1, 1, 1, 8)
    layer = Conv2D(W, b, stride=2, padding=2)
    Z = layer.forward(A_prev, training=True)
    dA_prev = layer.backward(Z)
    m = A_prev.shape[0]
    assert dA_prev.shape == A_prev.shape
    assert dA_prev.mean() == pytest.approx(1.4524377775388075, rel=MEAN_RTOL)
    assert (m * layer.gradients["W"]).mean() == pytest.approx(1.7269914583139097, rel=MEAN_RTOL)
    assert (m * layer.gradients["b"]).mean() == pytest.approx(7.839232564616838, rel=MEAN_RTOL)


POOL_STRIDE_1 = {
    MaxPool2D: [[1.96710175, 0.84616065, 1.27375593], [1.96710175, 0.84616065, 1.23616403],
                [1.62765075, 1.12141771, 1.2245077]],
    AvgPool2D: [[0.44497696, -0.00261695, -0.31040307], [0.50811474, -0.23493734, -0.23961183],
                [0.11872677, 0.17255229, -0.22112197]],
}
POOL_STRIDE_2 = {  # max: A[0]; average: A[1]
    MaxPool2D: (0, [[[1.74481176, 0.90159072, 1.65980218], [1.74481176, 1.6924546, 1.65980218]],
                    [[1.13162939, 1.51981682, 2.18557541], [1.13162939, 1.6924546, 2.18557541]]]),
    AvgPool2D: (1, [[[-0.17313416, 0.32377198, -0.34317572], [0.02030094, 0.14141479, -0.01231585]],
                    [[0.42944926, 0.08446996, -0.27290905], [0.15077452, 0.28911175, 0.00123239]]]),
}


@pytest.mark.parametrize("pool", [MaxPool2D, AvgPool2D], ids=["max", "average"])
@pytest.mark.parametrize("training", [False, True])
def test_pool_forward(pool, training):
    np.random.seed(1)
    A_prev = np.random.randn(2, 5, 5, 3)
    A = pool(3, 1).forward(A_prev, training=training)
    assert A.shape == (2, 3, 3, 3)
    printed(A[1, 1], POOL_STRIDE_1[pool])
    A = pool(3, 2).forward(A_prev, training=training)
    assert A.shape == (2, 2, 2, 3)
    example, expected = POOL_STRIDE_2[pool]
    printed(A[example], expected)


@pytest.mark.parametrize("pool, expected", [
    (MaxPool2D, [[0, 0], [5.05844394, -1.68282702], [0, 0]]),
    (AvgPool2D, [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]]),
], ids=["max", "average"])
def test_pool_backward(pool, expected):
    np.random.seed(1)
    A_prev = np.random.randn(5, 5, 3, 2)
    layer = pool(2, 1)
    A = layer.forward(A_prev, training=True)
    assert A.shape == (5, 4, 2, 2)
    dA = np.random.randn(5, 4, 2, 2)
    assert dA.mean() == pytest.approx(0.14571390272918056, rel=MEAN_RTOL)
    printed(layer.backward(dA)[1, 1], expected)


# -- "Residual Networks": every weight 1, Keras's BatchNorm defaults ---------------------------------

def all_ones_block(cls, f, filters, channels, **hyper):
    """The block the course's test builds with kernel_initializer constant(1): conv weights 1, biases
    0 (Keras's default), BN gamma 1, beta 0, moving mean 0, moving variance 1; float32."""
    config = {"type": cls.type, "f": f, "filters": filters, "channels": channels, **hyper}
    main, shortcut = cls.layout(config)
    arrays = {}
    for name, sub in main + shortcut:
        if sub["type"] == "conv2d":
            arrays[f"{name}.W"] = np.ones((sub["f"], sub["f"], sub["channels"], sub["filters"]), np.float32)
            arrays[f"{name}.b"] = np.zeros((1, 1, 1, sub["filters"]), np.float32)
        elif sub["type"] == "batchnorm":
            for key, value in (("gamma", 1), ("beta", 0), ("moving_mean", 0), ("moving_variance", 1)):
                arrays[f"{name}.{key}"] = np.full((sub["features"],), value, np.float32)
    return cls.from_config(config, arrays)


def course_X():
    """Three (4, 4, 3) examples filled with -1, 1 and 3, float32."""
    return np.concatenate([np.full((1, 4, 4, 3), v) for v in (-1, 1, 3)]).astype(np.float32)


def test_identity_block_inference():
    block = all_ones_block(IdentityBlock, 2, [4, 4, 3], 3)
    A = block.forward(course_X(), training=False)
    assert A.dtype == np.float32 and A.shape == (3, 4, 4, 3)
    means = A[:, (0, -1), :, :].mean(axis=3)
    expected = np.array([
        [[0, 0, 0, 0], [0, 0, 0, 0]],
        [[192.71234, 192.71234, 192.71234, 96.85617], [96.85617, 96.85617, 96.85617, 48.92808]],
        [[578.1371, 578.1371, 578.1371, 290.5685], [290.5685, 290.5685, 290.5685, 146.78426]],
    ])
    np.testing.assert_allclose(means, expected, rtol=1e-5, atol=0)


def test_identity_block_training():
    block = all_ones_block(IdentityBlock, 2, [3, 3, 3], 3)
    A = block.forward(course_X(), training=True)
    means = A[:, (0, -1), :, :].mean(axis=3)
    expected = np.array([
        [[0, 0, 0, 0], [0, 0, 0, 0]],
        [[0.40739] * 4, [0.40739] * 4],
        [[4.99991, 4.99991, 4.99991, 3.25948], [3.25948, 3.25948, 3.25948, 2.40739]],
    ])
    np.testing.assert_allclose(means, expected, rtol=1e-5, atol=0)


def test_convolutional_block_all_ones_by_hand():
    """No course number exists (its test draws glorot weights from TensorFlow's generator): with all
    weights 1 in inference mode the block is worked out by hand. k = 1/sqrt(1 + 1e-3); example 2
    (all 1, C = 3) through conv1 1x1 s2 + BN: 3k; conv2 2x2 same over F1 = 2 channels + BN:
    4 * 2 * 3k * k inside, half that on the last row or column, a quarter in the corner; conv3 sums
    F2 = 4 of those (* k); the shortcut's conv 1x1 + BN gives 3k."""
    block = all_ones_block(ConvolutionalBlock, 2, [2, 4, 6], 3, stride=2)
    A = block.forward(course_X(), training=False).astype(np.float64)
    assert A.shape == (3, 2, 2, 6)
    k = 1 / np.sqrt(1.001)
    inner = 4 * (8 * 3 * k * k) * k + 3 * k
    edge = 4 * (4 * 3 * k * k) * k + 3 * k
    corner = 4 * (2 * 3 * k * k) * k + 3 * k
    assert not A[0].any()
    np.testing.assert_allclose(A[1, :, :, 0], [[inner, edge], [edge, corner]], rtol=1e-6)
    np.testing.assert_allclose(A[2], 3 * A[1], rtol=1e-6)
