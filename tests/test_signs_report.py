"""The report's SIGNS section: our seeds beside the course's TensorFlow numbers, and the data check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scratchnet.config.seeds import SeedStudy
from scratchnet.files import write_csv, write_json
from scratchnet.reports.document import Document
from scratchnet.reports.runs import CompareError
from scratchnet.reports.signs import section
from scratchnet.runs.seeds import SeedRun
from scratchnet.stages.seeds import write_study


def seed_run(seed: int, train: float, correct: int, first_cost: float) -> SeedRun:
    """One SIGNS seed as the seed runner returns it: `correct` of 20 test examples right."""
    labels = np.arange(20) % 6
    predictions = np.where(np.arange(20) < correct, labels, (labels + 1) % 6)
    return SeedRun("conv_signs", seed, {"train": {"accuracy": train, "cost": 0.3}, "test": {"accuracy": correct / 20},
                                        "epochs": 100}, "test", predictions, labels, 1.0, "signs", first_cost)


def test_seeds_and_single_runs_beside_the_course_and_the_data_check(tmp_path, data_root):
    folder = tmp_path / "seeds" / "conv_signs"
    folder.mkdir(parents=True)
    study = SeedStudy("conv_signs", "t", ("conv_signs",), (1, 2))
    summary = write_study(folder, study, [seed_run(1, 0.9, 15, 1.8), seed_run(2, 0.95, 16, 1.6)])
    write_json(tmp_path / "resnet_signs" / "metrics.json", {"train": {"accuracy": 0.98}, "test": {"accuracy": 0.85}})
    write_csv(tmp_path / "resnet_signs" / "cost.csv", ("epoch", "cost"), [(0, 1.4)])
    doc = Document("t")
    result = section(doc, tmp_path, ["conv_signs", "resnet_signs"], data_root / "signs")
    text = doc.to_markdown(tmp_path)
    assert ("| `conv_signs` | 2 seeds (1, 2) | 0.9250 ± 0.0354 (0.9000 to 0.9500) | 0.7750 ± 0.0354 (0.7500 to "
            "0.8000) |") in text
    assert "| 1.700000 ± 0.141421 (1.600000 to 1.800000) | train 0.940741, test 0.783333, cost 1.917929 after " \
           "epoch 0 (course 4 week 1, TensorFlow 1) |" in text
    # the 95% t interval of the seed study's metrics.json: 0.775 +- t(0.975, 1) * 0.0354 / sqrt(2)
    e = summary["experiments"]["conv_signs"]
    assert e["ci95_seeds_low"] == pytest.approx(0.775 - 12.7062 * 0.0353553 / 2 ** 0.5, abs=1e-4)
    assert e["ci95_seeds_high"] == 1.0  # 0.775 + 0.318 = 1.093, an accuracy: clipped to 1
    assert f"| {e['ci95_seeds_low']:.4f} to {e['ci95_seeds_high']:.4f} |" in text
    assert "| `resnet_signs` | 1 run | 0.9800 | 0.8500 | - | 1.400000 | - (ours alone) |" in text
    # the data check as measured on the export: 44 exact groups, 12 training copies of test photos dropped
    check = result["data_check"]
    assert (check["exact_groups"], check["near_pairs"], len(check["dropped"])) == (44, 12, 12)
    assert "Training sets leave out the 12 training images that copy a test image (1080 -> 1068)" in text
    assert "the dropped copies are all of class 0" in text
    json.dumps(result)  # summary.json takes it


def test_a_missing_experiment_names_both_places_it_looked(tmp_path, data_root):
    with pytest.raises(CompareError, match=r"seeds/dense_signs/metrics.json: expected a seed study \(dvc repro "
                                           r"seeds_dense_signs\) or the single run .*dense_signs/metrics.json"):
        section(Document("t"), tmp_path, ["dense_signs"], data_root / "signs")
