"""The benchmark: course-style baseline, both scratchnet paths, PyTorch and bare GEMM, in one run.

    python -m benchmarks.bench [--quick] [--threads N] [--repeats R] [--json PATH] [--no-torch]

(from the repo root; `make bench`). Every implementation trains the course's 4-layer cat net from
the same initial weights; rounds run the implementations one after another (round-robin), so a
slow spell of a shared machine hits all of them alike, and each time reported is the median over
rounds. A time is the whole training call: from the seed to trained weights (initialisation,
dtype casts, the row-space precomputation and the final materialisation of W1 included),
evaluation excluded. Lives outside the installed package: it measures it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks import output
from benchmarks.cases import ADAM_EPOCHS, CAT_ITERATIONS, PLANAR_ITERATIONS, QUICK_ITERATIONS
from benchmarks.sections import cat_section, goals, memory_section, planar_section, startup_section
from scratchnet.data import DataError, load_cat
from scratchnet.files import write_json
from scratchnet.paths import repo_root

DEFAULT_DATA = repo_root() / "data" / "raw" / "cat"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked: threads and repeats >= 1; repeats defaults to 1 (--quick) or 3."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ITERATIONS} iterations, 1 repeat (a smoke run, not a measurement)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="rounds; the median is reported (default 3)")
    parser.add_argument("--json", type=Path, default=None, help="write every figure to this JSON file")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the cat .h5 files")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1; got {args.threads}")
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; got {args.repeats}")
    return args


def _torch(args: argparse.Namespace):
    """PyTorch on args.threads threads, or None (not installed, or --no-torch)."""
    if args.no_torch:
        return None
    try:
        import torch
    except ImportError:
        print("PyTorch not importable: skipping it (pip install -e '.[bench]' installs torch==2.13.0)")
        return None
    torch.set_num_threads(args.threads)
    return torch


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quick = QUICK_ITERATIONS if args.quick else None
    try:
        ds = load_cat(args.data)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    torch = _torch(args)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads):
        meta = output.blas_info(args.threads) | {"torch": getattr(torch, "__version__", None),
                                                 "quick": args.quick, "repeats": args.repeats}
        output.print_blas(meta)
        cat = cat_section(ds, quick or CAT_ITERATIONS, args.repeats, torch)
        output.print_cat(cat, args.repeats)
        planar = planar_section(quick or PLANAR_ITERATIONS, quick or ADAM_EPOCHS, args.repeats)
    output.print_planar(planar, args.repeats)
    if cat["torch_skipped"]:
        print(cat["torch_skipped"])
    memory = memory_section(args.data, quick or CAT_ITERATIONS, args.threads)
    output.print_memory(memory)
    startup = startup_section(args.threads, args.repeats)
    output.print_startup(startup)
    result_goals = goals(cat, planar)
    output.print_goals(result_goals)
    if args.json is not None:
        write_json(args.json, {"meta": meta, "cat": cat, "planar": planar, "memory": memory,
                               "startup": startup, "goals": result_goals})
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
