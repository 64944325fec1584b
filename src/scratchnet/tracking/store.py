"""The MLflow store: its URI from the tracking config, connecting, experiments, and reading runs back.

`tracking_cfg` is a mapping or an object with attributes: kind (local | server | none), db (SQLite
file), artifacts (artifact root), uri (server URI). Everything goes through one `MlflowClient`
bound to the resolved URI, so stores used side by side in one process do not interfere (no global
mlflow state). mlflow is imported only when a store is opened, never for tracking=none.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scratchnet.paths import repo_root, under_root

KINDS = ("local", "server", "none")  # tracking.kind; the config schema's TrackingKind is made from it
HEALTH_TIMEOUT = 5.0  # seconds for the first contact with a server; MLflow's own retries take minutes
# A server that stops answering mid-run (frozen, a cut network): MLflow's http_request reads these
# at every call. Defaults (7 retries, 120 s) wait ~15 min; ours bound one call by request_bound():
# 3 attempts of 15 s and urllib3's backoff between them, 0 s then 2 * 2 + up to 1 s: 50 s. Explicit
# environment settings win.
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "15", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
               "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0"}
# after a store error, recording the failure is one attempt of 5 s: retrying a dead server only waits
LAST_WORD_LIMITS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
MAX_RESULTS = 10000  # runs one search returns at most (a sweep's children)
# MLflow 3's UI opens an experiment by its kind: without the tag it may take ours for GenAI (traces,
# judges, prompts) or ask; classic model training opens on runs, charts and comparison
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


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


def _kind(cfg: Any) -> str:
    kind = _get(cfg, "kind", "local")
    if kind not in KINDS:
        raise TrackingError(f"tracking.kind: expected one of {', '.join(KINDS)}, found {kind!r}")
    return kind


def absolute(path: str | os.PathLike) -> Path:
    """A config path made absolute against the repo root (never the cwd Hydra happens to use)."""
    return Path(os.path.abspath(under_root(path, repo_root())))


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
    return "sqlite:///" + str(absolute(_get(tracking_cfg, "db", "mlflow.db")))


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def _artifact_location(tracking_cfg: Any, uri: str, experiment: str) -> str | None:
    """<artifacts>/<experiment> for a SQLite store; None (the server's choice) otherwise."""
    artifacts = _get(tracking_cfg, "artifacts")
    if _sqlite_path(uri) is None or not artifacts:
        return None
    return (absolute(artifacts) / experiment).as_uri()


# ---------------------------------------------------------------------------------------------------
# connecting


def short(error: BaseException, limit: int = 600) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def translated(what: str, uri: str) -> Iterator[None]:
    """Re-raise any MLflow / HTTP / database error as a TrackingError naming the action and store."""
    try:
        yield
    except TrackingError:
        raise
    except Exception as error:  # MlflowException, requests and sqlalchemy errors alike
        raise TrackingError(f"{what} failed on tracking store {uri}: {short(error)}") from error


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
def store_lock(uri: str) -> Iterator[None]:
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


def request_bound(env: Mapping[str, str] | None = None) -> float:
    """The longest one MLflow HTTP call to a server that never answers waits before failing, in s.

    MLflow 3.17 (mlflow.utils.rest_utils.http_request) makes 1 + MAX_RETRIES attempts of at most
    TIMEOUT s each (a frozen server accepts the connection, then the read times out); urllib3 2's
    Retry.get_backoff_time sleeps 0 s after the first failure and FACTOR * 2**(k-1) + up to JITTER s
    after the k-th (capped at 120 s).
    """
    env = os.environ if env is None else env
    defaults = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "120", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "7",
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "1.0"}
    timeout, retries, factor, jitter = (float(env.get(k, v)) for k, v in defaults.items())
    backoff = sum(min(factor * 2 ** (k - 1) + jitter, 120.0) for k in range(2, int(retries) + 1))
    return (retries + 1) * timeout + backoff


@contextlib.contextmanager
def last_word() -> Iterator[None]:
    """MLflow's HTTP limits cut to LAST_WORD_LIMITS while a run that hit a store error is ended."""
    saved = {name: os.environ.get(name) for name in LAST_WORD_LIMITS}
    os.environ.update(LAST_WORD_LIMITS)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def connect(uri: str):
    """An MlflowClient bound to `uri`, for runs and for reading them back (summaries, tests): a
    server must answer /health; a new SQLite store is created (migrated) under the lock."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # before mlflow is imported
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no tqdm bars in our logs
    if uri.startswith(("http://", "https://")):
        _probe(uri)
        for name, value in HTTP_LIMITS.items():  # a server lost mid-run: ~50 s a call, not minutes
            os.environ.setdefault(name, value)
    for name in ("alembic", "mlflow.store.db.utils"):  # a new store's migrations chat at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    from mlflow import MlflowClient

    with translated("opening the tracking store", uri), store_lock(uri):
        return MlflowClient(tracking_uri=uri)


def preload(tracking_cfg: Any) -> None:
    """Import what logging a run imports, without opening any store: a stage that forks its workers
    afterwards pays MLflow's ~2 s of imports once, not once a worker (none for tracking=none)."""
    if _kind(tracking_cfg) == "none":
        return
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # before mlflow is imported
    import mlflow.data.schema  # noqa: F401 - log_dataset
    import mlflow.pyfunc  # noqa: F401 - log_model
    if resolve_uri(tracking_cfg).startswith("sqlite:"):
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401 - the client's store


def get_or_create_experiment(client, tracking_cfg: Any, uri: str, name: str) -> str:
    """The id of MLflow experiment `name`, created (with its artifact location) if missing, and
    tagged EXPERIMENT_KIND (an experiment made before the tag existed gets it here)."""
    from mlflow.exceptions import MlflowException

    with translated(f"getting or creating MLflow experiment {name!r}", uri), store_lock(uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            try:
                return client.create_experiment(name, _artifact_location(tracking_cfg, uri, name),
                                                tags=dict([EXPERIMENT_KIND]))
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":  # another process won the race
                    raise
                experiment = client.get_experiment_by_name(name)
        if experiment.lifecycle_stage != "deleted" and experiment.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
            client.set_experiment_tag(experiment.experiment_id, *EXPERIMENT_KIND)
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
    return {name: get_or_create_experiment(client, tracking_cfg, uri, name) for name in experiments}


# ---------------------------------------------------------------------------------------------------
# reading runs back (sweep summaries): plain records, so no caller handles MLflow's entities


@dataclass(frozen=True)
class RunRecord:
    run_id: str
    status: str  # FINISHED | FAILED | KILLED | RUNNING
    start_time: int  # ms since the epoch
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the latest value of each


def quoted_value(value: str) -> str:
    """A search-filter string literal: MLflow's parser takes either quote but has no escapes."""
    for quote in "'\"":
        if quote not in value:
            return quote + value + quote
    raise TrackingError(f"cannot search for the tag value {value!r}: it holds both kinds of quote")


def find_runs(client, tags: Mapping[str, str], *, latest_first: bool = False,
              max_results: int = MAX_RESULTS) -> list[RunRecord]:
    """The runs, in every experiment of the store, whose tags have these values."""
    query = " and ".join(f"tags.`{key}` = {quoted_value(str(value))}" for key, value in tags.items())
    order = ["attributes.start_time DESC"] if latest_first else None
    with translated("searching runs", client.tracking_uri):
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments, filter_string=query, order_by=order, max_results=max_results)
    return [RunRecord(r.info.run_id, r.info.status, r.info.start_time, dict(r.data.tags), dict(r.data.params),
                      dict(r.data.metrics)) for r in runs]


def metric_history(client, run_id: str, key: str) -> list[tuple[int, float]]:
    """Every (step, value) of metric `key` in the run, by step."""
    with translated(f"reading metric {key} of run {run_id}", client.tracking_uri):
        return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def download_artifacts(client, run_id: str, path: str, dst: str | os.PathLike) -> Path:
    """The run's artifact `path` (a file or folder) copied into `dst`; returns the local path."""
    with translated(f"downloading {path} of run {run_id}", client.tracking_uri):
        return Path(client.download_artifacts(run_id, path, str(dst)))
