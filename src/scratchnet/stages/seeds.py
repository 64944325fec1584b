"""DVC stages `seeds_<study>`: a seed study trained, compared and written to experiments/seeds/<study>/.

`python -m scratchnet.stages.seeds STUDY [override ...] [--jobs N] [--out DIR] [--studies conf/seeds.yaml]`

STUDY is a key of conf/seeds.yaml (experiments, number of seeds, overrides; scratchnet.runs.seeds);
extra overrides apply to every run (e.g. `train.epochs=100 tracking=none` for a quick look). Writes,
as one set swapped in at the end:

- metrics.json: per experiment the mean, sd, range and 95% intervals of the accuracy over seeds;
  per pair the difference, its paired-bootstrap interval and p-value, Holm-adjusted (reports.seeds);
- per_seed.csv: one row per (experiment, seed): train and test accuracy, train cost, epochs, and the
  cost recorded at epoch 0 (first_cost; empty when not recorded);
- predictions.npz: `labels` (m,) and, per experiment, (seeds, m) predicted labels on the compared split;
- timing.json and run.json beside them (untracked: seconds and the MLflow run id vary on every run).

The study is one MLflow run (`seeds <study>`) in its data set's experiment, with the same files.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from pathlib import Path

import numpy as np

from scratchnet import tracking
from scratchnet.config.seeds import STUDIES_FILE, SeedStudy, load_studies
from scratchnet.files import atomic_path, write_csv, write_json
from scratchnet.paths import repo_root, under_root
from scratchnet.reports.seeds import summarise
from scratchnet.runs.batch import RunFailed, console_logging
from scratchnet.runs.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXPECTED_ERRORS, on_sigterm
from scratchnet.runs.outputs import check_output_dir, staged
from scratchnet.runs.seeds import SeedRun, run_study, seed_config

PER_SEED_HEADER = ("experiment", "seed", "train_accuracy", "test_accuracy", "train_cost", "epochs", "first_cost")


def write_study(folder: Path, study: SeedStudy, runs: list[SeedRun]) -> dict:
    """metrics.json, per_seed.csv and predictions.npz into `folder`; returns the summary."""
    split = runs[0].split
    predictions = {name: np.stack([r.predictions for r in runs if r.experiment == name]) for name in
                   study.experiments}
    summary = summarise(predictions, runs[0].labels, split, list(study.seeds))
    write_json(folder / "metrics.json", summary)
    write_csv(folder / "per_seed.csv", PER_SEED_HEADER,
              [(r.experiment, r.seed, r.metrics["train"]["accuracy"], r.metrics["test"]["accuracy"],
                r.metrics["train"]["cost"], r.metrics["epochs"], "" if r.first_cost is None else r.first_cost)
               for r in runs])
    with atomic_path(folder / "predictions.npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, labels=runs[0].labels.astype(np.int8),
                 **{name: p.astype(np.int8) for name, p in sorted(predictions.items())})
    return summary


def record(study: SeedStudy, runs: list[SeedRun], summary: dict, folder: Path) -> dict:
    """The study as one MLflow run (tracking from the first run's composed config); run.json's ids."""
    cfg = seed_config(*study.runs()[0])  # composed once already, for the first run
    params = {"study": study.key, "experiments": list(study.experiments), "seeds": len(study.seeds),
              "overrides": " ".join(study.overrides), "split": summary["split"]}
    metrics = {f"{name}/{key}": e[key] for name, e in summary["experiments"].items() for key in ("mean", "sd")}
    metrics |= {f"{k.replace(' - ', '_vs_')}/{key}": c[key] for k, c in summary["comparisons"].items()
                for key in ("difference", "p_holm")}
    metrics["fit_seconds"] = sum(r.fit_seconds for r in runs)
    with tracking.open_run(cfg.tracking, mlflow_experiment=runs[0].data, run_name=f"seeds {study.key}",
                           params=params, tags={"scratchnet.seeds.study": study.key}) as run:
        run.log_metrics(metrics)
        run.log_artifacts(folder)
    return {"run_id": run.run_id, "experiment_id": run.experiment_id, "tracking_uri": run.tracking_uri}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.seeds", description=__doc__.split("\n")[0])
    parser.add_argument("study", help="a key of conf/seeds.yaml: cat, init, reg, opt, ...")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run of the study")
    parser.add_argument("--jobs", type=int, default=None,
                        help="worker processes (default: the study's, or one per core)")
    parser.add_argument("--out", type=Path, default=None, help="default: experiments/seeds/<study>")
    parser.add_argument("--studies", type=Path, default=STUDIES_FILE)
    args = parser.parse_args(argv)
    console_logging()
    signal.signal(signal.SIGTERM, on_sigterm)
    start = time.perf_counter()
    try:
        studies = load_studies(args.studies)
        if args.study not in studies:
            print(f"seeds: error: no study {args.study!r} in {args.studies}; expected one of "
                  f"{', '.join(studies)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        study = studies[args.study]
        study = dataclasses.replace(study, overrides=(*study.overrides, *args.overrides))
        out = under_root(args.out or Path("experiments") / "seeds" / study.key, repo_root())
        check_output_dir(out, repo_root())  # never the root, its folders or one a run did not write
        runs = run_study(study, args.jobs)
        with staged(out, repo_root()) as staging:
            summary = write_study(staging, study, runs)
            ids = record(study, runs, summary, staging)
            write_json(staging / "run.json", ids)
            write_json(staging / "timing.json", {"fit_seconds": {f"{r.experiment} seed={r.seed}": r.fit_seconds
                                                                 for r in runs},
                                                 "seconds": time.perf_counter() - start})
    except (RunFailed, *EXPECTED_ERRORS) as error:
        print(f"seeds: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("seeds: interrupted; previous outputs kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    for name, e in summary["experiments"].items():
        print(f"seeds {study.key}: {name}: {summary['split']} accuracy {100 * e['mean']:.2f}% "
              f"± {100 * e['sd']:.2f} over {len(study.seeds)} seeds")
    for key, c in summary["comparisons"].items():
        print(f"seeds {study.key}: {key}: {100 * c['difference']:+.2f} points, Holm p {c['p_holm']:.3g}"
              f"{' (significant)' if c['significant'] else ''}")
    print(f"seeds {study.key}: {len(runs)} runs in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
