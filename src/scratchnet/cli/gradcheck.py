"""`scratchnet-gradcheck`: backprop against central differences, on a random problem or an experiment.

    scratchnet-gradcheck --layer-dims 4 5 3 1 --activation relu --lambd 0.7 --keep-prob 0.8
    scratchnet-gradcheck --experiment deep_cat train.lambd=0.7 --sample 300
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from scratchnet.nn import HIDDEN_ACTIVATIONS, INITIALIZERS, OUTPUTS, Network, dense_stack
from scratchnet.nn.gradcheck import THRESHOLD, gradient_check, random_problem
from scratchnet.nn.layers import Dropout


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scratchnet-gradcheck",
        description="Check backprop against central differences, on a random problem or on an experiment's "
                    "network and data; exit 1 above the threshold.")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="with --experiment: Hydra overrides, e.g. model.keep_prob=0.8 train.lambd=0.7")
    p.add_argument("--experiment", metavar="NAME",
                   help="check conf/experiment/NAME.yaml's network at initialisation on its training data "
                        "(its lambd and keep_prob; the other model options below are ignored)")
    p.add_argument("--layer-dims", type=int, nargs="+", default=[4, 5, 3, 1], metavar="N",
                   help="n_x n_1 ... n_L (default: 4 5 3 1); n_L > 1 means a softmax output with n_L classes")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu", help="hidden activation")
    p.add_argument("--output", choices=OUTPUTS, default=None,
                   help="output activation (default: sigmoid if n_L == 1, else softmax)")
    p.add_argument("--initializer", choices=tuple(INITIALIZERS), default="xavier")
    p.add_argument("--lambd", type=float, default=None, help="L2 strength (default 0, or the experiment's)")
    p.add_argument("--keep-prob", type=float, default=1.0,
                   help="dropout keep probability of the hidden layers, checked under a fixed mask (default 1)")
    p.add_argument("--examples", type=int, default=8, help="number of examples (default 8)")
    p.add_argument("--sample", type=int, default=None, metavar="K",
                   help="check K parameters drawn at random instead of all (default: all; with --experiment "
                        "2000)")
    p.add_argument("--seed", type=int, default=1, help="seed of the data, the sample and the fixed dropout mask")
    p.add_argument("--eps", type=float, default=1e-6, help="central-difference step (default 1e-6)")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help=f"pass below this (default {THRESHOLD:g})")
    return p


def _check_args(args, parser) -> None:
    if args.examples < 1:
        parser.error(f"--examples: expected an integer >= 1, got {args.examples}")
    if args.lambd is not None and args.lambd < 0:
        parser.error(f"--lambd: expected a value >= 0, got {args.lambd}")
    if not args.eps > 0:
        parser.error(f"--eps: expected a value > 0, got {args.eps}")
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample: expected an integer >= 1, got {args.sample}")
    if args.experiment is None and args.overrides:
        parser.error(f"key=value overrides ({' '.join(args.overrides)}) need --experiment")


def random_network(args, parser) -> tuple[Network, np.ndarray, np.ndarray, str]:
    """The --layer-dims network with non-zero biases (a wrong db cannot hide behind b = 0) and data."""
    output = args.output or ("sigmoid" if args.layer_dims[-1] == 1 else "softmax")
    try:
        net = dense_stack(args.layer_dims, args.activation, output=output, initializer=args.initializer,
                          rng=args.seed, keep_prob=args.keep_prob)
    except ValueError as error:
        parser.error(str(error))
    bias_rng = np.random.RandomState(args.seed + 1)
    for layer in net.layers:
        if "b" in layer.parameters:
            layer.parameters["b"] += 0.1 * bias_rng.randn(*layer.parameters["b"].shape)
    X, Y = random_problem(net, args.examples, args.seed)
    return net, X, Y, f"random problem ({args.examples} examples)"


def experiment_problem(name: str, overrides: list[str], examples: int,
                       seed: int) -> tuple[Network, np.ndarray, np.ndarray, float, str]:
    """(network, X, Y, lambd, description) for experiment `name` with Hydra `overrides`: the run's own
    network at initialisation (RandomState(cfg.seed)) in float64 (central differences need it), and
    `examples` training columns drawn from RandomState(seed). ConfigError / DataError name the problem."""
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


def _experiment(args, parser):
    from scratchnet.config import ConfigError  # lazy: Hydra and the data layer only for experiments
    from scratchnet.data import DataError

    try:
        return experiment_problem(args.experiment, args.overrides, args.examples, args.seed)
    except (ConfigError, DataError) as error:
        parser.exit(2, f"scratchnet-gradcheck: error: {error}\n")
    except Exception as error:  # Hydra: an unknown experiment or a malformed override
        if type(error).__module__.startswith(("hydra", "omegaconf")):
            parser.exit(2, f"scratchnet-gradcheck: error: {error}\n")
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_args(args, parser)
    if args.experiment is None:
        net, X, Y, what = random_network(args, parser)
        lambd, sample = args.lambd or 0.0, args.sample
    else:
        net, X, Y, lambd, what = _experiment(args, parser)
        lambd = lambd if args.lambd is None else args.lambd
        sample = 2000 if args.sample is None else args.sample
    keep = sorted({layer.keep_prob for layer in net.layers if isinstance(layer, Dropout)}) or [1.0]
    error = gradient_check(net, X, Y, lambd=lambd, eps=args.eps, dropout_seed=args.seed, sample=sample,
                           sample_seed=args.seed)
    ok = error < args.threshold
    n_checked = min(sample or net.n_parameters, net.n_parameters)
    arch = f"layer_dims={net.layer_dims}" if net.layer_dims else f"layers=[{net.describe()}]"
    print(f"{what}: {arch} hidden={net.hidden_activation} output={net.output} "
          f"lambd={lambd:g} keep_prob={'/'.join(f'{k:g}' for k in keep)} "
          f"parameters checked={n_checked} of {net.n_parameters} seed={args.seed}")
    print(f"relative error {error:.3e} (threshold {args.threshold:.0e}): {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
