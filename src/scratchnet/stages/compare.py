"""DVC stage `compare`: logistic vs shallow vs deep, and course 2's three studies, into experiments/report/.

`python -m scratchnet.stages.compare [names ...] [--studies init reg opt] [--experiments experiments]
[--out experiments/report]`

A run is any experiments/<name>/ holding metrics.json, config.yaml and model.npz (what
`python -m scratchnet.train` writes). Per data set the report has a table, the cost curves, the
decision boundaries of logistic vs shallow for 2-D sets and a generated summary
(scratchnet.reports.compare); then course 2's studies (scratchnet.reports.studies). report.md links
the PNGs beside it; report.html embeds them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scratchnet.data import DataError
from scratchnet.files import write_json
from scratchnet.paths import repo_root
from scratchnet.reports import compare as architecture
from scratchnet.reports import signs as signs_report
from scratchnet.reports import studies as course_studies
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError, find_runs

__all__ = ["CompareError", "build", "main"]

INTRO = ("Accuracies are fractions of the examples shown as percentages; the train cost is the cost of the "
         "trained model on the whole training set; fit seconds is the wall time of training alone (it varies "
         "from run to run and comes from timing.json). Every run id opens the run in MLflow.")
STUDIES_INTRO = ("Course 2's initialisation, regularisation and optimisation studies, each three runs that differ "
                 "in one choice. Our accuracies come from each run's metrics.json; the course's are the "
                 "percentages its notebooks print, and a run matches when ours rounds to the course's number at "
                 "the digits the course shows (83 matches 82.5 to 83.5, 99.33 matches 99.325 to 99.335), train "
                 "and test both.")


def build(experiments: Path, out: Path, root: Path, names: list[str] | None = None,
          studies: list[str] | None = None, signs: list[str] | None = None) -> dict:
    """Write report.md, report.html, the figures and summary.json; returns the summary.
    names: the architecture runs (default: every run not in a study); studies: the STUDIES keys
    (default: every study whose runs are all there); signs: the SIGNS experiments (reports.signs)."""
    runs = find_runs(experiments, names, exclude=[n for s in course_studies.STUDIES.values() for n in s.names])
    study_runs = course_studies.find_studies(experiments, studies)
    datasets = sorted({r.dataset for r in runs})
    out.mkdir(parents=True, exist_ok=True)
    doc = Document("Logistic vs shallow vs deep: the architecture comparison")
    doc.paragraph(f"{len(runs)} runs from `{experiments}` on {len(datasets)} data sets. {INTRO}")
    doc.heading("Summary")
    doc.bullets([architecture.summary(d, [r for r in runs if r.dataset == d]) for d in datasets])
    result = {"runs": {}, "winners": {d: architecture.section(doc, d, [r for r in runs if r.dataset == d], root, out)
                                      for d in datasets}}
    if study_runs:
        doc.heading("Improving deep networks: the course's three studies")
        doc.paragraph(STUDIES_INTRO)
        result["studies"] = {study.key: course_studies.section(doc, study, group, root, out)
                             for study, group in study_runs}
    if signs:
        result["signs"] = signs_report.section(doc, experiments, signs, root / "data" / "raw" / "signs")
    for r in runs:
        result["runs"][r.name] = {"dataset": r.dataset, "family": r.family, "layer_dims": r.network.layer_dims,
                                  "n_parameters": r.network.n_parameters, "train_accuracy": r.train_accuracy,
                                  "test_accuracy": r.test_accuracy, "train_cost": r.train_cost}
    doc.write(out, "report")
    write_json(out / "summary.json", result)  # deterministic: no timings, no run ids
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.compare",
                                     description="Compare every experiment into one report.")
    parser.add_argument("names", nargs="*", help="experiment folders to compare (default: every one not in a study)")
    parser.add_argument("--studies", nargs="*", choices=list(course_studies.STUDIES), default=None,
                        help="course 2 studies to report (default: those whose runs are all there)")
    parser.add_argument("--signs", nargs="*", default=None,
                        help="SIGNS experiments for their section (seed summaries or single runs)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--out", type=Path, default=Path("experiments/report"))
    args = parser.parse_args(argv)
    try:
        result = build(args.experiments, args.out, repo_root(), args.names, args.studies, args.signs)
    except (CompareError, DataError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    for d, w in result["winners"].items():
        print(f"compare: {d}: {w['experiment']} ({w['family']}) {100 * w['accuracy']:.2f}% {w['split']}")
    for key, rows in result.get("studies", {}).items():
        matched = sum(row["matches"] for row in rows.values())
        print(f"compare: study {key}: {matched} of {len(rows)} runs match the course")
    print(f"compare: {len(result['runs'])} runs -> {args.out}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
