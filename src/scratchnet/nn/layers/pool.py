"""Max and average pooling over f x f windows of channels-last images, without padding (the course's).

Both pool in two passes, over the H-window and then the W-window, each a handful of strided slice
operations over the whole batch (the first pass works on long contiguous rows of W*C values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.nn.im2col import output_size, window_slice
from scratchnet.nn.layers.base import Layer, Shape, register
from scratchnet.nn.layers.specs import check_keys, positive_int


class _Pool2D(Layer):
    """The shared window geometry: f x f windows every `stride` (default f) along H and W."""

    def __init__(self, f: int, stride: int | None = None):
        super().__init__()
        self.f = positive_int(self.type, "f", f)
        self.stride = self.f if stride is None else positive_int(self.type, "stride", stride)
        self.input_shape: Shape | None = None

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 3:
            raise ValueError(f"{self.type}: expected images (H, W, C) per example; found {tuple(input_shape)}")
        H, W, C = input_shape
        return (output_size(H, self.f, self.stride, 0, 0), output_size(W, self.f, self.stride, 0, 0), C)

    def _sizes(self, A_prev: np.ndarray) -> tuple[int, int]:
        if A_prev.ndim != 4:
            raise ValueError(f"{self.type}: expected images (m, H, W, C); found an array of shape {A_prev.shape}")
        H_out, W_out, _ = self.output_shape(A_prev.shape[1:])
        return H_out, W_out

    def hyperparameters(self) -> dict[str, Any]:
        return {"f": self.f, "stride": self.stride}

    def describe(self) -> str:
        stride = f" stride {self.stride}" if self.stride != self.f else ""
        return f"{self.type.removesuffix('2d')} {self.f}x{self.f}{stride}"

    @classmethod
    def init(cls, spec, input_shape, rng, initializer, dtype):
        check_keys(cls.type, spec, ("f", "stride"))
        return cls(spec.get("f"), spec.get("stride"))


def _offset(A: np.ndarray, axis: int, k: int, stride: int, n_out: int) -> np.ndarray:
    """Offset k of every window along `axis` (1: H, 2: W): a strided view."""
    index = [slice(None)] * 4
    index[axis] = window_slice(k, stride, n_out)
    return A[tuple(index)]


def _running_max(A: np.ndarray, f: int, stride: int, n_out: int, axis: int) -> np.ndarray:
    """The max over the f offsets of each window along `axis`."""
    out = _offset(A, axis, 0, stride, n_out).copy()
    for k in range(1, f):
        np.maximum(out, _offset(A, axis, k, stride, n_out), out=out)
    return out


def _first_match(values, target: np.ndarray, f: int) -> np.ndarray:
    """The smallest k < f with values(k) == target, elementwise (a maximum always matches)."""
    first = np.full(target.shape, f - 1, dtype=np.intp)
    for k in range(f - 2, -1, -1):  # downwards, so the smallest match is written last
        first = np.where(values(k) == target, k, first)
    return first


@register
class MaxPool2D(_Pool2D):
    """A[i, h, w, c] = max of A_prev[i, h*s : h*s + f, w*s : w*s + f, c], over the H-window and
    then the W-window.

    Backward routes each window's gradient to ONE maximum (as TensorFlow and PyTorch do, so the
    gradient's total is kept): on ties, the one in the lowest window column kw, then the lowest
    row kh. (The course's mask x == max sends it to every tied maximum; for random inputs there
    are no ties and both agree.) Overlapping windows (stride < f) add their gradients up. Where
    the maxima are is found in backward, from arrays of the output's size.
    """

    type = "maxpool2d"

    def forward(self, A_prev, training=False, rng=None):
        H_out, W_out = self._sizes(A_prev)
        self.input_shape = A_prev.shape
        T = _running_max(A_prev, self.f, self.stride, H_out, axis=1)  # (m, H_out, W, C)
        A = _running_max(T, self.f, self.stride, W_out, axis=2)  # (m, H_out, W_out, C)
        self.A_prev, self.T, self.A = (np.ascontiguousarray(A_prev), T, A) if training else (None, None, None)
        return A

    def backward(self, dA, need_input_grad=True):
        if not need_input_grad:
            return None
        if self.A is None:
            raise ValueError("maxpool2d: backward needs a forward pass with training=True")
        m, H, W, C = self.input_shape
        _, H_out, W_out, _ = self.A.shape
        s = self.stride
        # the input column of each window's max: the first kw whose H-window max equals it
        kw = _first_match(lambda k: _offset(self.T, 2, k, s, W_out), self.A, self.f)
        # flat index of (i, h*s, w*s + kw, c) in A_prev; then the first kh at that column holding the max
        top = ((np.arange(m)[:, None, None, None] * H + s * np.arange(H_out)[:, None, None]) * W
               + s * np.arange(W_out)[:, None] + kw) * C + np.arange(C)  # (m, H_out, W_out, C)
        flat_prev = self.A_prev.reshape(-1)
        kh = _first_match(lambda k: flat_prev.take(top + k * W * C), self.A, self.f)
        flat = (top + kh * (W * C)).ravel()
        if s >= self.f:  # windows do not overlap: each input position gets at most one gradient
            dA_prev = np.zeros(m * H * W * C, dtype=dA.dtype)
            dA_prev[flat] = dA.ravel()
        else:
            dA_prev = np.bincount(flat, weights=dA.ravel(), minlength=m * H * W * C).astype(dA.dtype)
        return dA_prev.reshape(self.input_shape)


@register
class AvgPool2D(_Pool2D):
    """A[i, h, w, c] = mean of A_prev[i, h*s : h*s + f, w*s : w*s + f, c]; backward spreads each
    window's gradient evenly over its f*f inputs (the course's distribute_value)."""

    type = "avgpool2d"

    def forward(self, A_prev, training=False, rng=None):
        H_out, W_out = self._sizes(A_prev)
        self.input_shape = A_prev.shape
        rows, cols = (lambda k: window_slice(k, self.stride, H_out)), (lambda k: window_slice(k, self.stride, W_out))
        T = A_prev[:, rows(0)].copy()  # (m, H_out, W, C): sums over the H-window
        for k in range(1, self.f):
            T += A_prev[:, rows(k)]
        A = T[:, :, cols(0)].copy()  # (m, H_out, W_out, C)
        for k in range(1, self.f):
            A += T[:, :, cols(k)]
        A *= 1.0 / (self.f * self.f)
        return A

    def backward(self, dA, need_input_grad=True):
        if not need_input_grad:
            return None
        m, H, W, C = self.input_shape
        H_out, W_out = dA.shape[1:3]
        dA = dA * (1.0 / (self.f * self.f))
        dT = np.zeros((m, H_out, W, C), dtype=dA.dtype)
        for k in range(self.f):
            dT[:, :, window_slice(k, self.stride, W_out)] += dA
        dA_prev = np.zeros(self.input_shape, dtype=dA.dtype)
        for k in range(self.f):
            dA_prev[:, window_slice(k, self.stride, H_out)] += dT
        return dA_prev
