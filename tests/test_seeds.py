"""The seed runner (conf/seeds.yaml, scratchnet.runs.seeds, the seeds stage) and a study's summary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from omegaconf import OmegaConf

from scratchnet.config import ConfigError
from scratchnet.config.seeds import load_studies
from scratchnet.reports import seeds as seed_report
from scratchnet.reports import stats
from scratchnet.runs.batch import compose
from scratchnet.runs.seeds import seed_config
from scratchnet.runs.train import train
from scratchnet.stages import seeds as seeds_stage


@pytest.fixture(autouse=True)
def no_tracking_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def test_the_repo_studies_load():
    studies = load_studies()
    assert {"cat", "init", "reg", "opt"} <= set(studies)
    cat = studies["cat"]
    assert cat.experiments == ("logistic_cat", "shallow_cat", "deep_cat") and cat.seeds == tuple(range(10))
    assert cat.runs()[:2] == [(("experiment=logistic_cat",), 0), (("experiment=logistic_cat",), 1)]
    assert studies["reg"].runs()[-1] == (("experiment=reg_dropout", "train.course_compat=false"), 4)


def test_a_study_takes_a_list_of_seeds(tmp_path):
    path = tmp_path / "seeds.yaml"
    path.write_text("a: {experiments: [deep_cat], seeds: [3, 1, 2]}\n")
    study = load_studies(path)["a"]
    assert study.seeds == (3, 1, 2) and [seed for _, seed in study.runs()] == [3, 1, 2]


@pytest.mark.parametrize("text, message", [
    ("a: {experiments: [deep_cat]}", "a mapping with experiments and seeds"),
    ("a: {experiments: [deep_cat], seeds: 3, colour: red}", "a mapping with experiments and seeds"),
    ("a: {experiments: [nope], seeds: 3}", r"a\.experiments = \['nope'\]: expected a list of experiment names"),
    ("a: {experiments: [deep_cat], seeds: 0}", r"a\.seeds = 0: expected a number of seeds >= 1"),
    ("a: {experiments: [deep_cat], seeds: [1, 1]}", r"a\.seeds = \[1, 1\]: expected .* a list of distinct seeds"),
    ("a: {experiments: [deep_cat], seeds: [-1, 2]}", r"a\.seeds = \[-1, 2\]"),
    ("a: {experiments: [deep_cat], seeds: 2, overrides: seed=3}", r"a\.overrides = 'seed=3'"),
    ("a: {experiments: [deep_cat], seeds: 2, jobs: 0}", r"a\.jobs = 0"),
    ("[1, 2]", "a mapping of study names"),
])
def test_a_bad_study_is_named(tmp_path, text, message):
    path = tmp_path / "seeds.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_studies(path)


def test_seed_config_is_the_config_composed_with_the_seed():
    overrides = ("experiment=reg_dropout", "train.course_compat=false")
    for seed in (0, 4):
        ours = OmegaConf.to_container(seed_config(overrides, seed), resolve=True)
        assert ours == OmegaConf.to_container(compose([*overrides, f"seed={seed}"]), resolve=True)
    assert seed_config(overrides, 0).seed == 0 and seed_config(overrides, 4).seed == 4  # copies, not one object


def test_summary_by_hand():
    labels = np.array([1, 0, 1, 1])
    predictions = {"a": np.array([[1, 0, 1, 1], [1, 1, 1, 1]]),  # accuracies 1.0, 0.75
                   "b": np.array([[0, 0, 0, 1], [0, 0, 0, 1]])}  # 0.5 twice: the same every seed
    summary = seed_report.summarise(predictions, labels, "test", [0, 1])
    a, b = summary["experiments"]["a"], summary["experiments"]["b"]
    assert (a["mean"], a["min"], a["max"], a["per_seed"]) == (0.875, 0.75, 1.0, [1.0, 0.75])
    assert a["sd"] == pytest.approx(np.sqrt(2 * 0.125 ** 2))  # deviations ±0.125 over n - 1 = 1
    assert (b["mean"], b["sd"]) == (0.5, 0.0)
    assert a["ci95_seeds_high"] == 1.0  # mean + 12.7 sd: clipped, an accuracy is at most 1
    assert summary["order"] == ["a", "b"] and list(summary["comparisons"]) == ["b - a"]
    c = summary["comparisons"]["b - a"]
    assert c["difference"] == -0.375 and c["a"] == "b" and c["p_holm"] == c["p"]  # one pair: Holm changes nothing
    text = seed_report.sentences(summary, {})
    assert "`b` scores the same test accuracy for every seed" in text
    assert ("Significant" in text) == c["significant"]


def test_sentences_say_which_differences_are_significant():
    summary = {"split": "test", "order": ["x", "y", "z"], "experiments": {
        n: {"mean": m, "sd": 0.01, "min": m - 0.01, "max": m + 0.01} for n, m in (("x", 0.7), ("y", 0.8), ("z", 0.81))},
        "comparisons": {
            "y - x": {"a": "y", "b": "x", "difference": 0.1, "ci95_low": 0.05, "ci95_high": 0.15, "p": 0.001,
                      "p_holm": 0.003, "significant": True},
            "z - x": {"a": "z", "b": "x", "difference": 0.11, "ci95_low": 0.06, "ci95_high": 0.16, "p": 0.002,
                      "p_holm": 0.004, "significant": True},
            "z - y": {"a": "z", "b": "y", "difference": 0.01, "ci95_low": -0.04, "ci95_high": 0.06, "p": 0.6,
                      "p_holm": 0.6, "significant": False}}}
    course = {"z - y": {"difference": 0.1, "only_a": 9, "only_b": 1, "p": stats.mcnemar_exact(9, 1)}}
    text = seed_report.sentences(summary, course)
    assert ("Significant at the 5% level over seeds and examples (Holm): `y` over `x` by 10.00 points "
            "(95% CI +5.00 to +15.00); `z` over `x` by 11.00 points") in text
    assert "Not significant: `z` vs `y` (+1.00 points, CI -4.00 to +6.00, Holm p 0.6)." in text
    # McNemar on the course's seed: 9 vs 1 discordant, p = 2 * 11 / 1024 = 0.0215: significant there only
    assert ("On the course's seed alone `z` vs `y` differ by +10.00 points (9 vs 1 discordant examples, "
            "McNemar p 0.0215): significant there, but not over seeds.") in text
    summary["seeds"] = [0, 1, 2]
    assert seed_report.headline("T", summary) == ("**T**, test accuracy over 3 seeds: `z` 81.00% ± 1.00, `y` "
                                                  "80.00% ± 1.00, `x` 70.00% ± 1.00; significant (Holm, 5%): "
                                                  "`y` over `x`, `z` over `x`.")


STUDY = """cat:
  title: a small cat study
  experiments: [logistic_cat, deep_cat]
  seeds: 3
  overrides: [train.epochs=40, tracking=none]
"""


@pytest.mark.e2e
def test_the_stage_trains_writes_and_compares(tmp_path, capsys):
    studies = tmp_path / "seeds.yaml"
    studies.write_text(STUDY)
    out = tmp_path / "two_jobs"
    assert seeds_stage.main(["cat", "--studies", str(studies), "--out", str(out), "--jobs", "2"]) == 0
    assert "seeds cat: deep_cat - logistic_cat:" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [".scratchnet-run.json", "metrics.json", "per_seed.csv",
                                                     "predictions.npz", "run.json", "timing.json"]
    summary = json.loads((out / "metrics.json").read_text())
    rows = [line.split(",") for line in (out / "per_seed.csv").read_text().splitlines()[1:]]
    assert [(r[0], r[1]) for r in rows] == [(e, str(s)) for e in ("logistic_cat", "deep_cat") for s in range(3)]
    deep = [float(r[3]) for r in rows if r[0] == "deep_cat"]
    assert summary["experiments"]["deep_cat"]["per_seed"] == deep
    assert summary["experiments"]["deep_cat"]["mean"] == pytest.approx(np.mean(deep), abs=1e-15)
    with np.load(out / "predictions.npz") as npz:
        assert npz["deep_cat"].shape == (3, 50) and npz["labels"].shape == (50,)
        assert np.mean(npz["deep_cat"] == npz["labels"], axis=1).tolist() == deep
    # seed 2 of the study is exactly `python -m scratchnet.train experiment=deep_cat seed=2 ...`
    single = train(compose(["experiment=deep_cat", "seed=2", "train.epochs=40", "tracking=none",
                            f"output_dir={tmp_path / 'single'}"]), overrides=[])
    assert single["test"]["accuracy"] == deep[2]
    assert float(rows[5][2]) == single["train"]["accuracy"] and float(rows[5][4]) == single["train"]["cost"]
    single_costs = (tmp_path / "single" / "cost.csv").read_text().splitlines()
    assert single_costs[1].startswith("0,") and float(rows[5][6]) == float(single_costs[1].split(",")[1])
    # one process or two workers: the same bytes
    assert seeds_stage.main(["cat", "--studies", str(studies), "--out", str(tmp_path / "one_job"), "--jobs", "1"]) == 0
    for name in ("metrics.json", "per_seed.csv", "predictions.npz"):
        assert (out / name).read_bytes() == (tmp_path / "one_job" / name).read_bytes(), name
    assert json.loads((out / "run.json").read_text())["run_id"] is None  # tracking=none


def test_the_stage_refuses_an_unknown_study_and_a_bad_override(tmp_path, capsys):
    studies = tmp_path / "seeds.yaml"
    studies.write_text(STUDY)
    assert seeds_stage.main(["dog", "--studies", str(studies)]) == 2
    assert "seeds: error: no study 'dog'" in capsys.readouterr().err
    assert seeds_stage.main(["cat", "optimizer.lr=-1", "--studies", str(studies), "--out", str(tmp_path / "o"),
                             "--jobs", "1"]) == 2
    assert "seeds: error: config key optimizer.lr = -1.0: expected a finite number > 0" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
