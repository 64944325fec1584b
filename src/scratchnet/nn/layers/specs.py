"""Checks shared by the layers' init(spec, ...): unknown keys and integer hyperparameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np


def check_keys(kind: str, spec: dict[str, Any], allowed: Iterable[str]) -> None:
    """ValueError naming any key of `spec` other than "type" and `allowed` (a typo must not pass)."""
    allowed = set(allowed)
    unknown = sorted(k for k in spec if k != "type" and k not in allowed)
    if unknown:
        raise ValueError(f"{kind}: unknown key(s) {', '.join(unknown)}; expected some of {', '.join(sorted(allowed))}")


def positive_int(kind: str, name: str, value: Any) -> int:
    """value as an int >= 1; ValueError naming the layer, the key and the value otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{kind}: {name} must be an int >= 1; got {value!r}")
    return int(value)
