"""The NumPy core: layers, activations, initialisers, losses, optimizers and the training loop.

Convention: examples are columns. X is (n_x, m), Y is (1, m) integer labels; a network with a
sigmoid output predicts P(y=1) of shape (1, m), one with a softmax output (n_classes, m).
Nothing in this package reads files, logs to a tracker or knows about Hydra.
"""

from scratchnet.nn.activations import ACTIVATIONS
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.network import Network
from scratchnet.nn.optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    Adam,
    GradientDescent,
    Momentum,
    make_optimizer,
    make_schedule,
)
from scratchnet.nn.training import CourseCompat, DivergenceError, FitResult, fit

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "OPTIMIZERS",
    "SCHEDULES",
    "Adam",
    "CourseCompat",
    "DivergenceError",
    "FitResult",
    "GradientDescent",
    "Momentum",
    "Network",
    "fit",
    "make_optimizer",
    "make_schedule",
]
