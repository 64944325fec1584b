"""The comparison report: table rows carry the numbers of metrics.json, figures are embedded, the
summary names the winner; the Document writer renders Markdown and self-contained HTML."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest

from scratchnet.data import GENERATORS, save_dataset
from scratchnet.io import save_model, write_json, write_text
from scratchnet.nn import Network
from scratchnet.report import Document
from scratchnet.stages import compare


def make_run(root: Path, name: str, dims: list[int], dataset: str, data_path: str, lr: float,
             iterations: int, train_acc: float, test_acc: float | None, cost: float,
             seconds: float | None = 1.25, run_id: str | None = "abc123") -> Path:
    """A fake experiment folder with the files train.py writes, and a real (untrained) model."""
    folder = root / name
    save_model(Network.initialise(dims, initializer="he", rng=0), folder / "model.npz")
    write_json(folder / "metrics.json", {"train": {"accuracy": train_acc, "cost": cost},
                                         "test": {"accuracy": test_acc}, "iterations": iterations,
                                         "n_parameters": Network.initialise(dims).n_parameters})
    if seconds is not None:
        write_json(folder / "timing.json", {"fit_seconds": seconds})
    write_json(folder / "run.json", {"run_id": run_id, "experiment_id": "1", "tracking_uri": "sqlite:///x"})
    kind = "cat" if dataset == "cat" else "generated"
    write_text(folder / "config.yaml",
               f"name: {name}\ndata:\n  name: {dataset}\n  kind: {kind}\n  path: {data_path}\n  params: {{}}\n"
               f"optimizer:\n  name: gd\n  lr: {lr}\ntrain:\n  iterations: {iterations}\n")
    write_text(folder / "cost.csv", "iteration,cost\n0,0.6931\n" + f"{iterations},{cost!r}\n")
    return folder


@pytest.fixture
def experiments(tmp_path: Path) -> Path:
    moons = tmp_path / "data" / "noisy_moons.h5"
    save_dataset(GENERATORS["noisy_moons"](), moons)
    exp = tmp_path / "experiments"
    make_run(exp, "logistic_cat", [12288, 1], "cat", "unused", 0.005, 2000, 0.9904306220095693, 0.7, 0.1356)
    make_run(exp, "deep_cat", [12288, 20, 7, 5, 1], "cat", "unused", 0.0075, 2500, 0.9856459330143541,
             0.8, 0.0884, seconds=3.5, run_id="deadbeef")
    make_run(exp, "logistic_moons", [2, 1], "noisy_moons", str(moons), 1.2, 1000, 0.855, None, 0.33)
    make_run(exp, "shallow_moons", [2, 4, 1], "noisy_moons", str(moons), 1.2, 1000, 0.97, None, 0.08,
             seconds=None, run_id=None)
    (exp / "errors").mkdir()  # another stage's folder: not a run, must be skipped
    write_json(exp / "errors" / "metrics.json", {"accuracy": 0.8})
    return exp


def test_table_rows_hold_the_numbers_of_metrics_json(experiments, tmp_path):
    out = tmp_path / "report"
    result = compare.build(experiments, out, tmp_path)
    md = (out / "report.md").read_text()
    assert ("| logistic_cat | logistic | [12288, 1] | 12289 | 2000 | 0.005 | 0.135600 | 99.04% | 70.00% | 1.25 "
            "| abc123 |") in md
    assert ("| deep_cat | deep | [12288, 20, 7, 5, 1] | 245973 | 2500 | 0.0075 | 0.088400 | 98.56% | 80.00% | 3.50 "
            "| deadbeef |") in md
    assert "| shallow_moons | shallow | [2, 4, 1] | 17 | 1000 | 1.2 | 0.080000 | 97.00% | - | - | - |" in md
    # the rows really follow metrics.json: change one number and the row changes with it
    metrics = json.loads((experiments / "deep_cat" / "metrics.json").read_text())
    metrics["test"]["accuracy"] = 0.62
    write_json(experiments / "deep_cat" / "metrics.json", metrics)
    compare.build(experiments, out, tmp_path)
    assert "| 98.56% | 62.00% | 3.50 | deadbeef |" in (out / "report.md").read_text()

    assert set(result["runs"]) == {"logistic_cat", "deep_cat", "logistic_moons", "shallow_moons"}
    assert result["winners"]["cat"] == {"experiment": "deep_cat", "family": "deep", "split": "test",
                                        "accuracy": 0.8}
    assert result["winners"]["noisy_moons"]["experiment"] == "shallow_moons"


def test_summary_names_winner_and_margin(experiments, tmp_path):
    compare.build(experiments, tmp_path / "report", tmp_path)
    md = (tmp_path / "report" / "report.md").read_text()
    assert ("On **cat**, `deep_cat` (deep) scores best with 80.00% test accuracy, ahead of `logistic_cat` "
            "70.00% (+10.00 points).") in md
    assert "Its train accuracy is 98.56%, 18.56 points above test: it overfits" in md
    assert ("On **noisy_moons**, `shallow_moons` (shallow) scores best with 97.00% train accuracy, ahead of "
            "`logistic_moons` 85.50% (+11.50 points). This set has no test split") in md


def test_figures_written_and_embedded(experiments, tmp_path):
    out = tmp_path / "report"
    compare.build(experiments, out, tmp_path)
    figures = sorted(p.name for p in out.glob("*.png"))
    assert figures == ["boundary_noisy_moons.png", "cost_cat.png", "cost_noisy_moons.png"]  # no boundary for cat
    page = (out / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(embedded) == 3
    assert base64.b64decode(embedded[0]) == (out / "cost_cat.png").read_bytes()
    assert "<script" not in page and "<link" not in page and "http" not in page
    md = (out / "report.md").read_text()
    assert "![noisy_moons: decision boundaries, logistic (left) vs shallow (right)" in md
    assert "(boundary_noisy_moons.png)" in md


def test_ties_and_labels(experiments, tmp_path):
    folder = make_run(experiments, "exp", [12288, 20, 7, 5, 1], "cat", "unused", 0.0075, 2500,
                      0.9856459330143541, 0.8, 0.0884)
    text = (folder / "config.yaml").read_text().replace("name: exp", "name: default")
    write_text(folder / "config.yaml", text)
    compare.build(experiments, tmp_path / "report", tmp_path)
    md = (tmp_path / "report" / "report.md").read_text()
    assert ("`deep_cat` (deep) scores best with 80.00% test accuracy, tied with `exp`, ahead of "
            "`logistic_cat` 70.00% (+10.00 points).") in md
    assert "| exp (default) | deep | [12288, 20, 7, 5, 1] |" in md


def test_named_runs_only_and_clear_errors(experiments, tmp_path):
    result = compare.build(experiments, tmp_path / "r", tmp_path, names=["deep_cat", "logistic_cat"])
    assert set(result["runs"]) == {"deep_cat", "logistic_cat"}
    with pytest.raises(compare.CompareError, match=r"nope: expected a run's outputs, missing metrics.json"):
        compare.build(experiments, tmp_path / "r", tmp_path, names=["nope"])
    with pytest.raises(compare.CompareError, match="no experiment in"):
        compare.build(tmp_path / "empty", tmp_path / "r", tmp_path)
    (experiments / "deep_cat" / "metrics.json").write_text("{not json")
    assert compare.main(["--experiments", str(experiments), "--out", str(tmp_path / "r")]) == 1


def test_document_markdown_and_html(tmp_path):
    png = tmp_path / "fig" / "a.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    doc = Document("Title <x>")
    doc.heading("Part")
    doc.paragraph("uses `code` and **bold** & <tags>")
    doc.table(["name", "value"], [["a|b", 1.5], ["c", None]])
    doc.figure(png, "a figure")
    md_path, html_path = doc.write(tmp_path / "out", "doc")
    md = md_path.read_text()
    assert md.splitlines()[:5] == ["# Title <x>", "", "## Part", "", "uses `code` and **bold** & <tags>"]
    assert "| name | value |\n| --- | ---: |\n| a\\|b | 1.5 |\n| c | - |" in md
    assert "![a figure](../fig/a.png)" in md
    page = html_path.read_text()
    assert "<h1>Title &lt;x&gt;</h1>" in page
    assert "<p>uses <code>code</code> and <strong>bold</strong> &amp; &lt;tags&gt;</p>" in page
    assert '<td class="num">1.5</td>' in page
    assert f'src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"' in page
    np.testing.assert_equal(page.count("<figure>"), 1)
