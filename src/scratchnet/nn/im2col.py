"""im2col / col2im for channels-last images (m, H, W, C): strided views, bounded reusable buffers.

A convolution's input windows, laid out as rows with the (kernel row, kernel column, channel) of
each window contiguous, times W reshaped to (f*f*C_prev, C), is the layer's output: one matrix
product per chunk of examples. The rows come from a strided view of the padded input (no copy)
copied into a reused buffer of CACHE_BYTES, so they are read back from cache (measured faster
than one product over a whole batch's rows); no buffer exceeds MAX_BUFFER_BYTES, whatever the
batch (inference on a whole data set of 64x64 images, for one).

Blocked rows: when C is small (the course's 8 filters) a matrix product with 8 columns runs far
below the BLAS's speed, so one row holds the windows of `block` neighbouring outputs along W (a
"super-window" of (block - 1) stride + f input columns) and W becomes a (f * U * C_prev, block * C)
banded matrix with zeros where a super-window column is outside an output's window. The product
is the same sums (the zeros add exact zeros) in fewer, wider rows; block = 1 is plain im2col.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

MAX_BUFFER_BYTES = 256 * 2**20  # per buffer: keeps a 2-core / 24 GiB machine comfortable
CACHE_BYTES = 2**20  # rows streamed through a chunk this size stay in the core's L2 cache
NARROW = 64  # products narrower than this many float32 columns (half for float64) get blocked rows
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
    """floor((size + before + after - f) / stride) + 1, the course's n_H; ValueError if the window does not fit."""
    if size + before + after < f:
        raise ValueError(f"a {f}x{f} window does not fit an input of size {size} padded by ({before}, {after})")
    return (size + before + after - f) // stride + 1


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


SCRATCH = Workspace()  # temporaries that never outlive one call (streamed chunks, recomputed rows)


def examples_per_chunk(m: int, bytes_per_example: int, limit: int | None = None) -> int:
    """How many examples fit in `limit` bytes (default MAX_BUFFER_BYTES, never more); >= 1, <= m."""
    limit = MAX_BUFFER_BYTES if limit is None else min(limit, MAX_BUFFER_BYTES)
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


def block_width(W_out: int, C: int, dtype) -> int:
    """Outputs per row: the largest divisor of W_out up to NARROW / C (halved for float64), else 1."""
    target = max(1, (NARROW * 4 // np.dtype(dtype).itemsize) // C)
    return next(b for b in range(min(target, W_out), 0, -1) if W_out % b == 0)


def row_length(f: int, stride: int, block: int, C_prev: int) -> int:
    """The length of one (blocked) row: f kernel rows of a super-window (block - 1) stride + f wide."""
    return f * ((block - 1) * stride + f) * C_prev


def im2col(A_pad: np.ndarray, f: int, stride: int, H_out: int, W_out: int, out: np.ndarray,
           block: int = 1) -> np.ndarray:
    """The windows of A_pad (m, H_p, W_p, C) as rows (m*H_out*W_out/block, row_length), copied into
    `out`: row (i, h, j) holds A_pad[i, h*s + kh, j*block*s + u, c] for kh < f, u < U, c < C."""
    sm, sh, sw, sc = A_pad.strides
    m, C = A_pad.shape[0], A_pad.shape[3]
    U = (block - 1) * stride + f
    # the U*C values of one kernel row are contiguous in A_pad: one run, no per-column loop
    view = as_strided(A_pad, (m, H_out, W_out // block, f, U * C), (sm, stride * sh, block * stride * sw, sh, sc),
                      writeable=False)
    np.copyto(out.reshape(view.shape), view)
    return out


def blocked_weights(W: np.ndarray, stride: int, block: int) -> np.ndarray:
    """W (f, f, C_prev, C) as the (f*U*C_prev, block*C) matrix of blocked rows (W2 itself for block 1):
    output b of a row sees super-window column u = b*stride + kw."""
    f, _, C_prev, C = W.shape
    if block == 1:
        return W.reshape(f * f * C_prev, C)
    U = (block - 1) * stride + f
    WB = np.zeros((f, U, C_prev, block, C), dtype=W.dtype)
    for b in range(block):
        WB[:, b * stride:b * stride + f, :, b, :] = W
    return WB.reshape(f * U * C_prev, block * C)


def fold_weights(dWB: np.ndarray, f: int, stride: int, block: int, C_prev: int, out: np.ndarray) -> None:
    """out (f, f, C_prev, C) = the gradient of W from that of blocked_weights(W): the sum over b."""
    if block == 1:
        out.reshape(dWB.shape)[...] = dWB
        return
    U = (block - 1) * stride + f
    dWB = dWB.reshape(f, U, C_prev, block, -1)
    out[...] = dWB[:, 0:f, :, 0, :]
    for b in range(1, block):
        out += dWB[:, b * stride:b * stride + f, :, b, :]


def row_chunks(A_pad: np.ndarray, f: int, stride: int, H_out: int, W_out: int, block: int):
    """(rows, cols) over chunks of examples: the blocked rows of each chunk im2col'd into the shared
    scratch buffer (CACHE_BYTES, or one example's rows if larger), `rows` their slice of the output."""
    m, C_prev = A_pad.shape[0], A_pad.shape[3]
    per_example = H_out * W_out // block
    K = row_length(f, stride, block, C_prev)
    step = examples_per_chunk(m, per_example * K * A_pad.itemsize, CACHE_BYTES)
    scratch = SCRATCH.get("rows", (step * per_example, K), A_pad.dtype)
    for i in range(0, m, step):
        j = min(i + step, m)
        yield slice(i * per_example, j * per_example), im2col(A_pad[i:j], f, stride, H_out, W_out,
                                                            scratch[:(j - i) * per_example], block)


def convolve(A_pad: np.ndarray, W: np.ndarray, stride: int, out: np.ndarray, block: int,
             b: np.ndarray | None = None) -> None:
    """out (m, H_out, W_out, C) = the valid convolution of A_pad by W (f, f, C_prev, C) (+ b): the
    blocked rows times blocked_weights(W), the rows streamed through a cache-sized chunk, each
    chunk's outputs getting b while they are still in cache."""
    _, H_out, W_out, C = out.shape
    f = W.shape[0]
    WB = blocked_weights(W, stride, block)
    out_rows = out.reshape(-1, block * C)  # (m*H_out*W_out/block, block*C): out itself
    bias = None if b is None else np.tile(b.reshape(C), block)  # (block*C,): b for each output of a row
    for rows, cols in row_chunks(A_pad, f, stride, H_out, W_out, block):
        np.matmul(cols, WB, out=out_rows[rows])
        if bias is not None:
            out_rows[rows] += bias


def transposed_pads(pads: Pads, f: int) -> Pads | None:
    """The padding of dZ under which dA_prev of a stride-1 convolution is a valid convolution of
    dZ (by W turned 180 degrees, channels swapped): f-1-p per side; None if some p > f-1."""
    new = tuple(tuple(f - 1 - p for p in side) for side in pads)
    return new if min(min(side) for side in new) >= 0 else None


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
            dA_pad[:, rows, cols, :] += np.matmul(dZ2, W[kh, kw].T).reshape(m, H_out, W_out, C_prev)
