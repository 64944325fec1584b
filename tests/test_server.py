"""A real `mlflow server` over HTTP, parallel load on a SQLite store, the pyfunc model served over
HTTP, and the MLflow UI in headless Chromium.

One tracking server (SQLite backend, proxied artifacts, one worker, all in a temp folder) starts
once for this module and is stopped by its PID at the end. Everything here is slow and end to end.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import servers
import system

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
RAW_CAT = REPO / "data" / "raw" / "cat"
ARTIFACTS = REPO / "tests" / "artifacts"  # screenshots kept for CI (git-ignored by its own .gitignore)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
N_LOAD_RUNS = 8
N_LOAD_POINTS = 2500


def env(root: Path, **extra: str) -> dict[str, str]:
    """A clean environment: data, outputs and the local store under `root` (SCRATCHNET_ROOT)."""
    base = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SCRATCHNET_ROOT")}
    return servers.quiet_env() | base | {"SCRATCHNET_ROOT": str(root), "MLFLOW_DISABLE_TELEMETRY": "true"} | extra


def train(root: Path, *overrides: str, uri: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m scratchnet.train` against the tracking server at `uri` (MLFLOW_TRACKING_URI)."""
    flags = [o for o in overrides if o.startswith("-")]  # -m must precede the overrides
    cmd = [sys.executable, "-m", "scratchnet.train", *flags, "tracking=server",
           *(o for o in overrides if not o.startswith("-"))]
    return subprocess.run(cmd, cwd=root, env=env(root, MLFLOW_TRACKING_URI=uri), capture_output=True,
                          text=True, timeout=timeout)


def cat_root(root: Path) -> Path:
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "cat").symlink_to(RAW_CAT)
    return root


def read_costs(path: Path) -> list[tuple[int, float]]:
    with open(path) as f:
        return [(int(r["epoch"]), float(r["cost"])) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with servers.mlflow_server(tmp_path_factory.mktemp("mlflow_server")) as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server.url)


@pytest.fixture(scope="module")
def deep_cat(server, tmp_path_factory):
    """The course's deep_cat (2500 epochs) trained against the server; (root, run.json)."""
    root = cat_root(tmp_path_factory.mktemp("deep_cat"))
    proc = train(root, "experiment=deep_cat", uri=server.url)
    assert proc.returncode == 0, proc.stderr
    run = json.loads((root / "experiments" / "deep_cat" / "run.json").read_text())
    return root, run


def test_training_run_arrives_complete(deep_cat, client, server):
    root, run = deep_cat
    out = root / "experiments" / "deep_cat"
    assert run["tracking_uri"] == server.url
    r = client.get_run(run["run_id"])
    assert r.info.status == "FINISHED"
    assert r.data.tags["mlflow.runName"] == "deep_cat"  # where the run is tracked is not part of its name
    # the course's numbers, as the server has them
    metrics = json.loads((out / "metrics.json").read_text())
    assert round(r.data.metrics["train/accuracy"], 6) == round(metrics["train"]["accuracy"], 6) == 0.985646
    assert r.data.metrics["test/accuracy"] == metrics["test"]["accuracy"] == 0.8
    # the whole cost history: every recorded point of cost.csv, then the trained model's cost
    costs = read_costs(out / "cost.csv")
    assert [i for i, _ in costs] == [*range(0, 2500, 100), 2499]
    history = client.get_metric_history(run["run_id"], "train/cost")
    assert [(m.step, m.value) for m in history] == costs + [(2500, metrics["train"]["cost"])]
    # every artifact, uploaded through the server's proxy, byte for byte
    listed = {f.path for f in client.list_artifacts(run["run_id"])}
    assert {"metrics.json", "cost.csv", "model.npz", "config.yaml", "run.json", "timing.json", "plots",
            "model", "pyfunc"} <= listed
    got = Path(client.download_artifacts(run["run_id"], "model.npz", str(root / "download")))
    assert got.read_bytes() == (out / "model.npz").read_bytes()
    stored = [p for p in (server.log.parent / "artifacts").rglob("model.npz") if run["run_id"] in p.parts]
    assert len(stored) == 3  # model.npz, model/model.npz, pyfunc/artifacts/model.npz: no duplicates
    assert len(client.search_runs([r.info.experiment_id])) == 1  # one run per command


def test_joblib_sweep_against_server(server, client, tmp_path):
    """A 2-job joblib sweep: a parent run and one child per job, each complete, nothing twice."""
    root = cat_root(tmp_path)
    lrs = ("0.01", "0.005")
    proc = train(root, "-m", "experiment=logistic_cat", f"optimizer.lr={','.join(lrs)}",
                 "train.epochs=300", "train.record_every=10", "hydra/launcher=joblib_local",
                 "hydra.launcher.n_jobs=2", "hydra.callbacks.sweep.name=server_sweep", uri=server.url)
    assert proc.returncode == 0, proc.stderr
    exp = client.get_experiment_by_name("cat")
    runs = client.search_runs([exp.experiment_id], "tags.`scratchnet.sweep` = 'server_sweep'")
    parents = [r for r in runs if r.data.tags.get("scratchnet.sweep.role") == "parent"]
    jobs = [r for r in runs if r.data.tags.get("scratchnet.sweep.role") == "job"]
    assert len(parents) == 1 and len(jobs) == 2, [r.data.tags.get("mlflow.runName") for r in runs]
    assert {r.data.params["optimizer.lr"] for r in jobs} == set(lrs)
    for job in jobs:
        assert job.info.status == "FINISHED"
        assert job.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        history = client.get_metric_history(job.info.run_id, "train/cost")
        steps = [m.step for m in history]
        assert steps == [*range(0, 300, 10), 299, 300], steps  # 30 recorded + last + trained model
        listed = {f.path for f in client.list_artifacts(job.info.run_id)}
        assert {"metrics.json", "cost.csv", "model.npz", "model", "pyfunc"} <= listed
        folder = Path(client.download_artifacts(job.info.run_id, "cost.csv", str(tmp_path / job.info.run_id)))
        assert [s for s, _ in read_costs(folder)] == steps[:-1]
    assert parents[0].info.status == "FINISHED"
    assert "summary" in {f.path for f in client.list_artifacts(parents[0].info.run_id)}


LOAD_SCRIPT = r"""
import math, sys, time
from pathlib import Path
from scratchnet import tracking
cfg, i, go = {"kind": "local", "db": sys.argv[1], "artifacts": sys.argv[2]}, int(sys.argv[3]), Path(sys.argv[4])
with tracking.open_run(cfg, mlflow_experiment="load", run_name=f"load-{i}", params={"worker": i},
                       tags={"load": "1"}) as run:
    Path(f"{go}.ready.{i}").touch()
    while not go.exists():  # every worker logs at the same moment
        time.sleep(0.01)
    run.log_costs([(k, i + math.exp(-k / 500)) for k in range(int(sys.argv[5]))])
    run.log_metrics({"done": 1.0})
"""


def test_parallel_load_on_sqlite(tmp_path):
    """8 processes log 2,500-point histories into one SQLite store at the same moment."""
    from scratchnet import tracking

    db, artifacts, go = tmp_path / "mlflow.db", tmp_path / "mlartifacts", tmp_path / "go"
    ids = tracking.prepare_store({"kind": "local", "db": str(db), "artifacts": str(artifacts)}, ["load"])
    procs = [subprocess.Popen([sys.executable, "-c", LOAD_SCRIPT, str(db), str(artifacts), str(i), str(go),
                               str(N_LOAD_POINTS)], env=env(tmp_path), stderr=subprocess.PIPE, text=True)
             for i in range(N_LOAD_RUNS)]
    deadline = time.monotonic() + 180
    while len(list(tmp_path.glob("go.ready.*"))) < N_LOAD_RUNS and time.monotonic() < deadline:
        assert all(p.poll() is None for p in procs), [p.stderr.read() for p in procs if p.poll() is not None]
        time.sleep(0.1)
    go.touch()
    for p in procs:
        assert p.wait(180) == 0, p.stderr.read()

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{db}")
    runs = client.search_runs([ids["load"]], max_results=100)
    assert sorted(r.info.run_name for r in runs) == sorted(f"load-{i}" for i in range(N_LOAD_RUNS))
    points = 0
    for r in runs:
        i = int(r.data.params["worker"])
        assert r.info.status == "FINISHED" and r.data.metrics["done"] == 1.0
        history = sorted(client.get_metric_history(r.info.run_id, "train/cost"), key=lambda m: m.step)
        assert [m.step for m in history] == list(range(N_LOAD_POINTS))  # each point once
        assert [m.value for m in history] == [i + math.exp(-k / 500) for k in range(N_LOAD_POINTS)]
        points += len(history)
    assert points == N_LOAD_RUNS * N_LOAD_POINTS
    print(f"load: {N_LOAD_RUNS} runs x {N_LOAD_POINTS} points sent; found {len(runs)} runs, {points} points")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    """The cat test set's 50 images (64x64) as PNG files."""
    import h5py
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    with h5py.File(RAW_CAT / "test_catvnoncat.h5", "r") as f:
        x = f["test_set_x"][:]
    paths = []
    for k, image in enumerate(x):
        paths.append(folder / f"{k}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def test_pyfunc_served_over_http_matches_scratchnet_predict(deep_cat, server, images, tmp_path):
    import urllib.request

    from scratchnet.cli.predict import load_classifier, load_image, predict_image

    root, run = deep_cat
    model_file = root / "experiments" / "deep_cat" / "model.npz"
    X = np.hstack([load_image(p).reshape(1, -1).T for p in images])  # (12288, 50), as load_cat flattens

    def invoke(url: str, rows: np.ndarray) -> np.ndarray:
        body = json.dumps({"inputs": rows.tolist()}).encode()  # rows are examples: (m, 12288)
        request = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return np.array(json.loads(response.read())["predictions"], dtype=np.float64)  # (m, 1)

    with servers.model_server(f"runs:/{run['run_id']}/pyfunc", tmp_path / "serve.log", server.url) as s:
        one_by_one = np.vstack([invoke(s.url, X[:, [k]].T) for k in range(X.shape[1])])  # (50, 1)
        batch = invoke(s.url, X.T)  # (50, 1)
    classifier = load_classifier(model_file)
    local = np.array([predict_image(classifier, p).probabilities[1] for p in images])  # P(cat)
    served = one_by_one
    # image by image the server does the same arithmetic as scratchnet-predict: equal to the bit
    np.testing.assert_array_equal(one_by_one[:, 0], local)
    # a batch is one matrix product instead of 50, so BLAS may sum in another order: 1 ulp or so
    np.testing.assert_allclose(batch[:, 0], local, rtol=1e-12, atol=0)
    # and the command a user runs prints the same classes and probabilities
    cli = subprocess.run([Path(sys.executable).parent / "scratchnet-predict", *images, "--model", model_file],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    expected = [f"{p}: {'cat' if q > 0.5 else 'non-cat'} (p={max(q, 1 - q):.2f})"
                for p, q in zip(images, served[:, 0])]
    assert cli.stdout.splitlines() == expected
    assert len({line.split(": ")[1].split(" ")[0] for line in expected}) == 2  # both classes occur


def test_mlflow_ui_shows_experiment_and_runs(deep_cat, server, client):
    """Headless Chromium on the server's UI: the cat experiment's runs page lists the deep_cat run."""
    system.require_file(CHROMIUM, "chromium")  # skips, naming it, where it could not be installed
    from playwright.sync_api import sync_playwright

    _, run = deep_cat
    name = client.get_run(run["run_id"]).info.run_name
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    shot = ARTIFACTS / "mlflow_ui_runs.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{server.url}/#/experiments/{run['experiment_id']}/runs")
            page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)  # the table loads late
            page.screenshot(path=str(shot), full_page=True)
            text = page.inner_text("body")
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    lines = {line.strip() for line in text.splitlines()}
    assert name in lines and "cat" in lines  # the run's own cell, the experiment's own breadcrumb
    runs = client.search_runs([run["experiment_id"]])
    assert f"{len(runs)} matching run" in text  # the UI counts every run the API has (children too)
    assert all(r.info.run_name in lines for r in runs if not r.data.tags.get("mlflow.parentRunId"))
    assert shot.stat().st_size > 10_000
