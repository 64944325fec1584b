"""The NumPy core: layers, activations, initialisers, output heads, optimizers and the training loop.

Convention: dense layers take examples as columns, X (n_x, m); convolutions take images
(m, H, W, C). Y is (1, m) integer labels; a sigmoid head predicts P(y=1) (1, m), a softmax head
(n_classes, m). Nothing in this package reads files, logs to a tracker or knows about Hydra.
"""

from scratchnet.nn.activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from scratchnet.nn.compat import CourseCompat
from scratchnet.nn.heads import OUTPUTS
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.layers import LAYERS, Layer
from scratchnet.nn.network import DTYPES, Network, upgrade_config
from scratchnet.nn.optimizers import OPTIMIZERS, Adam, GradientDescent, Momentum, make_optimizer
from scratchnet.nn.rowspace import FIRST_LAYERS
from scratchnet.nn.schedules import SCHEDULES, make_schedule
from scratchnet.nn.stacks import SpecError, dense_stack, from_specs
from scratchnet.nn.training import DIVERGENCE_FACTOR, DivergenceError, FitResult, fit

__all__ = [
    "ACTIVATIONS",
    "DIVERGENCE_FACTOR",
    "DTYPES",
    "FIRST_LAYERS",
    "HIDDEN_ACTIVATIONS",
    "INITIALIZERS",
    "LAYERS",
    "OPTIMIZERS",
    "OUTPUTS",
    "SCHEDULES",
    "SpecError",
    "Adam",
    "CourseCompat",
    "DivergenceError",
    "FitResult",
    "GradientDescent",
    "Layer",
    "Momentum",
    "Network",
    "dense_stack",
    "fit",
    "from_specs",
    "make_optimizer",
    "make_schedule",
    "upgrade_config",
]
