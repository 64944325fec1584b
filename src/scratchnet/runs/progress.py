"""A one-line progress display for training, redrawn in place on a terminal, silent otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger(__name__)


class Progress:
    """Call with (epoch, cost) at each recorded epoch: `fit(..., on_record=progress)`.

    On a TTY the line `label  epoch i/total  cost c  t s` is redrawn in place on `stream`
    (stderr); elsewhere nothing is drawn. Every call also logs one DEBUG line, which Hydra's
    log file keeps. Use as a context manager so the line is finished on exit.
    """

    def __init__(self, total: int, label: str = "", stream: TextIO | None = None):
        self.total, self.label = total, label
        self.stream = sys.stderr if stream is None else stream
        self.tty = _isatty(self.stream)
        self.start = time.perf_counter()
        self.drawn = False

    def __call__(self, epoch: int, cost: float, note: str = "") -> None:
        """Show epoch (counted from 0, as the course prints it), cost and `note` (e.g. the accuracies)."""
        elapsed = time.perf_counter() - self.start
        note = f"{note}  " if note else ""
        line = f"{self.label}  epoch {epoch}/{self.total}  cost {cost:.6f}  {note}{elapsed:.1f} s"
        log.debug(line)
        if self.tty:
            self.stream.write("\r\033[K" + line)  # \033[K clears what a longer previous line left
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False
