"""Never replace a folder a run did not write: the output folder's marker and the checks on output_dir.

A run swaps its outputs in whole, moving what sat at output_dir aside and deleting it (runs.outputs
.staged). So output_dir may be replaced only when it is absent, empty, or provably a previous run's
outputs: every file in it listed in the marker (.scratchnet-run.json) that run wrote, or, for a
folder from before the marker existed, nothing but the files a run writes with a config.yaml a run
wrote. Whatever else exists is refused before training, as are the repo root and its ancestors, /,
the home folder, the project's own folders and the data, whatever they hold. Deleting the previous
set removes exactly its listed files, so a file added meanwhile survives.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from scratchnet.files import write_json
from scratchnet.paths import CHECKOUT
from scratchnet.tracking.process import this_process

log = logging.getLogger(__name__)

MARKER = ".scratchnet-run.json"  # in every output folder: what wrote it and the files it wrote
MARKER_FORMAT = 1
WRITTEN_BY = "scratchnet"  # runs.outputs.staged: train and any stage that writes through it
# what a run wrote before the marker existed; config.yaml opens with CONFIG_HEADER
LEGACY_FILES = frozenset({"metrics.json", "timing.json", "cost.csv", "model.npz", "config.yaml", "run.json",
                          "plots/cost.png", "plots/decision_boundary.png"})
LEGACY_REQUIRED = ("metrics.json", "config.yaml")
CONFIG_HEADER = "# the composed config"
# the project's own folders under the root (and under the code's checkout): never an output folder
PROJECT_FOLDERS = ("conf", "src", "data", "data/raw", "data/generated", "experiments", "experiments/sweeps",
                   "tests", "benchmarks", "scripts", "outputs", "multirun", "mlartifacts", "dvc_plots",
                   ".git", ".dvc", ".ci", ".venv")


class OutputDirRefused(Exception):
    """output_dir names a folder that is not a previous run's outputs (or a protected one)."""

    def __init__(self, output_dir: Path, reason: str):
        super().__init__(f"refusing output_dir {output_dir}: {reason}; nothing was deleted; choose "
                         f"another output_dir= (a new folder, or one a previous run wrote)")


def protected(root: Path | None, keep: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """(folder, what it is) for every folder an output folder may neither be nor contain, resolved;
    the run's root first, so a message names it rather than a folder above it."""
    named = [] if root is None else [(Path(root), "the repo root (paths.root)")]
    for base in ([Path(root)] if root is not None else []) + [CHECKOUT]:
        named += [(base / f, f"the project's {f}/ folder") for f in PROJECT_FOLDERS]
    named += [(Path("/"), "/"), (Path.home(), "the home folder"), (CHECKOUT, "the code's checkout")]
    named += [(Path(k), "the run's data") for k in keep]
    return [(Path(os.path.realpath(f)), what) for f, what in named]


def _entries(folder: Path) -> tuple[set[str], set[str], list[str]]:
    """(regular files, folders, anything else) under `folder`, as relative posix paths."""
    files, dirs, odd = set(), set(), []
    for here, subdirs, names in os.walk(folder):  # never follows symbolic links
        base = Path(here).relative_to(folder)
        for name in [*subdirs, *names]:
            path, rel = Path(here) / name, (base / name).as_posix()
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                odd.append(rel)
            else:
                (files if path.is_file() else dirs).add(rel)
    return files, dirs, odd


def _parents(files: set[str]) -> set[str]:
    return {p.as_posix() for f in files for p in Path(f).parents if p != Path(".")}


def marked_files(folder: Path) -> set[str] | None:
    """The files the marker in `folder` lists, or None without a readable marker."""
    try:
        marker = json.loads((folder / MARKER).read_text())
        if marker.get("written_by") != WRITTEN_BY or marker.get("format") != MARKER_FORMAT:
            return None
        return {str(f) for f in marker["files"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _legacy(folder: Path, files: set[str]) -> bool:
    """A run's folder from before the marker: a run's file names only, and a run's config.yaml."""
    if not files <= LEGACY_FILES or not all(f in files for f in LEGACY_REQUIRED):
        return False
    try:
        with open(folder / "config.yaml") as f:
            return f.readline().startswith(CONFIG_HEADER)
    except OSError:
        return False


def run_files(output_dir: Path) -> set[str]:
    """The files of the previous run in output_dir (empty for an absent or empty folder); raises
    OutputDirRefused when anything there is not a run's."""
    if not output_dir.exists() and not output_dir.is_symlink():
        return set()
    if output_dir.is_symlink():
        raise OutputDirRefused(output_dir, f"it is a symbolic link (to {os.readlink(output_dir)}); "
                                           f"give the folder it points to")
    if not output_dir.is_dir():
        raise OutputDirRefused(output_dir, "it is a file, not a folder")
    files, dirs, odd = _entries(output_dir)
    if odd:
        raise OutputDirRefused(output_dir, f"it holds {odd[0]}, a link or special file no run writes")
    if not files and not dirs:
        return set()  # empty
    marked = marked_files(output_dir)
    if marked is None and _legacy(output_dir, files):
        marked = LEGACY_FILES
    if marked is None:
        shown = sorted(files | dirs)[:3]
        raise OutputDirRefused(output_dir, f"it exists and is not a previous run's outputs (it holds "
                                           f"{', '.join(shown)}{', ...' if len(files | dirs) > 3 else ''} "
                                           f"and no {MARKER})")
    extra = sorted((files - marked - {MARKER}) | (dirs - _parents(marked)))
    if extra:
        raise OutputDirRefused(output_dir, f"it holds what no run wrote there ({', '.join(extra[:3])}"
                                           f"{', ...' if len(extra) > 3 else ''}) beside a previous run's outputs")
    return files


def check_replaceable(output_dir: Path, root: Path | None, keep: Iterable[Path] = ()) -> set[str]:
    """Refuse output_dir unless a run may replace it; return the previous run's files there."""
    if output_dir.name in (".", "..") or str(output_dir) in ("", "."):
        raise OutputDirRefused(output_dir, "'.' and '..' are not folder names")
    real = Path(os.path.realpath(output_dir))
    folders = protected(root, keep)
    for folder, what in folders:
        if real == folder:
            raise OutputDirRefused(output_dir, f"it is {what}" + (f" ({real})" if real != output_dir else ""))
    for folder, what in folders:
        if folder.is_relative_to(real):
            raise OutputDirRefused(output_dir, f"it holds {what} ({folder})")
    return run_files(output_dir)


def write_marker(folder: Path) -> None:
    """The marker listing every file in `folder` (the staging folder, complete), written last."""
    files, _, _ = _entries(folder)
    me = this_process()
    write_json(folder / MARKER, {"written_by": WRITTEN_BY, "format": MARKER_FORMAT, "files": sorted(files - {MARKER}),
                                 "program": sys.argv[0], "host": me.host, "pid": me.pid})


def remove_run_files(folder: Path, files: set[str]) -> None:
    """Delete the listed files of a previous run's folder, then its emptied folders; anything else
    (a file added since the check) stays, and the folder with it."""
    for name in files:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            path.unlink()
    for here, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):  # deepest first
        try:
            os.rmdir(here)
        except OSError:
            pass
    if folder.exists():
        left = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))
        log.warning("kept %s: it holds %s, which no run wrote", folder, ", ".join(left[:3]))
