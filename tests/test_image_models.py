"""Conv and residual models from config: model.layers checked before any data is read (one line naming
model.layers[i]), the output layer appended from the data's classes, the relu/max-pool swap recorded
in the model file, the image data kinds' options, and model files that carry their class names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from scratchnet.config import ConfigError, validate
from scratchnet.data import Dataset, load_data
from scratchnet.models import ModelFileError, load_model, read_model, save_model
from scratchnet.nn import dense_stack
from scratchnet.paths import CONF_DIR
from scratchnet.runs.build import build_network, inputs

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_ROOT", raising=False)


def make_cfg(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=list(overrides))


def images_dataset(classes=("0", "1", "2"), m=12, shape=(64, 64, 3), test=True) -> Dataset:
    rng = np.random.RandomState(0)
    n = int(np.prod(shape))

    def split(k):
        return rng.rand(n, k), rng.randint(0, len(classes), (1, k))

    X, Y = split(m)
    X_test, Y_test = split(5) if test else (None, None)
    return Dataset("images", X, Y, X_test, Y_test, classes, image_shape=shape)


# ---------------------------------------------------------------------------------------------------
# model.layers: every bad spec fails in validate, before the data is read, naming model.layers[i]

@pytest.mark.parametrize("override, message", [
    ("+model.layers.0.filtrs=3", "config key model.layers[0] = {'type': 'conv2d', 'filters': 8, 'f': 4, 'padding': "
                                 "'same', 'bias': False, 'filtrs': 3}: expected a layer spec that builds here: "
                                 "conv2d: unknown key(s) filtrs; expected some of bias, f, filters, padding, stride"),
    ("model.layers.1=rellu", "config key model.layers[1] = 'rellu': expected a layer spec that builds here: unknown "
                             "type 'rellu'; known: activation, avgpool2d, batchnorm"),
    ("model.layers.2.f=100", "config key model.layers[2] = {'type': 'maxpool2d', 'f': 100, 'stride': 8}: expected a "
                             "layer spec that builds here: a 100x100 window does not fit an input of size 64"),
    ("model.layers.0.padding=half", "config key model.layers[0] = {'type': 'conv2d', 'filters': 8, 'f': 4, "
                                    "'padding': 'half', 'bias': False}: expected a layer spec that builds here: "
                                    "padding must be an int >= 0, 'same' or 'valid'; got 'half'"),
    ("model.layers.1={type:activation,nme:relu}", "model.layers[1] = {'type': 'activation', 'nme': 'relu'}: expected "
                                                  "a layer spec that builds here: activation: unknown key(s) nme; "
                                                  "expected some of name"),
    ("model.layers.6=relu", "config key model.layers[6] = 'relu': expected a last layer that gives a vector per "
                            "example, so that the output layer (dense, appended from the data's classes) fits; it "
                            "says: dense: expected 1-D inputs per example, found (2, 2, 16) (put a flatten layer"),
    ("model.layers.3=7", "config key model.layers[3] = 7: expected a layer spec: a name ('relu', 'flatten') or a "
                         "mapping with a type"),
    ("model.layers=[]", "config key model.layers = []: expected a list of layer specs for model.family conv"),
    ("model.hidden=[3]", "config key model.hidden = [3]: expected [] for model.family conv: its layers are "
                         "model.layers"),
    ("model.keep_prob=0.5", "config key model.keep_prob = 0.5: expected 1.0 for model.family conv: put a "
                            "{type: dropout, keep_prob: p} spec in model.layers"),
    ("data=planar", "config key data.kind = 'generated': expected image data, one of cat, signs, images, for "
                    "model.family conv"),
    ("train.first_layer=row_space", "config key train.first_layer = 'row_space': expected auto or plain"),
    ("model.layers=[{type:conv2d,filters:4,f:3},{type:identity_block,f:3,filters:[2,2,4]},flatten]",
     "config key model.layers[1] = {'type': 'identity_block', 'f': 3, 'filters': [2, 2, 4]}: expected no residual "
     "block for model.family conv (model=resnet takes them)"),
    ("model.output_activation=sigmoid", "config key model.output_activation = 'sigmoid': expected softmax for the "
                                        "signs set's 6 classes"),
])
def test_a_bad_conv_spec_fails_in_validate_with_one_line(override, message):
    cfg = make_cfg("experiment=conv_signs", override)
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("experiment, override, message", [
    ("resnet_signs", "model.layers.4.filters=[16,16]", "config key model.layers[4] = {'type': "
                                                       "'convolutional_block', 'f': 3, 'filters': [16, 16], "),
    ("resnet_signs", "model.layers.5.filters=[16,16,8]", "identity_block: the identity shortcut needs F3 = the "
                                                         "input's channels (32); got filters [16, 16, 8]"),
    ("resnet_signs", "model.layers=[relu,flatten]", "expected at least one identity_block or convolutional_block "
                                                    "for model.family resnet"),
    ("deep_cat", "model.layers=[relu]", "config key model.layers = ['relu']: expected [] for model.family deep"),
])
def test_resnet_and_dense_families_check_their_layers_too(experiment, override, message):
    with pytest.raises(ConfigError, match=None) as info:
        validate(make_cfg(f"experiment={experiment}", override))
    assert message in str(info.value)


def test_validate_reads_no_data_for_a_bad_spec(tmp_path, monkeypatch):
    """The command exits 2 with the one line before touching the data (the data path does not exist)."""
    from scratchnet.runs import train as train_module

    monkeypatch.setattr(train_module, "load_data", lambda *a: pytest.fail("data read before validation"))
    cfg = make_cfg(f"paths.root={tmp_path}", "experiment=conv_signs", "model.layers.1=rellu", "tracking=none")
    with pytest.raises(ConfigError, match=r"model.layers\[1\]"):
        train_module.train(cfg, overrides=[])
    assert not (tmp_path / "experiments").exists()


def test_every_image_experiment_builds_on_its_data_shape_with_the_output_from_the_classes():
    """The experiments' nets, as validate builds them (ResNet50 included: it must build and validate fast)."""
    for experiment, n_params in [("conv_signs", 4 * 4 * 3 * 8 + 2 * 2 * 8 * 16 + 64 * 6 + 6),
                                 ("resnet50_signs", None)]:
        cfg = make_cfg(f"experiment={experiment}")
        validate(cfg)
        net = build_network(cfg, images_dataset(classes=tuple("012345")), np.random.RandomState(1))
        assert net.n_outputs == 6 and net.output == "softmax" and net.input_shape == (64, 64, 3)
        if n_params is not None:
            assert net.n_parameters == n_params
        else:  # the course's ResNet50 summary: 23,600,006 parameters (53,120 of them BatchNorm's moving stats)
            assert net.n_parameters + sum(a.size for layer in net.layers for a in layer.buffers.values()) == 23_600_006


def test_the_builder_appends_the_output_layer_and_swaps_relu_after_max_pool(tmp_path):
    cfg = make_cfg("experiment=conv_signs", "model.output_activation=sigmoid", "data=cat")
    validate(cfg)
    net = build_network(cfg, images_dataset(classes=("non-cat", "cat")), np.random.RandomState(1))
    assert net.describe() == ("conv 4x4x8 same, maxpool 8x8, relu, conv 2x2x16 same, maxpool 4x4, relu, flatten, "
                              "dense 1, sigmoid")
    save_model(net, tmp_path / "m.npz", ("non-cat", "cat"), (64, 64, 3))
    with np.load(tmp_path / "m.npz") as npz:  # the model file records the order that ran
        types = [layer.get("name", layer["type"]) for layer in json.loads(str(npz["architecture"]))["layers"]]
    assert types == ["conv2d", "maxpool2d", "relu", "conv2d", "maxpool2d", "relu", "flatten", "dense"]


def test_image_nets_take_contiguous_images_and_dense_nets_the_columns_unchanged():
    ds = images_dataset()
    conv = build_network(make_cfg("experiment=conv_signs"), ds, np.random.RandomState(1))
    X = inputs(conv, ds, "train")
    assert X.shape == (12, 64, 64, 3) and X.flags.c_contiguous and X.dtype == np.float64
    np.testing.assert_array_equal(X.reshape(12, -1).T, ds.X_train)  # the course's flattening, undone exactly
    dense = build_network(make_cfg("experiment=dense_signs"), ds, np.random.RandomState(1))
    assert inputs(dense, ds, "train") is ds.X_train and inputs(dense, ds, "test") is ds.X_test
    no_test = images_dataset(test=False)
    assert inputs(conv, no_test, "test") is None
    f32 = build_network(make_cfg("experiment=conv_signs", "dtype=float32"), ds, np.random.RandomState(1))
    assert inputs(f32, ds, "train").dtype == np.float32


# ---------------------------------------------------------------------------------------------------
# the image data kinds

@pytest.mark.parametrize("override, message", [
    ("data.params.size=0", "config key data.params.size = 0: expected an image side >= 1, or [height, width]"),
    ("data.params.labels=file", "config key data.params.labels = 'file': expected one of folder, name"),
    ("data.params.name_pattern=abc", "config key data.params.name_pattern = 'abc': expected a regular expression "
                                     "with a group (...) holding the class"),
    ("data.params.name_pattern='('", "config key data.params.name_pattern = '(': expected a regular expression"),
    ("data.params.classes=[a]", "config key data.params.classes = ['a']: expected null, or a list of at least two"),
    ("+data.params.sise=3", "config key data.params.sise = 3: expected an option of the images loader, one of size, "
                            "labels, name_pattern, test_path, classes, exclude_test_copies"),
    ("data.params.exclude_test_copies=maybe", "config key data.params.exclude_test_copies = 'maybe': expected true "
                                              "or false"),
])
def test_image_folder_options_are_checked_before_reading(override, message):
    with pytest.raises(ConfigError) as info:
        validate(make_cfg("data=images", "data.path=photos", override))
    assert str(info.value).startswith(message)


def test_an_image_folder_without_a_path_says_what_to_give():
    with pytest.raises(ConfigError, match=r"config key data.path = '\?\?\?': expected the folder of images "
                                          r"\(data.path=\.\.\.; a relative path is taken from the repo root\)"):
        validate(make_cfg("data=images"))


def test_an_image_folder_trains_a_conv_net_at_its_size_with_paths_from_the_root(tmp_path):
    """data=images: sub-folders are classes, the size option sets the net's input, test_path from the root."""
    from PIL import Image

    rng = np.random.RandomState(0)
    for split, n in (("train", 4), ("test", 2)):
        for cls in ("circle", "square"):
            (tmp_path / split / cls).mkdir(parents=True)
            for k in range(n):
                Image.fromarray(rng.randint(0, 256, (20, 30, 3), dtype=np.uint8)).save(
                    tmp_path / split / cls / f"{k}.png")
    cfg = make_cfg(f"paths.root={tmp_path}", "experiment=conv_cat", "data=images", "data.path=train",
                   "data.params.size=[16,24]", "data.params.test_path=test", "data.name=shapes",
                   "model.layers=[{type:conv2d,filters:2,f:3,padding:same},relu,{type:maxpool2d,f:4},flatten]")
    validate(cfg)
    ds = load_data(cfg.data, tmp_path)
    assert (ds.name, ds.classes, ds.image_shape, ds.m_train, ds.X_test.shape[1]) == (
        "shapes", ("circle", "square"), (16, 24, 3), 8, 4)
    net = build_network(cfg, ds, np.random.RandomState(1))
    assert net.input_shape == (16, 24, 3) and net.n_outputs == 1


def test_signs_options_reach_the_loader(monkeypatch):
    from scratchnet.data import registry

    seen = {}
    monkeypatch.setattr(registry, "load_signs", lambda path, **kw: seen.update(path=path, **kw))
    cfg = make_cfg("experiment=conv_signs", "data.params.exclude_test_copies=false")
    validate(cfg)
    load_data(cfg.data, REPO)
    assert seen == {"path": REPO / "data" / "raw" / "signs", "exclude_test_copies": False}


# ---------------------------------------------------------------------------------------------------
# model files carry the class names and image shape; older files still load

def test_the_model_file_keeps_class_names_and_image_shape(tmp_path):
    net = dense_stack([12, 4, 3], output="softmax", initializer="he", rng=0)
    save_model(net, tmp_path / "m.npz", ("a", "b", "c"), (2, 2, 3))
    model = read_model(tmp_path / "m.npz")
    assert (model.classes, model.image_shape) == (("a", "b", "c"), (2, 2, 3))
    assert model.network.layers[0].W.tobytes() == net.layers[0].W.tobytes()
    save_model(net, tmp_path / "bare.npz")
    assert read_model(tmp_path / "bare.npz")[1:] == (None, None)
    with pytest.raises(ModelFileError, match=r"names 2 classes \['a', 'b'\] for a 3-unit softmax output"):
        save_model(net, tmp_path / "bad.npz", ("a", "b"))
        read_model(tmp_path / "bad.npz")


def test_model_files_from_before_the_class_names_still_load(tmp_path):
    """A current-format file without the data entry, and a pre-layer-contract (layer_dims) file."""
    net = dense_stack([12288, 3, 1], initializer="he", rng=0)
    arrays = net.arrays()
    with open(tmp_path / "current.npz", "wb") as f:
        np.savez(f, architecture=np.array(json.dumps(net.config())), **arrays)
    old = {"layers.0.W": arrays["layers.0.W"], "layers.0.b": arrays["layers.0.b"],
           "layers.1.W": arrays["layers.2.W"], "layers.1.b": arrays["layers.2.b"]}
    architecture = {"layer_dims": [12288, 3, 1], "hidden_activation": "relu", "output_activation": "sigmoid"}
    with open(tmp_path / "old.npz", "wb") as f:
        np.savez(f, architecture=np.array(json.dumps(architecture)), **old)
    X = np.random.RandomState(1).rand(12288, 4)
    for name in ("current.npz", "old.npz"):
        model = read_model(tmp_path / name)
        assert (model.classes, model.image_shape) == (None, None)
        np.testing.assert_array_equal(model.network.predict_proba(X), net.predict_proba(X))
        assert load_model(tmp_path / name).layer_dims == [12288, 3, 1]
