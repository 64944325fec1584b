"""The course's residual blocks (ResNet): identity block and convolutional block, as composite layers.

Main path: conv 1x1 (stride s) -> BN -> ReLU -> conv f x f "same" -> BN -> ReLU -> conv 1x1 -> BN;
shortcut: the input itself (identity block) or conv 1x1 (stride s) -> BN (convolutional block);
A = ReLU(main + shortcut). A block's parameters, gradients and buffers are its sub-layers' own
arrays under dotted local keys ("conv1.W", "bn1.gamma", "bn1.moving_mean", "conv_shortcut.W"), so
optimizers, L2, gradient checks and model files see them like any layer's.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from scratchnet.nn.layers.base import LAYERS, Layer, Shape, build_layer, register
from scratchnet.nn.layers.specs import check_keys, positive_int

Named = list[tuple[str, Layer]]
# what each sub-layer's init() takes from its full config (the rest it infers from its input shape)
_SPEC_KEYS = {"conv2d": ("filters", "f", "stride", "padding", "bias"), "batchnorm": ("momentum", "epsilon"),
              "activation": ("name",)}


class _ResidualBlock(Layer):
    """ReLU(main(X) + shortcut(X)); backward adds the two paths' input gradients."""

    projection: ClassVar[bool] = False  # the shortcut is conv 1x1 + BN (else the identity)
    default_stride: ClassVar[int] = 1
    spec_keys: ClassVar[tuple[str, ...]] = ("f", "filters", "bias", "momentum", "epsilon")

    def __init__(self, main: Named, shortcut: Named, hyperparameters: dict[str, Any]):
        super().__init__()
        self.main, self.shortcut, self._hyper = main, shortcut, hyperparameters
        for name, layer in main + shortcut:
            self.parameters.update({f"{name}.{k}": v for k, v in layer.parameters.items()})
            self.gradients.update({f"{name}.{k}": v for k, v in layer.gradients.items()})
            self.buffers.update({f"{name}.{k}": v for k, v in layer.buffers.items()})
        self.regularised = tuple(f"{name}.{k}" for name, layer in main + shortcut for k in layer.regularised)
        self.positive = None

    # -- the sub-layers from the block's hyperparameters -------------------------------------------

    @classmethod
    def layout(cls, config: dict[str, Any]) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        """(main, shortcut) as (name, full sub-layer config) lists."""
        f, (F1, F2, F3), C_prev = int(config["f"]), [int(n) for n in config["filters"]], int(config["channels"])
        s, bias = int(config.get("stride", cls.default_stride)), bool(config.get("bias", True))

        def conv(filters, size, channels, stride, padding):
            return {"type": "conv2d", "filters": filters, "f": size, "channels": channels, "stride": stride,
                    "padding": padding, "bias": bias}

        def bn(n):
            return {"type": "batchnorm", "features": n, "layout": "channels",
                    "momentum": config.get("momentum", 0.99), "epsilon": config.get("epsilon", 1e-3)}

        relu = {"type": "activation", "name": "relu"}
        main = [("conv1", conv(F1, 1, C_prev, s, "valid")), ("bn1", bn(F1)), ("relu1", relu),
                ("conv2", conv(F2, f, F1, 1, "same")), ("bn2", bn(F2)), ("relu2", relu),
                ("conv3", conv(F3, 1, F2, 1, "valid")), ("bn3", bn(F3))]
        shortcut = [("conv_shortcut", conv(F3, 1, C_prev, s, "valid")), ("bn_shortcut", bn(F3))]
        return main, shortcut if cls.projection else []

    @classmethod
    def _check(cls, config: dict[str, Any]) -> None:
        filters = config.get("filters")
        if not isinstance(filters, (list, tuple)) or len(filters) != 3:
            raise ValueError(f"{cls.type}: filters must be a list [F1, F2, F3]; got {filters!r}")
        for i, n in enumerate(filters):
            positive_int(cls.type, f"filters[{i}]", n)
        positive_int(cls.type, "f", config.get("f"))
        positive_int(cls.type, "stride", config.get("stride", cls.default_stride))
        if not cls.projection and int(filters[2]) != int(config["channels"]):
            raise ValueError(f"{cls.type}: the identity shortcut needs F3 = the input's channels "
                             f"({config['channels']}); got filters {list(filters)}")

    @classmethod
    def from_config(cls, config, arrays):
        cls._check(config)
        main, shortcut = cls.layout(config)

        def build(named):
            return [(name, build_layer(sub, {k[len(name) + 1:]: v for k, v in arrays.items()
                                             if k.startswith(name + ".")})) for name, sub in named]

        return cls(build(main), build(shortcut), cls._hyperparameters(config))

    @classmethod
    def init(cls, spec, input_shape, rng, initializer, dtype):
        """Sub-layers drawn in the order Keras creates them: conv1, conv2, conv3, then the shortcut's conv."""
        check_keys(cls.type, spec, cls.spec_keys)
        if len(input_shape) != 3:
            raise ValueError(f"{cls.type}: expected images (H, W, C) per example; found {tuple(input_shape)}")
        config = {**spec, "channels": int(input_shape[2])}
        cls._check(config)
        main, shortcut = cls.layout(config)

        def draw(named):
            shape, layers = tuple(input_shape), []
            for name, sub in named:
                sub_spec = {"type": sub["type"], **{k: sub[k] for k in _SPEC_KEYS[sub["type"]]}}
                layer = LAYERS[sub["type"]].init(sub_spec, shape, rng, initializer, dtype)
                shape = layer.output_shape(shape)
                layers.append((name, layer))
            return layers

        return cls(draw(main), draw(shortcut), cls._hyperparameters(config))

    @classmethod
    def _hyperparameters(cls, config: dict[str, Any]) -> dict[str, Any]:
        hyper = {"f": int(config["f"]), "filters": [int(n) for n in config["filters"]],
                 "channels": int(config["channels"]), "bias": bool(config.get("bias", True)),
                 "momentum": float(config.get("momentum", 0.99)), "epsilon": float(config.get("epsilon", 1e-3))}
        if cls.projection:
            hyper["stride"] = int(config.get("stride", cls.default_stride))
        return hyper

    # -- the maths --------------------------------------------------------------------------------

    def forward(self, X, training=False, rng=None):
        A = X
        for _, layer in self.main:
            A = layer.forward(A, training, rng)
        S = X
        for _, layer in self.shortcut:
            S = layer.forward(S, training, rng)
        Z = A + S  # (m, H_out, W_out, F3)
        self.positive = Z > 0
        return np.maximum(Z, 0, out=Z)

    def backward(self, dA, need_input_grad=True):
        dZ = dA * self.positive
        paths = []
        for named in (self.main, self.shortcut):
            d = dZ
            for i in range(len(named) - 1, -1, -1):
                d = named[i][1].backward(d, need_input_grad=need_input_grad or i > 0)
            paths.append(d)
        return paths[0] + paths[1] if need_input_grad else None

    def output_shape(self, input_shape: Shape) -> Shape:
        shapes = []
        for named in (self.main, self.shortcut):
            shape = tuple(input_shape)
            for _, layer in named:
                shape = layer.output_shape(shape)
            shapes.append(shape)
        if shapes[0] != shapes[1]:
            raise ValueError(f"{self.type}: the main path gives {shapes[0]}, the shortcut {shapes[1]}")
        return shapes[0]

    def hyperparameters(self) -> dict[str, Any]:
        return dict(self._hyper)

    def describe(self) -> str:
        stride = f" stride {self._hyper['stride']}" if self._hyper.get("stride", 1) != 1 else ""
        return f"{self.type.replace('_', ' ')} f{self._hyper['f']} {self._hyper['filters']}{stride}"


@register
class IdentityBlock(_ResidualBlock):
    """The course's identity_block(X, f, filters): the shortcut is X itself (F3 = C_prev, stride 1)."""

    type = "identity_block"


@register
class ConvolutionalBlock(_ResidualBlock):
    """The course's convolutional_block(X, f, filters, s): the shortcut is conv 1x1 stride s + BN."""

    type = "convolutional_block"
    projection = True
    default_stride = 2  # the course's convolutional_block(X, f, filters, s=2)
    spec_keys = ("f", "filters", "stride", "bias", "momentum", "epsilon")
