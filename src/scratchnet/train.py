"""Train one configured run: `python -m scratchnet.train experiment=deep_cat [key=value ...]`.

`train(cfg)` is pure: a composed config in, the results out, with the run's outputs written to
cfg.output_dir as one set (a staging folder swapped in only after everything succeeded) and the
run recorded by scratchnet.tracking. `main()` is the thin Hydra entry point around it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from scratchnet import tracking
from scratchnet.config import CONF_DIR, ConfigError, model_family, optimizer_kwargs, validate
from scratchnet.data import DataError, Dataset
from scratchnet.datasets import data_path, load_data
from scratchnet.io import UMASK, ModelFileError, save_model, write_json, write_text
from scratchnet.nn import DivergenceError, FitResult, Network, fit, make_optimizer, make_schedule
from scratchnet.progress import Progress
from scratchnet.provenance import under_root
from scratchnet.sweep import in_multirun, job_run_context

log = logging.getLogger("scratchnet.train")  # not __name__: that is "__main__" under -m


class OutputError(Exception):
    """The outputs cannot be written: output_dir under a file, no permission, disk full."""

    def __init__(self, output_dir: Path, error: OSError):
        reason = f"{error.strerror or error}" + (f" ({error.filename})" if error.filename else "")
        if error.filename and Path(error.filename).is_file():
            reason = f"{error.filename} is a file, not a folder"
        super().__init__(f"cannot write the outputs to {output_dir}: {reason}; "
                         f"choose another output_dir= or free space there")


# bad input, a diverging run, an unreachable tracking store or unwritable outputs: one line, exit 2
EXPECTED_ERRORS = (ConfigError, DataError, ModelFileError, DivergenceError, tracking.TrackingError,
                   OutputError)
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as a KeyboardInterrupt so it takes Ctrl-C's path: staging removed, run KILLED."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def build_network(cfg: DictConfig, ds: Dataset, rng: np.random.RandomState) -> Network:
    """layer_dims = [n_x, *model.hidden, n_out]: n_x from the data, n_out 1 (sigmoid) or n_classes (softmax)."""
    model = cfg.model
    n_classes = len(ds.classes)
    if model.output_activation == "sigmoid" and n_classes > 2:
        raise ConfigError("model.output_activation", "sigmoid",
                          f"softmax for the {ds.name} set's {n_classes} classes (a sigmoid output has 2)")
    n_out = 1 if model.output_activation == "sigmoid" else n_classes
    layer_dims = [ds.n_features, *model.hidden, n_out]
    return Network.initialise(layer_dims, model.hidden_activation, model.output_activation, model.initializer,
                              rng=rng, dtype=cfg.dtype, keep_prob=model.keep_prob)


def make_lr_schedule(train_cfg):
    """The per-epoch lr schedule train.lr_schedule names, or None for a constant lr."""
    if train_cfg.lr_schedule == "constant":
        return None
    kwargs = {"decay_rate": train_cfg.decay_rate}
    if train_cfg.lr_schedule == "step":
        kwargs["interval"] = train_cfg.decay_interval
    return make_schedule(train_cfg.lr_schedule, **kwargs)


def run_name(name: str, overrides: list[str]) -> str:
    """The experiment name plus the overrides that change it: 'deep_cat optimizer.lr=0.01'."""
    # where outputs, data and runs go does not change the model: keep those out of the name
    plumbing = ("experiment=", "+experiment=", "output_dir=", "paths.", "hydra.", "hydra/", "tracking")
    extra = [o for o in overrides if not o.lstrip("+~").startswith(plumbing)]
    return " ".join([name, *extra])


def hydra_overrides() -> list[str]:
    """The command line's overrides when running under Hydra's main, else []."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def evaluate(network: Network, ds: Dataset, lambd: float) -> dict:
    """Accuracies (fractions) and the trained model's cost on the training set."""
    network.forward(ds.X_train)
    cost = float(network.cost(network.targets(ds.Y_train), lambd))  # after the last update
    test = None if ds.X_test is None else network.accuracy(ds.X_test, ds.Y_test)
    return {"train": {"accuracy": network.accuracy(ds.X_train, ds.Y_train), "cost": cost},
            "test": {"accuracy": test}}


def write_outputs(folder: Path, cfg: DictConfig, network: Network, ds: Dataset, result: FitResult,
                  metrics: dict) -> None:
    """metrics.json, timing.json, cost.csv, model.npz, config.yaml and plots/ into `folder`, each file atomically."""
    from scratchnet import plots  # matplotlib only once there is something to draw

    # fit_seconds differs on every run: it lives in timing.json so metrics.json (a DVC metric) is
    # byte-identical when a stage re-runs; MLflow still gets fit_seconds as a metric
    write_json(folder / "metrics.json", {k: v for k, v in metrics.items() if k != "fit_seconds"})
    write_json(folder / "timing.json", {"fit_seconds": metrics["fit_seconds"]})
    write_text(folder / "cost.csv", "iteration,cost\n" + "".join(f"{i},{c!r}\n" for i, c in result.costs))
    save_model(network, folder / "model.npz")
    write_text(folder / "config.yaml", "# the composed config; paths are relative to paths.root, the checkout\n"
               + OmegaConf.to_yaml(OmegaConf.create(portable_config(cfg))))
    title = f"{cfg.name}: lr={cfg.optimizer.lr:g}, layers {network.layer_dims}"
    plots.cost_curve(result.costs, folder / "plots" / "cost.png", title)
    if ds.n_features == 2:
        accuracy = metrics["train"]["accuracy"]
        plots.decision_boundary(network, ds.X_train, ds.Y_train, folder / "plots" / "decision_boundary.png",
                                f"{cfg.name}: train accuracy {100 * accuracy:.2f}%")


def portable_config(cfg: DictConfig) -> dict:
    """The resolved config with every path under paths.root written relative to it (the root as "."),
    so config.yaml is the same in every checkout of the repo."""
    root = str(Path(cfg.paths.root))

    def relative(node):
        if isinstance(node, dict):
            return {k: relative(v) for k, v in node.items()}
        if isinstance(node, list):
            return [relative(v) for v in node]
        if isinstance(node, str) and (node == root or node.startswith(root + os.sep)):
            return os.path.relpath(node, root)
        return node

    return relative(OmegaConf.to_container(cfg, resolve=True))


@contextlib.contextmanager
def staged(output_dir: Path):
    """Yield an empty staging folder beside output_dir; on success it replaces output_dir whole.

    On any error (or Ctrl-C) the staging folder is removed and output_dir keeps its previous
    content. The swap is two renames (old out of the way, new in), so only a crash between them
    can leave output_dir missing, with the previous set still at .<name>.old-*.
    """
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".tmp", dir=output_dir.parent))
    except OSError as error:
        raise OutputError(output_dir, error) from None
    staging.chmod(0o777 & ~UMASK)  # mkdtemp makes it 0700; the outputs are an ordinary folder
    try:
        yield staging
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
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):  # disk full, permissions: the previous outputs are intact
            raise OutputError(output_dir, error) from error
        raise


def check_output_dir(output_dir: Path) -> None:
    """Fail before training, not after it, when output_dir's folder cannot be created or written."""
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.", suffix=".check", dir=output_dir.parent)).rmdir()
    except OSError as error:
        raise OutputError(output_dir, error) from None


# One BLAS thread for every run: OpenBLAS sums some products in another order with more threads, so
# the weights (and metrics.json) would depend on the core count and on the launcher (joblib jobs get
# cores // n_jobs threads). Measured on the 2-core dev machine, 1 thread is as fast for the row-space
# path (deep_cat 0.32 s either way) and faster under load for the plain path (2.6 s vs 8.5 s).
BLAS_THREADS = 1


def _fixed_blas_threads(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return func(*args, **kwargs)
    return wrapper


@_fixed_blas_threads
def train(cfg: DictConfig, overrides: list[str] | None = None) -> dict:
    """Validate, load the data, train, evaluate, write the outputs and record the run; return the metrics.

    `overrides` (default: Hydra's command-line overrides) name the MLflow run and its
    hydra_overrides tag. Returns metrics.json's content plus output_dir and run (the run.json ids).
    """
    validate(cfg)  # before any data is read
    overrides = hydra_overrides() if overrides is None else list(overrides)
    root = Path(cfg.paths.root)
    output_dir = under_root(cfg.output_dir, root)
    config = OmegaConf.to_container(cfg, resolve=True)

    ds = load_data(cfg.data, root)
    check_output_dir(output_dir)
    rng = np.random.RandomState(cfg.seed)  # the run's one generator: weights, then dropout / batches
    network = build_network(cfg, ds, rng)
    optimizer = make_optimizer(cfg.optimizer.name, **optimizer_kwargs(cfg.optimizer))
    tags = {"model_family": model_family(cfg.model.hidden), "experiment": cfg.name,
            "hydra_overrides": " ".join(overrides), "dataset": ds.name}
    log.info("%s: %s, layers %s, %d iterations, output %s", cfg.name, ds.name, network.layer_dims,
             cfg.train.iterations, output_dir)

    parent_run_id, sweep_tags = job_run_context()  # a multirun job: child of the sweep's run
    with tracking.open_run(cfg.tracking, experiment=ds.name, run_name=run_name(cfg.name, overrides),
                           params=config, tags=tags | sweep_tags,
                           parent_run_id=parent_run_id) as run:  # provenance: this code's checkout
        run.log_dataset(ds, context="training", source=data_path(cfg.data, root))
        # a diverging run overflows before its cost turns NaN: fit raises DivergenceError for it,
        # so NumPy's RuntimeWarnings would only repeat that message as noise
        with Progress(cfg.train.iterations, label=cfg.name) as progress, np.errstate(over="ignore", invalid="ignore"):
            result = fit(network, ds.X_train, ds.Y_train, optimizer=optimizer, iterations=cfg.train.iterations,
                         record_every=cfg.train.record_every, batch_size=cfg.train.batch_size,
                         lambd=cfg.train.lambd, rng=rng, path=cfg.train.path, on_record=progress,
                         schedule=make_lr_schedule(cfg.train), course_compat=cfg.train.course_compat)
        metrics = evaluate(network, ds, cfg.train.lambd)
        metrics |= {"fit_seconds": result.seconds, "iterations": result.iterations, "path": result.path,
                    "n_parameters": network.n_parameters}
        run_ids = {"run_id": run.run_id, "experiment_id": run.experiment_id, "tracking_uri": run.tracking_uri}
        with staged(output_dir) as staging:
            write_outputs(staging, cfg, network, ds, result, metrics)
            write_json(staging / "run.json", run_ids)
            start = time.perf_counter()
            run.log_costs(result.costs)
            # the trained model's cost closes the train/cost history at step = iterations
            run.log_metrics({"train/cost": metrics["train"]["cost"]}, step=result.iterations)
            run.log_metrics({"train/accuracy": metrics["train"]["accuracy"],
                             "test/accuracy": metrics["test"]["accuracy"], "fit_seconds": result.seconds},
                            step=result.iterations)
            run.log_artifacts(staging)
            run.log_model(staging / "model.npz")
            log.debug("tracking: logged the results in %.2f s", time.perf_counter() - start)
    log.info("%s: train accuracy %.4f, test accuracy %s, cost %.6f, %.1f s -> %s", cfg.name,
             metrics["train"]["accuracy"], metrics["test"]["accuracy"], metrics["train"]["cost"],
             result.seconds, output_dir)
    return metrics | {"output_dir": str(output_dir), "run": run_ids}


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def _main(cfg: DictConfig) -> None:
    try:
        metrics = train(cfg)
    except EXPECTED_ERRORS as error:
        if in_multirun():
            raise  # Hydra records the failed job; the sweep runs the others and lists it as failed
        log.debug("failed: %s", error)  # the log file keeps it; the console gets the one line below
        print(f"scratchnet-train: error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt as stop:
        what = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
        print(f"scratchnet-train: {what}; previous outputs kept", file=sys.stderr)
        code = EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        if in_multirun():
            sys.exit(code)  # the sweep's own clean-up (parent run KILLED) runs at exit
        # the run is ended and nothing is half-written: skip the 1-3 s interpreter teardown that
        # mlflow's imports (pandas, pyarrow, sqlalchemy) cost, so Ctrl-C returns at once
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    test = metrics["test"]["accuracy"]
    print(f"{cfg.name}: train accuracy {metrics['train']['accuracy']:.4f}, "
          f"test accuracy {'n/a' if test is None else f'{test:.4f}'}, "
          f"{metrics['fit_seconds']:.1f} s -> {metrics['output_dir']}")


def main() -> None:
    """Console script `scratchnet-train` (Hydra parses sys.argv)."""
    signal.signal(signal.SIGTERM, _on_sigterm)  # here, not in _main: joblib's workers keep their own
    _main()


if __name__ == "__main__":
    main()
