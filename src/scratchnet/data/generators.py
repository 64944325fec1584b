"""The generated 2-D sets (GENERATORS): the course's planar "flower" and the four extra sklearn sets, seeded.

Each generator takes keyword parameters with the course's values as defaults and returns a Dataset
with no test split (the course trains and plots on one set). sklearn is imported inside the
functions because it is slow to import.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scratchnet.data.course2 import make_circles_study, make_moons_study
from scratchnet.data.dataset import Dataset, from_rows

N_SAMPLES = 200  # the course's size for the extra sets


def make_flower(m: int = 400, a: float = 4, seed: int = 1) -> Dataset:
    """The course's load_planar_dataset, bit for bit, drawn from RandomState(seed).

    Two petals' worth of points in polar form, r = a sin(4t) + noise; label j is the half of t.
    """
    if m < 2 or m % 2:
        raise ValueError(f"make_flower: expected an even m >= 2, found m={m}")
    rng = np.random.RandomState(seed)  # legacy generator: same stream as the course's np.random
    N = m // 2  # points per class
    D = 2  # dimensionality
    X = np.zeros((m, D))  # (m, 2), transposed below
    Y = np.zeros((m, 1), dtype="uint8")  # (m, 1)
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rng.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + rng.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return from_rows("planar", X, Y, ("red", "blue"))


def noisy_circles(
    n_samples: int = N_SAMPLES, factor: float = 0.5, noise: float = 0.3, seed: int = 1
) -> Dataset:
    """Two noisy concentric circles (sklearn make_circles), inner radius `factor`."""
    from sklearn.datasets import make_circles

    X, y = make_circles(n_samples=n_samples, factor=factor, noise=noise, random_state=seed)
    return from_rows("noisy_circles", X, y, ("outer", "inner"))


def noisy_moons(n_samples: int = N_SAMPLES, noise: float = 0.2, seed: int = 1) -> Dataset:
    """Two interleaving half moons (sklearn make_moons)."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return from_rows("noisy_moons", X, y, ("0", "1"))


def blobs(n_samples: int = N_SAMPLES, centers: int = 6, seed: int = 5) -> Dataset:
    """Isotropic Gaussian blobs (sklearn make_blobs); labels 0..centers-1 kept as they are."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n_samples, random_state=seed, n_features=2, centers=centers)
    return from_rows("blobs", X, y, tuple(str(k) for k in range(centers)))


def gaussian_quantiles(
    n_samples: int = N_SAMPLES, cov: float = 0.5, n_classes: int = 2, seed: int = 1
) -> Dataset:
    """One Gaussian cut into `n_classes` shells by quantile (sklearn make_gaussian_quantiles)."""
    from sklearn.datasets import make_gaussian_quantiles

    X, y = make_gaussian_quantiles(mean=None, cov=cov, n_samples=n_samples, n_features=2,
                                   n_classes=n_classes, shuffle=True, random_state=seed)
    return from_rows("gaussian_quantiles", X, y, tuple(str(k) for k in range(n_classes)))


GENERATORS: dict[str, Callable[..., Dataset]] = {
    "planar": make_flower,
    "noisy_circles": noisy_circles,
    "noisy_moons": noisy_moons,
    "blobs": blobs,
    "gaussian_quantiles": gaussian_quantiles,
    "circles": make_circles_study,  # course 2's initialisation study (with a test split)
    "moons": make_moons_study,  # course 2's optimisation study
}
