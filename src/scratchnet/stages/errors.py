"""DVC stage `errors`: error analysis of the best cat model on the test set, into experiments/errors/.

`python -m scratchnet.stages.errors [names ...] [--experiments experiments] [--data data/raw/cat]
[--out experiments/errors] [--no-mlflow]`

The analysis (scratchnet.reports.errors, .error_page): a gallery of every misclassified test
image, the confusion matrix with precision / recall / F1, four per-image measures against the
errors. Writes errors.md / errors.html (self-contained), measures.csv, measure_summary.csv,
measure_bins.csv and metrics.json (scores, confusion counts, misclassified indices); the same
figures go to the model's MLflow run (named by its run.json) under the artifact path `errors/`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from scratchnet.data import DataError
from scratchnet.data.cat import N_FEATURES, images_from_columns, load_cat
from scratchnet.files import write_json
from scratchnet.models import ModelFileError, load_model
from scratchnet.reports.error_page import FIGURES, write_page
from scratchnet.reports.errors import ErrorsStageError, analyse, best_cat_experiment, write_tables
from scratchnet.tracking import TrackingError  # mlflow itself loads only when logging

LOGGED = (*FIGURES, "errors.md", "errors.html", "measure_bins.csv")  # what goes to the model's run


def run(experiments: Path, data: Path, out: Path, log_mlflow: bool = True, names: list[str] | None = None) -> dict:
    """Run the whole analysis; returns the metrics written to out/metrics.json."""
    name, model_metrics = best_cat_experiment(experiments, names)
    network = load_model(experiments / name / "model.npz", n_features=N_FEATURES, n_classes=2)
    dataset = load_cat(data)
    analysis = analyse(network, dataset.X_test, dataset.Y_test)
    out.mkdir(parents=True, exist_ok=True)
    bins = analysis.measure_bins()
    write_tables(analysis, bins, out)
    shown = write_page(name, model_metrics, images_from_columns(dataset.X_test), analysis, bins, out)
    scores = analysis.scores()
    C = analysis.confusion()
    # the measures' means are in measure_summary.csv: in metrics.json they would crowd `dvc metrics show`
    metrics = {"model": name, "n_test": len(analysis.labels), "n_misclassified": len(shown),
               "misclassified": shown, **scores,
               "confusion": {"tn": int(C[0, 0]), "fp": int(C[0, 1]), "fn": int(C[1, 0]), "tp": int(C[1, 1])}}
    write_json(out / "metrics.json", metrics)
    if log_mlflow:
        log_to_model_run(experiments / name / "run.json", [out / f for f in LOGGED],
                         {f"errors/{k}": scores[k] for k in ("precision", "recall", "f1")})
    return metrics


def log_to_model_run(run_json: Path, files: list[Path], metrics: dict[str, float]) -> bool:
    """Attach files (artifact path errors/) and metrics to the MLflow run named in run.json.

    Returns False (and says why on stderr) when the run has no MLflow record (tracking=none) or no
    run.json (a side file: `dvc checkout` restores the model, not the record of its run).
    """
    if not run_json.is_file():
        print(f"errors: {run_json} is missing (no record of the model's MLflow run): figures not logged",
              file=sys.stderr)
        return False
    try:
        info = json.loads(run_json.read_text())
    except (OSError, ValueError) as e:
        raise ErrorsStageError(f"{run_json}: expected the run's JSON record "
                               f"(run_id, tracking_uri), found an unreadable file ({e})") from None
    if not info.get("run_id") or not info.get("tracking_uri"):
        print(f"errors: {run_json} names no MLflow run (tracking off): figures not logged", file=sys.stderr)
        return False
    from scratchnet import tracking

    run = tracking.existing_run(info["tracking_uri"], info["run_id"])
    for path in files:
        run.log_artifact(path, "errors")
    run.log_metrics(metrics)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.errors", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="candidate experiments (default: experiments/*cat*)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--data", type=Path, default=Path("data/raw/cat"), help="folder of the cat .h5 files")
    parser.add_argument("--out", type=Path, default=Path("experiments/errors"))
    parser.add_argument("--no-mlflow", action="store_true", help="do not log to the model's MLflow run")
    args = parser.parse_args(argv)
    try:
        metrics = run(args.experiments, args.data, args.out, log_mlflow=not args.no_mlflow, names=args.names)
    except (ErrorsStageError, ModelFileError, DataError, TrackingError) as e:
        print(f"errors: error: {e}", file=sys.stderr)
        return 1
    print(f"errors: {metrics['model']}: {metrics['n_misclassified']}/{metrics['n_test']} misclassified, "
          f"precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}, F1 {metrics['f1']:.3f} "
          f"-> {args.out}/errors.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
