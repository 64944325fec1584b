"""The course's "Convolutional Model: step by step" (2021) functions, four loops and all.

Kept outside the installed package as the naive reference: the tests compare the fast layers to
these on random inputs, and the benchmark times them as the baseline. Written as the course writes
them (cache tuples, loops over examples, output rows, columns and channels) with two
generalisations that the course's code does not need: `pad` may be ((top, bottom), (left, right))
for TensorFlow's uneven "same" padding, and a pad of 0 works in conv_backward.
"""

import numpy as np


def _pads(pad):
    """The course's int pad, or ((top, bottom), (left, right))."""
    return ((pad, pad), (pad, pad)) if np.isscalar(pad) else tuple(tuple(p) for p in pad)


def zero_pad(X, pad):
    """X (m, n_H, n_W, n_C) with zeros around the height and width."""
    (t, b), (l, r) = _pads(pad)
    return np.pad(X, ((0, 0), (t, b), (l, r), (0, 0)), mode="constant", constant_values=(0, 0))


def conv_single_step(a_slice_prev, W, b):
    """One filter on one window: sum(a_slice_prev * W) + b."""
    s = np.multiply(a_slice_prev, W)
    Z = np.sum(s)
    Z = Z + b.item()
    return Z


def conv_forward(A_prev, W, b, hparameters):
    """Z (m, n_H, n_W, n_C) and the cache (A_prev, W, b, hparameters); b may be None (no bias)."""
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride = hparameters["stride"]
    (t, bottom), (l, r) = _pads(hparameters["pad"])
    n_H = int((n_H_prev - f + t + bottom) / stride) + 1
    n_W = int((n_W_prev - f + l + r) / stride) + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = zero_pad(A_prev, hparameters["pad"])
    zero = np.zeros((1, 1, 1))
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        for h in range(n_H):
            vert_start = stride * h
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = stride * w
                horiz_end = horiz_start + f
                for c in range(n_C):
                    a_slice_prev = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    weights = W[:, :, :, c]
                    biases = zero if b is None else b[:, :, :, c]
                    Z[i, h, w, c] = conv_single_step(a_slice_prev, weights, biases)
    cache = (A_prev, W, b, hparameters)
    return Z, cache


def conv_backward(dZ, cache):
    """dA_prev, dW, db: dW and db are SUMS over the batch (the course's 1/m sits in the cost)."""
    (A_prev, W, b, hparameters) = cache
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    (f, f, n_C_prev, n_C) = W.shape
    stride = hparameters["stride"]
    (t, _), (l, _) = _pads(hparameters["pad"])
    (m, n_H, n_W, n_C) = dZ.shape
    dA_prev = np.zeros((m, n_H_prev, n_W_prev, n_C_prev))
    dW = np.zeros((f, f, n_C_prev, n_C))
    db = np.zeros((1, 1, 1, n_C))
    A_prev_pad = zero_pad(A_prev, hparameters["pad"])
    dA_prev_pad = zero_pad(dA_prev, hparameters["pad"])
    for i in range(m):
        a_prev_pad = A_prev_pad[i]
        da_prev_pad = dA_prev_pad[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start = stride * h
                    vert_end = vert_start + f
                    horiz_start = stride * w
                    horiz_end = horiz_start + f
                    a_slice = a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]
                    da_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += a_slice * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
        dA_prev[i, :, :, :] = da_prev_pad[t:t + n_H_prev, l:l + n_W_prev, :]
    return dA_prev, dW, db


def pool_forward(A_prev, hparameters, mode="max"):
    """A (m, n_H, n_W, n_C), max or average over f x f windows every `stride`; cache (A_prev, hparameters)."""
    (m, n_H_prev, n_W_prev, n_C_prev) = A_prev.shape
    f = hparameters["f"]
    stride = hparameters["stride"]
    n_H = int(1 + (n_H_prev - f) / stride)
    n_W = int(1 + (n_W_prev - f) / stride)
    n_C = n_C_prev
    A = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            vert_start = stride * h
            vert_end = vert_start + f
            for w in range(n_W):
                horiz_start = stride * w
                horiz_end = horiz_start + f
                for c in range(n_C):
                    a_prev_slice = A_prev[i, vert_start:vert_end, horiz_start:horiz_end, c]
                    if mode == "max":
                        A[i, h, w, c] = np.max(a_prev_slice)
                    elif mode == "average":
                        A[i, h, w, c] = np.mean(a_prev_slice)
    cache = (A_prev, hparameters)
    return A, cache


def create_mask_from_window(x):
    """True at the window's maximum (at every tied maximum)."""
    mask = x == np.max(x)
    return mask


def distribute_value(dz, shape):
    """dz spread evenly over a window of `shape`."""
    (n_H, n_W) = shape
    average = np.prod(shape)
    a = (dz / average) * np.ones(shape)
    return a


def pool_backward(dA, cache, mode="max"):
    """dA_prev: max routes each window's gradient to its maximum (every tied one), average spreads it."""
    (A_prev, hparameters) = cache
    stride = hparameters["stride"]
    f = hparameters["f"]
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    m, n_H, n_W, n_C = dA.shape
    dA_prev = np.zeros(A_prev.shape)
    for i in range(m):
        a_prev = A_prev[i]
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vert_start = h * stride
                    vert_end = vert_start + f
                    horiz_start = w * stride
                    horiz_end = horiz_start + f
                    if mode == "max":
                        a_prev_slice = a_prev[vert_start:vert_end, horiz_start:horiz_end, c]
                        mask = create_mask_from_window(a_prev_slice)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += mask * dA[i, h, w, c]
                    elif mode == "average":
                        da = dA[i, h, w, c]
                        shape = (f, f)
                        dA_prev[i, vert_start:vert_end, horiz_start:horiz_end, c] += distribute_value(da, shape)
    return dA_prev
