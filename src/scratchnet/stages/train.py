"""DVC stages `train_<study>`: a study's training runs in one process, each exactly as the CLI runs it.

`python -m scratchnet.stages.train [--jobs N] 'experiment=logistic_cat' 'experiment=shallow_cat' ...`

Each argument is one run's Hydra overrides (space-separated, as after `python -m scratchnet.train`),
so `'experiment=logistic_planar data=noisy_moons name=logistic_noisy_moons'` is one run. Every run
goes through the same `train(cfg)` and writes the same experiments/<name>/ and MLflow run as the
CLI would (byte-identical metrics.json, model.npz, cost.csv); only Hydra's own log file is not
written. --jobs (default: one per core) runs them in forked workers, each on train.blas_threads
BLAS threads (1 unless Slurm gave the process more cores); the imports every run needs (Hydra's
compose, the data loaders, MLflow, matplotlib) are made once, before the fork, and no store is open
yet, so each worker opens its own connection. An expected failure (bad
config, missing data, divergence) ends the stage with one line and exit code 2; the runs already
written stay.
"""

from __future__ import annotations

import argparse
import signal
import sys

from scratchnet.data import load_data
from scratchnet.reports import plots
from scratchnet.runs.batch import RunFailed, compose, console_logging, default_jobs, run_all, split_overrides
from scratchnet.runs.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXPECTED_ERRORS, on_sigterm
from scratchnet.runs.train import train
from scratchnet.tracking.store import preload


def train_one(overrides: list[str]) -> str:
    """Compose and train one run; its console line."""
    cfg = compose(overrides)
    metrics = train(cfg, overrides=overrides)
    test = metrics["test"]["accuracy"]
    return (f"{cfg.name}: train accuracy {metrics['train']['accuracy']:.4f}, "
            f"test accuracy {'n/a' if test is None else f'{test:.4f}'}, "
            f"{metrics['fit_seconds']:.1f} s -> {metrics['output_dir']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.train", description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="one quoted argument per run: its Hydra overrides")
    parser.add_argument("--jobs", type=int, default=None, help="worker processes (default: one per core)")
    args = parser.parse_args(argv)
    console_logging()
    signal.signal(signal.SIGTERM, on_sigterm)
    runs = [split_overrides(spec) for spec in args.runs]
    jobs = args.jobs or default_jobs(len(runs))
    try:
        if jobs > 1:  # warm what every run imports, once, so the forked workers start with it
            first = compose(runs[0])
            load_data(first.data, first.paths.root)  # the loaders' imports (h5py; sklearn for generated sets)
            preload(first.tracking)
            plots.preload()
        for line in run_all(train_one, runs, jobs):
            print(line)
    except (RunFailed, *EXPECTED_ERRORS) as error:
        print(f"train: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("train: interrupted; the runs not finished kept their previous outputs", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
