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

from scratchnet.config import ConfigError
from scratchnet.config.seeds import load_studies
from scratchnet.data import DataError
from scratchnet.files import write_json, write_text
from scratchnet.paths import repo_root
from scratchnet.reports import compare as architecture
from scratchnet.reports import seeds as seed_report
from scratchnet.reports import signs as signs_report
from scratchnet.reports import studies as course_studies
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError, find_runs
from scratchnet.reports.tables import RUN_LINKS_HEADER, rows

__all__ = ["CompareError", "build", "main"]

INTRO = ("Accuracies are fractions of the examples shown as percentages; the train cost is the cost of the "
         "trained model on the whole training set. Every number on this page follows from the code, the configs "
         "and the data (it is a DVC output, the same bytes on every run); the MLflow run ids and the training "
         "times are in `runs.md` beside it.")
STUDIES_INTRO = ("Course 2's initialisation, regularisation and optimisation studies, each three runs that differ "
                 "in one choice. Our accuracies come from each run's metrics.json; the course's are the "
                 "percentages its notebooks print, and a run matches when ours rounds to the course's number at "
                 "the digits the course shows (83 matches 82.5 to 83.5, 99.33 matches 99.325 to 99.335), train "
                 "and test both.")
RUNS_PAGE = ("The MLflow runs behind `report.html`. Not a DVC output: run ids and training times change on "
             "every run, so they stay out of the report.")


def _placed(seed_studies: list, runs: list, study_runs: list) -> dict[str, list]:
    """Where each seed study's section goes: after the data set or course-2 study holding all its
    experiments ("dataset:<name>" / "study:<key>"), else at the end ("end")."""
    places: dict[str, list] = {}
    for item in seed_studies:
        names = set(item[2]["experiments"])
        place = next((f"dataset:{d}" for d in sorted({r.dataset for r in runs})
                      if names <= {r.name for r in runs if r.dataset == d}), None)
        place = place or next((f"study:{s.key}" for s, _ in study_runs if names <= set(s.names)), "end")
        places.setdefault(place, []).append(item)
    return places


def build(experiments: Path, out: Path, root: Path, names: list[str] | None = None,
          studies: list[str] | None = None, seeds: list[str] | None = None,
          signs: list[str] | None = None) -> dict:
    """Write report.md, report.html, the figures, summary.json and the side file runs.md; returns the
    summary. names: the architecture runs (default: every run not in a study); studies: the STUDIES
    keys (default: every study whose runs are all there); seeds: the seed studies (default: every
    experiments/seeds/<key>/ there); signs: the SIGNS experiments (reports.signs)."""
    runs = find_runs(experiments, names, exclude=[n for s in course_studies.STUDIES.values() for n in s.names])
    study_runs = course_studies.find_studies(experiments, studies)
    seed_studies = find_seed_studies(experiments, seeds)
    by_name = {r.name: r for r in runs} | {r.name: r for _, group in study_runs for r in group}
    places = _placed(seed_studies, runs, study_runs)
    datasets = sorted({r.dataset for r in runs})
    out.mkdir(parents=True, exist_ok=True)
    doc = Document("Logistic vs shallow vs deep: the architecture comparison")
    doc.paragraph(f"{len(runs)} runs from `{experiments}` on {len(datasets)} data sets. {INTRO}")
    doc.heading("Summary")
    doc.bullets([architecture.summary(d, [r for r in runs if r.dataset == d]) for d in datasets]
                + [seed_report.headline(title, summary) for _, title, summary in seed_studies])
    result: dict = {"runs": {}, "winners": {}, "seeds": {}}

    def seed_sections(place: str) -> None:
        for key, title, summary in places.get(place, []):
            result["seeds"][key] = seed_report.section(doc, key, title, summary, by_name, root)

    for d in datasets:
        result["winners"][d] = architecture.section(doc, d, [r for r in runs if r.dataset == d], root, out)
        seed_sections(f"dataset:{d}")
    if study_runs:
        doc.heading("Improving deep networks: the course's three studies")
        doc.paragraph(STUDIES_INTRO)
        result["studies"] = {}
        for study, group in study_runs:
            result["studies"][study.key] = course_studies.section(doc, study, group, root, out)
            seed_sections(f"study:{study.key}")
    if places.get("end"):
        doc.heading("Over seeds")
        seed_sections("end")
    if signs:
        result["signs"] = signs_report.section(doc, experiments, signs, root / "data" / "raw" / "signs")
    for r in runs:
        result["runs"][r.name] = {"dataset": r.dataset, "family": r.family, "layer_dims": r.network.layer_dims,
                                  "n_parameters": r.network.n_parameters, "train_accuracy": r.train_accuracy,
                                  "test_accuracy": r.test_accuracy, "train_cost": r.train_cost}
    doc.write(out, "report")
    write_json(out / "summary.json", result)  # deterministic: no timings, no run ids
    links = Document("MLflow runs")
    links.paragraph(RUNS_PAGE)
    links.table(RUN_LINKS_HEADER, rows(list(by_name.values()), RUN_LINKS_HEADER))
    write_text(out / "runs.md", links.to_markdown(out))  # the side file (.dvcignore, .gitignore)
    return result


def find_seed_studies(experiments: Path, keys: list[str] | None) -> list[tuple[str, str, dict]]:
    """(key, title, summary) of the seed studies `keys` (default: every experiments/seeds/<key>/)."""
    folder = experiments / "seeds"
    if keys is None:
        keys = sorted(p.name for p in folder.iterdir() if (p / "metrics.json").is_file()) if folder.is_dir() else []
    titles = {k: s.title for k, s in load_studies().items()} if keys else {}
    return [(key, titles.get(key, key), seed_report.load_summary(folder / key)) for key in keys]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.compare",
                                     description="Compare every experiment into one report.")
    parser.add_argument("names", nargs="*", help="experiment folders to compare (default: every one not in a study)")
    parser.add_argument("--studies", nargs="*", choices=list(course_studies.STUDIES), default=None,
                        help="course 2 studies to report (default: those whose runs are all there)")
    parser.add_argument("--seeds", nargs="*", default=None,
                        help="seed studies to report (experiments/seeds/<key>; default: every one there)")
    parser.add_argument("--signs", nargs="*", default=None,
                        help="SIGNS experiments for their section (seed summaries or single runs)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--out", type=Path, default=Path("experiments/report"))
    args = parser.parse_args(argv)
    try:
        result = build(args.experiments, args.out, repo_root(), args.names, args.studies, args.seeds, args.signs)
    except (CompareError, DataError, ConfigError) as e:
        print(f"compare: error: {e}", file=sys.stderr)
        return 1
    for d, w in result["winners"].items():
        print(f"compare: {d}: {w['experiment']} ({w['family']}) {100 * w['accuracy']:.2f}% {w['split']}")
    for key, study in result.get("studies", {}).items():
        matched = sum(row["matches"] for row in study.values())
        print(f"compare: study {key}: {matched} of {len(study)} runs match the course")
    print(f"compare: {len(result['runs'])} runs -> {args.out}/report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
