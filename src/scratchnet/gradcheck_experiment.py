"""A gradient-check problem from a Hydra experiment: its network at initialisation, its data, its L2.

Used by `scratchnet-gradcheck --experiment NAME [key=value ...]`; kept out of scratchnet.nn, which
knows nothing of configs or files.
"""

from __future__ import annotations

import numpy as np

from scratchnet.nn import Network


def experiment_problem(name: str, overrides: list[str], examples: int,
                       seed: int) -> tuple[Network, np.ndarray, np.ndarray, float, str]:
    """(network, X, Y, lambd, description) for experiment `name` with Hydra `overrides`.

    The network is the run's own at initialisation (RandomState(cfg.seed)), in float64 whatever the
    experiment's dtype (central differences need it); X, Y are `examples` training columns drawn
    from RandomState(seed). Raises ConfigError / DataError with the experiment's key or file.
    """
    from hydra import compose, initialize_config_dir

    from scratchnet.config import validate
    from scratchnet.data import load_data
    from scratchnet.paths import CONF_DIR
    from scratchnet.runs.build import build_network

    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        cfg = compose("config", overrides=[f"experiment={name}", *overrides, "dtype=float64"])
    validate(cfg)
    ds = load_data(cfg.data, cfg.paths.root)
    network = build_network(cfg, ds, np.random.RandomState(cfg.seed))
    m = min(examples, ds.m_train)
    cols = np.sort(np.random.RandomState(seed).choice(ds.m_train, m, replace=False))
    X, Y = ds.X_train[:, cols], ds.Y_train[:, cols]
    return network, X, Y, float(cfg.train.lambd), f"experiment={name} ({ds.name}, {m} of {ds.m_train} examples)"
