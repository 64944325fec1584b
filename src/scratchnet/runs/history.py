"""What a run records at each recorded epoch besides the cost: train and test accuracy (train.record_accuracy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from scratchnet.files import write_csv
from scratchnet.nn import Network

ACCURACY_FILE = "accuracy.csv"
ACCURACY_HEADER = ("epoch", "train_accuracy", "test_accuracy")  # dvc.yaml's plots name the same columns


class History:
    """fit's on_record: after a recorded epoch's updates, both accuracies of the network as it then
    is (inference mode: BatchNorm's running averages, no dropout), shown on the progress line.

    Without `record_accuracy` it only passes (epoch, cost) on to `progress`. The cost recorded for
    an epoch is the mean of its batch costs before each update (fit's); the accuracies are the
    model's after the epoch, as Keras reports its validation accuracy.
    """

    def __init__(self, network: Network, progress: Callable[..., None], record_accuracy: bool,
                 X_train: np.ndarray, Y_train: np.ndarray, X_test: np.ndarray | None, Y_test: np.ndarray | None):
        self.network, self.progress, self.record_accuracy = network, progress, record_accuracy
        self.train, self.test = (X_train, Y_train), (X_test, Y_test)
        self.rows: list[tuple[int, float, float | None]] = []  # (epoch, train accuracy, test accuracy)

    def __call__(self, epoch: int, cost: float) -> None:
        if not self.record_accuracy:
            self.progress(epoch, cost)
            return
        train = self.network.accuracy(*self.train)
        test = None if self.test[0] is None else self.network.accuracy(*self.test)
        self.rows.append((epoch, train, test))
        self.progress(epoch, cost, f"train {train:.4f}" + ("" if test is None else f"  test {test:.4f}"))

    def series(self, split: str) -> list[tuple[int, float]]:
        """[(epoch, accuracy)] of split "train" or "test" (empty without a test split)."""
        column = 1 if split == "train" else 2
        return [(row[0], row[column]) for row in self.rows if row[column] is not None]

    def write(self, folder: Path) -> None:
        """accuracy.csv (epoch, train_accuracy, test_accuracy; test empty without a test split), if recorded."""
        if self.rows:
            write_csv(folder / ACCURACY_FILE, ACCURACY_HEADER,
                      [(e, a, "" if t is None else t) for e, a, t in self.rows])
