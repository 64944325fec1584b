"""A seed study's numbers and its report section: accuracy over seeds per experiment, paired comparisons.

`summarise(predictions, labels, ...)` turns the per-seed predicted labels of a study (scratchnet.runs.seeds)
into what experiments/seeds/<study>/metrics.json holds: per experiment the mean, standard deviation,
range and two 95% intervals of the accuracy over seeds, and per pair of experiments the difference
with its paired-bootstrap interval and p-value, Holm-adjusted over the study's pairs
(scratchnet.reports.stats). `section(doc, ...)` renders a study for the comparison report, beside
the course's own seed (the train stage's run) and McNemar's exact test on that one seed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from scratchnet.data import load_data
from scratchnet.reports import stats
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError, Run

SEED_CHANGES = ("A seed changes everything random in training: the initial weights, the mini-batch order and "
                "the dropout masks (one generator, RandomState(seed), draws them all); the data, its split and "
                "the test examples stay the same.")
METHOD = ("The interval over seeds is mean ± t·sd/√N (the test examples held fixed: another seed). The interval "
          "over seeds and examples, and each comparison, come from a bootstrap of {resamples} draws that "
          "resamples the seeds of each experiment and, with one draw shared by both sides of a comparison, the "
          "examples (another seed and another test set of the same size); a difference is significant when its "
          "Holm-adjusted p-value over the study's {pairs} comparisons is at most {alpha:g}. McNemar's exact test "
          "on the course's seed compares the two single runs on the same examples.")


def _number(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def accuracy_summary(correct: np.ndarray) -> dict:
    """Over the seeds (rows) of a 0/1 matrix: mean, sd, min, max, the t and the bootstrap intervals."""
    per_seed = correct.mean(axis=1)
    mean, sd = stats.mean_sd(per_seed)
    low, high = (min(max(x, 0.0), 1.0) for x in stats.t_interval(per_seed))  # an accuracy: clipped to [0, 1]
    b_low, b_high = stats.bootstrap_interval(correct)
    return {"mean": mean, "sd": sd, "min": float(per_seed.min()), "max": float(per_seed.max()),
            "ci95_seeds_low": _number(low), "ci95_seeds_high": _number(high),
            "ci95_bootstrap_low": b_low, "ci95_bootstrap_high": b_high,
            "per_seed": [float(a) for a in per_seed]}


def pairs(names: list[str]) -> list[tuple[str, str]]:
    """(later, earlier) for every pair, in the study's order: the later one minus the earlier one."""
    return [(b, a) for i, a in enumerate(names) for b in names[i + 1:]]


def summarise(predictions: dict[str, np.ndarray], labels: np.ndarray, split: str, seeds: list[int]) -> dict:
    """metrics.json of a study: predictions[name] is (seeds, examples) of predicted labels on `split`."""
    labels = np.asarray(labels).ravel()
    correct = {name: (np.asarray(p) == labels[None, :]).astype(np.float64) for name, p in predictions.items()}
    names = list(predictions)
    compared = [(b, a, stats.paired_bootstrap(correct[b], correct[a])) for b, a in pairs(names)]
    adjusted = stats.holm([r.p for _, _, r in compared])
    return {"split": split, "n_examples": int(labels.size), "seeds": list(seeds), "alpha": stats.ALPHA,
            "order": names,  # the study's order (the JSON keys below are sorted)
            "resamples": stats.RESAMPLES,
            "experiments": {name: accuracy_summary(correct[name]) for name in names},
            "comparisons": {f"{b} - {a}": {"a": b, "b": a, "difference": r.difference, "ci95_low": r.low,
                                           "ci95_high": r.high, "p": r.p, "p_holm": p_holm,
                                           "significant": p_holm <= stats.ALPHA}
                            for (b, a, r), p_holm in zip(compared, adjusted, strict=True)}}


def ordered(summary: dict) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """The experiments and the comparisons of a summary in the study's order."""
    order = summary.get("order") or list(summary["experiments"])
    keys = [f"{b} - {a}" for b, a in pairs(order)]
    return ([(n, summary["experiments"][n]) for n in order],
            [(k, summary["comparisons"][k]) for k in keys if k in summary["comparisons"]])


def load_summary(folder: Path) -> dict:
    """experiments/seeds/<study>/metrics.json; CompareError when it is missing or unreadable."""
    path = folder / "metrics.json"
    try:
        summary = json.loads(path.read_text())
        summary["experiments"], summary["comparisons"], summary["split"]  # noqa: B018
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CompareError(f"{path}: expected a seed study's summary ({e!r}); run `dvc repro seeds_{folder.name}` "
                           f"or `python -m scratchnet.stages.seeds {folder.name}` first") from None
    return summary


def course_seed_tests(summary: dict, runs: dict[str, Run], root: Path) -> dict[str, dict]:
    """Per comparison of the study, the course's seed (each train stage run): the difference in accuracy
    on the same split and McNemar's exact p from the discordant examples."""
    split, out, correct, loaded = summary["split"], {}, {}, {}
    for name in summary["experiments"]:
        run = runs.get(name)
        if run is None:
            continue
        key = json.dumps(OmegaConf.to_container(run.config.data, resolve=True), sort_keys=True)
        ds = loaded[key] = loaded.get(key) or load_data(run.config.data, root)  # a study's runs share one set
        labels = (ds.Y_train if split == "train" else ds.Y_test).ravel()
        net = run.network
        correct[name] = net.predict(ds.examples(split, net.example_axis, net.dtype)).ravel() == labels
    for key, c in summary["comparisons"].items():
        a, b = c["a"], c["b"]
        if a in correct and b in correct:
            only_a = int(np.count_nonzero(correct[a] & ~correct[b]))
            only_b = int(np.count_nonzero(correct[b] & ~correct[a]))
            out[key] = {"difference": float(correct[a].mean() - correct[b].mean()), "only_a": only_a,
                        "only_b": only_b, "p": stats.mcnemar_exact(only_a, only_b)}
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _points(x: float) -> str:
    return f"{100 * x:+.2f}"


def _p(p: float, resamples: int | None = None) -> str:
    if resamples and p <= 2 / (resamples + 1) + 1e-12:
        return f"< {2 / (resamples + 1):.1g}"
    return f"{p:.3g}" if p < 0.9995 else "1"


def sentences(summary: dict, course: dict[str, dict]) -> str:
    """Which differences are significant, in words, and which experiments no seed changes."""
    split = summary["split"]
    parts = []
    experiments, comparisons = ordered(summary)
    fixed = [n for n, e in experiments if e["sd"] == 0 and e["min"] == e["max"]]
    if fixed:
        parts.append(f"{' and '.join(f'`{n}`' for n in fixed)} scores the same {split} accuracy for every seed "
                     f"(nothing random changes what it learns, or not by a single example).")
    significant = [c for _, c in comparisons if c["significant"]]
    others = [c for _, c in comparisons if not c["significant"]]
    if significant:
        parts.append("Significant at the 5% level over seeds and examples (Holm): " + "; ".join(
            f"`{c['a']}` {'over' if c['difference'] > 0 else 'below'} `{c['b']}` by "
            f"{abs(100 * c['difference']):.2f} points (95% CI {_points(c['ci95_low'])} to {_points(c['ci95_high'])})"
            for c in significant) + ".")
    if others:
        parts.append("Not significant: " + "; ".join(
            f"`{c['a']}` vs `{c['b']}` ({_points(c['difference'])} points, CI {_points(c['ci95_low'])} to "
            f"{_points(c['ci95_high'])}, Holm p {_p(c['p_holm'])})" for c in others) + ".")
    flips = [(k, c, course[k]) for k, c in comparisons
             if k in course and (course[k]["p"] <= stats.ALPHA) != c["significant"]]
    for _, c, one in flips:
        parts.append(f"On the course's seed alone `{c['a']}` vs `{c['b']}` differ by {_points(one['difference'])} "
                     f"points ({one['only_a']} vs {one['only_b']} discordant examples, McNemar p {_p(one['p'])}): "
                     + ("significant there, but not over seeds." if one["p"] <= stats.ALPHA else
                        "not significant on one seed, but it is over seeds."))
    return " ".join(parts)


def headline(title: str, summary: dict) -> str:
    """One line for the report's summary: the means over seeds and what is significant."""
    n, split = len(summary["seeds"]), summary["split"]
    means = ", ".join(f"`{name}` {_pct(e['mean'])} ± {100 * e['sd']:.2f}"
                      for name, e in sorted(summary["experiments"].items(), key=lambda kv: -kv[1]["mean"]))
    significant = [f"`{c['a']}` {'over' if c['difference'] > 0 else 'below'} `{c['b']}`"
                   for c in summary["comparisons"].values() if c["significant"]]
    verdict = ("significant (Holm, 5%): " + ", ".join(significant)) if significant else \
        "no difference is significant (Holm, 5%)"
    return f"**{title}**, {split} accuracy over {n} seeds: {means}; {verdict}."


EXPERIMENT_HEADER = ["experiment", "course's seed", "mean over seeds", "sd", "min - max", "95% CI over seeds",
                     "95% CI over seeds and examples"]
COMPARISON_HEADER = ["comparison", "difference (points)", "95% CI", "p", "p (Holm)", "significant",
                     "course's seed: difference", "McNemar p"]


def section(doc: Document, key: str, title: str, summary: dict, runs: dict[str, Run], root: Path) -> dict:
    """Add a study's heading, method, tables and sentences to `doc`; returns the course-seed tests."""
    course = course_seed_tests(summary, runs, root)
    n, split = len(summary["seeds"]), summary["split"]
    doc.heading(f"{title}: over {n} seeds", level=3)
    what = f"{split} accuracy" + ("" if split == "test" else " (this set has no test split: fit, not "
                                                          "generalisation)")
    doc.paragraph(f"The {what} of each experiment trained with the seeds {summary['seeds'][0]} to "
                  f"{summary['seeds'][-1]} (`python -m scratchnet.stages.seeds {key}`), on the same "
                  f"{summary['n_examples']} examples; the course's seed is the run in the table above. "
                  + SEED_CHANGES + " " + METHOD.format(resamples=summary["resamples"],
                                                       pairs=len(summary["comparisons"]), alpha=summary["alpha"]))
    rows = []
    experiments, comparisons = ordered(summary)
    for name, e in experiments:
        run = runs.get(name)
        mine = None if run is None else (run.test_accuracy if split == "test" else run.train_accuracy)
        seed = "?" if run is None else run.config.get("seed", "?")
        rows.append([name, "-" if run is None else f"{_pct(mine)} (seed {seed})", _pct(e["mean"]),
                     f"{100 * e['sd']:.2f}", f"{_pct(e['min'])} - {_pct(e['max'])}",
                     f"{_pct(e['ci95_seeds_low'])} - {_pct(e['ci95_seeds_high'])}",
                     f"{_pct(e['ci95_bootstrap_low'])} - {_pct(e['ci95_bootstrap_high'])}"])
    doc.table(EXPERIMENT_HEADER, rows)
    rows = [[f"`{c['a']}` - `{c['b']}`", _points(c["difference"]),
             f"{_points(c['ci95_low'])} to {_points(c['ci95_high'])}", _p(c["p"], summary["resamples"]),
             _p(c["p_holm"]), "yes" if c["significant"] else "no",
             _points(course[k]["difference"]) if k in course else "-",
             _p(course[k]["p"]) if k in course else "-"] for k, c in comparisons]
    doc.table(COMPARISON_HEADER, rows)
    doc.paragraph(sentences(summary, course))
    return course
