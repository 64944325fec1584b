"""scratchnet-predict: the image goes through the training data's steps; bad inputs get one clear line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scratchnet.cli.predict import (
    ImageFileError,
    load_cat_model,
    load_image,
    main,
    predict_image,
)
from scratchnet.data.cat import image_to_column
from scratchnet.models import ModelFileError, save_model
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
    prediction = predict_image(load_cat_model(tmp_path / "m.npz"), photo)
    assert 0.0 <= prediction.probability <= 1.0 and 0.0 <= prediction.p_cat <= 1.0
    assert prediction.label in ("cat", "non-cat")
    assert (prediction.label == "cat") == (prediction.p_cat > 0.5)
    # the same column the network sees, computed by hand
    X = image_to_column(load_image(photo))
    assert X.shape == (12288, 1)
    assert prediction.p_cat == pytest.approx(float(network.predict_proba(X)[0, 0]), abs=0)


def test_image_is_flattened_exactly_like_the_training_data(data_root, tmp_path):
    """A test-set image saved as PNG comes back as the very column load_cat gives."""
    import h5py

    from scratchnet.data import load_cat

    with h5py.File(data_root / "cat" / "test_catvnoncat.h5") as f:
        image = f["test_set_x"][7]  # (64, 64, 3) uint8
    Image.fromarray(image).save(tmp_path / "seven.png")
    X = image_to_column(load_image(tmp_path / "seven.png"))
    np.testing.assert_array_equal(X[:, 0], load_cat(data_root / "cat").X_test[:, 7])


def test_resize_and_convert(photo):
    image = load_image(photo)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8


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
     "{p} is not an image Pillow can read"),
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
    save_model(dense_stack([2, 4, 1]), planar)
    assert main([str(photo), "--model", str(planar)]) == 1
    assert (f"model file {planar} takes 2 input features per example ([2, 4, 1]); "
            f"the data has 12288") in capsys.readouterr().err

    three = tmp_path / "three.npz"
    save_model(dense_stack([12288, 3], output="softmax"), three)
    with pytest.raises(ModelFileError, match="has a 3-unit softmax output"):
        load_cat_model(three)


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
