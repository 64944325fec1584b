"""The tracking layer: the only module that talks to MLflow (imported lazily, never for tracking=none).

    with tracking.open_run(cfg.tracking, experiment="cat", run_name="deep_cat", params=cfg_dict,
                           tags={"model_family": "deep"}) as run:
        run.log_dataset(ds)
        run.log_costs(fit.costs)                       # one log_batch per 1000 points
        run.log_metrics({"train/accuracy": 0.98})
        run.log_model("experiments/deep_cat/model.npz")

`tracking_cfg` is a mapping or an object with attributes: kind (local | server | none), db (SQLite file),
artifacts (artifact root), uri (server URI). Everything goes through one `MlflowClient` bound to the
resolved URI, so runs against different stores in one process do not interfere (no global mlflow
state). A run ends FINISHED on normal exit, FAILED (tag `error`) on an exception, KILLED on Ctrl-C or
on a SystemExit(130 | 143) raised by a signal handler, and the exception propagates.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from scratchnet import provenance

log = logging.getLogger(__name__)

KINDS = ("local", "server", "none")
# MLflow 3.17's limits (mlflow.utils.validation); tests check they still match
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_DATASET_DIGEST_SIZE = 36  # our sha256 hex has 64 chars: the input keeps the first 36, the profile all
HEALTH_TIMEOUT = 5.0  # seconds for the first contact with a server; MLflow's own retries take minutes
KILLED_EXIT_CODES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM: what signal handlers exit with
DATASET_CONTEXT_TAG = "mlflow.data.context"


class TrackingError(Exception):
    """The tracking store cannot be reached, created or written; the message says which and why."""


# ---------------------------------------------------------------------------------------------------
# config helpers (no mlflow)


def _get(cfg: Any, key: str, default: Any = None) -> Any:
    """cfg[key] for mappings (dict, DictConfig), cfg.key for dataclasses and other objects."""
    if isinstance(cfg, Mapping):
        value = cfg.get(key, default)
    else:
        value = getattr(cfg, key, default)
    return default if value is None else value


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


def _kind(cfg: Any) -> str:
    kind = _get(cfg, "kind", "local")
    if kind not in KINDS:
        raise TrackingError(f"tracking.kind: expected one of {', '.join(KINDS)}, found {kind!r}")
    return kind


def _absolute(path: str | os.PathLike) -> Path:
    """A config path made absolute against the repo root (never the cwd Hydra happens to use)."""
    return Path(os.path.abspath(provenance.under_root(path, provenance.repo_root() or Path.cwd())))


def resolve_uri(tracking_cfg: Any) -> str | None:
    """The tracking URI: local -> "sqlite:////abs/mlflow.db", server -> cfg.uri, none -> None.

    $MLFLOW_TRACKING_URI, when set, overrides local and server (not none). A relative `db` is taken
    relative to the repo root.
    """
    kind = _kind(tracking_cfg)
    if kind == "none":
        return None
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    if kind == "server":
        uri = _get(tracking_cfg, "uri")
        if not uri:
            raise TrackingError("tracking.uri: expected the server's URI for tracking=server "
                                "(e.g. http://127.0.0.1:5000), found nothing")
        return str(uri).rstrip("/")
    return "sqlite:///" + str(_absolute(_get(tracking_cfg, "db", "mlflow.db")))


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def _artifact_location(tracking_cfg: Any, uri: str, experiment: str) -> str | None:
    """<artifacts>/<experiment> for a SQLite store; None (the server's choice) otherwise."""
    artifacts = _get(tracking_cfg, "artifacts")
    if _sqlite_path(uri) is None or not artifacts:
        return None
    return (_absolute(artifacts) / experiment).as_uri()


# ---------------------------------------------------------------------------------------------------
# connecting


def _short(error: BaseException, limit: int = 600) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def _translated(what: str, uri: str) -> Iterator[None]:
    """Re-raise any MLflow / HTTP / database error as a TrackingError naming the action and store."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as error:  # MlflowException, requests and sqlalchemy errors alike
        raise TrackingError(f"{what} failed on tracking store {uri}: {_short(error)}") from error


def _probe(uri: str) -> None:
    """GET <uri>/health within HEALTH_TIMEOUT, so an absent server fails fast, not after retries."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=HEALTH_TIMEOUT) as response:
            response.read(64)
    except urllib.error.HTTPError as error:
        raise TrackingError(f"tracking server {uri} answered /health with HTTP {error.code}: is it an "
                            f"MLflow server? Fall back to the local store with `tracking=local` "
                            f"(and unset MLFLOW_TRACKING_URI)") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingError(f"tracking server {uri} is unreachable ({reason}); start it "
                            f"(`mlflow server --backend-store-uri sqlite:///mlflow.db`) or fall back to "
                            f"the local store with `tracking=local` (and unset MLFLOW_TRACKING_URI)") from None


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise store creation and experiment creation across processes for a SQLite store.

    Two processes creating a fresh SQLite store at once corrupt it. The lock is an flock on the
    folder holding the .db file (no stray lock file); for other stores it does nothing.
    """
    db = _sqlite_path(uri)
    if db is None:
        yield
        return
    import fcntl

    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(db.parent, os.O_RDONLY)
    except OSError as error:
        raise TrackingError(f"cannot create the tracking store folder {db.parent}: {error}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def connect(uri: str):
    """An MlflowClient bound to `uri`, for runs and for reading them back (summaries, tests): a
    server must answer /health; a new SQLite store is created (migrated) under the lock."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # before mlflow is imported
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no tqdm bars in our logs
    if uri.startswith(("http://", "https://")):
        _probe(uri)
        # a server lost mid-run: fail in about a minute, not after MLflow's default 7 retries (minutes);
        # explicit environment settings win
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")  # backoff 2 + 4 + 8 s
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    for name in ("alembic", "mlflow.store.db.utils"):  # a new store's migrations chat at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow import MlflowClient

    with _translated("opening the tracking store", uri), _store_lock(uri):
        return MlflowClient(tracking_uri=uri)


def _experiment_id(client, tracking_cfg: Any, uri: str, name: str) -> str:
    from mlflow.exceptions import MlflowException

    with _translated(f"getting or creating MLflow experiment {name!r}", uri), _store_lock(uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return client.create_experiment(name, _artifact_location(tracking_cfg, uri, name))
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":  # another process won the race
                    raise
                experiment = client.get_experiment_by_name(name)
    if experiment.lifecycle_stage == "deleted":
        raise TrackingError(f"MLflow experiment {name!r} (id {experiment.experiment_id}) in {uri} is "
                            f"deleted: restore it (`mlflow experiments restore --experiment-id "
                            f"{experiment.experiment_id}`) or purge it (`mlflow gc`)")
    return experiment.experiment_id


def prepare_store(tracking_cfg: Any, experiments: Iterable[str]) -> dict[str, str]:
    """Create the store and these experiments once, before parallel jobs start; name -> id.

    Safe to call again (existing experiments are looked up); {} for tracking=none.
    """
    uri = resolve_uri(tracking_cfg)
    if uri is None:
        return {}
    client = connect(uri)
    return {name: _experiment_id(client, tracking_cfg, uri, name) for name in experiments}


# ---------------------------------------------------------------------------------------------------
# runs


def _text(value: Any, limit: int) -> str:
    if isinstance(value, bool):
        value = str(value).lower()  # as YAML writes it
    elif value is None:
        value = "null"
    value = str(value)
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


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
        with _translated(f"{what} (run {self.run_id})", self.tracking_uri):
            self._client.log_batch(self.run_id, metrics=metrics, params=params, tags=tags)

    def log_params(self, params: Mapping) -> None:
        """Flattened params (dotted keys), 100 per log_batch, values cut at MLflow's 6000 chars."""
        if not self.active:
            return
        from mlflow.entities import Param

        items = [Param(k, _text(v, MAX_PARAM_VAL_LENGTH)) for k, v in flatten(params).items()]
        for chunk in _chunks(items, MAX_PARAMS_TAGS_PER_BATCH):
            self._batch("logging params", params=chunk)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags (None values skipped), 100 per log_batch."""
        if not self.active:
            return
        from mlflow.entities import RunTag

        items = [RunTag(str(k), _text(v, MAX_TAG_VAL_LENGTH)) for k, v in tags.items() if v is not None]
        for chunk in _chunks(items, MAX_PARAMS_TAGS_PER_BATCH):
            self._batch("setting tags", tags=chunk)

    def log_costs(self, costs: Iterable[tuple[int, float]], key: str = "train/cost") -> None:
        """The recorded costs [(iteration, cost)] as metric `key` with step=iteration, in batches."""
        if not self.active:
            return
        from mlflow.entities import Metric

        now = _now_ms()
        items = [Metric(key, float(cost), now, int(step)) for step, cost in costs]
        for chunk in _chunks(items, MAX_METRICS_PER_BATCH):
            self._batch(f"logging {key}", metrics=chunk)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Final metrics in one log_batch; nested mappings join with "/" ({"train": {"accuracy": x}}
        -> "train/accuracy"); None values skipped. Log a final `train/cost` at step=iterations so
        its history stays ordered by iteration."""
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
        for chunk in _chunks(items, MAX_METRICS_PER_BATCH):
            self._batch("logging metrics", metrics=chunk)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        if not self.active:
            return
        if not Path(path).is_file():
            raise TrackingError(f"artifact {path} not found (expected a file)")
        with _translated(f"uploading artifact {path}", self.tracking_uri):
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def log_artifacts(self, local_dir: str | os.PathLike, artifact_path: str | None = None) -> None:
        if not self.active:
            return
        if not Path(local_dir).is_dir():
            raise TrackingError(f"artifact folder {local_dir} not found (expected a directory)")
        with _translated(f"uploading artifacts from {local_dir}", self.tracking_uri):
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
            source_type, source_json = "local", json.dumps({"uri": str(_absolute(source))})
        entity = DatasetEntity(name=ds.name, digest=digest[:MAX_DATASET_DIGEST_SIZE],
                               source_type=source_type, source=source_json,
                               schema=json.dumps(schema.to_dict()), profile=json.dumps(profile))
        dataset_input = DatasetInput(entity, tags=[InputTag(DATASET_CONTEXT_TAG, context)])
        # under the store lock: parallel sweep jobs logging the same new dataset race on its
        # UNIQUE(experiment_id, name, digest) row in a SQLite store (IntegrityError in one of them)
        with _translated(f"logging dataset {ds.name!r}", self.tracking_uri), _store_lock(self.tracking_uri):
            self._client.log_inputs(self.run_id, datasets=[dataset_input])

    def log_model(self, model_npz_path: str | os.PathLike) -> None:
        """The model file as artifact model/<name>.npz and an MLflow pyfunc model under pyfunc/
        (serve it: `mlflow models serve -m runs:/<run_id>/pyfunc --env-manager local`)."""
        if not self.active:
            return
        self.log_artifact(model_npz_path, "model")
        with tempfile.TemporaryDirectory() as tmp:
            _save_pyfunc(Path(model_npz_path), Path(tmp) / "pyfunc")
            self.log_artifacts(Path(tmp) / "pyfunc", "pyfunc")

    def _end(self, status: str, error: BaseException | None = None) -> None:
        """Set the terminal status (with tag `error` for FAILED/KILLED)."""
        with _translated(f"ending run {self.run_id} as {status}", self.tracking_uri):
            if error is not None:
                self.set_tags({"error": _short(error, MAX_TAG_VAL_LENGTH)})
            self._client.set_terminated(self.run_id, status)


def existing_run(tracking_uri: str, run_id: str) -> RunLog:
    """A RunLog for a run that already exists (e.g. to attach an analysis after training); its
    status is left as it is. Raises TrackingError when the store or the run cannot be reached."""
    client = connect(tracking_uri)
    with _translated(f"looking up run {run_id}", tracking_uri):
        info = client.get_run(run_id).info
    return RunLog(client, run_id, info.experiment_id, tracking_uri)


def _save_pyfunc(npz: Path, path: Path) -> None:
    """Write the pyfunc model folder for `npz` (signature from its input and output sizes)."""
    import mlflow
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from scratchnet import pyfunc_model
    from scratchnet.io import load_model

    network = load_model(npz)  # fails early, with ModelFileError, on a bad file
    n_x, n_out = network.layer_dims[0], network.layer_dims[-1]
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float64), (-1, n_x))]),
                               outputs=Schema([TensorSpec(np.dtype(np.float64), (-1, n_out))]))
    # explicit requirements: inferring them loads the model in a subprocess (seconds). scratchnet is
    # not on PyPI (a package of that name there would be someone else's): serve with --env-manager local
    requirements = [f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]
    with _translated(f"saving pyfunc model for {npz}", "(local folder)"), warnings.catch_warnings():
        # we give the signature ourselves: MLflow's hints about type hints and input examples are noise
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(path=str(path), python_model=pyfunc_model.__file__,  # models from code
                                 artifacts={pyfunc_model.ARTIFACT_KEY: str(npz)}, signature=signature,
                                 pip_requirements=requirements)


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
def open_run(tracking_cfg: Any, *, experiment: str, run_name: str, params: Mapping, tags: Mapping,
             parent_run_id: str | None = None, root: str | os.PathLike | None = None) -> Iterator[RunLog]:
    """Start an MLflow run in `experiment` (created if missing), yield its RunLog, then end it.

    Tags: `tags` + git_commit, git_dirty, data_dvc_md5 (from the repo at `root`, found if None),
    mlflow.runName and mlflow.parentRunId. Params: flatten(params). On an exception the run ends
    FAILED (KILLED for Ctrl-C / SIGTERM exits) with tag `error`, and the exception propagates.
    """
    uri = resolve_uri(tracking_cfg)
    if uri is None:
        yield RunLog()
        return
    client = connect(uri)
    experiment_id = _experiment_id(client, tracking_cfg, uri, experiment)
    run_tags = {str(k): _text(v, MAX_TAG_VAL_LENGTH) for k, v in tags.items() if v is not None}
    run_tags |= provenance.provenance_tags(root)
    run_tags["mlflow.runName"] = run_name
    if "git_commit" in run_tags:
        run_tags["mlflow.source.git.commit"] = run_tags["git_commit"]  # the UI shows this one
    if parent_run_id:
        run_tags["mlflow.parentRunId"] = parent_run_id
    with _translated(f"creating run {run_name!r} in experiment {experiment!r}", uri):
        info = client.create_run(experiment_id, tags=run_tags, run_name=run_name).info
    run = RunLog(client, info.run_id, experiment_id, uri)
    try:
        run.log_params(params)
        yield run
    except BaseException as error:
        status = _status_for(error)
        try:
            run._end(status, None if status == "FINISHED" else error)
        except TrackingError as end_error:  # keep the original exception; say the run is stuck
            log.warning("%s; run %s may still show RUNNING", end_error, info.run_id)
        raise
    run._end("FINISHED")
