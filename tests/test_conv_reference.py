"""The fast layers against the course's four-loop code (benchmarks/course_conv.py) on random float64
inputs, forward and backward (the CS231n habit), and the paths the fast code takes on its own:
chunked inference, recomputed and sparse im2col rows, TensorFlow's "same" padding, max-pool ties."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root: benchmarks/ is not installed

from benchmarks import course_conv as course  # noqa: E402
from scratchnet.nn import im2col  # noqa: E402
from scratchnet.nn.layers import AvgPool2D, Conv2D, MaxPool2D  # noqa: E402

TOL = dict(rtol=1e-12, atol=1e-12)


def random_conv(m, H, W, C_prev, f, C, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(m, H, W, C_prev), rng.randn(f, f, C_prev, C), rng.randn(1, 1, 1, C)


CONV_CASES = [  # (m, H, W, C_prev, f, C, stride, padding)
    (3, 7, 6, 2, 3, 4, 1, 0),
    (3, 7, 6, 2, 3, 4, 1, 1),
    (3, 7, 6, 2, 3, 4, 2, 1),
    (2, 8, 9, 3, 4, 5, 1, "same"),
    (2, 8, 9, 3, 4, 5, 2, "same"),
    (2, 9, 7, 3, 3, 2, 3, "same"),
    (2, 6, 6, 4, 1, 3, 1, "valid"),
    (2, 7, 7, 4, 1, 3, 2, "valid"),
    (2, 5, 5, 3, 5, 2, 1, 2),
    (2, 5, 6, 3, 2, 2, 1, 2),  # pad > f - 1: dA_prev by col2im even at stride 1
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "m{}_{}x{}x{}_f{}_C{}_s{}_p{}".format(*c))
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("blocked", [True, False], ids=["blocked", "plain"])
def test_conv_matches_course_loops(monkeypatch, case, bias, blocked):
    if not blocked:  # every row one output (plain im2col) rather than a block of neighbours
        monkeypatch.setattr(im2col, "NARROW", 1)
    m, H, W_in, C_prev, f, C, stride, padding = case
    A_prev, W, b = random_conv(m, H, W_in, C_prev, f, C)
    layer = Conv2D(W.copy(), b.copy() if bias else None, stride=stride, padding=padding)
    Z = layer.forward(A_prev, training=True)
    assert layer.block > 1 or not blocked or case[4:7] in [(4, 5, 2), (1, 3, 1)]  # W_out 5, block <= 3; 1x1
    assert layer.block == 1 or blocked
    pads = im2col.padding_amounts(padding, H, W_in, f, stride)
    Z_ref, cache = course.conv_forward(A_prev, W, b if bias else None, {"pad": pads, "stride": stride})
    np.testing.assert_allclose(Z, Z_ref, **TOL)
    dZ = np.random.RandomState(1).randn(*Z.shape)
    dA_prev = layer.backward(dZ)
    dA_ref, dW_ref, db_ref = course.conv_backward(dZ, cache)
    np.testing.assert_allclose(dA_prev, dA_ref, **TOL)
    np.testing.assert_allclose(m * layer.gradients["W"], dW_ref, **TOL)  # course: sum; layer: mean
    if bias:
        np.testing.assert_allclose(m * layer.gradients["b"], db_ref, **TOL)


@pytest.mark.parametrize("pool, mode", [(MaxPool2D, "max"), (AvgPool2D, "average")], ids=["max", "avg"])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 3), (3, 1), (3, 2), (2, 3), (4, 4)],
                         ids=lambda v: str(v))
@pytest.mark.parametrize("H, W", [(9, 8), (8, 8)])  # windows that cover the input exactly, or not
def test_pool_matches_course_loops(pool, mode, f, stride, H, W):
    A_prev = np.random.RandomState(2).randn(3, H, W, 4)
    layer = pool(f, stride)
    A = layer.forward(A_prev, training=True)
    A_ref, cache = course.pool_forward(A_prev, {"f": f, "stride": stride}, mode)
    np.testing.assert_allclose(A, A_ref, **TOL)
    dA = np.random.RandomState(3).randn(*A.shape)
    np.testing.assert_allclose(layer.backward(dA), course.pool_backward(dA, cache, mode), **TOL)


def test_block_width():
    """Blocks of outputs per row only for narrow products, dividing W_out."""
    assert im2col.block_width(64, 8, np.float32) == 8  # the course's first conv: 64 columns
    assert im2col.block_width(64, 8, np.float64) == 4
    assert im2col.block_width(8, 16, np.float32) == 4
    assert im2col.block_width(64, 32, np.float32) == 2
    assert im2col.block_width(64, 64, np.float32) == 1
    assert im2col.block_width(7, 4, np.float64) == 7
    assert im2col.block_width(7, 3, np.float64) == 7
    assert im2col.block_width(14, 4, np.float64) == 7  # the largest divisor of 14 up to 8


def test_same_padding_follows_tensorflow():
    # TensorFlow's rule: out = ceil(n / s), total = max((out - 1) s + f - n, 0), the extra one after
    assert im2col.same_padding(5, 4, 1) == (1, 2)  # stride 1: (f-1)//2 before, f//2 after
    assert im2col.same_padding(64, 4, 1) == (1, 2)
    assert im2col.same_padding(8, 2, 1) == (0, 1)
    assert im2col.same_padding(13, 6, 5) == (1, 2)  # the TensorFlow docs' example: out 3
    assert im2col.same_padding(7, 3, 2) == (1, 1)
    assert im2col.same_padding(6, 3, 2) == (0, 1)
    assert im2col.same_padding(4, 1, 3) == (0, 0)
    assert im2col.same_padding(5, 7, 1) == (3, 3)
    layer = Conv2D(np.ones((3, 3, 1, 1)), stride=2, padding="same")
    assert layer.output_shape((7, 6, 1)) == (4, 3, 1)


def test_first_layer_skips_the_input_gradient():
    A_prev, W, b = random_conv(2, 6, 6, 3, 3, 4)
    layer = Conv2D(W, b, padding="same")
    Z = layer.forward(A_prev, training=True)
    assert layer.backward(np.ones_like(Z), need_input_grad=False) is None
    assert layer.gradients["W"].any()


def _gradients(layer, A_prev, dZ, training=True):
    layer.forward(A_prev, training=training)
    dA = layer.backward(dZ)
    return dA, layer.gradients["W"].copy(), layer.gradients["b"].copy()


@pytest.mark.parametrize("stride, padding", [(1, "same"), (2, 1), (1, 0)])
def test_chunked_and_recomputed_rows_equal_the_one_matmul(monkeypatch, stride, padding):
    """Above the buffer bound the layer goes chunk by chunk (inference) and im2col's the rows
    again for dW (training): same numbers as with the rows kept."""
    A_prev, W, b = random_conv(7, 9, 8, 3, 3, 4, seed=5)
    layer = Conv2D(W, b, stride=stride, padding=padding)
    Z_one = layer.forward(A_prev, training=True)
    dZ = np.random.RandomState(6).randn(*Z_one.shape)
    kept = _gradients(layer, A_prev, dZ)
    monkeypatch.setattr(im2col, "MAX_BUFFER_BYTES", 1000)  # a few examples' rows at most
    calls = []
    real = im2col.im2col
    monkeypatch.setattr(im2col, "im2col", lambda A_pad, *a: calls.append(len(A_pad)) or real(A_pad, *a))
    np.testing.assert_allclose(layer.forward(A_prev, training=False), Z_one, rtol=1e-13, atol=1e-13)
    assert calls == [1] * 7  # one example's rows (> 1000 bytes) at a time
    for got, want in zip(_gradients(layer, A_prev, dZ), kept):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-13)
    assert layer.cols is None  # really went the recomputing way


@pytest.mark.parametrize("bound", [None, 1000])
@pytest.mark.parametrize("C", [5, 8, 16])  # 8 and 16: the rows' flags read as machine words
def test_sparse_dZ_rows_give_the_dense_gradient(monkeypatch, bound, C):
    """dW from the nonzero rows of dZ alone (after a non-overlapping max-pool) equals the full product."""
    A_prev, W, b = random_conv(4, 8, 8, 3, 4, C, seed=7)
    layer = Conv2D(W, b, padding="same")
    Z = layer.forward(A_prev, training=True)
    rng = np.random.RandomState(8)
    dZ = rng.randn(*Z.shape) * (rng.rand(*Z.shape[:3], 1) < 0.1)  # ~10% of the rows nonzero
    assert 0 < np.count_nonzero(dZ.reshape(-1, C).any(axis=1)) <= 0.25 * dZ[..., 0].size
    if bound:
        monkeypatch.setattr(im2col, "MAX_BUFFER_BYTES", bound)
    dA, dW, db = _gradients(layer, A_prev, dZ)
    assert layer.sparse_dZ
    _, cache = course.conv_forward(A_prev, W, b, {"pad": ((1, 2), (1, 2)), "stride": 1})
    dA_ref, dW_ref, db_ref = course.conv_backward(dZ, cache)
    np.testing.assert_allclose(dA, dA_ref, **TOL)
    np.testing.assert_allclose(4 * dW, dW_ref, **TOL)
    np.testing.assert_allclose(4 * db, db_ref, **TOL)


def test_max_pool_routes_a_tie_to_one_maximum():
    """Ties go to ONE maximum (the lowest kw, then the lowest kh), keeping the gradient's total;
    the course's mask sends it to each tied maximum."""
    A_prev = np.array([[0.0, 2.0], [2.0, 1.0]]).reshape(1, 2, 2, 1)  # tie at (0, 1) and (1, 0)
    layer = MaxPool2D(2)
    layer.forward(A_prev, training=True)
    dA_prev = layer.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[0, 0], [1, 0]])
    _, cache = course.pool_forward(A_prev, {"f": 2, "stride": 2})
    np.testing.assert_array_equal(course.pool_backward(np.ones((1, 1, 1, 1)), cache)[0, :, :, 0], [[0, 1], [1, 0]])
    flat = np.full((1, 3, 3, 1), 5.0)  # all tied, overlapping windows: each window's gradient goes to its (0, 0)
    layer = MaxPool2D(2, 1)
    layer.forward(flat, training=True)
    dA_prev = layer.backward(np.ones((1, 2, 2, 1)))
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    assert dA_prev.sum() == 4


def test_float32_stays_float32():
    A_prev, W, b = (a.astype(np.float32) for a in random_conv(2, 6, 6, 3, 3, 4))
    for layer in (Conv2D(W, b, padding="same"), MaxPool2D(2), AvgPool2D(3, 1)):
        A = layer.forward(A_prev, training=True)
        assert A.dtype == np.float32
        assert layer.backward(np.ones_like(A)).dtype == np.float32
        A_prev = A if A.shape[-1] == A_prev.shape[-1] else A_prev


@pytest.mark.parametrize("spec, message", [
    ({"type": "conv2d", "filters": 4, "f": 3, "stride": 0}, "stride must be an int >= 1"),
    ({"type": "conv2d", "filters": 4, "f": 3, "padding": "full"}, "padding must be an int >= 0, 'same' or 'valid'"),
    ({"type": "conv2d", "filters": 0, "f": 3}, "filters must be an int >= 1"),
    ({"type": "conv2d", "filters": 4, "f": 9}, "a 9x9 window does not fit"),
    ({"type": "conv2d", "filters": 4, "f": 3, "strides": 2}, "unknown key(s) strides"),
    ({"type": "maxpool2d", "f": 0}, "f must be an int >= 1"),
    ({"type": "avgpool2d", "f": 2, "pad": 1}, "unknown key(s) pad"),
])
def test_bad_specs_are_named(spec, message):
    from scratchnet.nn import from_specs

    with pytest.raises(ValueError, match=r"layer 0 \(") as error:
        from_specs((6, 6, 3), [spec, "flatten", {"type": "dense", "units": 2}], output="softmax")
    assert message in str(error.value)


@pytest.mark.parametrize("name, scaled", [
    ("he", lambda r: r * np.sqrt(2.0 / 27)),  # fan_in = f*f*C_prev = 3*3*3
    ("course_deep", lambda r: r / np.sqrt(27)),
])
def test_conv_initialisers_use_fan_in_f_f_C_prev(name, scaled):
    """W = randn(f, f, C_prev, C) scaled by fan_in = f*f*C_prev, drawn first from the run's generator."""
    from scratchnet.nn import from_specs

    net = from_specs((8, 8, 3), [{"type": "conv2d", "filters": 4, "f": 3}, "flatten", {"type": "dense", "units": 2}],
                     output="softmax", initializer=name, rng=1)
    rng = np.random.RandomState(1)
    np.testing.assert_array_equal(net.layers[0].W, scaled(rng.randn(3, 3, 3, 4)))
    assert not net.layers[0].parameters["b"].any()


def test_glorot_uniform_conv_limit():
    from scratchnet.nn import from_specs

    net = from_specs((8, 8, 3), [{"type": "conv2d", "filters": 4, "f": 3}, "flatten", {"type": "dense", "units": 2}],
                     output="softmax", initializer="glorot_uniform", rng=1)
    limit = np.sqrt(6.0 / (27 + 36))  # Keras: fan_in f*f*C_prev, fan_out f*f*C
    np.testing.assert_array_equal(net.layers[0].W, np.random.RandomState(1).uniform(-limit, limit, (3, 3, 3, 4)))
