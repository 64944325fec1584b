"""im2col / col2im for channels-last images (m, H, W, C): strided views, bounded reusable buffers.

A convolution's input windows, laid out as rows (m*H_out*W_out, f*f*C_prev) with the (kernel row,
kernel column, channel) of each window contiguous, are multiplied by W reshaped to (f*f*C_prev, C)
in one matrix product. The rows come from a strided view of the padded input (no copy) copied into
a reused buffer; no buffer ever exceeds MAX_BUFFER_BYTES, larger batches go through in chunks of
examples (inference on a whole data set of 64x64 images, for one).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

MAX_BUFFER_BYTES = 256 * 2**20  # per buffer: keeps a 2-core / 24 GiB machine comfortable
Pads = tuple[tuple[int, int], tuple[int, int]]  # ((top, bottom), (left, right))


def same_padding(size: int, f: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same": out = ceil(size / stride), total = max((out - 1) stride + f - size, 0),
    split (total // 2 before, the rest after); for stride 1 that is (f-1)//2 before, f//2 after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + f - size, 0)
    return total // 2, total - total // 2


def padding_amounts(padding: int | str, H: int, W: int, f: int, stride: int) -> Pads:
    """((top, bottom), (left, right)) for padding = an int p (p on every side), "same" or "valid"."""
    if padding == "same":
        return same_padding(H, f, stride), same_padding(W, f, stride)
    if padding == "valid":
        return (0, 0), (0, 0)
    p = int(padding)
    return (p, p), (p, p)


def output_size(size: int, f: int, stride: int, before: int, after: int) -> int:
    """floor((size + before + after - f) / stride) + 1, the course's n_H; ValueError if < 1."""
    n = (size + before + after - f) // stride + 1
    if size + before + after < f:
        raise ValueError(f"a {f}x{f} window does not fit an input of size {size} padded by ({before}, {after})")
    return n


def check_padding(padding: int | str) -> int | str:
    """padding as stored in a config: "same", "valid" or an int >= 0; ValueError otherwise."""
    if padding in ("same", "valid"):
        return padding
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, 'same' or 'valid'; got {padding!r}")
    return int(padding)


class Workspace:
    """Scratch arrays reused by name across calls (no fresh allocation, no page faults per batch).

    get(name, shape, dtype) is a view of a flat array that grows when it must; callers overwrite it
    entirely. Each layer owns its workspace, so what one layer keeps between forward and backward
    is never touched by another.
    """

    def __init__(self) -> None:
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.dtype != dtype or flat.size < size:
            flat = self._flat[name] = np.empty(size, dtype=dtype)
        return flat[:size].reshape(shape)

    def clear(self) -> None:
        self._flat.clear()


SCRATCH = Workspace()  # temporaries that never outlive one call (chunked inference, recomputed rows)


def examples_per_chunk(m: int, bytes_per_example: int, limit: int | None = None) -> int:
    """How many examples fit in a buffer of `limit` bytes (default MAX_BUFFER_BYTES; at least 1, at most m)."""
    limit = MAX_BUFFER_BYTES if limit is None else limit
    return max(1, min(m, limit // max(bytes_per_example, 1)))


def pad(A: np.ndarray, pads: Pads, out: np.ndarray | None = None) -> np.ndarray:
    """A (m, H, W, C) with zeros around H and W; written into `out` (m, H+t+b, W+l+r, C) if given."""
    (top, bottom), (left, right) = pads
    if not (top or bottom or left or right):
        return A
    m, H, W, C = A.shape
    if out is None:
        out = np.empty((m, H + top + bottom, W + left + right, C), dtype=A.dtype)
    # zero only the border strips: the interior is overwritten
    out[:, :top] = 0
    out[:, top + H:] = 0
    out[:, top:top + H, :left] = 0
    out[:, top:top + H, left + W:] = 0
    out[:, top:top + H, left:left + W] = A
    return out


def windows(A_pad: np.ndarray, f: int, stride: int, H_out: int, W_out: int) -> np.ndarray:
    """The read-only strided view (m, H_out, W_out, f, f, C) of every f x f window of A_pad (no copy)."""
    sm, sh, sw, sc = A_pad.strides
    m, C = A_pad.shape[0], A_pad.shape[3]
    return as_strided(A_pad, (m, H_out, W_out, f, f, C), (sm, stride * sh, stride * sw, sh, sw, sc),
                      writeable=False)


def im2col(A_pad: np.ndarray, f: int, stride: int, H_out: int, W_out: int, out: np.ndarray) -> np.ndarray:
    """The windows of A_pad (m, H_p, W_p, C) as rows (m*H_out*W_out, f*f*C), copied into `out`."""
    m, C = A_pad.shape[0], A_pad.shape[3]
    if f == 1:  # a 1x1 window is the (sub-sampled) input itself
        np.copyto(out.reshape(m, H_out, W_out, C), A_pad[:, :stride * (H_out - 1) + 1:stride,
                                                         :stride * (W_out - 1) + 1:stride])
    else:
        np.copyto(out.reshape(m, H_out, W_out, f, f, C), windows(A_pad, f, stride, H_out, W_out))
    return out


def window_slice(k: int, stride: int, n_out: int) -> slice:
    """The input positions k, k + stride, ..., k + (n_out - 1) stride: offset k of every window."""
    return slice(k, k + stride * (n_out - 1) + 1, stride)


def col2im_add(dZ: np.ndarray, W: np.ndarray, dA_pad: np.ndarray, stride: int) -> None:
    """dA_pad += the input gradient of Z = im2col(A_pad) W: one matmul dZ W[kh, kw]^T (C, C_prev)
    per kernel offset, added into the windows' positions of dA_pad (m, H_p, W_p, C_prev).

    dZ is (m, H_out, W_out, C); W (f, f, C_prev, C).
    """
    m, H_out, W_out, C = dZ.shape
    f, C_prev = W.shape[0], W.shape[2]
    dZ2 = dZ.reshape(-1, C)  # (m*H_out*W_out, C)
    for kh in range(f):
        rows = window_slice(kh, stride, H_out)
        for kw in range(f):
            cols = window_slice(kw, stride, W_out)
            dA_pad[:, rows, cols, :] += (dZ2 @ W[kh, kw].T).reshape(m, H_out, W_out, C_prev)
