"""A sweep's summary: summary.csv and summary.md (one row per job) and its figure, from JobRecords."""

from __future__ import annotations

from pathlib import Path

from scratchnet import tracking
from scratchnet.config.overrides import keys
from scratchnet.files import write_csv, write_text
from scratchnet.paths import repo_root
from scratchnet.runs.multirun import TAG_DIR, TAG_FIGURE
from scratchnet.sweeps.figures import FIGURE_MAKERS
from scratchnet.sweeps.records import JobRecord, SweepError, collect, find_parent, swept_keys


def table(records: list[JobRecord]) -> tuple[list[str], list[list[str]]]:
    """Header and rows: job, status, the swept keys, every final metric, error, run id."""
    keys = swept_keys(records)
    metrics = sorted({m for r in records for m in r.metrics})
    header = ["job", "status", *keys, *metrics, "error", "run_id"]
    rows = []
    for r in records:
        settings = r.settings()
        rows.append([str(r.job), r.status, *(settings.get(k, "") for k in keys),
                     *(repr(r.metrics[m]) if m in r.metrics else "" for m in metrics),
                     r.error.splitlines()[0] if r.error else "", r.run_id])
    return header, rows


def _md_cell(value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value.replace("|", "\\|")
    return value if value.lstrip("-").isdigit() else f"{number:.6g}"


def _markdown(name: str, records: list[JobRecord], header: list[str], rows: list[list[str]],
              figure: str | None) -> str:
    swept = swept_keys(records)
    first = records[0].overrides if records else []
    fixed = [o for o, key in zip(first, keys(first), strict=True) if key not in swept]
    failed = sum(r.status != "FINISHED" for r in records)
    lines = [f"# sweep {name}", "",
             f"{len(records)} jobs, {len(records) - failed} finished, {failed} failed.",
             f"Fixed overrides: `{' '.join(fixed)}`." if fixed else "", "",
             "| " + " | ".join(header[:-1]) + " |", "|" + "---|" * (len(header) - 1)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row[:-1]) + " |" for row in rows]
    if figure:
        lines += ["", f"![{figure}]({figure}.png)"]
    return "\n".join(lines) + "\n"


def write_summary(records: list[JobRecord], out_dir: Path, name: str, figure: str | None, client) -> list[Path]:
    """summary.csv, summary.md and <figure>.png in out_dir (each written atomically); their paths."""
    out_dir = Path(out_dir)
    header, rows = table(records)
    paths = [out_dir / "summary.csv", out_dir / "summary.md"]
    write_csv(paths[0], header, rows)
    finished = [r for r in records if r.status == "FINISHED"]
    if figure and finished:
        paths.append(out_dir / f"{figure}.png")
        FIGURE_MAKERS[figure](finished, paths[-1], client)
    write_text(paths[1], _markdown(name, records, header, rows, figure if len(paths) == 3 else None))
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
