"""A run's outputs: written into a staging folder swapped in whole (over a previous run's only), with a
portable config.yaml."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scratchnet.data import Dataset
from scratchnet.files import umask, write_csv, write_json, write_text
from scratchnet.models import save_model
from scratchnet.nn import Network
from scratchnet.runs import guard
from scratchnet.tracking.process import Process, dead_reason, this_process

log = logging.getLogger(__name__)

COST_HEADER = ("epoch", "cost")  # cost.csv; dvc.yaml's plots name the same columns


class OutputError(Exception):
    """The outputs cannot be written: output_dir under a file, no permission, disk full."""

    def __init__(self, output_dir: Path, error: OSError):
        reason = f"{error.strerror or error}" + (f" ({error.filename})" if error.filename else "")
        if error.filename and Path(error.filename).is_file():
            reason = f"{error.filename} is a file, not a folder"
        super().__init__(f"cannot write the outputs to {output_dir}: {reason}; "
                         f"choose another output_dir= or free space there")


def reroot(tree, old_root: str, new_root: str):
    """`tree` (dicts, lists, strings) with every string equal to old_root or under it (old_root/...)
    moved onto new_root; other values untouched."""
    if isinstance(tree, dict):
        return {k: reroot(v, old_root, new_root) for k, v in tree.items()}
    if isinstance(tree, list):
        return [reroot(v, old_root, new_root) for v in tree]
    if isinstance(tree, str) and (tree == old_root or tree.startswith(old_root + os.sep)):
        return new_root + tree[len(old_root):]
    return tree


# a sweep job's context names MLflow runs, not what is trained: new on every sweep, so config.yaml
# (a DVC output) writes them as null; the run's MLflow params keep them
RUN_CONTEXT_KEYS = ("parent_run_id", "sweep")


def portable_config(cfg: DictConfig) -> dict:
    """The resolved config with paths.root written as "." and every path under it as ./..., and the
    sweep context (tracking.parent_run_id, tracking.sweep) as null, so config.yaml is the same in
    every checkout and on every run; `reroot(config, ".", root)` undoes the paths."""
    config = reroot(OmegaConf.to_container(cfg, resolve=True), str(Path(cfg.paths.root)), ".")
    for key in RUN_CONTEXT_KEYS:
        if key in config.get("tracking", {}):
            config["tracking"][key] = None
    return config


def write_outputs(folder: Path, cfg: DictConfig, network: Network, ds: Dataset, costs: list[tuple[int, float]],
                  metrics: dict, fit_seconds: float) -> None:
    """metrics.json, timing.json, cost.csv, model.npz, config.yaml and plots/ into `folder`, each file atomically."""
    from scratchnet.reports import plots  # matplotlib only once there is something to draw

    # fit_seconds differs on every run: it lives in timing.json so metrics.json (a DVC metric) is
    # byte-identical when a stage re-runs; MLflow still gets fit_seconds as a metric
    write_json(folder / "metrics.json", metrics)
    write_json(folder / "timing.json", {"fit_seconds": fit_seconds})
    write_csv(folder / "cost.csv", COST_HEADER, costs)
    save_model(network, folder / "model.npz", ds.classes, ds.image_shape)  # class names: predict prints them
    write_text(folder / "config.yaml", "# the composed config; paths are relative to paths.root, the checkout\n"
               + OmegaConf.to_yaml(OmegaConf.create(portable_config(cfg))))
    title = f"{cfg.name}: lr={cfg.optimizer.lr:g}, layers {network.describe()}"
    plots.cost_curve(costs, folder / "plots" / "cost.png", title)
    if ds.n_features == 2:
        accuracy = metrics["train"]["accuracy"]
        plots.decision_boundary(network, ds.X_train, ds.Y_train, folder / "plots" / "decision_boundary.png",
                                f"{cfg.name}: train accuracy {100 * accuracy:.2f}%")


def _staging_prefix(output_dir: Path) -> str:
    """.<name>.<pid>-<start ticks>-<place>. : the staging folder names the process that owns it."""
    me = this_process()
    return f".{output_dir.name}.{me.pid}-{me.start}-{me.place}."


def clean_stale_staging(output_dir: Path) -> list[Path]:
    """Remove the staging folders beside output_dir that processes of this host, now dead, left
    behind (a hard kill mid-write); the removed paths. Those of live processes stay."""
    pattern = re.compile(re.escape(f".{output_dir.name}.") + r"(\d+)-(-?\d+)-([0-9a-f]{8})\.[^./]+\.tmp")
    me, removed = this_process(), []
    try:
        siblings = list(output_dir.parent.iterdir())
    except OSError:
        return removed
    for path in siblings:
        match = pattern.fullmatch(path.name)
        if not match or match[3] != me.place or path.is_symlink() or not path.is_dir():
            continue
        owner = Process(me.host, me.machine, me.boot, me.pid_ns, int(match[1]), int(match[2]))
        if dead_reason(owner, me):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            log.info("removed %s, the staging folder of a dead process", path)
    return removed


@contextlib.contextmanager
def staged(output_dir: Path, root: Path | None = None, keep: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield an empty staging folder beside output_dir; on success it replaces output_dir whole.

    output_dir must be absent, empty or a previous run's outputs (runs.guard), checked again just
    before the swap; the staging folder gets the marker listing what the run wrote. On any error
    (or Ctrl-C) the staging folder is removed and output_dir keeps its previous content. The swap
    is two renames (old out of the way, new in), so only a crash between them can leave output_dir
    missing, with the previous set still at .<name>.old-*.
    """
    guard.check_replaceable(output_dir, root, keep)
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_staging(output_dir)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(output_dir), suffix=".tmp", dir=output_dir.parent))
    except OSError as error:
        raise OutputError(output_dir, error) from None
    staging.chmod(0o777 & ~umask())  # mkdtemp makes it 0700; the outputs are an ordinary folder
    try:
        yield staging
        guard.write_marker(staging)
        _swap(staging, output_dir, guard.check_replaceable(output_dir, root, keep))
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):  # disk full, permissions: the previous outputs are intact
            raise OutputError(output_dir, error) from error
        raise


def _swap(staging: Path, output_dir: Path, previous: set[str]) -> None:
    old = None
    if output_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.old-", dir=output_dir.parent))
        os.replace(output_dir, old)  # old is an empty folder, so the rename may replace it
    try:
        os.replace(staging, output_dir)
    except BaseException:
        if old is not None:
            os.replace(old, output_dir)
        raise
    if old is not None:
        guard.remove_run_files(old, previous)  # what the previous run wrote, nothing else


def check_output_dir(output_dir: Path, root: Path | None = None, keep: Iterable[Path] = ()) -> None:
    """Fail before training, not after it, when output_dir may not be replaced (runs.guard) or its
    folder cannot be created or written."""
    guard.check_replaceable(output_dir, root, keep)
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".check", dir=output_dir.parent)).rmdir()
    except OSError as error:
        raise OutputError(output_dir, error) from None
