"""Image models and image data: what the schema's types cannot say about `model.layers` and about
the signs / images data options, checked before any data is read; and the specs the builder completes.

A conv or resnet model is a list of layer specs (`model.layers`) up to the output layer; the builder
appends the output layer from the data's classes (dense 1 for a sigmoid output, dense n_classes for
softmax). `model_problem` builds the whole stack once on the data's image shape with zero weights
(nothing drawn; ResNet50's 23.6M weights and their gradients build in ~0.2 s),
so an unknown key, a wrong value or layers that do not fit together fail before training, named as
model.layers[i] by the core's own check (scratchnet.nn.SpecError).
Each check returns None or a Problem (key, value, expected), which validate raises as a ConfigError.
"""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from scratchnet.config.schema import IMAGE_KINDS, IMAGE_OPTIONS, SIGNS_OPTIONS
from scratchnet.data import DataError
from scratchnet.data.cat import IMAGE_SHAPE as CAT_SHAPE
from scratchnet.data.images import LABEL_RULES, image_size
from scratchnet.data.signs import IMAGE_SHAPE as SIGNS_SHAPE
from scratchnet.nn import LAYERS, SpecError, from_specs

SPEC_FAMILIES = ("conv", "resnet")  # the families built from model.layers (the others from model.hidden)
RESIDUAL_TYPES = ("identity_block", "convolutional_block")
Problem = tuple[str, Any, str]  # (config key, value, what was expected)


def plain(node: Any) -> Any:
    """An OmegaConf node (or a plain value) as plain Python lists, dicts and scalars."""
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, (DictConfig, ListConfig)) else node


def output_units(output_activation: str, n_classes: int) -> int:
    """The output layer's size: 1 for a sigmoid output, n_classes for softmax."""
    return 1 if str(output_activation) == "sigmoid" else int(n_classes)


def network_specs(model_cfg: DictConfig, n_classes: int) -> list:
    """model.layers plus the output layer the data's classes call for (dense 1 or dense n_classes)."""
    return [*plain(model_cfg.layers), {"type": "dense", "units": output_units(model_cfg.output_activation, n_classes)}]


def data_image_shape(data_cfg: DictConfig) -> tuple[int, int, int] | None:
    """(H, W, 3) of the images data.kind reads (images: data.params.size), None for other data."""
    if data_cfg.kind == "cat":
        return CAT_SHAPE
    if data_cfg.kind == "signs":
        return SIGNS_SHAPE
    if data_cfg.kind == "images":
        return (*image_size(plain(data_cfg.params.get("size", 64))), 3)
    return None


def _type(spec: Any) -> Any:
    return spec.get("type") if isinstance(spec, dict) else spec


def model_problem(cfg: DictConfig) -> Problem | None:
    """model.layers against model.family, the data and the layer classes; record_accuracy against
    the row-space first layer (it takes indices, not images, while fitting)."""
    model, family = cfg.model, str(cfg.model.family)
    layers = plain(model.layers)
    if cfg.train.record_accuracy and cfg.train.first_layer == "row_space":
        return ("train.first_layer", "row_space", "auto or plain with train.record_accuracy=true (the row-space "
                                                 "layer stands for W only while fitting, so no accuracy mid-fit)")
    if cfg.data.kind == "signs" and model.output_activation == "sigmoid":  # known before reading it
        return ("model.output_activation", "sigmoid", "softmax for the signs set's 6 classes (a sigmoid output has 2)")
    if family not in SPEC_FAMILIES:
        if layers:
            return ("model.layers", layers, f"[] for model.family {family}, whose layers come from model.hidden "
                                            f"(model=conv and model=resnet take layer specs)")
        return None
    if list(model.hidden):
        return ("model.hidden", list(model.hidden), f"[] for model.family {family}: its layers are model.layers")
    if model.keep_prob != 1.0:
        return ("model.keep_prob", model.keep_prob, f"1.0 for model.family {family}: put a "
                                                    f"{{type: dropout, keep_prob: p}} spec in model.layers")
    if cfg.train.first_layer == "row_space":
        return ("train.first_layer", "row_space", f"auto or plain for model.family {family} "
                                                 f"(row_space needs a dense first layer)")
    shape = data_image_shape(cfg.data)
    if shape is None:
        return ("data.kind", str(cfg.data.kind), f"image data, one of {', '.join(IMAGE_KINDS)}, for model.family "
                                                 f"{family}")
    return _layers_problem(layers, family, shape, str(model.output_activation))


def _layers_problem(layers: list, family: str, shape: tuple[int, ...], output: str) -> Problem | None:
    if not layers:
        return ("model.layers", [], f"a list of layer specs for model.family {family} (see conf/model/{family}.yaml)")
    for i, spec in enumerate(layers):
        if not (isinstance(spec, str) or (isinstance(spec, dict) and isinstance(spec.get("type"), str))):
            return (f"model.layers[{i}]", spec, "a layer spec: a name ('relu', 'flatten') or a mapping with a "
                                                f"type, one of {', '.join(sorted(LAYERS))}")
    blocks = [i for i, spec in enumerate(layers) if _type(spec) in RESIDUAL_TYPES]
    if family == "resnet" and not blocks:
        return ("model.layers", layers, "at least one identity_block or convolutional_block for model.family "
                                        "resnet (model=conv builds plain stacks)")
    if family == "conv" and blocks:
        return (f"model.layers[{blocks[0]}]", layers[blocks[0]], "no residual block for model.family conv "
                                                                 "(model=resnet takes them)")
    units = output_units(output, 2)
    try:  # zeros: nothing drawn from any generator
        from_specs(shape, [*layers, {"type": "dense", "units": units}], output, "zeros", rng=0, dtype="float64")
    except SpecError as error:
        if error.index < len(layers):
            return (f"model.layers[{error.index}]", layers[error.index],
                    f"a layer spec that builds here: {error.reason}")
        return (f"model.layers[{len(layers) - 1}]", layers[-1],
                f"a last layer that gives a vector per example, so that the output layer (dense, appended from "
                f"the data's classes) fits; it says: {error.reason}")
    except ValueError as error:  # the stack as a whole (e.g. a last layer that gives images)
        return ("model.layers", layers, f"layers that end in a vector per example: {error}")
    return None


def data_problem(data_cfg: DictConfig) -> Problem | None:
    """data.params of the signs and images kinds against their loader's options."""
    if OmegaConf.is_missing(data_cfg, "path"):
        return ("data.path", "???", f"the folder of {data_cfg.kind} (data.path=...; a relative path is "
                                    f"taken from the repo root)")
    params = plain(data_cfg.params) or {}
    options = SIGNS_OPTIONS if data_cfg.kind == "signs" else IMAGE_OPTIONS
    for key, value in params.items():
        if key not in options:
            return (f"data.params.{key}", value,
                    f"an option of the {data_cfg.kind} loader, one of {', '.join(options)}")
    if "exclude_test_copies" in params and not isinstance(params["exclude_test_copies"], bool):
        return ("data.params.exclude_test_copies", params["exclude_test_copies"], "true or false")
    if data_cfg.kind == "images":
        return _images_problem(params)
    return None


def _images_problem(params: dict) -> Problem | None:
    try:
        image_size(params.get("size", 64))
    except DataError:
        return ("data.params.size", params.get("size"), "an image side >= 1, or [height, width]")
    labels = params.get("labels", "folder")
    if labels not in LABEL_RULES:
        return ("data.params.labels", labels, f"one of {', '.join(LABEL_RULES)} ({IMAGE_OPTIONS['labels']})")
    pattern = params.get("name_pattern", "^(.)")
    try:
        groups = re.compile(str(pattern)).groups
    except re.error as error:
        return ("data.params.name_pattern", pattern, f"a regular expression ({error})")
    if groups < 1:
        return ("data.params.name_pattern", pattern, "a regular expression with a group (...) holding the class")
    test_path = params.get("test_path")
    if test_path is not None and (not isinstance(test_path, str) or not test_path):
        return ("data.params.test_path", test_path, "a folder path, or null for no test split")
    classes = params.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) < 2
                                or len({str(c) for c in classes}) != len(classes)):
        return ("data.params.classes", classes, "null, or a list of at least two different class names")
    return None
