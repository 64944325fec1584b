"""The failures a run expects (bad input, divergence, an unreachable store, unwritable or foreign
outputs, not enough memory) and the exit codes the commands give for them and for signals."""

from __future__ import annotations

from scratchnet.config import ConfigError
from scratchnet.data import DataError
from scratchnet.models import ModelFileError
from scratchnet.nn import DivergenceError
from scratchnet.runs.guard import OutputDirRefused
from scratchnet.runs.memory import NotEnoughMemory
from scratchnet.runs.outputs import OutputError
from scratchnet.tracking.store import TrackingError

# one line on stderr and EXIT_BAD_INPUT, never a traceback
EXPECTED_ERRORS = (ConfigError, DataError, ModelFileError, DivergenceError, TrackingError, OutputError,
                   OutputDirRefused, NotEnoughMemory)
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt so it takes Ctrl-C's path: staging removed, run KILLED."""


def on_sigterm(signum, frame) -> None:
    """The SIGTERM handler: `signal.signal(signal.SIGTERM, on_sigterm)`."""
    raise Terminated()
