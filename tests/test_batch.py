"""Many runs in one process (scratchnet.stages.train, runs.batch): the same bytes as one run at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

from scratchnet.runs.batch import compose, split_overrides
from scratchnet.runs.train import train
from scratchnet.stages import train as train_stage

FILES = ("metrics.json", "cost.csv", "model.npz", "config.yaml")


def spec(tmp_path: Path, folder: str, experiment: str, *more: str) -> str:
    return " ".join([f"experiment={experiment}", "train.epochs=30", "tracking=none",
                     f"output_dir={tmp_path / folder / experiment}", *more])


def test_split_overrides_keeps_quoted_values():
    assert split_overrides("experiment=a 'model.hidden=[4, 2]' name=b") == ["experiment=a", "model.hidden=[4, 2]",
                                                                           "name=b"]


@pytest.mark.e2e
def test_a_study_in_forked_workers_writes_what_single_runs_write(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    names = ("logistic_cat", "shallow_cat", "deep_cat")
    assert train_stage.main(["--jobs", "2", *(spec(tmp_path, "batch", n) for n in names)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(names)  # in the order given
    for name in names:
        overrides = split_overrides(spec(tmp_path, "single", name))
        train(compose(overrides), overrides=overrides)
        for f in FILES:
            ours = (tmp_path / "batch" / name / f).read_bytes()
            single = (tmp_path / "single" / name / f).read_bytes()
            if f == "config.yaml":  # only output_dir differs
                ours, single = ours.replace(b"/batch/", b"/x/"), single.replace(b"/single/", b"/x/")
            assert ours == single, (name, f)


def test_a_failing_run_stops_the_stage_with_one_line(tmp_path, capsys):
    assert train_stage.main(["--jobs", "1", spec(tmp_path, "b", "logistic_cat", "optimizer.lr=-1")]) == 2
    err = capsys.readouterr().err
    assert "train: error: config key optimizer.lr = -1.0: expected a finite number > 0" in err
    assert not (tmp_path / "b").exists()
    assert train_stage.main(["--jobs", "2", spec(tmp_path, "b", "logistic_cat"),
                             spec(tmp_path, "b", "shallow_cat", "model.hidden=[]")]) == 2
    assert "train: error: config key model.hidden = []: expected exactly one hidden layer" in capsys.readouterr().err
