"""Gradient checking: backprop's gradients against central differences of the cost, and its command.

    scratchnet-gradcheck --layer-dims 4 5 3 1 --activation relu --lambd 0.7 --keep-prob 0.8

Dropout is checked under a fixed mask: every forward pass draws its masks from a fresh
RandomState(dropout_seed), so the cost is a deterministic function of the parameters.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from scratchnet.nn.activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from scratchnet.nn.initializers import INITIALIZERS
from scratchnet.nn.network import Network

THRESHOLD = 1e-7  # float64 central differences with eps 1e-6 land near 1e-9..1e-10 when backprop is right


def _masks(network: Network, dropout_seed: int | None) -> np.random.RandomState | None:
    """A fresh generator for one forward pass (same seed, same masks), or None without dropout."""
    if all(layer.keep_prob == 1.0 for layer in network.layers):
        return None
    if dropout_seed is None:
        raise ValueError("the network has dropout (keep_prob < 1): pass dropout_seed to check it under a fixed mask")
    return np.random.RandomState(dropout_seed)


def _coordinates(network: Network, sample: int | None, seed: int) -> list[tuple[int, str, int]]:
    """(layer, key, flat index) of every parameter, or of `sample` of them drawn from RandomState(seed)."""
    coords = [(i, key, j) for i, layer in enumerate(network.layers)
              for key, p in layer.parameters.items() for j in range(p.size)]
    if sample is not None and sample < len(coords):
        picked = np.sort(np.random.RandomState(seed).choice(len(coords), sample, replace=False))
        coords = [coords[k] for k in picked]
    return coords


def numerical_gradients(network: Network, X: np.ndarray, T: np.ndarray, lambd: float = 0.0,
                        eps: float = 1e-6, dropout_seed: int | None = None,
                        coords: list[tuple[int, str, int]] | None = None) -> np.ndarray:
    """dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) / (2 eps) at each coordinate (default: all, in order)."""
    coords = _coordinates(network, None, 0) if coords is None else coords
    approx = np.empty(len(coords))
    for n, (i, key, j) in enumerate(coords):
        p = network.layers[i].parameters[key]
        idx = np.unravel_index(j, p.shape)
        saved = p[idx]
        p[idx] = saved + eps
        network.forward(X, rng=_masks(network, dropout_seed))
        J_plus = network.cost(T, lambd)
        p[idx] = saved - eps
        network.forward(X, rng=_masks(network, dropout_seed))
        J_minus = network.cost(T, lambd)
        p[idx] = saved
        approx[n] = (J_plus - J_minus) / (2 * eps)
    return approx


def gradient_check(network: Network, X: np.ndarray, Y: np.ndarray, lambd: float = 0.0,
                   eps: float = 1e-6, dropout_seed: int | None = None, sample: int | None = None,
                   sample_seed: int = 0) -> float:
    """Relative error ||g_backprop - g_numeric|| / (||g_backprop|| + ||g_numeric||) over the parameters.

    Below 1e-7 in float64 means the backward pass is right. A network with dropout needs
    dropout_seed: the masks are then drawn from RandomState(dropout_seed) at every forward pass.
    `sample` checks that many coordinates drawn from RandomState(sample_seed) instead of all of
    them (two forward passes each), for large networks.
    """
    T = network.targets(Y)
    coords = _coordinates(network, sample, sample_seed)
    approx = numerical_gradients(network, X, T, lambd, eps, dropout_seed, coords)
    network.forward(X, rng=_masks(network, dropout_seed))
    network.backward(T, lambd)
    analytic = np.array([(g := network.layers[i].gradients[key])[np.unravel_index(j, g.shape)]
                         for i, key, j in coords])
    return float(np.linalg.norm(analytic - approx)
                 / (np.linalg.norm(analytic) + np.linalg.norm(approx) + 1e-300))


def random_problem(network: Network, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (n_x, m) ~ N(0, 1) and labels Y (1, m) in the output's classes, from RandomState(seed)."""
    rng = np.random.RandomState(seed)
    n_x, n_out = network.layer_dims[0], network.layer_dims[-1]
    classes = n_out if network.output_activation == "softmax" else 2
    return rng.randn(n_x, m), rng.randint(0, classes, (1, m))


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
    p.add_argument("--output", choices=OUTPUT_ACTIVATIONS, default=None,
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


def _random_network(args, parser) -> tuple[Network, np.ndarray, np.ndarray, str]:
    output = args.output or ("sigmoid" if args.layer_dims[-1] == 1 else "softmax")
    try:
        net = Network.initialise(args.layer_dims, args.activation, output_activation=output,
                                 initializer=args.initializer, rng=args.seed, keep_prob=args.keep_prob)
    except ValueError as error:
        parser.error(str(error))
    # non-zero biases, so that a wrong db cannot hide behind b = 0
    bias_rng = np.random.RandomState(args.seed + 1)
    for layer in net.layers:
        layer.b += 0.1 * bias_rng.randn(*layer.b.shape)
    X, Y = random_problem(net, args.examples, args.seed)
    return net, X, Y, f"random problem ({args.examples} examples)"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error(f"--examples: expected an integer >= 1, got {args.examples}")
    if args.lambd is not None and args.lambd < 0:
        parser.error(f"--lambd: expected a value >= 0, got {args.lambd}")
    if not args.eps > 0:
        parser.error(f"--eps: expected a value > 0, got {args.eps}")
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample: expected an integer >= 1, got {args.sample}")
    if args.experiment is None:
        if args.overrides:
            parser.error(f"key=value overrides ({' '.join(args.overrides)}) need --experiment")
        net, X, Y, what = _random_network(args, parser)
        lambd, sample = args.lambd or 0.0, args.sample
    else:
        from scratchnet.config import ConfigError  # lazy: Hydra and the data layer only for experiments
        from scratchnet.data import DataError
        from scratchnet.gradcheck_experiment import experiment_problem

        try:
            net, X, Y, lambd, what = experiment_problem(args.experiment, args.overrides, args.examples, args.seed)
        except (ConfigError, DataError) as error:
            parser.exit(2, f"scratchnet-gradcheck: error: {error}\n")
        except Exception as error:  # Hydra: an unknown experiment or a malformed override
            if type(error).__module__.startswith(("hydra", "omegaconf")):
                parser.exit(2, f"scratchnet-gradcheck: error: {error}\n")
            raise
        lambd = lambd if args.lambd is None else args.lambd
        sample = 2000 if args.sample is None else args.sample
    keep = sorted({layer.keep_prob for layer in net.layers[:-1]}) or [1.0]
    error = gradient_check(net, X, Y, lambd=lambd, eps=args.eps, dropout_seed=args.seed, sample=sample,
                           sample_seed=args.seed)
    ok = error < args.threshold
    n_checked = min(sample or net.n_parameters, net.n_parameters)
    print(f"{what}: layer_dims={net.layer_dims} hidden={net.hidden_activation} output={net.output_activation} "
          f"lambd={lambd:g} keep_prob={'/'.join(f'{k:g}' for k in keep)} "
          f"parameters checked={n_checked} of {net.n_parameters} seed={args.seed}")
    print(f"relative error {error:.3e} (threshold {args.threshold:.0e}): {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
