"""What the tests need from the machine beyond the venv, and what they do when it is missing.

`scripts/system-deps` (run by `make test` and so by `.ci/run`) installs the Debian packages when
it may; where it could not, the tests that need them skip, naming what is missing. In CI
(SCRATCHNET_REQUIRE_SYSTEM_DEPS=1) a missing package or engine is a failure, never a skip, so a
broken install cannot pass as a green run that tested nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_ENV = "SCRATCHNET_REQUIRE_SYSTEM_DEPS"
HINT = "`make system-deps` installs it as root (or with passwordless sudo)"


def unavailable(reason: str) -> None:
    """Skip the test with `reason`, or fail it where the machine must have everything (CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: CI must run this test)", pytrace=False)
    pytest.skip(reason)


def require_file(path: str | os.PathLike, package: str) -> Path:
    """`path` if it is an executable file, else unavailable() naming the Debian package."""
    path = Path(path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        unavailable(f"{path} missing (Debian package {package}): {HINT}")
    return path


def require_root(what: str) -> None:
    """unavailable() unless this process runs as root."""
    if os.geteuid() != 0:
        unavailable(f"{what} needs root (daemons run as their own users); running as uid {os.geteuid()}")
