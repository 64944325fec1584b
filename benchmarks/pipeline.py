"""Where a `dvc repro` spends its time: per stage process, imports / config / data / training / tracking /
plots / outputs / other, and DVC's own share.

    python -m benchmarks.pipeline [--force] [--json PATH] [-- extra dvc repro arguments]

(from the repo root, venv active or `.venv/bin/python`). Runs `dvc repro` (`--force`: every stage,
even the up-to-date ones) with benchmarks/stage_timer on PYTHONPATH, so each Python process DVC
starts (and DVC itself) appends its split to a temporary file (see stage_timer/sitecustomize.py);
then prints one row per process, the totals per category, and what is left for DVC: its own wall
time minus the stages' (hashing deps and outs, writing dvc.lock, starting the shells). Wall times
on a shared machine stretch with its load: the CPU column (the process's own user + system time)
is the steadier figure, and the load average is printed beside the totals.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratchnet.files import write_json
from scratchnet.paths import repo_root

CATEGORIES = ("imports", "config", "data", "training", "tracking", "plots", "outputs", "other")
TIMER = Path(__file__).resolve().parent / "stage_timer"


def label(argv: list[str]) -> str:
    """`train.py experiment=deep_cat` -> `train experiment=deep_cat`; DVC's own process -> `dvc ...`."""
    head = Path(argv[0]).stem if argv else "?"
    if head == "__main__":  # python -m package: the package folder names it
        head = Path(argv[0]).parent.name
    return " ".join([head, *argv[1:]])


def run(extra: list[str], force: bool) -> tuple[float, list[dict]]:
    """Run dvc repro under the timer; (wall seconds, one record per Python process)."""
    root = repo_root()
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as f:
        times = Path(f.name)
    env = dict(os.environ, SCRATCHNET_STAGE_TIMES=str(times),
               PYTHONPATH=os.pathsep.join(filter(None, [str(TIMER), os.environ.get("PYTHONPATH")])),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    cmd = [str(Path(sys.executable).parent / "dvc"), "repro", *(["--force"] if force else []), *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env)
    wall = time.perf_counter() - start
    records = [json.loads(line) for line in times.read_text().splitlines() if line.strip()]
    times.unlink()
    if proc.returncode:
        sys.exit(f"benchmarks.pipeline: `{' '.join(cmd)}` exited {proc.returncode}")
    return wall, records


def _exit_times(stages: list[dict], dvc: list[dict]) -> dict[int, float]:
    """pid -> seconds from the process's last Python line (its atexit) to DVC seeing it end: the
    interpreter's teardown (~1 s with mlflow's 2000 modules loaded) plus the shell around it."""
    children = [c for r in dvc for c in r.get("children", [])]
    out = {}
    for r in stages:
        match = [c for c in children if c["start"] <= r["start"] + 0.05 and r["end"] <= c["end"] + 0.05]
        if match:
            out[r["pid"]] = min(match, key=lambda c: c["end"] - c["start"])["end"] - r["end"]
    return out


def table(wall: float, records: list[dict]) -> dict:
    """Print the per-process rows and the totals; return them as one JSON-able dict. A stage's forked
    workers (scratchnet.runs.batch) get rows of their own under it: their time overlaps the stage's wall
    time, so the wall total counts the stage processes only, while the category totals add every
    process's seconds (workers included)."""
    dvc = [r for r in records if label(r["argv"]).startswith("dvc")]
    stages = [r for r in records if r not in dvc and not r.get("forked")]
    workers = [r for r in records if r.get("forked")]
    exits = _exit_times(stages, dvc)
    for r in stages:
        r["split"]["exit"] = exits.get(r["pid"], 0.0)
    columns = (*CATEGORIES, "exit")
    print(f"{'process':50s} {'wall':>6s} {'cpu':>6s} " + " ".join(f"{c[:8]:>8s}" for c in columns))
    for r in stages:
        print(f"{label(r['argv'])[:50]:50s} {r['wall'] + r['split']['exit']:6.1f} {r['cpu']:6.1f} "
              + " ".join(f"{r['split'].get(c, 0.0):8.2f}" for c in columns))
        for w in (w for w in workers if w["ppid"] == r["pid"]):
            print(f"{'  worker ' + str(w['pid']):50s} {w['wall']:6.1f} {w['cpu']:6.1f} "
                  + " ".join(f"{w['split'].get(c, 0.0):8.2f}" for c in columns))
    every = stages + workers
    totals = {c: sum(r["split"].get(c, 0.0) for r in every) for c in columns}
    stage_wall = sum(r["wall"] + r["split"]["exit"] for r in stages)
    cpu = sum(r["cpu"] for r in every)
    print(f"{f'all {len(stages)} stages ({len(workers)} workers)':50s} {stage_wall:6.1f} {cpu:6.1f} "
          + " ".join(f"{totals[c]:8.2f}" for c in columns))
    dvc_cpu = sum(r["cpu"] for r in dvc)
    load = os.getloadavg()
    print(f"dvc repro: {wall:.1f} s wall; the stage processes {stage_wall:.1f} s (exit: teardown after the "
          f"last line); DVC's own share {wall - stage_wall:.1f} s wall ({dvc_cpu:.1f} s of DVC CPU); CPU of "
          f"stages and workers {cpu:.1f} s; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores")
    return {"wall": wall, "stage_wall": stage_wall, "dvc_cpu": dvc_cpu, "cpu": cpu, "totals": totals,
            "load": load, "processes": [{"process": label(r["argv"]), "worker": bool(r.get("forked")),
                                         "wall": r["wall"] + r["split"].get("exit", 0.0), "cpu": r["cpu"],
                                         "split": r["split"]} for r in every]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="re-run every stage (dvc repro --force)")
    parser.add_argument("--json", type=Path, help="write the figures to this JSON file")
    parser.add_argument("extra", nargs="*", help="more dvc repro arguments (after --)")
    args = parser.parse_args(argv)
    result = table(*run(args.extra, args.force))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
