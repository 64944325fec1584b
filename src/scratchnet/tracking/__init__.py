"""The tracking layer: the only package that talks to MLflow (imported lazily, never for tracking=none).

store.py opens a store and reads runs back, run.py writes one run, pyfunc.py / pyfunc_model.py turn
a model file into an MLflow pyfunc model, provenance.py tags a run with its code and data.
"""

from scratchnet.tracking.run import RunLog, end_run, existing_run, flatten, open_run
from scratchnet.tracking.store import (
    KINDS,
    RunRecord,
    TrackingError,
    connect,
    download_artifacts,
    find_runs,
    metric_history,
    prepare_store,
    resolve_uri,
)

__all__ = [
    "KINDS",
    "RunLog",
    "RunRecord",
    "TrackingError",
    "connect",
    "download_artifacts",
    "end_run",
    "existing_run",
    "find_runs",
    "flatten",
    "metric_history",
    "open_run",
    "prepare_store",
    "resolve_uri",
]
