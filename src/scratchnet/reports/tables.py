"""What the report's tables and sentences share: the cells of a run's row and the ranking sentence."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scratchnet.reports.runs import Run


def pct(x: float | None) -> str:
    """A fraction as a percentage with 2 decimals; "-" for None (no such split)."""
    return "-" if x is None else f"{100 * x:.2f}%"


def both(run: Run) -> str:
    """'train / test' accuracy, or the train accuracy alone without a test split."""
    return pct(run.train_accuracy) + ("" if run.test_accuracy is None else f" / {pct(run.test_accuracy)}")


# every column a report table shows about a run, by its header; numbers straight from metrics.json
CELLS: dict[str, Callable[[Run], str]] = {
    "experiment": lambda r: r.label,
    "model": lambda r: r.family,
    "layer dims": lambda r: r.network.describe(),  # "[12288, 20, 7, 5, 1]" for a dense stack
    "parameters": lambda r: str(r.network.n_parameters),
    "epochs": lambda r: str(r.epochs),
    "learning rate": lambda r: f"{float(r.config.optimizer.lr):g}",
    "train cost": lambda r: f"{r.train_cost:.6f}",
    "train accuracy": lambda r: pct(r.train_accuracy),
    "test accuracy": lambda r: pct(r.test_accuracy),
    # from the side files run.json and timing.json: runs.md only, never the report (a DVC output)
    "fit seconds": lambda r: "-" if r.fit_seconds is None else f"{r.fit_seconds:.2f}",
    "MLflow run id": lambda r: r.run_id or "-",
}
RUN_LINKS_HEADER = ["experiment", "MLflow run id", "fit seconds"]


def rows(runs: list[Run], header: list[str],
         extra: Mapping[str, Callable[[Run], str]] | None = None) -> list[list[str]]:
    """One row per run with the cells `header` names, from CELLS or from `extra` (a table's own columns)."""
    cells = CELLS | dict(extra or {})
    return [[cells[column](r) for column in header] for r in runs]


def ranking_sentence(ranked: list[Run], mention: Callable[[Run], str] = lambda r: f"`{r.name}`",
                     best: Callable[[Run], str] | None = None) -> str:
    """The winner of `ranked` (best first), its score, ties, and its margin over the others (grouped
    when they score the same): "`a` scores best with 96.00% test accuracy, ahead of `b` (86.00%) by
    10.00 points." `best` names the winner when it deserves more than `mention`."""
    winner = ranked[0]
    value, split = winner.score
    text = f"{(best or mention)(winner)} scores best with {pct(value)} {split} accuracy"
    tied = [r for r in ranked[1:] if r.score[0] == value]
    if tied:
        text += ", tied with " + " and ".join(mention(r) for r in tied)
    groups: dict[float, list[Run]] = {}
    for r in ranked[1:]:
        if r.score[0] < value:
            groups.setdefault(r.score[0], []).append(r)
    parts = [f"{' and '.join(mention(r) for r in group)} "
             f"({'both ' if len(group) == 2 else 'all ' if len(group) > 2 else ''}{pct(other)}) "
             f"by {100 * (value - other):.2f} points" for other, group in groups.items()]
    if parts:
        text += ", ahead of " + ", ".join(parts)
    return text + "."
