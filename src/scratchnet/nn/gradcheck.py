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

from scratchnet.nn.activations import HIDDEN_ACTIVATIONS
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


def numerical_gradients(network: Network, X: np.ndarray, T: np.ndarray, lambd: float = 0.0,
                        eps: float = 1e-6, dropout_seed: int | None = None) -> list[dict[str, np.ndarray]]:
    """dJ/dtheta ~ (J(theta + eps) - J(theta - eps)) / (2 eps) for every parameter of every layer."""
    grads = []
    for layer in network.layers:
        layer_grads = {}
        for key, p in layer.parameters.items():
            g = np.zeros_like(p)
            it = np.nditer(p, flags=["multi_index"])
            for _ in it:
                idx = it.multi_index
                saved = p[idx]
                p[idx] = saved + eps
                network.forward(X, rng=_masks(network, dropout_seed))
                J_plus = network.cost(T, lambd)
                p[idx] = saved - eps
                network.forward(X, rng=_masks(network, dropout_seed))
                J_minus = network.cost(T, lambd)
                p[idx] = saved
                g[idx] = (J_plus - J_minus) / (2 * eps)
            layer_grads[key] = g
        grads.append(layer_grads)
    return grads


def gradient_check(network: Network, X: np.ndarray, Y: np.ndarray, lambd: float = 0.0,
                   eps: float = 1e-6, dropout_seed: int | None = None) -> float:
    """Relative error ||g_backprop - g_numeric|| / (||g_backprop|| + ||g_numeric||) over all parameters.

    Below 1e-7 in float64 means the backward pass is right. A network with dropout needs
    dropout_seed: the masks are then drawn from RandomState(dropout_seed) at every forward pass.
    """
    T = network.targets(Y)
    numeric = numerical_gradients(network, X, T, lambd, eps, dropout_seed)
    network.forward(X, rng=_masks(network, dropout_seed))
    network.backward(T, lambd)
    analytic = np.concatenate([layer.gradients[k].ravel() for layer in network.layers
                               for k in layer.parameters])
    approx = np.concatenate([g[k].ravel() for g in numeric for k in g])
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
        description="Check backprop against central differences on a random problem; exit 1 above the threshold.")
    p.add_argument("--layer-dims", type=int, nargs="+", default=[4, 5, 3, 1], metavar="N",
                   help="n_x n_1 ... n_L (default: 4 5 3 1); n_L > 1 means a softmax output with n_L classes")
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu", help="hidden activation")
    p.add_argument("--output", choices=("sigmoid", "softmax"), default=None,
                   help="output activation (default: sigmoid if n_L == 1, else softmax)")
    p.add_argument("--initializer", choices=tuple(INITIALIZERS), default="xavier")
    p.add_argument("--lambd", type=float, default=0.0, help="L2 strength (default 0)")
    p.add_argument("--keep-prob", type=float, default=1.0,
                   help="dropout keep probability of the hidden layers, checked under a fixed mask (default 1)")
    p.add_argument("--examples", type=int, default=8, help="number of random examples (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of weights, data and the fixed dropout mask")
    p.add_argument("--eps", type=float, default=1e-6, help="central-difference step (default 1e-6)")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help=f"pass below this (default {THRESHOLD:g})")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    output = args.output or ("sigmoid" if args.layer_dims[-1] == 1 else "softmax")
    if args.examples < 1:
        parser.error(f"--examples: expected an integer >= 1, got {args.examples}")
    if args.lambd < 0:
        parser.error(f"--lambd: expected a value >= 0, got {args.lambd}")
    if not args.eps > 0:
        parser.error(f"--eps: expected a value > 0, got {args.eps}")
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
    error = gradient_check(net, X, Y, lambd=args.lambd, eps=args.eps, dropout_seed=args.seed)
    ok = error < args.threshold
    print(f"layer_dims={net.layer_dims} activation={args.activation} output={output} lambd={args.lambd:g} "
          f"keep_prob={args.keep_prob:g} examples={args.examples} seed={args.seed}")
    print(f"relative error {error:.3e} (threshold {args.threshold:.0e}): {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
