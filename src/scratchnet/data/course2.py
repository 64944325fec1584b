"""Course 2's study sets: the initialisation circles and the optimisation moons, seeded explicitly.

The course seeds numpy's global generator and lets sklearn use it (random_state=None means
np.random's global RandomState). Passing a fresh RandomState(seed) gives the same draws without
touching global state. The football set of the regularisation study is `load_football`.

sklearn: make_circles/make_moons draw the same numbers in the course's sklearn (0.19-0.20) and in
1.x for these sizes. The course's make_circles built both circles from
`np.linspace(0, 2 pi, n // 2 + 1)[:-1]`; 0.23+ uses `np.linspace(0, 2 pi, n_out, endpoint=False)`
per circle, which gives bit-identical angles for even n (checked in the tests), and both shuffle
with `RandomState.shuffle(arange(n))` and then add `normal(scale=noise)` noise in the same order.
"""

from __future__ import annotations

import numpy as np

from scratchnet.data.dataset import Dataset, from_rows


def make_circles_study(
    n_train: int = 300, n_test: int = 100, noise: float = 0.05, train_seed: int = 1, test_seed: int = 2
) -> Dataset:
    """The initialisation study's circles: init_utils.load_dataset (train seed 1, test seed 2).

    Label 1 is the inner circle (sklearn's convention; the course plots it blue).
    """
    from sklearn.datasets import make_circles  # lazy: sklearn is slow to import

    X_train, y_train = make_circles(n_samples=n_train, noise=noise, random_state=np.random.RandomState(train_seed))
    X_test, y_test = make_circles(n_samples=n_test, noise=noise, random_state=np.random.RandomState(test_seed))
    return from_rows("circles", X_train, y_train, ("outer", "inner"), X_test, y_test)


def make_moons_study(n_samples: int = 300, noise: float = 0.2, seed: int = 3) -> Dataset:
    """The optimisation study's moons: opt_utils.load_dataset (seed 3), no test split (as the course)."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=np.random.RandomState(seed))
    return from_rows("moons", X, y, ("upper", "lower"))
