"""Command-line overrides read with Hydra's own parser (quoting, `+`/`~`, sweeps and all)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override

from scratchnet.config.schema import is_plumbing


@functools.cache
def _parser() -> OverridesParser:
    return OverridesParser.create()


def parse(overrides: Iterable[str]) -> list[Override]:
    """Hydra's Override objects for `overrides` (as written on the command line)."""
    return _parser().parse_overrides([str(o) for o in overrides])


def keys(overrides: Iterable[str]) -> list[str]:
    """The key or group each override sets, without its +/~ prefix."""
    return [o.key_or_group for o in parse(overrides)]


def settings(overrides: Iterable[str]) -> dict[str, str]:
    """{key: value as written} for the overrides that set one value (deletions and sweeps left out)."""
    return {o.key_or_group: o.get_value_element_as_str() for o in parse(overrides)
            if o.value_type is not None and not o.is_sweep_override()}


def values(override: str) -> list[str]:
    """The values one override takes: several for a sweep (`a,b`, `choice(a,b)`, `range(...)`), else one."""
    (o,) = parse([override])
    if o.value_type is None:
        return []
    return list(o.sweep_string_iterator()) if o.is_sweep_override() else [o.get_value_element_as_str()]


def without_plumbing(overrides: Iterable[str]) -> list[str]:
    """The overrides that change what is trained (config.schema.PLUMBING_KEYS left out), as written."""
    overrides = [str(o) for o in overrides]
    return [text for text, key in zip(overrides, keys(overrides), strict=True) if not is_plumbing(key)]


def quoted(value: str) -> str:
    """`value` as a single-quoted override value (spaces, commas, `=` are safe inside)."""
    return "'" + value.replace("'", "\\'") + "'"
