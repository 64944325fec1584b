"""scratchnet-predict: the image goes through the training data's steps; bad inputs get one clear line."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchnet.cli.predict import (
    ImageFileError,
    load_classifier,
    load_image,
    main,
    predict_image,
)
from scratchnet.models import save_model
from scratchnet.nn import Network, dense_stack


def fixed_model(p_cat: float) -> Network:
    """A logistic model that says P(cat) = p_cat for every image: W = 0, b = logit(p_cat)."""
    network = dense_stack([12288, 1], initializer="zeros")
    network.layers[0].b[...] = math.log(p_cat / (1 - p_cat))
    return network


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    save_model(fixed_model(0.8), path)
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    """A 100x80 RGBA PNG: not 64x64, not RGB, so resize and convert both run."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(80, 100, 4), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(pixels, "RGBA").save(path)
    return path


def test_fixed_model_prints_class_and_probability(model_path, photo, capsys):
    assert main([str(photo), "--model", str(model_path)]) == 0
    assert capsys.readouterr().out == f"{photo}: cat (p=0.80)\n"


def test_non_cat_reports_probability_of_its_own_class(tmp_path, photo, capsys):
    save_model(fixed_model(0.1), tmp_path / "low.npz")
    assert main([str(photo), "--model", str(tmp_path / "low.npz")]) == 0
    assert capsys.readouterr().out == f"{photo}: non-cat (p=0.90)\n"


def test_random_model_probability_in_unit_interval(tmp_path, photo):
    network = dense_stack([12288, 5, 1], initializer="he", rng=3)
    save_model(network, tmp_path / "m.npz")
    prediction = predict_image(load_classifier(tmp_path / "m.npz"), photo)
    assert 0.0 <= prediction.probability <= 1.0 and sum(prediction.probabilities) == pytest.approx(1.0)
    assert prediction.label in ("cat", "non-cat")
    assert (prediction.label == "cat") == (prediction.probabilities[1] > 0.5)
    # the same column the network sees, computed by hand
    X = load_image(photo).reshape(1, -1).T
    assert X.shape == (12288, 1)
    assert prediction.probabilities[1] == pytest.approx(float(network.predict_proba(X)[0, 0]), abs=0)


def test_image_is_flattened_exactly_like_the_training_data(data_root, tmp_path):
    """A test-set image saved as PNG comes back as the very column load_cat gives."""
    import h5py

    from scratchnet.data import load_cat

    with h5py.File(data_root / "cat" / "test_catvnoncat.h5") as f:
        image = f["test_set_x"][7]  # (64, 64, 3) uint8
    Image.fromarray(image).save(tmp_path / "seven.png")
    X = load_image(tmp_path / "seven.png").reshape(1, -1).T
    np.testing.assert_array_equal(X[:, 0], load_cat(data_root / "cat").X_test[:, 7])


def test_resize_and_convert(photo):
    image = load_image(photo)
    assert image.shape == (64, 64, 3) and image.dtype == np.float64 and 0 <= image.min() <= image.max() <= 1
    assert load_image(photo, (20, 30, 3)).shape == (20, 30, 3)


def test_dir_form_lists_images_sorted_and_skips_other_files(model_path, tmp_path, capsys):
    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("b.jpg", "a.png"):
        Image.new("RGB", (30, 40), (200, 10, 10)).save(folder / name)
    (folder / "notes.txt").write_text("not a picture")
    assert main(["--dir", str(folder), "--model", str(model_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{folder / 'a.png'}: cat (p=0.80)", f"{folder / 'b.jpg'}: cat (p=0.80)"]


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.jpg", "image file {p} not found"),
    (lambda d: (d / "fake.jpg").write_text("hello") and d / "fake.jpg",
     "{p}: not an image Pillow can read"),
    (lambda d: d, "image file {p} is not a file (use --dir for a folder)"),
])
def test_bad_image_one_line_and_exit_1(model_path, tmp_path, capsys, make, message):
    path = make(tmp_path)
    assert main([str(path), "--model", str(model_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("scratchnet-predict: error: " + message.format(p=path))
    assert len(err.splitlines()) == 1


def test_truncated_image(model_path, tmp_path, capsys):
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert main([str(tmp_path / "cut.png"), "--model", str(model_path)]) == 1
    assert f"{tmp_path / 'cut.png'}: cannot decode the image" in capsys.readouterr().err


def test_one_bad_file_does_not_hide_the_others(model_path, photo, tmp_path, capsys):
    assert main([str(tmp_path / "nope.png"), str(photo), "--model", str(model_path)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{photo}: cat (p=0.80)\n"
    assert "nope.png not found" in err


def test_bad_models(tmp_path, photo, capsys):
    missing = tmp_path / "none.npz"
    assert main([str(photo), "--model", str(missing)]) == 1
    assert f"model file {missing} not found" in capsys.readouterr().err

    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    assert main([str(photo), "--model", str(corrupt)]) == 1
    assert f"model file {corrupt} is not a readable scratchnet model" in capsys.readouterr().err

    planar = tmp_path / "planar.npz"
    save_model(dense_stack([2, 4, 1]), planar, ("red", "blue"))
    assert main([str(photo), "--model", str(planar)]) == 1
    assert (f"model file {planar} takes 2 input features per example ([2, 4, 1]), not RGB images: predict needs "
            f"a model trained on images") in capsys.readouterr().err

    odd = tmp_path / "odd.npz"  # 3 * 7 * 7 = 147 inputs would be 7x7 RGB, but 12288 + 1 is no image at all
    save_model(dense_stack([12289, 1]), odd)
    assert main([str(photo), "--model", str(odd)]) == 1
    assert "takes 12289 input features per example" in capsys.readouterr().err


def test_empty_dir_and_no_arguments(model_path, tmp_path, capsys):
    assert main(["--dir", str(tmp_path / "nothing"), "--model", str(model_path)]) == 1
    assert "expected a directory, found nothing" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["--dir", str(tmp_path / "empty"), "--model", str(model_path)]) == 1
    assert "no image files in it" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2


def test_load_image_errors_are_image_file_errors(tmp_path):
    with pytest.raises(ImageFileError, match="not found"):
        load_image(tmp_path / "x.png")


def test_console_script_no_traceback_and_stays_light(model_path, photo, tmp_path):
    """The real command: exit codes, no traceback, and MLflow / Hydra are never imported."""
    script = Path(sys.executable).parent / "scratchnet-predict"
    ok = subprocess.run([script, str(photo), "--model", str(model_path)],
                        capture_output=True, text=True)
    assert (ok.returncode, ok.stdout) == (0, f"{photo}: cat (p=0.80)\n")
    bad = subprocess.run([script, str(tmp_path / "x.gif"), "--model", str(model_path)],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    light = subprocess.run([sys.executable, "-c",
                            "import sys, scratchnet.cli.predict as p; p.main(sys.argv[1:]); "
                            "print(sorted(m for m in ('mlflow', 'hydra', 'omegaconf') "
                            "if m in sys.modules))", str(photo), "--model", str(model_path)],
                           capture_output=True, text=True)
    assert light.stdout.splitlines()[-1] == "[]"


# ---------------------------------------------------------------------------------------------------
# every Pillow mode through the command, scaled by its true range or refused in one line (issue 14)

BRIGHTNESS_GAIN = 4.0


@pytest.fixture
def brightness_model(tmp_path: Path) -> Path:
    """P(cat) = sigmoid(4 (mean pixel - 0.5)): the printed p tells how bright predict saw the image."""
    network = dense_stack([12288, 1], initializer="zeros")
    network.layers[0].W[...] = BRIGHTNESS_GAIN / 12288
    network.layers[0].b[...] = -BRIGHTNESS_GAIN / 2
    path = tmp_path / "brightness.npz"
    save_model(network, path, ("dark", "bright"), (64, 64, 3))
    return path


def _palette(mode: str, value):
    image = Image.new(mode, (30, 20), value)
    image.putpalette([64, 64, 64] * 256)
    return image


# mode: (format, how to make it, the grey value in [0, 1] the image really holds)
MODES = {
    "1": ("png", lambda: Image.new("1", (30, 20), 1), 1.0),
    "L": ("png", lambda: Image.new("L", (30, 20), 64), 64 / 255),
    "P": ("png", lambda: _palette("P", 0), 64 / 255),
    "RGB": ("png", lambda: Image.new("RGB", (30, 20), (64, 64, 64)), 64 / 255),
    "RGBA": ("png", lambda: Image.new("RGBA", (30, 20), (0, 0, 0, 128)), 127 / 255),  # half black over white
    "LA": ("png", lambda: Image.new("LA", (30, 20), (64, 255)), 64 / 255),
    "PA": ("tiff", lambda: _palette("PA", (0, 128)), (64 * 128 + 255 * 127) / 255 / 255),
    "CMYK": ("tiff", lambda: Image.new("CMYK", (30, 20), (0, 0, 0, 191)), 64 / 255),
    "YCbCr": ("tiff", lambda: Image.new("YCbCr", (30, 20), (64, 128, 128)), 64 / 255),
    "LAB": ("tiff", lambda: Image.new("LAB", (30, 20), (69, 128, 128)), 0.25),  # L* 27 is sRGB grey 0.25
    "I;16": ("png", lambda: Image.new("I;16", (30, 20), 16384), 16384 / 65535),  # a scanner's 16-bit PNG
    "I;16B": ("tiff", lambda: Image.new("I;16B", (30, 20), 16384), 16384 / 65535),
    "I": ("tiff", lambda: Image.new("I", (30, 20), 2**29), 2**29 / (2**31 - 1)),
    "F": ("tiff", lambda: Image.new("F", (30, 20), 0.25), 0.25),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_pillow_mode_is_seen_at_its_true_brightness(mode, brightness_model, tmp_path, capsys):
    fmt, make, grey = MODES[mode]
    path = tmp_path / f"image.{fmt}"
    make().save(path)
    with Image.open(path) as check:
        assert check.mode == mode  # the file really holds that mode
    assert main([str(path), "--model", str(brightness_model)]) == 0
    line = capsys.readouterr().out.strip()
    p_bright = 1 / (1 + math.exp(-BRIGHTNESS_GAIN * (grey - 0.5)))
    label = "bright" if p_bright > 0.5 else "dark"
    assert line.startswith(f"{path}: {label} (p=")
    printed = float(line.split("p=")[1].rstrip(")"))
    # within the printed rounding (and a grey level's worth of colour-conversion rounding): a 16-bit
    # image clipped to white, as convert("RGB") does, would print bright (p=0.88)
    assert printed == pytest.approx(max(p_bright, 1 - p_bright), abs=0.006)


@pytest.mark.parametrize("make, message", [
    (lambda: Image.new("F", (8, 8), 3.5), "expected float pixel values in [0, 1] (mode F), found [3.5, 3.5]"),
    (lambda: Image.new("F", (8, 8), float("nan")), "expected finite float pixel values, found NaN or infinity"),
    (lambda: Image.new("I", (8, 8), -5), "expected non-negative I pixel values, found -5"),
])
def test_modes_whose_range_is_unknown_are_refused_in_one_line(make, message, brightness_model, tmp_path, capsys):
    path = tmp_path / "odd.tiff"
    make().save(path)
    assert main([str(path), "--model", str(brightness_model)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"scratchnet-predict: error: {path}: {message}\n"


# ---------------------------------------------------------------------------------------------------
# any model: K classes named by the model file, conv nets, the old cat files, the default model

def test_a_softmax_conv_model_prints_the_class_name_from_its_file(tmp_path, photo, capsys):
    from scratchnet.nn import from_specs

    net = from_specs((32, 32, 3), [{"type": "conv2d", "filters": 2, "f": 3}, "relu", {"type": "maxpool2d", "f": 5},
                                   "flatten", {"type": "dense", "units": 6}], output="softmax", rng=0)
    net.layers[-1].parameters["b"][...] = np.arange(6).reshape(6, 1) * 3.0  # class "5" wins whatever the image
    save_model(net, tmp_path / "signs.npz", tuple("012345"), (32, 32, 3))
    assert main([str(photo), "--model", str(tmp_path / "signs.npz")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{photo}: 5 (p=")
    p = predict_image(load_classifier(tmp_path / "signs.npz"), photo)
    X = load_image(photo, (32, 32, 3))[None]  # the image at the model's own size, as the conv net takes it
    np.testing.assert_array_equal(p.probabilities, net.predict_proba(X)[:, 0])
    assert out == f"{photo}: 5 (p={p.probability:.2f})\n"


def test_old_cat_model_files_still_say_cat_and_non_cat(tmp_path, photo, capsys):
    """A file written before models named their classes: 12288 inputs and 2 classes are the course's cat."""
    network = fixed_model(0.3)
    with open(tmp_path / "old.npz", "wb") as f:  # what save_model wrote before: no data entry
        np.savez(f, architecture=np.array(json.dumps(network.config())), **network.arrays())
    assert main([str(photo), "--model", str(tmp_path / "old.npz")]) == 0
    assert capsys.readouterr().out == f"{photo}: non-cat (p=0.70)\n"
    softmax = dense_stack([12288, 3], output="softmax", initializer="zeros")
    with open(tmp_path / "old3.npz", "wb") as f:
        np.savez(f, architecture=np.array(json.dumps(softmax.config())), **softmax.arrays())
    assert load_classifier(tmp_path / "old3.npz").classes == ("0", "1", "2")


def test_the_default_model_comes_from_the_repo_root_wherever_predict_runs(tmp_path, photo):
    """Run from another folder: the default --model is <root>/experiments/deep_cat/model.npz."""
    root, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    elsewhere.mkdir()
    save_model(fixed_model(0.8), root / "experiments" / "deep_cat" / "model.npz", ("non-cat", "cat"), (64, 64, 3))
    script = Path(sys.executable).parent / "scratchnet-predict"
    env = {**os.environ, "SCRATCHNET_ROOT": str(root)}
    ok = subprocess.run([script, str(photo)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, f"{photo}: cat (p=0.80)\n", "")
    (root / "experiments" / "deep_cat" / "model.npz").unlink()
    missing = subprocess.run([script, str(photo)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert missing.returncode == 1
    assert missing.stderr == (f"scratchnet-predict: error: model file {root / 'experiments/deep_cat/model.npz'} "
                              f"not found: train one first (e.g. `python -m scratchnet.train experiment=deep_cat`)\n")


def test_the_pyfunc_model_of_a_conv_net_predicts_what_the_network_does(tmp_path):
    """MLflow's rows are the images flattened as the course flattens them (x.reshape(m, -1))."""
    import mlflow.pyfunc

    from scratchnet.nn import from_specs
    from scratchnet.tracking.pyfunc import save_pyfunc

    net = from_specs((16, 16, 3), [{"type": "conv2d", "filters": 3, "f": 3, "padding": "same"}, "relu",
                                   {"type": "maxpool2d", "f": 4}, "flatten", {"type": "dense", "units": 4}],
                     output="softmax", initializer="he", rng=2)
    save_model(net, tmp_path / "conv.npz", tuple("abcd"), (16, 16, 3))
    save_pyfunc(tmp_path / "conv.npz", tmp_path / "pyfunc")
    model = mlflow.pyfunc.load_model(str(tmp_path / "pyfunc"))
    images = np.random.RandomState(0).rand(5, 16, 16, 3)
    got = model.predict(images.reshape(5, -1))  # (5, 4)
    np.testing.assert_array_equal(got, net.predict_proba(images).T)
    assert got.shape == (5, 4) and np.allclose(got.sum(axis=1), 1)
