"""The model file as an MLflow pyfunc model ("models from code": tracking/pyfunc_model.py, no pickle)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from scratchnet.tracking.store import translated


def save_pyfunc(npz: Path, path: Path) -> None:
    """Write the pyfunc model folder for `npz` (signature from its input and output sizes)."""
    import mlflow
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    import scratchnet.tracking.pyfunc_model as pyfunc_model
    from scratchnet.models import load_model

    network = load_model(npz)  # fails early, with ModelFileError, on a bad file
    n_x, n_out = math.prod(network.input_shape), network.n_outputs  # a row: one example, flattened
    signature = ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float64), (-1, n_x))]),
                               outputs=Schema([TensorSpec(np.dtype(np.float64), (-1, n_out))]))
    # explicit requirements: inferring them loads the model in a subprocess (seconds). scratchnet is
    # not on PyPI (a package of that name there would be someone else's): serve with --env-manager local
    requirements = [f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]
    with translated(f"saving pyfunc model for {npz}", "(local folder)"), warnings.catch_warnings():
        # we give the signature ourselves: MLflow's hints about type hints and input examples are noise
        warnings.simplefilter("ignore", UserWarning)
        mlflow.pyfunc.save_model(path=str(path), python_model=pyfunc_model.__file__,  # models from code
                                 artifacts={pyfunc_model.ARTIFACT_KEY: str(npz)}, signature=signature,
                                 pip_requirements=requirements)
