"""Max and average pooling over f x f windows of channels-last images, without padding (the course's).

Both pool in two passes, over the H-window and then the W-window, each a handful of strided slice
operations over the whole batch (the first pass works on long contiguous rows of W*C values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scratchnet.nn.im2col import Workspace, output_size, window_slice
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


def _running_max(A: np.ndarray, f: int, stride: int, n_out: int, axis: int, track: bool,
                 work: Workspace, name: str, out: np.ndarray | None = None):
    """The max over the f offsets of each window along `axis` (into `out`, or a fresh array), and
    with `track` the offset of its first maximum (the earliest k: a strict > moves it) as the
    smallest unsigned type holding f-1, in the workspace's buffer `name` (kept for backward).

    The offset is selected by arithmetic, where = where + greater * (k - where) in wrapping
    unsigned integers: several times faster than a masked assignment or np.where on this data.
    """
    first = _offset(A, axis, 0, stride, n_out)
    out = first.copy() if out is None else out
    if out is not first:
        np.copyto(out, first)
    if not track:
        for k in range(1, f):
            np.maximum(out, _offset(A, axis, k, stride, n_out), out=out)
        return out, None
    kind = np.min_scalar_type(f - 1)
    where = work.get(name, out.shape, kind)
    # for f = 2 the offset is just "the second is greater": compare straight into `where`
    greater = where.view(np.bool_) if f == 2 else work.get("greater", out.shape, np.bool_)
    step = work.get("step", out.shape, kind)
    for k in range(1, f):
        x = _offset(A, axis, k, stride, n_out)
        np.greater(x, out, out=greater)
        np.maximum(out, x, out=out)
        if k == 1:  # where is still 0 everywhere: it becomes greater itself
            if f > 2:
                np.copyto(where, greater)
            continue
        np.subtract(kind.type(k), where, out=step)
        step *= greater
        where += step
    return out, where


def _unpool(dA: np.ndarray, where: np.ndarray, f: int, stride: int, axis: int, shape, out=None) -> np.ndarray:
    """The gradient (of `shape`) of one pass: each window's dA goes to its offset `where` along `axis`;
    overlapping windows add up, positions no window covers get 0."""
    n_out = dA.shape[axis]
    covered = stride == f and shape[axis] == f * n_out  # every position in exactly one window
    d = np.empty(shape, dtype=dA.dtype) if out is None else out
    if covered and f == 2:  # exactly one of the two offsets gets dA: the first gets what the second does not
        second = _offset(d, axis, 1, stride, n_out)
        np.multiply(dA, where, out=second)
        np.subtract(dA, second, out=_offset(d, axis, 0, stride, n_out))
        return d
    if not covered:
        d[...] = 0
    for k in range(f):
        part = _offset(d, axis, k, stride, n_out)
        if stride >= f:
            np.multiply(dA, where == k, out=part)
        else:
            part += dA * (where == k)
    return d


@register
class MaxPool2D(_Pool2D):
    """A[i, h, w, c] = max of A_prev[i, h*s : h*s + f, w*s : w*s + f, c], over the H-window and
    then the W-window.

    Backward routes each window's gradient to ONE maximum (as TensorFlow and PyTorch do, so the
    gradient's total is kept): on ties, the one in the lowest window column kw, then the lowest
    row kh. (The course's mask x == max sends it to every tied maximum; for random inputs there
    are no ties and both agree.) Overlapping windows (stride < f) add their gradients up. While
    training, the two passes record the offset of each maximum; backward undoes them in reverse.
    """

    type = "maxpool2d"

    def __init__(self, f: int, stride: int | None = None):
        super().__init__(f, stride)
        self._work = Workspace()  # between the two passes: maxima, their offsets, their gradient
        self.kh = self.kw = None

    def forward(self, A_prev, training=False, rng=None):
        H_out, W_out = self._sizes(A_prev)
        self.input_shape = A_prev.shape
        m, _, W, C = A_prev.shape
        # the H-windows' maxima: a reused buffer while training (batch after batch of one size)
        T = self._work.get("T", (m, H_out, W, C), A_prev.dtype) if training else None
        T, self.kh = _running_max(A_prev, self.f, self.stride, H_out, 1, training, self._work, "kh", T)
        A, self.kw = _running_max(T, self.f, self.stride, W_out, 2, training, self._work, "kw")
        return A

    def backward(self, dA, need_input_grad=True):
        if not need_input_grad:
            return None
        if self.kw is None:
            raise ValueError("maxpool2d: backward needs a forward pass with training=True")
        dA = np.ascontiguousarray(dA)  # flatten's backward hands over a transposed view: 3x slower passes
        dT = _unpool(dA, self.kw, self.f, self.stride, 2, self.kh.shape,
                     self._work.get("dT", self.kh.shape, dA.dtype))  # (m, H_out, W, C)
        return _unpool(dT, self.kh, self.f, self.stride, 1, self.input_shape)


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
        dA = np.multiply(dA, 1.0 / (self.f * self.f), order="C")
        dT = np.zeros((m, H_out, W, C), dtype=dA.dtype)
        for k in range(self.f):
            dT[:, :, window_slice(k, self.stride, W_out)] += dA
        dA_prev = np.zeros(self.input_shape, dtype=dA.dtype)
        for k in range(self.f):
            dA_prev[:, window_slice(k, self.stride, H_out)] += dT
        return dA_prev
