"""An MLflow pyfunc wrapper around a scratchnet model file, so `mlflow models serve` can score it.

Logged as "models from code": MLflow copies this file into the model folder and runs it on load
(the `set_model` call at the bottom), so no pickle is involved; scratchnet (for load_model) and numpy
must be importable where the model is served. Imported only by scratchnet.tracking.pyfunc and by MLflow.
Input: rows are examples, (m, n_x) floats (MLflow's convention, the transpose of ours); an image
model takes each image flattened as the course flattens it (x.reshape(m, -1)).
Output: (m, n_out) probabilities: P(y=1|x) as one column for a sigmoid output, one column per
class for softmax.
"""

from __future__ import annotations

import numpy as np
from mlflow.models import set_model
from mlflow.pyfunc import PythonModel

ARTIFACT_KEY = "model_npz"  # the key of the .npz file in the pyfunc model's artifacts


class ScratchnetModel(PythonModel):
    """Loads the .npz with scratchnet.models.load_model and predicts probabilities."""

    # MLflow warns when predict has no type hints it can validate; the tensor signature the model is
    # logged with validates inputs already, so skip MLflow's type-hint wrapping (its own opt-out)
    _skip_type_hint_validation = True

    def load_context(self, context) -> None:
        from scratchnet.models import load_model

        self.network_ = load_model(context.artifacts[ARTIFACT_KEY])

    def predict(self, context, model_input, params=None) -> np.ndarray:
        X = np.asarray(model_input, dtype=np.float64)  # (m, n_x); a DataFrame works too
        if X.ndim == 1:
            X = X[None, :]  # one example
        n_x = int(np.prod(self.network_.input_shape))
        if X.ndim != 2 or X.shape[1] != n_x:
            raise ValueError(f"expected input of shape (m, {n_x}) (one example per row), found {X.shape}")
        return self.network_.predict_proba(self.network_.input_from_rows(X)).T  # (n_out, m) -> (m, n_out)


set_model(ScratchnetModel())
