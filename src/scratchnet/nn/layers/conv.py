"""The 2-D convolution over channels-last images: Z = conv(A_prev, W) + b as one matrix product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchnet.nn import im2col as ic
from scratchnet.nn.layers.base import Layer, Shape, expect_array, register
from scratchnet.nn.layers.specs import check_keys, positive_int

SPARSE_ROWS = 0.25  # dW from the nonzero rows of dZ alone when at most this fraction is nonzero
SAMPLE_STEP = 61  # every 61st row of dZ: a quick look before counting every row


def nonzero_rows(dZ2: np.ndarray) -> np.ndarray | None:
    """The indices of the rows of dZ2 (M, C) holding a nonzero, when they are at most SPARSE_ROWS * M;
    None otherwise. A sample of the rows settles the clearly dense case at once (None is always
    safe: the dense product is exact too); the count and the search run on a boolean mask, several
    times faster than on the floats."""
    M, C = dZ2.shape
    sample = dZ2[::SAMPLE_STEP]
    if np.count_nonzero((sample != 0).any(axis=1)) > 2 * SPARSE_ROWS * sample.shape[0]:
        return None
    nonzero = dZ2 != 0
    if np.count_nonzero(nonzero) > SPARSE_ROWS * M * C:  # more rows than that hold a nonzero
        return None
    if C % 8 == 0:  # each row's flags as C/8 machine words: a row holds a nonzero iff a word does
        words = nonzero.view(np.uint64)
        any_row = words[:, 0] != 0
        for j in range(1, C // 8):
            any_row |= words[:, j] != 0
        rows = np.flatnonzero(any_row)
    else:
        rows = np.flatnonzero(nonzero) // C  # sorted, with repeats
        if rows.size:
            rows = rows[np.concatenate(([True], rows[1:] != rows[:-1]))]
    return rows if rows.size <= SPARSE_ROWS * M else None


@register
class Conv2D(Layer):
    """Z[i, h, w, c] = sum_{kh, kw, c'} A_pad[i, h*s + kh, w*s + kw, c'] W[kh, kw, c', c] + b[c].

    W (f, f, C_prev, C), b (1, 1, 1, C) or none (`bias: false`, as in the course's ConvNet);
    A_prev (m, H, W, C_prev), Z (m, H_out, W_out, C). `padding` is an int p (p zeros on every side,
    the course's zero_pad), "valid" (none) or "same" as TensorFlow pads it: out = ceil(size / s),
    total = max((out - 1) s + f - size, 0), total // 2 before and the rest after (for s = 1:
    (f-1)//2 before, f//2 after). Gradients of the mean cost: dW = (1/m) sum over the batch (the
    course's conv_backward returns the sum: its 1/m sits in the cost).
    """

    type = "conv2d"
    regularised = ("W",)

    def __init__(self, W: np.ndarray, b: np.ndarray | None = None, stride: int = 1, padding: int | str = 0):
        super().__init__()
        if W.ndim != 4 or W.shape[0] != W.shape[1]:
            raise ValueError(f"conv2d: W must be (f, f, C_prev, C); got shape {W.shape}")
        self.f, self.stride = W.shape[0], positive_int("conv2d", "stride", stride)
        self.padding = ic.check_padding(padding)
        self.parameters = {"W": W} if b is None else {"W": W, "b": b}
        self.gradients = {k: np.zeros_like(p) for k, p in self.parameters.items()}
        self._work = ic.Workspace()  # the padded input and dZ, reused batch after batch
        self.A_pad = self.cols = None
        self.input_shape: Shape | None = None
        self.block = 1
        self.sparse_dZ = False  # did the last backward take dW from the few nonzero rows of dZ?

    @property
    def W(self) -> np.ndarray:
        return self.parameters["W"]

    @property
    def bias(self) -> bool:
        return "b" in self.parameters

    @property
    def channels(self) -> tuple[int, int]:
        """(C_prev, C): input and output channels."""
        return self.W.shape[2], self.W.shape[3]

    def _geometry(self, H: int, W: int) -> tuple[ic.Pads, int, int]:
        pads = ic.padding_amounts(self.padding, H, W, self.f, self.stride)
        H_out = ic.output_size(H, self.f, self.stride, *pads[0])
        W_out = ic.output_size(W, self.f, self.stride, *pads[1])
        return pads, H_out, W_out

    def output_shape(self, input_shape: Shape) -> Shape:
        C_prev, C = self.channels
        if len(input_shape) != 3 or input_shape[2] != C_prev:
            raise ValueError(f"conv2d: expected images (H, W, {C_prev}) per example; found {tuple(input_shape)}")
        _, H_out, W_out = self._geometry(input_shape[0], input_shape[1])
        return (H_out, W_out, C)

    # -- the maths --------------------------------------------------------------------------------

    def forward(self, A_prev, training=False, rng=None):
        """Z = rows(A_pad) W + b, the rows streamed through a cache-sized buffer (measured 10-25%
        faster, forward and dW together, than keeping the whole batch's rows for dW)."""
        if A_prev.ndim != 4:
            raise ValueError(f"conv2d: expected images (m, H, W, C); found an array of shape {A_prev.shape}")
        self.output_shape(A_prev.shape[1:])
        A_prev = np.ascontiguousarray(A_prev, dtype=self.W.dtype)
        (m, H, W_in, C_prev), C, dtype = A_prev.shape, self.channels[1], A_prev.dtype
        pads, H_out, W_out = self._geometry(H, W_in)
        (t, b), (l, r) = pads
        # while training the padded input is kept (for dW) in a buffer reused batch after batch; at
        # inference (a whole data set, perhaps) it is a temporary, let go of after the call
        padded = training and t + b + l + r
        buffer = self._work.get("pad", (m, H + t + b, W_in + l + r, C_prev), dtype) if padded else None
        A_pad = ic.pad(A_prev, pads, buffer)
        self.input_shape, self.geometry = A_prev.shape, (pads, H_out, W_out)
        self.A_pad = A_pad if training else None
        Z = np.empty((m, H_out, W_out, C), dtype=dtype)
        self.cols = None
        if self.f == 1 and self.stride == 1:  # a 1x1 convolution is a plain matmul of the pixels
            self.block = 1
            np.matmul(A_pad.reshape(-1, C_prev), self.W.reshape(C_prev, C), out=Z.reshape(-1, C))
            self.cols = A_pad.reshape(-1, C_prev) if training else None
            if self.bias:
                Z += self.parameters["b"]
            return Z
        self.block = ic.block_width(W_out, C, dtype)
        ic.convolve(A_pad, self.W, self.stride, Z, self.block, self.parameters.get("b"))
        return Z

    def backward(self, dZ, need_input_grad=True):
        """dW = (1/m) rows^T dZ; db = (1/m) sum(dZ); dA_prev (skipped when not needed)."""
        if self.A_pad is None:
            raise ValueError("conv2d: backward needs a forward pass with training=True")
        m = dZ.shape[0]
        dZ = np.ascontiguousarray(dZ, dtype=self.W.dtype)
        C = self.channels[1]
        if self.bias:
            np.multiply(dZ.reshape(-1, C).sum(axis=0), 1.0 / m, out=self.gradients["b"].reshape(C))
        self._weight_gradient(dZ)
        self.gradients["W"] *= 1.0 / m
        return self._input_gradient(dZ) if need_input_grad else None

    def _input_gradient(self, dZ: np.ndarray) -> np.ndarray:
        """dA_prev: for stride 1 the valid convolution of dZ (padded by f-1-p) by W turned 180 degrees
        with its channels swapped, streamed as the forward is; otherwise col2im, one matmul per
        kernel offset added into a padded buffer."""
        pads, (m, H, W, C_prev) = self.geometry[0], self.input_shape
        turned = ic.transposed_pads(pads, self.f) if self.stride == 1 else None
        if turned is not None:
            (t, b), (l, r) = turned
            _, H_out, W_out, C = dZ.shape
            buffer = self._work.get("dZ_pad", (m, H_out + t + b, W_out + l + r, C), dZ.dtype) if t + b + l + r else None
            dA_prev = np.empty(self.input_shape, dtype=dZ.dtype)
            W_turned = self.W[::-1, ::-1].transpose(0, 1, 3, 2)  # (f, f, C, C_prev)
            ic.convolve(ic.pad(dZ, turned, buffer), W_turned, 1, dA_prev, ic.block_width(W, C_prev, dZ.dtype))
            return dA_prev
        dA_pad = np.zeros(self.A_pad.shape, dtype=dZ.dtype)
        ic.col2im_add(dZ, self.W, dA_pad, self.stride)
        (t, _), (l, _) = pads
        return dA_pad[:, t:t + H, l:l + W, :] if dA_pad.shape != self.input_shape else dA_pad

    def _weight_gradient(self, dZ: np.ndarray) -> None:
        """gradients["W"] = rows^T dZ (summed over the batch), from the nonzero rows of dZ alone when
        they are few: after a non-overlapping max-pool most rows of dZ are exactly zero."""
        C_prev, C = self.channels
        dW = self.gradients["W"]
        dZ2 = dZ.reshape(-1, C)
        index = nonzero_rows(dZ2)
        self.sparse_dZ = index is not None
        if index is not None:
            self._sparse_weight_gradient(index, dZ2, dW.reshape(-1, C))
            return
        dZB = dZ.reshape(-1, self.block * C)
        if self.cols is not None:
            dWB = np.matmul(self.cols.T, dZB)
        else:  # im2col the rows again, chunk by chunk
            dWB = 0
            _, H_out, W_out = self.geometry
            for rows, cols in ic.row_chunks(self.A_pad, self.f, self.stride, H_out, W_out, self.block):
                dWB = dWB + np.matmul(cols.T, dZB[rows])
        ic.fold_weights(dWB, self.f, self.stride, self.block, C_prev, dW)

    def _sparse_weight_gradient(self, index: np.ndarray, dZ2: np.ndarray, dW2: np.ndarray) -> None:
        """dW2 (f*f*C_prev, C) = sum over the rows `index` of window^T dZ, the windows gathered
        straight from the padded input (a bounded number at a time)."""
        _, H_out, W_out = self.geometry
        view = ic.windows(self.A_pad, self.f, self.stride, H_out, W_out)
        K = dW2.shape[0]
        step = max(1, ic.MAX_BUFFER_BYTES // (K * self.A_pad.itemsize))
        dW2[...] = 0
        for k in range(0, index.size, step):
            i, h, w = np.unravel_index(index[k:k + step], (self.A_pad.shape[0], H_out, W_out))
            dW2 += np.matmul(view[i, h, w].reshape(-1, K).T, dZ2[index[k:k + step]])

    # -- description and rebuilding -------------------------------------------------------------

    def hyperparameters(self) -> dict[str, Any]:
        C_prev, C = self.channels
        return {"filters": C, "f": self.f, "channels": C_prev, "stride": self.stride,
                "padding": self.padding, "bias": self.bias}

    def describe(self) -> str:
        pad = self.padding if isinstance(self.padding, str) else f"pad {self.padding}"
        stride = f" stride {self.stride}" if self.stride != 1 else ""
        return f"conv {self.f}x{self.f}x{self.channels[1]} {pad}{stride}"

    @classmethod
    def from_config(cls, config, arrays):
        f, C_prev, C = int(config["f"]), int(config["channels"]), int(config["filters"])
        W = expect_array("conv2d", "W", arrays, (f, f, C_prev, C))
        b = expect_array("conv2d", "b", arrays, (1, 1, 1, C)) if config.get("bias", True) else None
        return cls(W, b, config.get("stride", 1), config.get("padding", 0))

    @classmethod
    def init(cls, spec: dict[str, Any], input_shape: Shape, rng: np.random.RandomState,
             initializer: Callable, dtype: str) -> Conv2D:
        """W drawn by `initializer` with fan-in f*f*C_prev and fan-out f*f*C (Keras's), b zeros."""
        if len(input_shape) != 3:
            raise ValueError(f"conv2d: expected images (H, W, C) per example; found {tuple(input_shape)}")
        check_keys("conv2d", spec, ("filters", "f", "stride", "padding", "bias"))
        f, C = positive_int("conv2d", "f", spec.get("f")), positive_int("conv2d", "filters", spec.get("filters"))
        C_prev = int(input_shape[2])
        W = initializer(rng, (f, f, C_prev, C), f * f * C_prev, f * f * C).astype(dtype, copy=False)
        b = np.zeros((1, 1, 1, C), dtype=dtype) if spec.get("bias", True) else None
        return cls(W, b, spec.get("stride", 1), spec.get("padding", 0))
