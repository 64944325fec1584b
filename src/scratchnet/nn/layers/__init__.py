"""The layers, each owning its forward and backward; LAYERS maps a config's `type` to its class."""

from scratchnet.nn.layers.activation import Activation
from scratchnet.nn.layers.base import LAYERS, Layer, build_layer, register
from scratchnet.nn.layers.batchnorm import BatchNorm
from scratchnet.nn.layers.conv import Conv2D
from scratchnet.nn.layers.dense import Dense
from scratchnet.nn.layers.dropout import Dropout
from scratchnet.nn.layers.flatten import Flatten
from scratchnet.nn.layers.pool import AvgPool2D, MaxPool2D
from scratchnet.nn.layers.residual import ConvolutionalBlock, IdentityBlock

__all__ = ["LAYERS", "Activation", "AvgPool2D", "BatchNorm", "Conv2D", "ConvolutionalBlock", "Dense", "Dropout",
           "Flatten", "IdentityBlock", "Layer", "MaxPool2D", "build_layer", "register"]
