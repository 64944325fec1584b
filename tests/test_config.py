"""The conf/ tree composed for real: every experiment validates, every bad value is rejected early."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from scratchnet.config import ConfigError, optimizer_kwargs, validate
from scratchnet.data import GENERATORS
from scratchnet.paths import CHECKOUT as PACKAGE_ROOT
from scratchnet.paths import CONF_DIR
from scratchnet.runs import train as train_module

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
DATA = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("SCRATCHNET_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def make_cfg(*overrides: str):
    with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
        return compose("config", overrides=list(overrides))


def test_the_course_experiments_are_all_there():
    # course 2's studies (init_*, reg_*, opt_*) are checked in tests/test_course2_table.py
    assert EXPERIMENTS == ["conv_cat", "conv_signs", "deep_cat", "deep_planar", "dense_signs", "init_he",
                           "init_large_random", "init_zeros", "logistic_cat", "logistic_planar", "opt_adam", "opt_gd",
                           "opt_momentum", "reg_dropout", "reg_l2", "reg_none", "resnet50_signs", "resnet_cat",
                           "resnet_signs", "shallow_cat", "shallow_planar"]
    assert DATA == sorted(["cat", "football", "images", "signs", *GENERATORS])


# the course table's settings: (data, hidden, activation, initializer, seed, lr, epochs, record_every)
COURSE = {
    "logistic_cat": ("cat", [], "relu", "zeros", 1, 0.005, 2000, 100),
    "shallow_planar": ("planar", [4], "tanh", "small_random", 2, 1.2, 10000, 1000),
    "logistic_planar": ("planar", [], "relu", "zeros", 1, 1.2, 10000, 1000),
    "shallow_cat": ("cat", [7], "relu", "small_random", 1, 0.0075, 2500, 100),
    "deep_cat": ("cat", [20, 7, 5], "relu", "course_deep", 1, 0.0075, 2500, 100),
    "deep_planar": ("planar", [8, 8], "tanh", "xavier", 2, 0.3, 10000, 1000),
}


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_file_composes_validates_and_names_itself(experiment):
    cfg = make_cfg(f"experiment={experiment}")
    validate(cfg)
    assert cfg.name == experiment  # the output folder experiments/<name> and the MLflow run name
    assert cfg.output_dir == str(PACKAGE_ROOT / "experiments" / experiment)


@pytest.mark.parametrize("experiment", sorted(COURSE))
def test_every_course_experiment_holds_the_course_settings(experiment):
    cfg = make_cfg(f"experiment={experiment}")
    validate(cfg)
    got = (cfg.data.name, list(cfg.model.hidden), cfg.model.hidden_activation, cfg.model.initializer, cfg.seed,
           cfg.optimizer.lr, cfg.train.epochs, cfg.train.record_every)
    assert got == COURSE[experiment]
    assert cfg.name == experiment
    assert cfg.output_dir == str(PACKAGE_ROOT / "experiments" / experiment)
    assert cfg.dtype == "float64" and cfg.optimizer.name == "gd" and cfg.tracking.kind == "local"


def test_without_an_experiment_the_defaults_are_the_deep_cat_net():
    cfg = make_cfg()
    validate(cfg)
    assert cfg.name == "default" and cfg.data.name == "cat" and list(cfg.model.hidden) == [20, 7, 5]


@pytest.mark.parametrize("data", DATA)
def test_every_data_set_composes_and_validates(data):
    overrides = [f"data={data}"] + (["model.output_activation=softmax"] if data in ("blobs", "signs") else []) + (
        ["data.path=photos"] if data == "images" else [])  # images: the user's folder, no default
    cfg = make_cfg(*overrides)
    validate(cfg)
    assert cfg.data.name == data
    if cfg.data.kind == "generated":  # the params are exactly what the generator takes
        assert cfg.data.path == str(PACKAGE_ROOT / "data" / "generated" / f"{data}.h5")
        GENERATORS[data](**cfg.data.params)


def test_paths_come_from_the_checkout_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = make_cfg("experiment=deep_cat")
    assert cfg.paths.root == str(PACKAGE_ROOT) and (PACKAGE_ROOT / "conf" / "config.yaml").is_file()
    assert cfg.data.path == str(PACKAGE_ROOT / "data" / "raw" / "cat")
    assert cfg.tracking.db == str(PACKAGE_ROOT / "mlflow.db")
    assert cfg.tracking.artifacts == str(PACKAGE_ROOT / "mlartifacts")


def test_scratchnet_root_and_paths_overrides_move_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHNET_ROOT", str(tmp_path / "env"))
    cfg = make_cfg("experiment=shallow_planar")
    assert cfg.output_dir == str(tmp_path / "env" / "experiments" / "shallow_planar")
    assert cfg.data.path == str(tmp_path / "env" / "data" / "generated" / "planar.h5")
    cfg = make_cfg("experiment=shallow_planar", f"paths.root={tmp_path}")
    assert cfg.tracking.db == str(tmp_path / "mlflow.db")
    assert cfg.output_dir == str(tmp_path / "experiments" / "shallow_planar")


def test_server_tracking_takes_the_uri_from_the_environment(monkeypatch):
    assert make_cfg("tracking=server").tracking.uri == "http://127.0.0.1:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracker:5001")
    assert make_cfg("tracking=server").tracking.uri == "http://tracker:5001"


def test_the_model_family_comes_from_the_model_group_and_bounds_the_depth():
    assert [make_cfg(f"model={m}").model.family for m in ("logistic", "shallow", "deep")] == [
        "logistic", "shallow", "deep"]
    validate(make_cfg("model=deep", "model.hidden=[]"))  # deep takes any depth: the depth sweep starts at 0
    validate(make_cfg("model=shallow", "model.hidden=[50]"))
    with pytest.raises(ConfigError, match=r"^config key model.hidden = \[20, 7\]: expected exactly one hidden "
                                          r"layer for model.family shallow \(model=deep takes any number\)$"):
        validate(make_cfg("model=shallow", "model.hidden=[20,7]"))
    with pytest.raises(ConfigError, match=r"^config key model.hidden = \[4\]: expected no hidden layer "
                                          r"\(model.hidden=\[\]\) for model.family logistic"):
        validate(make_cfg("model=logistic", "model.hidden=[4]"))


def test_optimizer_kwargs_pass_only_the_set_hyperparameters():
    assert optimizer_kwargs(make_cfg("experiment=deep_cat").optimizer) == {"lr": 0.0075}
    cfg = make_cfg("optimizer.name=adam", "optimizer.beta1=0.8")
    validate(cfg)
    assert optimizer_kwargs(cfg.optimizer) == {"lr": 0.0075, "beta1": 0.8}


# ---------------------------------------------------------------------------------------------------
# rejected at compose time by the schema (Hydra's errors)


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=abc", "Value 'abc' of type 'str' could not be converted to Float"),
    ("train.epochs=1.5", "Value '1.5' of type 'float' could not be converted to Integer"),
    ("model.hidden=[4,x]", "Value 'x' of type 'str' could not be converted to Integer"),
    ("foo=1", "Could not override 'foo'"),
    ("model.depth=3", "Could not override 'model.depth'"),
    # names: the schema's enums hold the core's tables, so a wrong name fails here, listing the right ones
    ("train.first_layer=fast", "Invalid value 'fast', expected one of [auto, plain, row_space]"),
    ("model.hidden_activation=swish", "Invalid value 'swish', expected one of [sigmoid, tanh, relu, leaky_relu]"),
    ("model.output_activation=tanh", "Invalid value 'tanh', expected one of [sigmoid, softmax]"),
    ("model.initializer=glorot", "Invalid value 'glorot', expected one of [zeros, small_random, large_random, "
                                 "course_deep, he, xavier, glorot_uniform]"),
    ("model.family=wide", "Invalid value 'wide', expected one of [logistic, shallow, deep, conv, resnet]"),
    ("optimizer.name=sgd", "Invalid value 'sgd', expected one of [gd, momentum, adam]"),
    ("train.lr_schedule=cosine", "Invalid value 'cosine', expected one of [constant, inverse_time, step]"),
    ("dtype=float16", "Invalid value 'float16', expected one of [float64, float32]"),
    ("data.kind=csv", "Invalid value 'csv', expected one of [cat, football, generated, signs, images]"),
    ("tracking.kind=wandb", "Invalid value 'wandb', expected one of [local, server, none]"),
])
def test_wrong_types_and_unknown_keys_fail_while_composing(override, message):
    with pytest.raises(ConfigCompositionException) as info:
        make_cfg("experiment=deep_cat", override)
    text = str(info.value) + str(info.value.__cause__)
    assert message in text


def test_an_unknown_experiment_lists_the_available_ones():
    with pytest.raises(MissingConfigException) as info:
        make_cfg("experiment=nope")
    assert "Could not find 'experiment/nope'" in str(info.value)
    assert all(f"\t{name}\n" in str(info.value) + "\n" for name in EXPERIMENTS)


# ---------------------------------------------------------------------------------------------------
# rejected by validate(), with the key, the value and what is allowed


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=0", "config key optimizer.lr = 0.0: expected a finite number > 0"),
    ("optimizer.lr=-0.01", "config key optimizer.lr = -0.01: expected a finite number > 0"),
    ("optimizer.lr=inf", "config key optimizer.lr = inf: expected a finite number > 0"),
    ("train.epochs=0", "config key train.epochs = 0: expected a number >= 1"),
    ("train.record_every=0", "config key train.record_every = 0: expected a number >= 1"),
    ("train.batch_size=0", "config key train.batch_size = 0: expected a number >= 1"),
    ("train.lambd=-1", "config key train.lambd = -1.0: expected a number >= 0"),
    ("model.hidden=[20,0,5]",
     "config key model.hidden = [20, 0, 5]: expected hidden layer sizes >= 1 (size 1 is 0)"),
    ("model.keep_prob=0", "config key model.keep_prob = 0.0: expected a probability in (0, 1]"),
    ("optimizer.beta=0.9", "config key optimizer.beta = 0.9: expected null for optimizer gd, which takes lr"),
    ("seed=-1", "config key seed = -1: expected an integer in [0, 2**32)"),
    ("name=a/b", "config key name = 'a/b': expected letters, digits and _ . + - only"),
    ("+foo=1", "config key foo = 1: expected a known key, one of name, seed, dtype, data, model"),
    ("+model.depth=3", "config key model.depth = 3: expected a known key, one of family, hidden, layers, "
                       "hidden_activation"),
    ("train.decay_rate=0", "config key train.decay_rate = 0.0: expected a number > 0"),
    ("optimizer.name=adam optimizer.beta1=1", "config key optimizer.beta1 = 1.0: expected a decay rate in [0, 1)"),
])
def test_bad_values_are_rejected_with_key_value_and_allowed_values(override, message):
    cfg = make_cfg("experiment=deep_cat", *override.split())
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert str(info.value).startswith(message)


def test_generator_params_are_checked_against_the_generator():
    cfg = make_cfg("experiment=shallow_planar", "+data.params.noise=0.3")
    expected = r"config key data.params.noise = 0.3: expected a parameter of the planar generator, one of m, a, seed"
    with pytest.raises(ConfigError, match=expected):
        validate(cfg)
    with pytest.raises(ConfigError, match=r"data.name = 'spiral': expected one of planar, noisy_circles"):
        validate(make_cfg("data=planar", "data.name=spiral"))


@pytest.mark.parametrize("override", ["optimizer.lr=-1", "model.hidden=[0]", "model.keep_prob=0",
                                      "+foo=1", "train.epochs=0", "model.family=shallow"])
def test_train_rejects_bad_config_before_reading_any_data(override, tmp_path, monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("data was read before the config was validated")

    monkeypatch.setattr(train_module, "load_data", no_data)
    cfg = make_cfg("experiment=deep_cat", "tracking=none", f"paths.root={tmp_path}", override)
    with pytest.raises(ConfigError):
        train_module.train(cfg, overrides=[])
    assert not (tmp_path / "experiments").exists() and not (tmp_path / "mlflow.db").exists()


def test_composed_config_round_trips_through_yaml():
    cfg = make_cfg("experiment=shallow_planar")
    resolved = OmegaConf.to_container(cfg, resolve=True)
    again = OmegaConf.create(OmegaConf.to_yaml(cfg, resolve=True))
    assert OmegaConf.to_container(again) == resolved
    assert Path(resolved["paths"]["root"]).is_absolute()
