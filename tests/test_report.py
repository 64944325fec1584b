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
from scratchnet.files import write_json, write_text
from scratchnet.models import save_model
from scratchnet.nn import dense_stack
from scratchnet.reports.document import Document
from scratchnet.reports.runs import FAMILIES, Run
from scratchnet.stages import compare


def make_run(root: Path, name: str, dims: list[int], dataset: str, data_path: str, lr: float,
             epochs: int, train_acc: float, test_acc: float | None, cost: float,
             seconds: float | None = 1.25, run_id: str | None = "abc123") -> Path:
    """A fake experiment folder with the files train() writes, and a real (untrained) model."""
    folder = root / name
    save_model(dense_stack(dims, initializer="he", rng=0), folder / "model.npz")
    write_json(folder / "metrics.json", {"train": {"accuracy": train_acc, "cost": cost},
                                         "test": {"accuracy": test_acc}, "epochs": epochs,
                                         "first_layer": "plain", "n_parameters": dense_stack(dims).n_parameters})
    if seconds is not None:
        write_json(folder / "timing.json", {"fit_seconds": seconds})
    write_json(folder / "run.json", {"run_id": run_id, "experiment_id": "1", "tracking_uri": "sqlite:///x"})
    kind = "cat" if dataset == "cat" else "generated"
    write_text(folder / "config.yaml",
               f"name: {name}\ndata:\n  name: {dataset}\n  kind: {kind}\n  path: {data_path}\n  params: {{}}\n"
               f"optimizer:\n  name: gd\n  lr: {lr}\ntrain:\n  epochs: {epochs}\n"
               f"model:\n  family: {FAMILIES[min(len(dims) - 2, 2)]}\n")
    write_text(folder / "cost.csv", "epoch,cost\n0,0.6931\n" + f"{epochs},{cost!r}\n")
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
    assert "| logistic_cat | logistic | [12288, 1] | 12289 | 2000 | 0.005 | 0.135600 | 99.04% | 70.00% |" in md
    assert ("| deep_cat | deep | [12288, 20, 7, 5, 1] | 245973 | 2500 | 0.0075 | 0.088400 | 98.56% | 80.00% |"
            in md)
    assert "| shallow_moons | shallow | [2, 4, 1] | 17 | 1000 | 1.2 | 0.080000 | 97.00% | - |" in md
    # the rows really follow metrics.json: change one number and the row changes with it
    metrics = json.loads((experiments / "deep_cat" / "metrics.json").read_text())
    metrics["test"]["accuracy"] = 0.62
    write_json(experiments / "deep_cat" / "metrics.json", metrics)
    compare.build(experiments, out, tmp_path)
    assert "| 98.56% | 62.00% |" in (out / "report.md").read_text()

    assert set(result["runs"]) == {"logistic_cat", "deep_cat", "logistic_moons", "shallow_moons"}
    assert result["winners"]["cat"] == {"experiment": "deep_cat", "family": "deep", "split": "test",
                                        "accuracy": 0.8}
    assert result["winners"]["noisy_moons"]["experiment"] == "shallow_moons"


def test_run_ids_and_fit_seconds_stay_out_of_the_report_and_go_to_runs_md(experiments, tmp_path):
    out = tmp_path / "report"
    compare.build(experiments, out, tmp_path)
    tracked = "".join((out / f).read_text() for f in ("report.md", "report.html", "summary.json"))
    assert "deadbeef" not in tracked and "abc123" not in tracked and "3.50" not in tracked
    runs = (out / "runs.md").read_text()
    assert "| deep_cat | deadbeef | 3.50 |" in runs and "| logistic_cat | abc123 | 1.25 |" in runs
    assert "| shallow_moons | - | - |" in runs  # no run.json record, no timing.json
    # the same inputs, another run id and time: the report's bytes do not move
    before = {f: (out / f).read_bytes() for f in ("report.md", "report.html", "summary.json")}
    write_json(experiments / "deep_cat" / "run.json", {"run_id": "f00d", "experiment_id": "2", "tracking_uri": "y"})
    write_json(experiments / "deep_cat" / "timing.json", {"fit_seconds": 9.75})
    compare.build(experiments, out, tmp_path)
    assert {f: (out / f).read_bytes() for f in before} == before
    assert "| deep_cat | f00d | 9.75 |" in (out / "runs.md").read_text()


def test_a_seed_study_section_beside_its_data_set(experiments, tmp_path):
    """A seed study of the two moons runs: its table, the comparison and McNemar on the course's seed
    (the runs' own models, predicted on the training points: noisy_moons has no test split)."""
    from scratchnet.data import load_dataset
    from scratchnet.models import load_model
    from scratchnet.reports import seeds as seed_report
    from scratchnet.reports import stats

    ds = load_dataset(tmp_path / "data" / "noisy_moons.h5")
    labels = ds.Y_train.ravel()
    rng = np.random.RandomState(0)
    flip = lambda rate: np.where(rng.rand(4, labels.size) < rate, 1 - labels, labels)  # noqa: E731
    summary = seed_report.summarise({"logistic_moons": flip(0.15), "shallow_moons": flip(0.03)}, labels, "train",
                                    [0, 1, 2, 3])
    write_json(experiments / "seeds" / "moons" / "metrics.json", summary)
    out = tmp_path / "report"
    result = compare.build(experiments, out, tmp_path)
    md = (out / "report.md").read_text()
    section = md[md.index("### moons: over 4 seeds"):]
    assert md.index("## Data set: noisy_moons") < md.index("### moons: over 4 seeds")
    assert "train accuracy (this set has no test split: fit, not generalisation)" in section
    e = summary["experiments"]["shallow_moons"]
    assert (f"| shallow_moons | 97.00% (seed ?) | {100 * e['mean']:.2f}% | {100 * e['sd']:.2f} |") in section
    predicted = {n: load_model(experiments / n / "model.npz").predict(ds.X_train).ravel() == labels
                 for n in ("logistic_moons", "shallow_moons")}
    only_a = int(np.sum(predicted["shallow_moons"] & ~predicted["logistic_moons"]))
    only_b = int(np.sum(predicted["logistic_moons"] & ~predicted["shallow_moons"]))
    course = result["seeds"]["moons"]["shallow_moons - logistic_moons"]
    assert (course["only_a"], course["only_b"]) == (only_a, only_b)
    assert course["p"] == stats.mcnemar_exact(only_a, only_b)
    c = summary["comparisons"]["shallow_moons - logistic_moons"]
    assert c["significant"] and f"`shallow_moons` over `logistic_moons` by {100 * c['difference']:.2f} points" in md
    assert "**moons**, train accuracy over 4 seeds: `shallow_moons`" in md  # the summary's bullet


def test_summary_names_winner_and_margin(experiments, tmp_path):
    compare.build(experiments, tmp_path / "report", tmp_path)
    md = (tmp_path / "report" / "report.md").read_text()
    assert ("On **cat**, `deep_cat` (deep) scores best with 80.00% test accuracy, ahead of `logistic_cat` "
            "(70.00%) by 10.00 points.") in md
    assert "Its train accuracy is 98.56%, 18.56 points above test: it overfits" in md
    assert ("On **noisy_moons**, `shallow_moons` (shallow) scores best with 97.00% train accuracy, ahead of "
            "`logistic_moons` (85.50%) by 11.50 points. This set has no test split") in md


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
    assert ("`deep_cat` (deep) scores best with 80.00% test accuracy, tied with `exp` (the `dvc exp` scratch "
            "run), ahead of `logistic_cat` (70.00%) by 10.00 points.") in md
    assert "| exp (`dvc exp` scratch run: default) | deep | [12288, 20, 7, 5, 1] |" in md
    # another folder whose config has another name: both names, no scratch-run label
    folder.rename(experiments / "deep_cat_copy")
    compare.build(experiments, tmp_path / "report", tmp_path)
    md = (tmp_path / "report" / "report.md").read_text()
    assert "tied with `deep_cat_copy`, ahead of" in md
    assert "| deep_cat_copy (default) | deep |" in md and "scratch" not in md


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


# --- course 2's studies section --------------------------------------------------------------------

INIT_RUNS = {  # name: (initializer, train, test, cost at epoch 0, train cost)
    "init_zeros": ("zeros", 0.5, 0.5, 0.6931471805599453, 0.6931471805599453),
    "init_large_random": ("large_random", 0.83, 0.86, 1773.6, 0.38106),
    "init_he": ("he", 0.9933333333333333, 0.96, 0.883, 0.06481),
}


@pytest.fixture
def with_init_study(experiments: Path, tmp_path: Path) -> Path:
    """The initialisation study's three runs beside the course-1 runs, on the real circles set;
    init_zeros holds a zero-initialised (so symmetric) model, the others He weights."""
    circles = tmp_path / "data" / "circles.h5"
    save_dataset(GENERATORS["circles"](), circles)
    for name, (init, train, test, start, end) in INIT_RUNS.items():
        folder = make_run(experiments, name, [2, 10, 5, 1], "circles", str(circles), 0.01, 15000, train, test, end,
                          run_id=f"run-{name}")
        save_model(dense_stack([2, 10, 5, 1], "relu", initializer="zeros" if init == "zeros" else "he",
                                      rng=3), folder / "model.npz")
        write_text(folder / "config.yaml", (folder / "config.yaml").read_text()
                   + f"  hidden: [10, 5]\n  hidden_activation: relu\n  initializer: {init}\n"
                   "  keep_prob: null\nseed: 3\n")
        write_text(folder / "cost.csv", f"epoch,cost\n0,{start!r}\n1000,{(start + end) / 2!r}\n15000,{end!r}\n")
    return experiments


def test_study_table_holds_metrics_json_and_the_course_numbers(with_init_study, tmp_path):
    out = tmp_path / "report"
    result = compare.build(with_init_study, out, tmp_path)
    md = (out / "report.md").read_text()
    assert "## Improving deep networks: the course's three studies" in md
    assert "### Initialisation (circles): the initialiser" in md
    assert ("Shared by the runs: layer dims [2, 10, 5, 1], data.name=circles, model.hidden_activation=relu, "
            "optimizer.name=gd, optimizer.lr=0.01, train.epochs=15000, seed=3.") in md
    assert "| init_zeros | model.initializer=zeros | 91 | 15000 | 0.693147 | 50.00% | 50.00% | 50% | 50% | ✓ |" in md
    assert ("| init_large_random | model.initializer=large_random | 91 | 15000 | 0.381060 | 83.00% | 86.00% "
            "| 83% | 86% | ✓ |") in md
    assert ("| init_he | model.initializer=he | 91 | 15000 | 0.064810 | 99.33% | 96.00% | 99.33% | 96% | ✓ |"
            in md)
    assert result["studies"] == {"init": {
        "init_zeros": {"train_accuracy": 0.5, "test_accuracy": 0.5, "course_train": "50", "course_test": "50",
                       "matches": True},
        "init_large_random": {"train_accuracy": 0.83, "test_accuracy": 0.86, "course_train": "83",
                              "course_test": "86", "matches": True},
        "init_he": {"train_accuracy": 0.9933333333333333, "test_accuracy": 0.96, "course_train": "99.33",
                    "course_test": "96", "matches": True}}}
    # study runs are not architecture runs: no per-data-set table for circles
    assert "## Data set: circles" not in md and set(result["runs"]) == {"logistic_cat", "deep_cat",
                                                                         "logistic_moons", "shallow_moons"}

    # a run off the course: the mark says which split and by how much, computed from metrics.json
    metrics = json.loads((with_init_study / "init_he" / "metrics.json").read_text())
    metrics["train"]["accuracy"], metrics["test"]["accuracy"] = 0.99, 0.97
    write_json(with_init_study / "init_he" / "metrics.json", metrics)
    result = compare.build(with_init_study, out, tmp_path)
    md = (out / "report.md").read_text()
    assert ("| init_he | model.initializer=he | 91 | 15000 | 0.064810 | 99.00% | 97.00% | 99.33% | 96% "
            "| ✗ (train -0.33 points, test +1.00 points) |") in md
    assert result["studies"]["init"]["init_he"]["matches"] is False
    assert result["studies"]["init"]["init_zeros"]["matches"] is True


def test_study_sentence_figures_and_html(with_init_study, tmp_path):
    out = tmp_path / "report"
    compare.build(with_init_study, out, tmp_path)
    md = (out / "report.md").read_text()
    assert ("`init_he` scores best with 96.00% test accuracy, ahead of `init_large_random` (86.00%) by 10.00 "
            "points, `init_zeros` (50.00%) by 46.00 points. `init_zeros` ends with every hidden layer's units "
            "still identical: the symmetry never breaks, so it stays at 50.00% / 50.00%, no better than always "
            "guessing the larger class (50.00%). `init_large_random` starts at cost 1774, 2009 times `init_he`'s "
            "0.883: its large weights saturate the output; after 15000 epochs its train cost is 0.3811 against "
            "0.06481, with 83.00% / 86.00%.") in md
    # a He model (units differ) at the same numbers is not called symmetric
    save_model(dense_stack([2, 10, 5, 1], "relu", initializer="he", rng=3),
               with_init_study / "init_zeros" / "model.npz")
    compare.build(with_init_study, out, tmp_path)
    assert "symmetry" not in (out / "report.md").read_text()
    assert {"study_init_boundaries.png", "study_init_cost.png"} <= {p.name for p in out.glob("*.png")}
    page = (out / "report.html").read_text()
    assert "<td>init_he</td>" in page and "<td>✓</td>" in page
    for png in ("study_init_boundaries.png", "study_init_cost.png"):
        assert base64.b64encode((out / png).read_bytes()).decode() in page
    assert "<script" not in page and "<link" not in page and "http" not in page


def test_studies_named_explicitly_must_be_there(experiments, with_init_study, tmp_path):
    with pytest.raises(compare.CompareError, match=r"reg_none: expected a run's outputs, missing metrics.json"):
        compare.build(experiments, tmp_path / "r", tmp_path, studies=["reg"])
    with pytest.raises(compare.CompareError, match=r"--studies nope: expected study names among init, reg, opt"):
        compare.build(experiments, tmp_path / "r", tmp_path, studies=["nope"])
    assert "studies" not in compare.build(experiments, tmp_path / "r", tmp_path, studies=[])


@pytest.mark.parametrize("accuracy, expected, match", [
    (0.9933333333333333, "99.33", True), (0.99335, "99.33", True), (0.9934, "99.33", False),
    (0.915, "91.5", True), (0.9155, "91.5", True), (0.916, "91.5", False),
    (0.83, "83", True), (0.835, "83", True), (0.8351, "83", False), (0.8249, "83", False),
    (0.9478672985781991, "94.79", True), (0.7966666666666666, "79.67", True),
    (None, None, True), (0.5, None, False), (None, "50", False),
])
def test_match_at_the_digits_the_course_shows(accuracy, expected, match):
    from scratchnet.reports.studies import matches

    assert matches(accuracy, expected) is match


def test_regularisation_and_optimisation_sentences():
    """The reg and opt clauses from made-up numbers (the course's), with configs as train() writes them."""
    from omegaconf import OmegaConf

    from scratchnet.reports.studies import STUDIES, match_mark, sentence

    def run(name, train, test, costs, final, epochs, lambd=0.0, keep=None, batch=None, lr=0.3, compat=False):
        config = OmegaConf.create({"name": name, "model": {"family": "deep", "keep_prob": keep},
                                   "optimizer": {"lr": lr}, "train": {"epochs": epochs, "lambd": lambd,
                                                                      "batch_size": batch, "course_compat": compat}})
        metrics = {"train": {"accuracy": train, "cost": final}, "test": {"accuracy": test}, "epochs": epochs}
        network = dense_stack([2, 3, 1], "relu", initializer="he", rng=1)
        return Run(name, Path(name), config, metrics, None, None, network, costs)

    reg = [run("reg_none", 0.9478672985781991, 0.915, [(0, 0.65), (29999, 0.12)], 0.125, 30000),
           run("reg_l2", 0.9383886255924171, 0.93, [(0, 0.69), (29999, 0.27)], 0.268, 30000, lambd=0.7),
           run("reg_dropout", 0.9289099526066351, 0.95, [(0, 0.65), (29999, 0.0605)], 0.658, 30000, keep=0.86,
               compat=True)]
    assert sentence(STUDIES["reg"], reg, 0.5) == (
        "`reg_dropout` scores best with 95.00% test accuracy, ahead of `reg_l2` (93.00%) by 2.00 points, "
        "`reg_none` (91.50%) by 3.50 points. Without regularisation `reg_none` fits the training set to 94.79% "
        "but scores 91.50% on test (3.29 points lower: it overfits); `reg_l2` gives up 0.95 points on train and "
        "gains 1.50 on test and `reg_dropout` gives up 1.90 points on train and gains 3.50 on test. "
        "`reg_dropout`'s cost under its dropout mask ends at 0.0605, the full network's (no dropout, as it "
        "predicts) at 0.658: with course_compat it trained with the course's one fixed mask.")
    opt = [run("opt_gd", 0.7966666666666666, None, [(0, 0.70), (9999, 0.43)], 0.4332, 10000, batch=64, lr=0.0007),
           run("opt_momentum", 0.7966666666666666, None, [(0, 0.70), (9999, 0.43)], 0.4336, 10000, batch=64,
               lr=0.0007),
           run("opt_adam", 0.94, None, [(0, 0.70), (9999, 0.13)], 0.1287, 10000, batch=64, lr=0.0007)]
    assert sentence(STUDIES["opt"], opt, 0.5) == (
        "`opt_adam` scores best with 94.00% train accuracy, ahead of `opt_gd` and `opt_momentum` (both 79.67%) by "
        "14.33 points. Train cost after 10000 epochs at lr 0.0007: `opt_adam` 0.1287, `opt_gd` 0.4332 (3.4 times), "
        "`opt_momentum` 0.4336 (3.4 times).")
    # no test split on either side matches; the course's number with ours off by a point does not
    assert match_mark(opt[2], STUDIES["opt"].runs[2][1]) == "✓"
    assert match_mark(opt[0], STUDIES["opt"].runs[1][1]) == "✓"
    opt[0].metrics["train"]["accuracy"] = 0.8066666666666666
    assert match_mark(opt[0], STUDIES["opt"].runs[0][1]) == "✗ (train +1.00 points)"
