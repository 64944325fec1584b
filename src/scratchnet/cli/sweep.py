"""`python -m scratchnet.cli.sweep summarize NAME` (or `scratchnet-sweep`): a sweep's summary again,
from the MLflow store alone (no job folders needed)."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from scratchnet.data import DataError
from scratchnet.models import ModelFileError
from scratchnet.sweeps.figures import FIGURES
from scratchnet.sweeps.records import SweepError
from scratchnet.sweeps.summary import summarize
from scratchnet.tracking import TrackingError

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and rewrite the summary; 0 on success, 1 with one error line otherwise."""
    parser = argparse.ArgumentParser(prog="scratchnet-sweep", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("summarize", help="rewrite a sweep's summary from MLflow")
    cmd.add_argument("name", help="the sweep's name (tag scratchnet.sweep), e.g. lr_compare")
    cmd.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else the repo's mlflow.db")
    cmd.add_argument("--out", help="folder for summary.csv/.md (default: where the sweep wrote them)")
    cmd.add_argument("--figure", choices=FIGURES, help="default: the one the sweep drew")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        paths = summarize(args.name, args.tracking_uri, args.out, args.figure or "auto")
    except (SweepError, TrackingError, DataError, ModelFileError, OSError) as error:
        print(f"scratchnet-sweep: error: {error}", file=sys.stderr)
        return 1
    print("\n".join(str(p) for p in paths))
    log.debug("summary in %.1f s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
