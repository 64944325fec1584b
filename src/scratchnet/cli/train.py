"""`python -m scratchnet.train experiment=deep_cat [key=value ...]` (or `scratchnet-train`): the Hydra main.

Composes the config from conf/, runs scratchnet.runs.train.train(cfg) and turns the failures it
expects into one line on stderr and an exit code; Hydra's -m runs a sweep (scratchnet.sweeps).

Signals: Ctrl-C and SIGTERM end the run KILLED and exit 130 / 143. Inside a sweep job they raise
JobInterrupted instead (the sweep callback records the job KILLED), and a sweep stopped in its
launching process ends what it started KILLED and writes the summary of what finished
(`SweepCallback.interrupted`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator

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
from scratchnet.runs.multirun import JobInterrupted, in_multirun
from scratchnet.runs.train import train

log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main(cfg: DictConfig) -> None:
    try:
        with sigterm_interrupts():
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


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While training, the first SIGTERM raises Terminated (the KILLED path) and later ones are ignored.

    The task installs it itself: a Slurm job only calls this task (submitit's own handler ignores
    SIGTERM), and scancel signals both srun and the task, so a second SIGTERM must not cut the run's
    clean-up short. The previous handler (submitit's, loky's, main()'s) is back afterwards.
    """
    fired = False

    def handler(signum, frame) -> None:
        nonlocal fired
        if fired:
            log.debug("SIGTERM again while the run ends: ignored")
            return
        fired = True
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: no handler there, nothing to restore
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped(stop: KeyboardInterrupt) -> None:
    """Ctrl-C or SIGTERM in train (the run is already ended KILLED): exit 130 / 143, or, in a sweep
    job, raise JobInterrupted for the sweep callback."""
    terminated = isinstance(stop, Terminated)
    if in_multirun():
        raise JobInterrupted("SIGTERM" if terminated else "SIGINT") from None
    print(f"scratchnet-train: {'terminated (SIGTERM)' if terminated else 'interrupted'}; previous outputs kept",
          file=sys.stderr)
    # the run is ended and nothing is half-written: skip the 1-3 s interpreter teardown that
    # mlflow's imports (pandas, pyarrow, sqlalchemy) cost, so Ctrl-C returns at once
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


def main() -> None:
    """Console script `scratchnet-train` (Hydra parses sys.argv)."""
    signal.signal(signal.SIGTERM, on_sigterm)  # here, not in _main: joblib's workers keep their own
    try:
        _main()
    except StartRefused as refused:  # a bad name or root, met before Hydra made its run folder
        print(f"scratchnet-train: error: {refused}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt as stop:  # outside train: a sweep's launching process, or Hydra composing
        terminated = isinstance(stop, Terminated)
        from scratchnet.sweeps.callback import SweepCallback  # the class Hydra loaded, if a sweep ran

        if not SweepCallback.interrupted(stop):
            print(f"scratchnet-train: {'terminated (SIGTERM)' if terminated else 'interrupted'}", file=sys.stderr)
        sys.exit(EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
