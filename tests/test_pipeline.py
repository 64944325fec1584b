"""`dvc repro` end to end in a temporary copy of the repo, shrunk to a few iterations.

The copy holds the working tree (tracked and untracked, not ignored files) and data/raw; the code
that runs is the copy's own (PYTHONPATH=<copy>/src, SCRATCHNET_ROOT=<copy>), so the configs the
stages compose are the shrunk ones. MLflow is off here (tracking=none: it costs ~8 s a run on
this machine); tests/test_errors.py checks the MLflow side with a real store.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scratchnet.reports import compare as architecture

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SIX = ("logistic_cat", "shallow_cat", "deep_cat", "logistic_planar", "shallow_planar", "deep_planar")



def run(cmd: list[str], cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def shrink(copy: Path) -> None:
    """Few epochs everywhere, cost recorded every 5, 2 seeds per seed study, no MLflow."""
    for path in [copy / "conf" / "config.yaml", *(copy / "conf").glob("experiment/*.yaml"),
                 *(copy / "conf").glob("sweep/*.yaml")]:
        text = path.read_text()
        # the image nets (they record accuracy per epoch) take seconds an epoch: 2 of them
        epochs = 2 if "record_accuracy: true" in text else 20
        text = re.sub(r"(?m)^(\s+epochs:) \d+", rf"\1 {epochs}", text)
        text = re.sub(r"(?m)^(\s+record_every:) \d+", r"\1 5", text)
        path.write_text(text)
    seeds = copy / "conf" / "seeds.yaml"
    seeds.write_text(re.sub(r"(?m)^(\s+seeds:) \d+", r"\1 2", seeds.read_text()))
    config = copy / "conf" / "config.yaml"
    text, n = re.subn(r"(?m)^(\s+- tracking:) local", r"\1 none", config.read_text())
    assert n == 1, "conf/config.yaml: expected `- tracking: local` in the defaults list"
    config.write_text(text)


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> tuple[Path, dict]:
    copy = tmp_path_factory.mktemp("pipeline") / "repo"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    shutil.copytree(REPO / "data" / "raw", copy / "data" / "raw")
    shrink(copy)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "DVC_"))}
    env |= {"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PYTHONPATH": str(copy / "src"),
            "SCRATCHNET_ROOT": str(copy), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        run(cmd, copy, env)
    first = run([str(BIN / "dvc"), "repro"], copy, env, timeout=900)
    return copy, env | {"FIRST_REPRO": first.stdout}


def declared_outputs(copy: Path, env: dict) -> list[str]:
    """Every out, metric and plot file of every stage, as DVC itself lists them."""
    script = ("import json; from dvc.repo import Repo; r = Repo('.');"
              "print(json.dumps(sorted(str(o.def_path) for s in r.index.stages for o in s.outs)))")
    # long/dvc.yaml's opt-in stages (make long) are not run here: their outputs under experiments/long/
    return [o for o in json.loads(run([sys.executable, "-c", script], copy, env).stdout)
            if not o.startswith("experiments/long/")]


@pytest.mark.slow
@pytest.mark.e2e
def test_every_declared_output_exists(repo_copy):
    copy, env = repo_copy
    outs = declared_outputs(copy, env)
    for name in SIX + ("exp",):
        assert f"experiments/{name}/metrics.json" in outs and f"experiments/{name}/model.npz" in outs
    assert {"data/generated", "experiments/report", "experiments/errors/metrics.json",
            "experiments/errors/gallery.png", "experiments/seeds/cat/metrics.json",
            "experiments/seeds/opt/predictions.npz"} <= set(outs)
    # what names or times a run is a side file beside the outputs, never one of them
    assert not [o for o in outs if o.endswith(("run.json", "timing.json", "runs.md", "runs.csv"))]
    assert (copy / "experiments" / "deep_cat" / "run.json").is_file()
    assert (copy / "experiments" / "deep_cat" / "timing.json").is_file()
    assert (copy / "experiments" / "report" / "runs.md").is_file()
    missing = [o for o in outs if not (copy / o).exists()]
    assert missing == []
    from omegaconf import OmegaConf

    generated = [OmegaConf.to_container(OmegaConf.load(p)) for p in (copy / "conf" / "data").glob("*.yaml")]
    expected = sorted(c["path"].rsplit("/", 1)[-1] for c in generated if c["kind"] == "generated")
    assert {"planar.h5", "noisy_moons.h5", "blobs.h5"} <= set(expected)
    assert sorted(p.name for p in (copy / "data" / "generated").iterdir()) == expected


@pytest.mark.slow
@pytest.mark.e2e
def test_report_rows_carry_metrics_json(repo_copy):
    copy, env = repo_copy
    md = (copy / "experiments" / "report" / "report.md").read_text()
    page = (copy / "experiments" / "report" / "report.html").read_text()
    runs = [o.split("/")[1] for o in declared_outputs(copy, env)
            if re.fullmatch(r"experiments/[^/]+/metrics.json", o)
            # not runs: the error analyses; a scratch run; resnet_signs is in the SIGNS section, not the table
            and o.split("/")[1] not in ("errors", "error_shift", "exp", "resnet_signs")]
    assert set(SIX) <= set(runs) and {"shallow_noisy_moons", "conv_cat", "resnet_cat"} <= set(runs)
    for name in runs:
        metrics = json.loads((copy / "experiments" / name / "metrics.json").read_text())
        test = metrics["test"]["accuracy"]
        cells = (f"| {metrics['epochs']} | ", f"| {metrics['train']['cost']:.6f} | "
                 f"{100 * metrics['train']['accuracy']:.2f}% | {'-' if test is None else f'{100 * test:.2f}%'} |")
        row = next(line for line in md.splitlines() if line.startswith(f"| {name} |"))
        assert all(c in row for c in cells), (row, cells)
        assert f"| {metrics['n_parameters']} |" in row
        assert f"<td>{name}</td>" in page
    assert " | ".join(architecture.HEADER) in md and "data:image/png;base64," in page


@pytest.mark.slow
@pytest.mark.e2e
def test_second_repro_is_a_no_op_and_status_clean(repo_copy):
    copy, env = repo_copy
    assert "Running stage 'errors'" in env["FIRST_REPRO"]
    second = run([str(BIN / "dvc"), "repro"], copy, env)
    assert "Running stage" not in second.stdout
    assert "Data and pipelines are up to date." in second.stdout
    # dvc.yaml: the default pipeline (a bare `dvc status` also lists long/dvc.yaml's opt-in stages, never run)
    status = run([str(BIN / "dvc"), "status", "dvc.yaml"], copy, env).stdout
    assert status.strip() == "Data and pipelines are up to date."


@pytest.mark.slow
@pytest.mark.e2e
def test_rerun_gives_byte_identical_metrics(repo_copy):
    copy, env = repo_copy
    folder = copy / "experiments" / "shallow_planar"
    before = {f: (folder / f).read_bytes() for f in ("metrics.json", "model.npz", "cost.csv")}
    lock = (copy / "dvc.lock").read_text()
    run([str(BIN / "dvc"), "repro", "--force", "--single-item", "train_2d"], copy, env)
    assert {f: (folder / f).read_bytes() for f in before} == before
    assert (copy / "dvc.lock").read_text() == lock  # new run ids and times, and not one hash moved
    status = run([str(BIN / "dvc"), "status", "train_2d"], copy, env).stdout
    assert status.strip() == "Data and pipelines are up to date."


@pytest.mark.slow
@pytest.mark.e2e
def test_dvc_metrics_plots_params_commands_work(repo_copy):
    copy, env = repo_copy
    metrics = run([str(BIN / "dvc"), "metrics", "show", "--json"], copy, env).stdout
    shown = json.loads(metrics)
    workspace = next(iter(shown.values()))["data"]
    assert workspace["experiments/deep_cat/metrics.json"]["data"]["test"]["accuracy"] == json.loads(
        (copy / "experiments" / "deep_cat" / "metrics.json").read_text())["test"]["accuracy"]
    assert "experiments/deep_cat/timing.json" not in workspace  # a wall time is not a metric
    seeds = json.loads((copy / "experiments" / "seeds" / "cat" / "metrics.json").read_text())
    assert seeds["seeds"] == [0, 1]  # the shrunk study (DVC leaves the lists out of its table)
    shown_seeds = workspace["experiments/seeds/cat/metrics.json"]["data"]
    assert shown_seeds["experiments"]["deep_cat"]["mean"] == seeds["experiments"]["deep_cat"]["mean"]
    run([str(BIN / "dvc"), "params", "diff"], copy, env)
    run([str(BIN / "dvc"), "plots", "show", "-o", str(copy / "dvc_plots")], copy, env)
    assert (copy / "dvc_plots" / "index.html").is_file()


def exp_rows(shown: list) -> dict[str, dict]:
    """`dvc exp show --json`: experiment name -> the data of its row (params, metrics)."""
    rows = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                rows[rev["name"]] = rev["data"]
    return rows


@pytest.mark.slow
@pytest.mark.e2e
def test_dvc_exp_runs_show_their_metrics_and_plots(repo_copy):
    """Two `dvc exp run -S ...`: both rows of `dvc exp show` carry their metrics (cached outputs),
    and exp diff / metrics diff / plots diff between them show real values."""
    copy, env = repo_copy
    dvc = str(BIN / "dvc")
    for name, lr in (("lr_a", "1.2"), ("lr_b", "0.3")):
        run([dvc, "exp", "run", "exp", "--name", name, "-S", "experiment=logistic_planar",
             "-S", f"optimizer.lr={lr}"], copy, env)
    rows = exp_rows(json.loads(run([dvc, "exp", "show", "--json"], copy, env).stdout))
    metrics = {name: rows[name]["metrics"]["experiments/exp/metrics.json"]["data"] for name in ("lr_a", "lr_b")}
    for name, lr in (("lr_a", 1.2), ("lr_b", 0.3)):
        assert rows[name]["params"]["params.yaml"]["data"]["optimizer"]["lr"] == lr
        assert metrics[name]["epochs"] == 20 and 0 < metrics[name]["train"]["accuracy"] <= 1
    assert metrics["lr_a"]["train"]["cost"] != metrics["lr_b"]["train"]["cost"]
    diff = json.loads(run([dvc, "exp", "diff", "lr_a", "lr_b", "--json"], copy, env).stdout)
    cost = diff["metrics"]["experiments/exp/metrics.json"]["train.cost"]
    assert (cost["old"], cost["new"]) == (metrics["lr_a"]["train"]["cost"], metrics["lr_b"]["train"]["cost"])
    shown = json.loads(run([dvc, "metrics", "diff", "lr_a", "lr_b", "--json"], copy, env).stdout)
    assert shown["experiments/exp/metrics.json"]["train.cost"]["new"] == metrics["lr_b"]["train"]["cost"]
    plots = json.loads(run([dvc, "plots", "diff", "lr_a", "lr_b", "--json"], copy, env).stdout)["data"]
    values = plots["experiments/exp/cost.csv"][0]["content"]["data"]["values"]
    curves = {rev: [(int(v["epoch"]), float(v["cost"])) for v in values if v["rev"] == rev] for rev in ("lr_a", "lr_b")}
    assert curves["lr_a"] and curves["lr_a"] != curves["lr_b"]
    # the last experiment is applied to the workspace: its cost.csv is the lr_b curve
    rows = (copy / "experiments" / "exp" / "cost.csv").read_text().splitlines()[1:]
    assert curves["lr_b"] == [(int(e), float(c)) for e, c in (r.split(",") for r in rows)]


def test_generate_writes_every_generated_set_byte_identical(tmp_path, monkeypatch):
    """The generate stage's module alone (fast): each conf/data set with kind: generated lands in
    <root>/data/generated/<name>.h5, holds exactly GENERATORS[name](**params), same bytes twice."""
    from omegaconf import OmegaConf

    from scratchnet.data import GENERATORS, load_dataset
    from scratchnet.paths import CONF_DIR
    from scratchnet.stages import generate

    monkeypatch.setenv("SCRATCHNET_ROOT", str(tmp_path))
    names = generate.generated_sets()
    assert {"planar", "noisy_moons", "noisy_circles", "blobs", "gaussian_quantiles"} <= set(names)
    assert generate.main(["planar", "noisy_moons"]) == 0
    first = {n: (tmp_path / "data" / "generated" / f"{n}.h5").read_bytes() for n in ("planar", "noisy_moons")}
    assert generate.main(["planar", "noisy_moons"]) == 0
    assert {n: (tmp_path / "data" / "generated" / f"{n}.h5").read_bytes() for n in first} == first
    params = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "data" / "noisy_moons.yaml"))["params"]
    stored = load_dataset(tmp_path / "data" / "generated" / "noisy_moons.h5")
    assert stored.digest() == GENERATORS["noisy_moons"](**params).digest()
    assert generate.main(["cat"]) == 1  # not a generated set
