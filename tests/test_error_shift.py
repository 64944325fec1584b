"""The error shift between the deep net and the image nets on the cat test set."""

from __future__ import annotations

import numpy as np

from scratchnet.data import load_cat
from scratchnet.nn import dense_stack, from_specs
from scratchnet.reports.document import Document
from scratchnet.reports.error_shift import ModelErrors, measures, model_errors, section, shift
from scratchnet.reports.errors import analyse


def test_fixed_broken_and_the_bins_count_each_models_errors(data_root):
    ds = load_cat(data_root / "cat")
    m = ds.X_test.shape[1]
    base = ModelErrors("deep", np.isin(np.arange(m), [1, 2, 3, 40]))
    other = ModelErrors("conv", np.isin(np.arange(m), [2, 3, 7]))
    result = shift(base, [other], ds)
    assert result["fixed"] == {"conv": [1, 40]} and result["broken"] == {"conv": [7]}
    assert result["misclassified"] == {"deep": [1, 2, 3, 40], "conv": [2, 3, 7]}
    for name in ("brightness", "contrast", "centre_border_distance", "saturation"):
        rows = [r for r in result["bins"] if r["measure"] == name]
        assert [r["bin"] for r in rows] == [1, 2, 3, 4] and sum(r["n"] for r in rows) == m
        assert sum(r["deep"] for r in rows) == 4 and sum(r["conv"] for r in rows) == 3
    doc = Document("t")
    section(doc, result)
    text = doc.to_markdown(data_root)
    assert "| conv | 3 | 1, 40 | 7 |" in text and "gets 2 of deep's 4 errors right and makes 1 new ones" in text


def test_the_measures_and_predictions_are_those_of_the_error_analysis(data_root):
    """The same images as reports.errors measures (pixels undone exactly) and a conv net fed images."""
    ds = load_cat(data_root / "cat")
    deep = dense_stack([12288, 4, 1], initializer="he", rng=0)
    reference = analyse(deep, ds.X_test, ds.Y_test)
    for name, values in measures(ds).items():
        np.testing.assert_array_equal(values, reference.measures[name])
    assert model_errors("deep", deep, ds).indices == [int(i) for i in np.flatnonzero(
        reference.predictions != reference.labels)]
    conv = from_specs((64, 64, 3), [{"type": "conv2d", "filters": 2, "f": 3}, "relu", {"type": "maxpool2d", "f": 8},
                                    "flatten", {"type": "dense", "units": 1}], rng=0)
    images = np.ascontiguousarray(ds.images("test"))
    expected = conv.predict(images).ravel() != ds.Y_test.ravel()
    np.testing.assert_array_equal(model_errors("conv", conv, ds).wrong, expected)
