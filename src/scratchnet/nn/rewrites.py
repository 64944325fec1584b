"""Exact rewrites of a list of layer specs: the same network, computed with less work.

Nothing applies them on its own: a caller (from_specs' user, the run builder) chooses to, since
the rewritten stack is what config() then describes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Spec = dict[str, Any] | str


def _is_relu(spec: Spec) -> bool:
    return spec == "relu" or (isinstance(spec, dict) and spec.get("type") == "activation"
                              and spec.get("name") == "relu")


def _is_max_pool(spec: Spec) -> bool:
    return spec == "maxpool2d" or (isinstance(spec, dict) and spec.get("type") == "maxpool2d")


def relu_after_max_pool(specs: Sequence[Spec]) -> list[Spec]:
    """[..., relu, maxpool2d, ...] -> [..., maxpool2d, relu, ...], every such pair.

    max(relu(x)) = relu(max(x)) over each window, and the gradients agree: where a window's max is
    > 0 both route it to the same (first) maximum; where it is <= 0 both give 0 (relu' = 0 there).
    The relu then runs on the pool's output, f*f times smaller (the course's ConvNet: 64 times).
    """
    out = list(specs)
    i = 0
    while i < len(out) - 1:
        if _is_relu(out[i]) and _is_max_pool(out[i + 1]):
            out[i], out[i + 1] = out[i + 1], out[i]
            i += 2
        else:
            i += 1
    return out
