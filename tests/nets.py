"""Small helpers the core's tests share."""

from scratchnet.nn.layers import Dense


def dense_layers(net) -> list[Dense]:
    """The network's dense layers, in order (activations and dropout are layers of their own)."""
    return [layer for layer in net.layers if isinstance(layer, Dense)]


def perturb_biases(net, rng, scale=0.1) -> None:
    """Non-zero biases, so that a wrong db cannot hide behind b = 0."""
    for layer in dense_layers(net):
        layer.b[...] += scale * rng.randn(*layer.b.shape)
