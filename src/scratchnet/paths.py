"""Where things are: the one repo-root rule, and config paths taken from that root (never the cwd)."""

from __future__ import annotations

import os
from pathlib import Path

# src/scratchnet/paths.py -> parents[2] is the checkout (an editable install); conf/ sits there
CHECKOUT = Path(__file__).resolve().parents[2]
CONF_DIR = CHECKOUT / "conf"
ROOT_ENV = "SCRATCHNET_ROOT"  # points data, outputs and the MLflow store at another checkout


def repo_root() -> Path:
    """$SCRATCHNET_ROOT if set, else the checkout holding conf/; never the current directory."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser().resolve() if env else CHECKOUT


def under_root(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """A config path: `~` expanded, and a relative path taken from the repo root `root`, never from
    the current directory (Hydra does not chdir, and DVC, tests and sweeps run from elsewhere)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(root) / path
