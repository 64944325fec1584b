"""The 2-D convolution over channels-last images: Z = conv(A_prev, W) + b as one matrix product."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scratchnet.nn import im2col as ic
from scratchnet.nn.layers.base import Layer, Shape, expect_array, register
from scratchnet.nn.layers.specs import check_keys, positive_int

SPARSE_ROWS = 0.25  # dW from the nonzero rows of dZ alone when at most this fraction is nonzero


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
        self._work = ic.Workspace()  # the padded input and the im2col rows, reused batch after batch
        self.A_pad = self.cols = None
        self.input_shape: Shape | None = None

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
        """Z = im2col(A_pad) W (one matmul, or one per chunk of examples when the rows exceed the
        buffer bound); while training the rows are kept for dW when they fit."""
        m, H, W_in, C_prev = A_prev.shape
        self.output_shape(A_prev.shape[1:])
        A_prev = np.ascontiguousarray(A_prev, dtype=self.W.dtype)
        pads, H_out, W_out = self._geometry(H, W_in)
        (t, b), (l, r) = pads
        buffer = self._work.get("pad", (m, H + t + b, W_in + l + r, C_prev), A_prev.dtype) if t + b + l + r else None
        A_pad = ic.pad(A_prev, pads, buffer)
        C, K, dtype = self.channels[1], self.f * self.f * C_prev, A_prev.dtype
        self.A_pad, self.input_shape, self.geometry = A_pad, A_prev.shape, (pads, H_out, W_out)
        W2 = self.W.reshape(K, C)
        Z = np.empty((m, H_out, W_out, C), dtype=dtype)
        Z2 = Z.reshape(-1, C)  # (m*H_out*W_out, C)
        per_example = H_out * W_out * K * dtype.itemsize
        self.cols = None
        if self.f == 1 and self.stride == 1:  # a 1x1 convolution is a plain matmul of the pixels
            self.cols = A_pad.reshape(-1, C_prev)
            np.matmul(self.cols, W2, out=Z2)
        elif training and m * per_example <= ic.MAX_BUFFER_BYTES:
            self.cols = ic.im2col(A_pad, self.f, self.stride, H_out, W_out,
                                  self._work.get("cols", (m * H_out * W_out, K), dtype))
            np.matmul(self.cols, W2, out=Z2)
        else:
            for i, j, cols in self._chunks(m, per_example):
                np.matmul(cols, W2, out=Z2[i * H_out * W_out:j * H_out * W_out])
        if self.bias:
            Z += self.parameters["b"]
        return Z

    def _chunks(self, m: int, per_example: int):
        """(first, end, rows) over chunks of examples, the rows im2col'd into a bounded scratch buffer."""
        _, H_out, W_out = self.geometry
        K = per_example // (H_out * W_out * self.A_pad.itemsize)
        step = ic.examples_per_chunk(m, per_example)
        scratch = ic.SCRATCH.get("cols", (step * H_out * W_out, K), self.A_pad.dtype)
        for i in range(0, m, step):
            j = min(i + step, m)
            yield i, j, ic.im2col(self.A_pad[i:j], self.f, self.stride, H_out, W_out,
                                  scratch[:(j - i) * H_out * W_out])

    def backward(self, dZ, need_input_grad=True):
        """dW = (1/m) im2col(A_pad)^T dZ; db = (1/m) sum(dZ); dA_prev by col2im (skipped when not needed)."""
        m = dZ.shape[0]
        dZ = np.ascontiguousarray(dZ, dtype=self.W.dtype)
        C = self.channels[1]
        dZ2 = dZ.reshape(-1, C)
        if self.bias:
            np.multiply(dZ2.sum(axis=0), 1.0 / m, out=self.gradients["b"].reshape(C))
        self._weight_gradient(dZ2, m)
        if not need_input_grad:
            return None
        dA_pad = np.zeros(self.A_pad.shape, dtype=dZ.dtype)
        ic.col2im_add(dZ, self.W, dA_pad, self.stride)
        ((t, _), (l, _)), (_, H, W, _) = self.geometry[0], self.input_shape
        return dA_pad[:, t:t + H, l:l + W, :] if dA_pad.shape != self.input_shape else dA_pad

    def _weight_gradient(self, dZ2: np.ndarray, m: int) -> None:
        """gradients["W"] = (1/m) rows^T dZ2, over only the nonzero rows of dZ2 when they are few
        (after a non-overlapping max-pool most rows are exactly zero and add nothing)."""
        K, C = self.W.shape[0] * self.W.shape[1] * self.W.shape[2], self.W.shape[3]
        dW2 = self.gradients["W"].reshape(K, C)
        _, H_out, W_out = self.geometry
        nonzero = np.flatnonzero(dZ2.any(axis=1))
        if nonzero.size <= SPARSE_ROWS * dZ2.shape[0]:
            np.matmul(self._rows(nonzero, K).T, dZ2[nonzero], out=dW2)
        elif self.cols is not None:
            np.matmul(self.cols.T, dZ2, out=dW2)
        else:  # the rows were not kept: im2col them again, chunk by chunk
            dW2[...] = 0
            for i, j, cols in self._chunks(m, H_out * W_out * K * self.A_pad.itemsize):
                dW2 += cols.T @ dZ2[i * H_out * W_out:j * H_out * W_out]
        dW2 *= 1.0 / m

    def _rows(self, index: np.ndarray, K: int) -> np.ndarray:
        """The im2col rows at `index` (n, K): from the kept rows, or gathered from the windows."""
        if self.cols is not None:
            return self.cols[index]
        _, H_out, W_out = self.geometry
        i, h, w = np.unravel_index(index, (self.A_pad.shape[0], H_out, W_out))
        return ic.windows(self.A_pad, self.f, self.stride, H_out, W_out)[i, h, w].reshape(-1, K)

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
