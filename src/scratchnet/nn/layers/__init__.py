"""The layers, each owning its forward and backward; LAYERS maps a config's `type` to its class."""

from scratchnet.nn.layers.activation import Activation
from scratchnet.nn.layers.base import LAYERS, Layer, build_layer, register
from scratchnet.nn.layers.dense import Dense
from scratchnet.nn.layers.dropout import Dropout
from scratchnet.nn.layers.flatten import Flatten

__all__ = ["LAYERS", "Activation", "Dense", "Dropout", "Flatten", "Layer", "build_layer", "register"]
