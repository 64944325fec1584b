"""A sweep's summary: summary.csv and summary.md (one row per job), the table over seeds and the figure.

What the summary holds is a function of code, config and data (the pipeline's sweep stages track
it): the MLflow run ids and fit seconds go to the side file runs.csv beside it instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scratchnet import tracking
from scratchnet.config.overrides import keys
from scratchnet.files import write_csv, write_text
from scratchnet.paths import repo_root
from scratchnet.runs.multirun import TAG_DIR, TAG_FIGURE
from scratchnet.sweeps.figures import FIGURE_MAKERS
from scratchnet.sweeps.records import JobRecord, SweepError, collect, find_parent, swept_keys

SIDE_METRICS = ("fit_seconds",)  # wall times: in MLflow and runs.csv, never in the summary (a DVC output)
SEED_KEY = "seed"  # a sweep over it gets the table over seeds
RUNS_FILE = "runs.csv"  # the side file: job, status, MLflow run id, fit seconds (.dvcignore, .gitignore)


def _metrics(records: list[JobRecord]) -> list[str]:
    return sorted({m for r in records for m in r.metrics if m not in SIDE_METRICS})


def table(records: list[JobRecord]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: job, status, the swept keys, every final metric (but the wall times), error."""
    keys = swept_keys(records)
    metrics = _metrics(records)
    header = ["job", "status", *keys, *metrics, "error"]
    rows = []
    for r in records:
        settings = r.settings()
        rows.append([str(r.job), r.status, *(settings.get(k, "") for k in keys),
                     *(repr(r.metrics[m]) if m in r.metrics else "" for m in metrics),
                     r.error.splitlines()[0] if r.error else ""])
    return header, rows


def run_table(records: list[JobRecord]) -> tuple[list[str], list[list[str]]]:
    """The side file's header and rows: what names and times each job's MLflow run."""
    return (["job", "status", "run_id", *SIDE_METRICS],
            [[str(r.job), r.status, r.run_id, *(repr(r.metrics[m]) if m in r.metrics else "" for m in SIDE_METRICS)]
             for r in records])


def over_seeds(records: list[JobRecord]) -> tuple[list[str], list[list[str]]] | None:
    """For a sweep over `seed`: one row per setting of the other swept keys, with n (finished jobs)
    and each metric's mean and sample standard deviation over them; None when seed is not swept."""
    keys = swept_keys(records)
    if SEED_KEY not in keys:
        return None
    others = [k for k in keys if k != SEED_KEY]
    metrics = _metrics(records)
    groups: dict[tuple, list[JobRecord]] = {}
    for r in records:
        groups.setdefault(tuple(r.settings().get(k, "") for k in others), []).append(r)
    header = [*others, "n", *(f"{m} {stat}" for m in metrics for stat in ("mean", "std"))]
    rows = []
    for setting, group in groups.items():
        done = [r for r in group if r.status == "FINISHED"]
        cells = []
        for m in metrics:
            values = np.array([r.metrics[m] for r in done if m in r.metrics], dtype=np.float64)
            cells += [repr(float(values.mean())) if values.size else "",
                      # equal values have std 0 exactly (numpy's two-pass std leaves ~1e-16 after the mean)
                      repr(float(values.std(ddof=1)) if np.ptp(values) > 0 else 0.0) if values.size > 1 else ""]
        rows.append([*setting, str(len(done)), *cells])
    return header, rows


def _md_cell(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value.replace("|", "\\|")
    return value if value.lstrip("-").isdigit() else f"{number:.6g}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)]


def _markdown(name: str, records: list[JobRecord], header: list[str], rows: list[list[str]],
              figure: str | None, seeds: tuple[list[str], list[list[str]]] | None) -> str:
    swept = swept_keys(records)
    first = records[0].overrides if records else []
    fixed = [o for o, key in zip(first, keys(first), strict=True) if key not in swept]
    failed = sum(r.status != "FINISHED" for r in records)
    lines = [f"# sweep {name}", "",
             f"{len(records)} jobs, {len(records) - failed} finished, {failed} failed.",
             f"Fixed overrides: `{' '.join(fixed)}`." if fixed else "", "", *_md_table(header, rows)]
    if seeds is not None:
        lines += ["", "## Over seeds", "",
                  "Each metric's mean and sample standard deviation (n - 1) over the finished jobs of each setting; "
                  "a seed changes the initial weights, the mini-batch order and the dropout masks, never the data.",
                  "", *_md_table(*seeds)]
    if figure:
        lines += ["", f"![{figure}]({figure}.png)"]
    lines += ["", f"MLflow run ids and fit seconds: `{RUNS_FILE}` beside this file (not a DVC output)."]
    return "\n".join(lines) + "\n"


def write_summary(records: list[JobRecord], out_dir: Path, name: str, figure: str | None, client) -> list[Path]:
    """summary.csv, summary.md, <figure>.png and, for a sweep over seed, over_seeds.csv in out_dir (each
    written atomically); their paths. The side file runs.csv is written too, not returned."""
    out_dir = Path(out_dir)
    header, rows = table(records)
    seeds = over_seeds(records)
    paths = [out_dir / "summary.csv", out_dir / "summary.md"]
    write_csv(paths[0], header, rows)
    if seeds is not None:
        paths.append(out_dir / "over_seeds.csv")
        write_csv(paths[-1], *seeds)
    finished = [r for r in records if r.status == "FINISHED"]
    drawn = None
    if figure and finished:
        paths.append(out_dir / f"{figure}.png")
        FIGURE_MAKERS[figure](finished, paths[-1], client)
        drawn = figure
    write_text(paths[1], _markdown(name, records, header, rows, drawn, seeds))
    write_csv(out_dir / RUNS_FILE, *run_table(records))
    return paths


def summarize(name: str, uri: str | None = None, out_dir: str | Path | None = None,
              figure: str | None = "auto") -> list[Path]:
    """Rewrite the summary of the latest sweep called `name` from the tracking store alone."""
    uri = uri or tracking.resolve_uri({"kind": "local"})
    if uri is None:
        raise SweepError("tracking is off (tracking=none): a sweep summary needs an MLflow store")
    client = tracking.connect(uri)
    parent = find_parent(client, name)
    if out_dir is None:  # where the sweep wrote it; the default folder for a parent that names none
        out_dir = parent.tags.get(TAG_DIR) or repo_root() / "experiments" / "sweeps" / name
    if figure == "auto":
        figure = parent.tags.get(TAG_FIGURE) or None
    return write_summary(collect(client, parent.run_id), Path(out_dir), name, figure, client)
