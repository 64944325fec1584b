"""Error analysis: exact measures on hand-made images, the gallery lists exactly the misclassified
indices of a model whose predictions we set, the best model is chosen as documented."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data.cat import images_from_columns
from scratchnet.files import write_json
from scratchnet.models import save_model
from scratchnet.nn import Network, dense_stack
from scratchnet.reports.error_page import gallery
from scratchnet.reports.errors import (
    ErrorsStageError,
    analyse,
    best_cat_experiment,
    brightness,
    centre_border_distance,
    contrast,
    explain,
    saturation,
)
from scratchnet.stages import errors


def uniform(rgb: tuple[int, int, int], size: int = 64) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (size, size, 3)).copy()


WHITE, BLACK, RED = uniform((255, 255, 255)), uniform((0, 0, 0)), uniform((255, 0, 0))


@pytest.mark.parametrize("image, expected", [
    # (brightness, contrast, centre_border_distance, saturation)
    (WHITE, (1.0, 0.0, 0.0, 0.0)),  # the bright one
    (BLACK, (0.0, 0.0, 0.0, 0.0)),  # the dark one: saturation 0 where max = 0, by definition
    (RED, (0.299, 0.0, 0.0, 1.0)),  # a uniform colour: luminance weight of R, fully saturated
    (uniform((128, 64, 32)), ((0.299 * 128 + 0.587 * 64 + 0.114 * 32) / 255, 0.0, 0.0, 0.75)),
])
def test_measures_on_uniform_images(image, expected):
    got = (brightness(image), contrast(image), centre_border_distance(image), saturation(image))
    assert got == pytest.approx(expected, abs=1e-12)


def test_half_black_half_white():
    image = WHITE.copy()
    image[:32] = 0  # top half black
    assert brightness(image) == pytest.approx(0.5, abs=1e-12)
    assert contrast(image) == pytest.approx(0.5, abs=1e-12)  # std of equal halves of 0 and 1
    # centre rows 16..47 are half black, half white; the border is 50/50 as well: same mean colour
    assert centre_border_distance(image) == pytest.approx(0.0, abs=1e-12)


def test_centre_against_border():
    image = uniform((0, 0, 255))  # blue everywhere ...
    image[16:48, 16:48] = (255, 0, 0)  # ... but a red centre (the middle half of each side)
    assert centre_border_distance(image) == pytest.approx(math.sqrt(2), abs=1e-12)
    assert saturation(image) == 1.0
    image[16:48, 16:48] = (0, 0, 255)  # subject the colour of its background
    assert centre_border_distance(image) == 0.0
    # the ring between the centre and the border (rows 8..15) counts for neither
    image[8:16, 8:56] = (255, 255, 255)
    assert centre_border_distance(image) == 0.0


def test_measure_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) RGB image, found shape \(4, 4\)"):
        brightness(np.zeros((4, 4), dtype=np.uint8))


def brightness_model(threshold: float) -> Network:
    """Logistic model: cat iff the mean pixel value (in [0, 1]) exceeds threshold, steeply."""
    network = dense_stack([12288, 1], initializer="zeros")
    steep = 1.0  # sum over 12288 pixels: logit = sum(x) - 12288 threshold, far from 0 for our images
    network.layers[0].W[...] = steep
    network.layers[0].b[...] = -steep * 12288 * threshold
    return network


def test_gallery_lists_exactly_the_misclassified(tmp_path):
    greys = [10, 240, 200, 30, 250, 5, 120, 220]  # image i is uniformly this grey
    labels = np.array([[0, 1, 0, 0, 1, 1, 0, 1]])  # model says cat iff grey > 127.5
    images = np.stack([uniform((g, g, g)) for g in greys])
    X = images.reshape(len(greys), -1).T / 255.0  # (12288, 8) as load_cat flattens
    np.testing.assert_array_equal(images_from_columns(X), images)
    analysis = analyse(brightness_model(0.5), X, labels)
    np.testing.assert_array_equal(analysis.predictions, [0, 1, 1, 0, 1, 0, 0, 1])
    assert analysis.misclassified == [2, 5]  # a bright non-cat and a dark cat
    shown = gallery(images, analysis, tmp_path / "gallery.png")
    assert shown == [2, 5]
    assert (tmp_path / "gallery.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    C = analysis.confusion()
    np.testing.assert_array_equal(C, [[3, 1], [1, 3]])
    assert analysis.scores() == {"accuracy": 0.75, "precision": 0.75, "recall": 0.75, "f1": 0.75}
    assert explain(analysis, analysis.measure_bins())[0] == (
        "Of the 2 errors, 1 are non-cat images taken for cats and 1 are cats missed (precision 0.75, recall 0.75).")
    bins = analysis.measure_bins(n_bins=4)
    bright = [b for b in bins if b["measure"] == "brightness"]
    # sorted greys: 5(#5 wrong) 10 | 30 120 | 200(#2 wrong) 220 | 240 250
    assert [(b["n"], b["errors"]) for b in bright] == [(2, 1), (2, 0), (2, 1), (2, 0)]
    assert bright[0]["low"] == pytest.approx(5 / 255) and bright[3]["high"] == pytest.approx(250 / 255)


def test_perfect_model_gallery_is_empty(tmp_path):
    images = np.stack([uniform((g, g, g)) for g in (10, 240)])
    X = images.reshape(2, -1).T / 255.0
    analysis = analyse(brightness_model(0.5), X, np.array([[0, 1]]))
    assert gallery(images, analysis, tmp_path / "g.png") == []
    assert explain(analysis, analysis.measure_bins())[0].startswith("The model classifies every")


def write_metrics(root: Path, name: str, test: float, train: float) -> None:
    write_json(root / name / "metrics.json", {"train": {"accuracy": train, "cost": 0.1},
                                              "test": {"accuracy": test}})


def test_best_cat_experiment_order(tmp_path):
    write_metrics(tmp_path, "deep_cat", 0.80, 0.98)
    write_metrics(tmp_path, "shallow_cat", 0.80, 1.00)  # same test, better train: wins
    write_metrics(tmp_path, "deep_planar", 0.99, 0.99)  # not a cat experiment
    assert best_cat_experiment(tmp_path)[0] == "shallow_cat"
    write_metrics(tmp_path, "a_cat", 0.80, 1.00)  # full tie: the name decides
    assert best_cat_experiment(tmp_path)[0] == "a_cat"


def test_best_cat_experiment_errors(tmp_path):
    with pytest.raises(ErrorsStageError, match="no cat experiment in"):
        best_cat_experiment(tmp_path)
    (tmp_path / "deep_cat").mkdir()
    (tmp_path / "deep_cat" / "metrics.json").write_text('{"train": {}}')
    with pytest.raises(ErrorsStageError, match=r"deep_cat/metrics.json: expected metrics.json with"):
        best_cat_experiment(tmp_path)


def test_stage_end_to_end_on_real_test_set(tmp_path, data_root, capsys):
    """The stage on the real 50 test images with a model whose answer we know: a brightness rule."""
    from scratchnet.data import load_cat

    exp = tmp_path / "experiments"
    save_model(brightness_model(0.45), exp / "rule_cat" / "model.npz")
    write_metrics(exp, "rule_cat", 0.5, 0.5)
    write_json(exp / "rule_cat" / "run.json", {"run_id": None, "experiment_id": None, "tracking_uri": None})
    assert errors.main(["--experiments", str(exp), "--data", str(data_root / "cat"),
                        "--out", str(tmp_path / "out")]) == 0
    ds = load_cat(data_root / "cat")
    mean_pixel = ds.X_test.mean(axis=0)
    expected = [int(i) for i in np.flatnonzero((mean_pixel > 0.45).astype(int) != ds.Y_test[0])]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["misclassified"] == expected and metrics["n_misclassified"] == len(expected)
    assert metrics["model"] == "rule_cat" and metrics["n_test"] == 50
    md = (tmp_path / "out" / "errors.md").read_text()
    assert "Test-set indices: " + ", ".join(map(str, expected)) + "." in md
    page = (tmp_path / "out" / "errors.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "<script" not in page and "href=" not in page
    rows = (tmp_path / "out" / "measures.csv").read_text().splitlines()
    assert len(rows) == 51 and rows[0].startswith("index,label,prediction,p_cat,correct,brightness")
    assert "figures not logged" in capsys.readouterr().err  # run.json names no MLflow run


def test_figures_land_in_the_models_mlflow_run(tmp_path, data_root, monkeypatch):
    """run.json names a real run in a tmp SQLite store: the stage adds errors/* and the scores to it."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from mlflow import MlflowClient

    from scratchnet import tracking

    store = {"kind": "local", "db": str(tmp_path / "mlflow.db"), "artifacts": str(tmp_path / "mlartifacts")}
    with tracking.open_run(store, mlflow_experiment="cat", run_name="rule_cat", params={}, tags={},
                           root=tmp_path) as run:
        pass  # the training run, already FINISHED when the analysis comes
    exp = tmp_path / "experiments"
    save_model(brightness_model(0.45), exp / "rule_cat" / "model.npz")
    write_metrics(exp, "rule_cat", 0.5, 0.5)
    write_json(exp / "rule_cat" / "run.json", {"run_id": run.run_id, "experiment_id": run.experiment_id,
                                               "tracking_uri": run.tracking_uri})
    metrics = errors.run(exp, data_root / "cat", tmp_path / "out")
    client = MlflowClient(tracking_uri=run.tracking_uri)
    logged = sorted(a.path for a in client.list_artifacts(run.run_id, "errors"))
    assert logged == ["errors/confusion.png", "errors/errors.html", "errors/errors.md",
                      "errors/gallery.png", "errors/measure_bins.csv", "errors/measures.png"]
    got = client.get_run(run.run_id)
    assert got.data.metrics["errors/f1"] == pytest.approx(metrics["f1"])
    assert got.data.metrics["errors/precision"] == pytest.approx(metrics["precision"])
    assert got.info.status == "FINISHED"  # left as training ended it
