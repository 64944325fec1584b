"""The training config: the typed schema (registered with Hydra on import) and its validation."""

from scratchnet.config.schema import Config, is_plumbing, optimizer_kwargs
from scratchnet.config.validate import ConfigError, validate

__all__ = ["Config", "ConfigError", "is_plumbing", "optimizer_kwargs", "validate"]
