"""`python -m scratchnet.train experiment=deep_cat [key=value ...]` (or `scratchnet-train`): the Hydra main.

Composes the config from conf/, runs scratchnet.runs.train.train(cfg) and turns the failures it
expects into one line on stderr and an exit code; Hydra's -m runs a sweep (scratchnet.sweeps).
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import hydra
from omegaconf import DictConfig

from scratchnet.config.validate import StartRefused
from scratchnet.paths import CONF_DIR
from scratchnet.runs.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXPECTED_ERRORS,
    Terminated,
    on_sigterm,
)
from scratchnet.runs.multirun import in_multirun
from scratchnet.runs.train import train

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main(cfg: DictConfig) -> None:
    try:
        metrics = train(cfg)
    except EXPECTED_ERRORS as error:
        if in_multirun():
            raise  # Hydra records the failed job; the sweep runs the others and lists it as failed
        log.debug("failed: %s", error)  # the log file keeps it; the console gets the one line below
        print(f"scratchnet-train: error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt as stop:
        _stopped(stop)
    test = metrics["test"]["accuracy"]
    print(f"{cfg.name}: train accuracy {metrics['train']['accuracy']:.4f}, "
          f"test accuracy {'n/a' if test is None else f'{test:.4f}'}, "
          f"{metrics['fit_seconds']:.1f} s -> {metrics['output_dir']}")


def _stopped(stop: KeyboardInterrupt) -> None:
    """Ctrl-C or SIGTERM: say so and exit 130 / 143 (the run is already ended KILLED)."""
    what = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
    print(f"scratchnet-train: {what}; previous outputs kept", file=sys.stderr)
    code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    if in_multirun():
        sys.exit(code)  # the sweep's own clean-up (parent run KILLED) runs at exit
    # the run is ended and nothing is half-written: skip the 1-3 s interpreter teardown that
    # mlflow's imports (pandas, pyarrow, sqlalchemy) cost, so Ctrl-C returns at once
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """Console script `scratchnet-train` (Hydra parses sys.argv)."""
    signal.signal(signal.SIGTERM, on_sigterm)  # here, not in _main: joblib's workers keep their own
    try:
        _main()
    except StartRefused as refused:  # a bad name or root, met before Hydra made its run folder
        print(f"scratchnet-train: error: {refused}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main()
