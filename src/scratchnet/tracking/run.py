"""One MLflow run: `open_run` starts it and ends it FINISHED, FAILED or KILLED; `RunLog` writes to it.

    with tracking.open_run(cfg.tracking, mlflow_experiment="cat", run_name="deep_cat", params=cfg_dict,
                           tags={"model_family": "deep"}) as run:
        run.log_dataset(ds)
        run.log_costs(fitted.costs)
        run.log_metrics({"train/accuracy": 0.98})
        run.log_model("experiments/deep_cat/model.npz")

The MLflow experiment of a run is its data set. A run ends FINISHED on normal exit, FAILED (tag
`error`) on an exception, KILLED on Ctrl-C or on a SystemExit(130 | 143) raised by a signal
handler, and the exception propagates. MlflowClient.log_batch splits at MLflow's own limits
(params, tags and metrics per request), so the writes here hand it whole lists.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from scratchnet.tracking.provenance import provenance_tags
from scratchnet.tracking.stale import end_dead_runs, process_tags
from scratchnet.tracking.store import (
    TrackingError,
    absolute,
    connect,
    get_or_create_experiment,
    last_word,
    resolve_uri,
    short,
    store_lock,
    translated,
)

log = logging.getLogger(__name__)

# MLflow 3.17's value limits (mlflow.utils.validation); tests check they still match. MLflow rejects
# longer values rather than cutting them, so they are cut here
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_DATASET_DIGEST_SIZE = 36  # our sha256 hex has 64 chars: the input keeps the first 36, the profile all
KILLED_EXIT_CODES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM: what signal handlers exit with
DATASET_CONTEXT_TAG = "mlflow.data.context"


def _plain(value: Any) -> Any:
    """Mappings, dataclasses and sequences (DictConfig, ListConfig too) as dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)  # paths, enums, numpy scalars


def flatten(nested: Mapping, sep: str = ".") -> dict[str, str | int | float | bool]:
    """{"a": {"b": 1, "c": [1, 2]}} -> {"a.b": 1, "a.c": "[1, 2]"}; None becomes "null" as in YAML."""
    flat: dict[str, str | int | float | bool] = {}

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, f"{prefix}{sep}{key}" if prefix else key)
        elif isinstance(value, list):
            flat[prefix] = json.dumps(value)
        else:
            flat[prefix] = "null" if value is None else value

    walk(_plain(nested), "")
    return flat


def _text(value: Any, limit: int) -> str:
    if isinstance(value, bool):
        value = str(value).lower()  # as YAML writes it
    elif value is None:
        value = "null"
    value = str(value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _now_ms() -> int:
    return int(time.time() * 1000)


class RunLog:
    """One MLflow run, written in batches. With tracking=none every method does nothing and the
    ids are None."""

    def __init__(self, client=None, run_id: str | None = None, experiment_id: str | None = None,
                 tracking_uri: str | None = None) -> None:
        self._client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.tracking_uri = tracking_uri

    def __repr__(self) -> str:
        return f"RunLog(run_id={self.run_id!r}, experiment_id={self.experiment_id!r}, uri={self.tracking_uri!r})"

    @property
    def active(self) -> bool:
        return self._client is not None

    @property
    def client(self):
        """The MlflowClient the run writes through (None for tracking=none), to read the store back."""
        return self._client

    def _batch(self, what: str, *, metrics=(), params=(), tags=()) -> None:
        with translated(f"{what} (run {self.run_id})", self.tracking_uri):
            self._client.log_batch(self.run_id, metrics=metrics, params=params, tags=tags)

    def log_params(self, params: Mapping) -> None:
        """Flattened params (dotted keys), values cut at MLflow's 6000 chars."""
        if not self.active:
            return
        from mlflow.entities import Param

        items = [Param(k, _text(v, MAX_PARAM_VAL_LENGTH)) for k, v in flatten(params).items()]
        self._batch("logging params", params=items)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags (None values skipped)."""
        if not self.active:
            return
        from mlflow.entities import RunTag

        items = [RunTag(str(k), _text(v, MAX_TAG_VAL_LENGTH)) for k, v in tags.items() if v is not None]
        self._batch("setting tags", tags=items)

    def log_costs(self, costs: Iterable[tuple[int, float]], key: str = "train/cost") -> None:
        """The recorded costs [(epoch, cost)] as metric `key` with step=epoch."""
        if not self.active:
            return
        from mlflow.entities import Metric

        now = _now_ms()
        items = [Metric(key, float(cost), now, int(step)) for step, cost in costs]
        self._batch(f"logging {key}", metrics=items)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Final metrics in one log_batch; nested mappings join with "/" ({"train": {"accuracy": x}}
        -> "train/accuracy"); None values skipped. Log a final `train/cost` at step=epochs so
        its history stays ordered by epoch."""
        if not self.active:
            return
        from mlflow.entities import Metric

        now = _now_ms()
        items = []
        for key, value in flatten(metrics, sep="/").items():
            if value == "null":
                continue
            try:
                items.append(Metric(key, float(value), now, int(step)))
            except (TypeError, ValueError):
                raise TrackingError(f"metric {key!r}: expected a number, found {value!r}") from None
        self._batch("logging metrics", metrics=items)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        if not self.active:
            return
        if not Path(path).is_file():
            raise TrackingError(f"artifact {path} not found (expected a file)")
        with translated(f"uploading artifact {path}", self.tracking_uri):
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        if not self.active:
            return
        if not Path(local_dir).is_dir():
            raise TrackingError(f"artifact folder {local_dir} not found (expected a directory)")
        with translated(f"uploading artifacts from {local_dir}", self.tracking_uri):
            self._client.log_artifacts(self.run_id, str(local_dir), artifact_path)

    def log_dataset(self, ds, context: str = "training", source: str | os.PathLike | None = None) -> None:
        """Record `ds` (a scratchnet.data.Dataset) as a run input: name, digest, shapes; no data.

        MLflow keeps at most 36 digest characters: the input's digest is ds.digest()[:36], the
        profile holds the full sha256. `source` is the file or folder it was read from, if known.
        """
        if not self.active:
            return
        import numpy as np
        from mlflow.data.schema import TensorDatasetSchema
        from mlflow.entities import Dataset as DatasetEntity
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.types import Schema, TensorSpec

        digest = ds.digest()
        schema = TensorDatasetSchema(  # MLflow's convention: rows are examples
            features=Schema([TensorSpec(ds.X_train.dtype, (-1, ds.n_features), "X")]),
            targets=Schema([TensorSpec(np.dtype(ds.Y_train.dtype), (-1,), "Y")]))
        profile = {"m_train": ds.m_train, "m_test": None if ds.X_test is None else int(ds.X_test.shape[1]),
                   "n_features": ds.n_features, "classes": list(ds.classes), "sha256": digest}
        if source is None:
            source_type, source_json = "code", json.dumps({"tags": {"scratchnet.dataset": ds.name}})
        else:
            source_type, source_json = "local", json.dumps({"uri": str(absolute(source))})
        entity = DatasetEntity(name=ds.name, digest=digest[:MAX_DATASET_DIGEST_SIZE],
                               source_type=source_type, source=source_json,
                               schema=json.dumps(schema.to_dict()), profile=json.dumps(profile))
        dataset_input = DatasetInput(entity, tags=[InputTag(DATASET_CONTEXT_TAG, context)])
        # under the store lock: parallel sweep jobs logging the same new dataset race on its
        # UNIQUE(experiment_id, name, digest) row in a SQLite store (IntegrityError in one of them)
        with translated(f"logging dataset {ds.name!r}", self.tracking_uri), store_lock(self.tracking_uri):
            self._client.log_inputs(self.run_id, datasets=[dataset_input])

    def log_model(self, model_npz_path: str | os.PathLike) -> None:
        """The model file as artifact model/<name>.npz and an MLflow pyfunc model under pyfunc/
        (serve it: `mlflow models serve -m runs:/<run_id>/pyfunc --env-manager local`)."""
        if not self.active:
            return
        self.log_artifact(model_npz_path, "model")
        with tempfile.TemporaryDirectory() as tmp:
            from scratchnet.tracking.pyfunc import save_pyfunc  # mlflow.pyfunc only when a model is logged

            save_pyfunc(Path(model_npz_path), Path(tmp) / "pyfunc")
            self.log_artifacts(Path(tmp) / "pyfunc", "pyfunc")

    def _end(self, status: str, error: BaseException | None = None) -> None:
        """Set the terminal status (with tag `error` for FAILED/KILLED)."""
        with translated(f"ending run {self.run_id} as {status}", self.tracking_uri):
            if error is not None:
                self.set_tags({"error": short(error, MAX_TAG_VAL_LENGTH)})
            self._client.set_terminated(self.run_id, status)


def existing_run(tracking_uri: str, run_id: str) -> RunLog:
    """A RunLog for a run that already exists (e.g. to attach an analysis after training); its
    status is left as it is. Raises TrackingError when the store or the run cannot be reached."""
    client = connect(tracking_uri)
    with translated(f"looking up run {run_id}", tracking_uri):
        info = client.get_run(run_id).info
    return RunLog(client, run_id, info.experiment_id, tracking_uri)


def end_run(tracking_uri: str, run_id: str, status: str, error: BaseException) -> None:
    """End a run its own process left open (it died, or was killed): `status`, tag `error`."""
    existing_run(tracking_uri, run_id)._end(status, error)


def _status_for(error: BaseException) -> str:
    """KILLED for Ctrl-C / signal exits, FINISHED for a clean sys.exit(0), FAILED otherwise."""
    if isinstance(error, (KeyboardInterrupt, GeneratorExit)):
        return "KILLED"
    if isinstance(error, SystemExit):
        if error.code in KILLED_EXIT_CODES:
            return "KILLED"
        if error.code in (0, None):
            return "FINISHED"
    return "FAILED"


@contextlib.contextmanager
def open_run(tracking_cfg: Any, *, mlflow_experiment: str, run_name: str, params: Mapping, tags: Mapping,
             parent_run_id: str | None = None, root: str | os.PathLike | None = None) -> Iterator[RunLog]:
    """Start an MLflow run in `mlflow_experiment` (created if missing), yield its RunLog, then end it.

    Tags: `tags` + git_commit, git_dirty, data_dvc_md5 (from the repo at `root`, found if None),
    mlflow.runName, mlflow.parentRunId and the process's (tracking.stale). Params: flatten(params).
    On an exception the run ends FAILED (KILLED for Ctrl-C / SIGTERM exits) with tag `error`, and
    the exception propagates; after a store error that ending is one short attempt (last_word).
    Before the run starts, runs that dead processes of this host left RUNNING are ended KILLED.
    """
    uri = resolve_uri(tracking_cfg)
    if uri is None:
        yield RunLog()
        return
    client = connect(uri)
    experiment_id = get_or_create_experiment(client, tracking_cfg, uri, mlflow_experiment)
    end_dead_runs(client, uri, quiet=True)
    run_tags = {str(k): _text(v, MAX_TAG_VAL_LENGTH) for k, v in tags.items() if v is not None}
    run_tags |= provenance_tags(root) | process_tags()
    run_tags["mlflow.runName"] = run_name
    if "git_commit" in run_tags:
        run_tags["mlflow.source.git.commit"] = run_tags["git_commit"]  # the UI shows this one
    if parent_run_id:
        run_tags["mlflow.parentRunId"] = parent_run_id
    with translated(f"creating run {run_name!r} in experiment {mlflow_experiment!r}", uri):
        info = client.create_run(experiment_id, tags=run_tags, run_name=run_name).info
    run = RunLog(client, info.run_id, experiment_id, uri)
    try:
        run.log_params(params)
        yield run
    except BaseException as error:
        status = _status_for(error)
        try:
            # the store just failed: one short attempt, not another full round of retries
            with last_word() if isinstance(error, TrackingError) else contextlib.nullcontext():
                run._end(status, None if status == "FINISHED" else error)
        except TrackingError as end_error:  # keep the original exception; say the run is stuck
            log.warning("%s; run %s may show RUNNING until the next start on this store", end_error, info.run_id)
        raise
    run._end("FINISHED")
