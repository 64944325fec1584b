"""The tracking layer against real SQLite stores in tmp_path, read back through MlflowClient."""

from __future__ import annotations

import http.server
import json
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from scratchnet import tracking
from scratchnet.data import make_flower
from scratchnet.models import save_model
from scratchnet.nn import dense_stack
from scratchnet.paths import repo_root, under_root
from scratchnet.tracking import provenance
from scratchnet.tracking.run import MAX_DATASET_DIGEST_SIZE, MAX_PARAM_VAL_LENGTH, MAX_TAG_VAL_LENGTH

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_tracking_env(monkeypatch):
    """A developer's MLFLOW_TRACKING_URI or SCRATCHNET_ROOT must not redirect these tests."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SCRATCHNET_ROOT", raising=False)


def local_cfg(folder: Path) -> dict:
    return {"kind": "local", "db": str(folder / "mlflow.db"), "artifacts": str(folder / "mlartifacts")}


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """A freshly created, still empty store, made once: creating one runs MLflow's migrations (1-6 s)."""
    folder = tmp_path_factory.mktemp("empty-store")
    assert tracking.prepare_store(local_cfg(folder), []) == {}
    return folder / "mlflow.db"


@pytest.fixture
def store(tmp_path, empty_store) -> dict:
    """A fresh store of this test's own: a copy of the empty one."""
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    return local_cfg(tmp_path)


def client_for(cfg):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking.resolve_uri(cfg))


def open_test_run(cfg, **kw):
    args = {"mlflow_experiment": "planar", "run_name": "test", "params": {}, "tags": {}} | kw
    return tracking.open_run(cfg, **args)


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A small git checkout with a data.dvc: the shared tree changes under us while tests run."""
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "data.dvc").write_text("outs:\n- md5: 5d41402abc4b2a76b9719d911017c592.dir\n  size: 10\n"
                                   "  nfiles: 1\n  hash: md5\n  path: data/raw\n")
    git(root, "init", "-q")
    git(root, "add", "pyproject.toml", "data.dvc")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return root


# ---------------------------------------------------------------------------------------------------
# a complete run, read back


def test_run_records_params_costs_metrics_tags_dataset_artifacts_and_model(store, tmp_path, checkout):
    ds = make_flower()
    network = dense_stack([2, 4, 1], "tanh", initializer="small_random", rng=3)
    save_model(network, tmp_path / "model.npz")
    (tmp_path / "out" / "plots").mkdir(parents=True)
    (tmp_path / "out" / "metrics.json").write_text('{"train": {"accuracy": 0.9}}\n')
    (tmp_path / "out" / "plots" / "cost.png").write_bytes(b"\x89PNG fake")
    params = {"name": "shallow_planar", "model": {"layer_dims": [2, 4, 1], "hidden_activation": "tanh"},
              "optimizer": {"lr": 1.2}, "train": {"batch_size": None, "iterations": 10000}, "flag": True}
    costs = [(10 * i, 0.7 * np.exp(-i / 900)) for i in range(2500)]  # steps 0, 10, ..., 24990

    with open_test_run(store, run_name="shallow_planar", params=params, root=checkout,
                       tags={"model_family": "shallow", "overrides": "optimizer.lr=1.2"}) as run:
        run.log_dataset(ds)
        run.log_costs(costs)
        run.log_metrics({"train": {"accuracy": 0.9075}, "test/accuracy": None, "fit_seconds": 1.5})
        run.set_tags({"extra": 3})
        run.log_artifact(tmp_path / "out" / "metrics.json")
        run.log_artifacts(tmp_path / "out" / "plots", "plots")
        run.log_model(tmp_path / "model.npz")

    client = client_for(store)
    got = client.get_run(run.run_id)
    assert run.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert got.info.status == "FINISHED" and got.info.end_time is not None
    assert got.info.experiment_id == run.experiment_id
    assert got.info.run_name == "shallow_planar"

    assert got.data.params == {"name": "shallow_planar", "model.layer_dims": "[2, 4, 1]",
                               "model.hidden_activation": "tanh", "optimizer.lr": "1.2",
                               "train.batch_size": "null", "train.iterations": "10000", "flag": "true"}

    history = sorted(client.get_metric_history(run.run_id, "train/cost"), key=lambda m: m.step)
    assert [(m.step, m.value) for m in history] == [(s, float(c)) for s, c in costs]
    assert got.data.metrics == {"train/cost": costs[-1][1], "train/accuracy": 0.9075, "fit_seconds": 1.5}

    tags = got.data.tags
    assert tags["model_family"] == "shallow" and tags["overrides"] == "optimizer.lr=1.2" and tags["extra"] == "3"
    assert tags["git_commit"] == git(checkout, "rev-parse", "HEAD").strip()
    assert tags["mlflow.source.git.commit"] == tags["git_commit"]
    assert tags["git_dirty"] == "false"
    assert tags["data_dvc_md5"] == "5d41402abc4b2a76b9719d911017c592.dir"
    assert tags["mlflow.runName"] == "shallow_planar"
    assert "mlflow.parentRunId" not in tags and "error" not in tags

    [inp] = got.inputs.dataset_inputs
    assert inp.dataset.name == "planar"
    assert inp.dataset.digest == ds.digest()[:36]
    assert json.loads(inp.dataset.profile) == {"m_train": 400, "m_test": None, "n_features": 2,
                                               "classes": ["red", "blue"], "sha256": ds.digest()}
    assert {(t.key, t.value) for t in inp.tags} == {("mlflow.data.context", "training")}

    listed = {a.path for a in client.list_artifacts(run.run_id)}
    assert listed == {"metrics.json", "plots", "model", "pyfunc"}
    assert [a.path for a in client.list_artifacts(run.run_id, "plots")] == ["plots/cost.png"]
    assert [a.path for a in client.list_artifacts(run.run_id, "model")] == ["model/model.npz"]
    assert {"pyfunc/MLmodel", "pyfunc/artifacts"} <= {a.path for a in client.list_artifacts(run.run_id, "pyfunc")}

    # the store layout: artifacts under <artifacts>/<experiment>/<run_id>/artifacts
    experiment = client.get_experiment(run.experiment_id)
    assert experiment.name == "planar"
    assert experiment.artifact_location == (tmp_path / "mlartifacts" / "planar").as_uri()
    run_dir = tmp_path / "mlartifacts" / "planar" / run.run_id / "artifacts"
    assert (run_dir / "model" / "model.npz").read_bytes() == (tmp_path / "model.npz").read_bytes()

    # the pyfunc model predicts what the network predicts, rows as examples
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(run_dir / "pyfunc"))
    X = ds.X_train[:, :7].T  # (7, 2)
    np.testing.assert_allclose(model.predict(X), network.predict_proba(X.T).T, rtol=0, atol=0)
    with pytest.raises(Exception, match="shape"):
        model.predict(np.zeros((3, 5)))


def test_log_costs_timing_2500_points(store):
    costs = [(i, 1.0 / (i + 1)) for i in range(2500)]
    with open_test_run(store) as run:
        start = time.perf_counter()
        run.log_costs(costs)
        seconds = time.perf_counter() - start
    print(f"\nlog_costs: 2500 points in {seconds * 1000:.0f} ms (one log_batch, MLflow splits it at 1000)")
    assert len(client_for(store).get_metric_history(run.run_id, "train/cost")) == 2500


def test_params_past_mlflows_batch_limit_all_arrive_and_long_ones_are_cut(store):
    params = {f"p{i:03d}": i for i in range(250)} | {"long": "x" * 7000}  # MLflow takes 100 a request
    with open_test_run(store, params=params) as run:
        pass
    got = client_for(store).get_run(run.run_id).data.params
    assert len(got) == 251
    assert got["p249"] == "249"
    assert len(got["long"]) == MAX_PARAM_VAL_LENGTH and got["long"].endswith("x...")


def test_our_limits_match_mlflows():
    from mlflow.utils import validation

    assert MAX_PARAM_VAL_LENGTH == validation.MAX_PARAM_VAL_LENGTH
    assert MAX_TAG_VAL_LENGTH == validation.MAX_TAG_VAL_LENGTH
    assert MAX_DATASET_DIGEST_SIZE == validation.MAX_DATASET_DIGEST_SIZE


def test_runs_are_read_back_as_plain_records_by_their_tags(store):
    with open_test_run(store, run_name="a", params={"lr": 0.1}, tags={"sweep": "it's", "job": "0"}) as first:
        first.log_costs([(0, 0.7), (10, 0.5)])
    with open_test_run(store, mlflow_experiment="cat", run_name="b", tags={"sweep": "it's", "job": "1"}) as second:
        pass
    with open_test_run(store, run_name="c", tags={"sweep": "other"}):
        pass
    client = tracking.connect(tracking.resolve_uri(store))
    found = tracking.find_runs(client, {"sweep": "it's"}, latest_first=True)  # every experiment, quotes escaped
    assert [r.run_id for r in found] == [second.run_id, first.run_id]
    assert isinstance(found[1], tracking.RunRecord) and found[1].status == "FINISHED"
    assert found[1].params == {"lr": "0.1"} and found[1].metrics == {"train/cost": 0.5}
    assert found[1].tags["job"] == "0" and found[1].tags["mlflow.runName"] == "a"
    assert [r.run_id for r in tracking.find_runs(client, {"sweep": "it's", "job": "1"})] == [second.run_id]
    assert tracking.metric_history(client, first.run_id, "train/cost") == [(0, 0.7), (10, 0.5)]


# ---------------------------------------------------------------------------------------------------
# how runs end


def test_exception_marks_run_failed_with_error_tag(store):
    with pytest.raises(ValueError, match="boom"):
        with open_test_run(store) as run:
            run.log_costs([(0, 0.69)])
            raise ValueError("boom: cost became nan at iteration 7")
    got = client_for(store).get_run(run.run_id)
    assert got.info.status == "FAILED"
    assert got.data.tags["error"] == "ValueError: boom: cost became nan at iteration 7"
    assert got.info.end_time is not None


def test_long_error_message_is_truncated(store):
    with pytest.raises(RuntimeError):
        with open_test_run(store) as run:
            raise RuntimeError("e" * 20000)
    error = client_for(store).get_run(run.run_id).data.tags["error"]
    assert len(error) == MAX_TAG_VAL_LENGTH and error.startswith("RuntimeError: eee")


@pytest.mark.parametrize(("raised", "status", "error"), [
    (KeyboardInterrupt(), "KILLED", "KeyboardInterrupt"),
    (SystemExit(143), "KILLED", "SystemExit: 143"),  # what a SIGTERM handler raises
    (SystemExit(130), "KILLED", "SystemExit: 130"),
    (SystemExit(2), "FAILED", "SystemExit: 2"),
    (SystemExit(0), "FINISHED", None),
])
def test_interrupts_and_exits(store, raised, status, error):
    with pytest.raises(type(raised)):
        with open_test_run(store) as run:
            raise raised
    got = client_for(store).get_run(run.run_id)
    assert got.info.status == status
    assert got.data.tags.get("error") == error


def test_nested_parent_and_child_runs(store):
    with open_test_run(store, run_name="sweep") as parent:
        children = []
        for lr in (0.1, 0.2):
            with open_test_run(store, run_name=f"lr={lr}", params={"optimizer": {"lr": lr}},
                               parent_run_id=parent.run_id) as child:
                children.append(child.run_id)
    client = client_for(store)
    found = client.search_runs([parent.experiment_id], f"tags.mlflow.parentRunId = '{parent.run_id}'")
    assert sorted(r.info.run_id for r in found) == sorted(children)
    assert {r.info.status for r in found} == {"FINISHED"}
    assert client.get_run(parent.run_id).info.status == "FINISHED"
    assert "mlflow.parentRunId" not in client.get_run(parent.run_id).data.tags


# ---------------------------------------------------------------------------------------------------
# tracking=none, unreachable servers, bad input


def test_kind_none_never_imports_mlflow(tmp_path):
    code = textwrap.dedent("""
        import sys
        from scratchnet import tracking
        assert "mlflow" not in sys.modules, "import scratchnet.tracking imported mlflow"
        cfg = {"kind": "none"}
        assert tracking.resolve_uri(cfg) is None and tracking.prepare_store(cfg, ["cat"]) == {}
        with tracking.open_run(cfg, mlflow_experiment="cat", run_name="x", params={"a": 1}, tags={}) as run:
            run.log_costs([(0, 0.5)]); run.log_metrics({"m": 1.0}); run.set_tags({"t": 1})
            run.log_artifact("missing.txt"); run.log_model("missing.npz")
        print(run.run_id, run.experiment_id, run.tracking_uri, "mlflow" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "MLFLOW_TRACKING_URI": "sqlite:///nowhere.db"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "None", "None", "False"]
    assert list(tmp_path.iterdir()) == []  # no store, no artifacts


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast_with_fallback_hint():
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(tracking.TrackingError) as caught:
        with open_test_run({"kind": "server", "uri": uri}):
            pytest.fail("the run must not start")
    assert time.perf_counter() - start < 15
    message = str(caught.value)
    assert f"tracking server {uri} is unreachable" in message and "tracking=local" in message


def test_a_server_that_is_not_mlflow_is_named():
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(tracking.TrackingError, match=r"answered /health with HTTP 404: is it an MLflow"):
            tracking.prepare_store({"kind": "server", "uri": uri}, ["cat"])
    finally:
        server.shutdown()
        server.server_close()


def test_deleted_experiment_is_reported(store):
    [experiment_id] = tracking.prepare_store(store, ["cat"]).values()
    client_for(store).delete_experiment(experiment_id)
    with pytest.raises(tracking.TrackingError, match=rf"experiment 'cat' \(id {experiment_id}\) .* is deleted"):
        with open_test_run(store, mlflow_experiment="cat"):
            pass


def test_missing_artifact_and_bad_metric_fail_the_run(store, tmp_path):
    with pytest.raises(tracking.TrackingError, match=r"artifact .*nope.txt not found"):
        with open_test_run(store) as run:
            run.log_artifact(tmp_path / "nope.txt")
    assert client_for(store).get_run(run.run_id).info.status == "FAILED"
    with pytest.raises(tracking.TrackingError, match=r"metric 'train/accuracy': expected a number, found 'high'"):
        with open_test_run(store) as run:
            run.log_metrics({"train/accuracy": "high"})


# ---------------------------------------------------------------------------------------------------
# the store


def test_prepare_store_is_idempotent_and_sets_artifact_locations(store, tmp_path):
    first = tracking.prepare_store(store, ["cat", "planar"])
    again = tracking.prepare_store(store, ["planar", "cat", "blobs"])
    assert again["cat"] == first["cat"] and again["planar"] == first["planar"]
    assert len(set(again.values())) == 3
    client = client_for(store)
    for name, experiment_id in again.items():
        location = client.get_experiment(experiment_id).artifact_location
        assert location == (tmp_path / "mlartifacts" / name).as_uri()


def test_every_experiment_is_tagged_for_the_classic_ui(store):
    """MLflow 3.17's UI opens an experiment tagged custom_model_development on its runs (not the GenAI
    view); one created by an older version without the tag gets it the next time a run opens there."""
    from scratchnet.tracking.store import EXPERIMENT_KIND

    assert EXPERIMENT_KIND == ("mlflow.experimentKind", "custom_model_development")
    client = client_for(store)
    ids = tracking.prepare_store(store, ["cat", "planar"])
    with open_test_run(store, mlflow_experiment="moons"):
        pass
    ids["moons"] = client.get_experiment_by_name("moons").experiment_id
    for experiment_id in ids.values():
        assert client.get_experiment(experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
    old = client.create_experiment("football")  # as the project made them before the tag
    assert "mlflow.experimentKind" not in client.get_experiment(old).tags
    assert tracking.prepare_store(store, ["football"]) == {"football": old}
    assert client.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"


def test_concurrent_processes_on_a_fresh_store(tmp_path):
    """Three processes open runs on the same not-yet-created store at once (the store lock)."""
    store = local_cfg(tmp_path)
    code = textwrap.dedent(f"""
        import sys
        from scratchnet import tracking
        cfg = {store!r}
        with tracking.open_run(cfg, mlflow_experiment="cat", run_name=sys.argv[1], params={{}}, tags={{}}) as run:
            run.log_costs([(i, 1.0 / (i + 1)) for i in range(2500)])
        print(run.run_id)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"job{i}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]
    client = client_for(store)
    runs = client.search_runs([client.get_experiment_by_name("cat").experiment_id])
    assert sorted(r.info.run_id for r in runs) == sorted(out.strip() for out, _ in outs)
    for r in runs:
        assert r.info.status == "FINISHED"
        assert len(client.get_metric_history(r.info.run_id, "train/cost")) == 2500


# ---------------------------------------------------------------------------------------------------
# flatten, resolve_uri, provenance


@dataclass
class Optim:
    name: str = "gd"
    lr: float = 0.0075
    betas: list = field(default_factory=lambda: [0.9, 0.999])


def test_flatten():
    nested = {"model": {"layer_dims": [12288, 20, 7, 5, 1], "hidden": "relu", "keep_prob": 1.0},
              "optimizer": Optim(), "seed": 1, "batch_size": None, "exact": False, "path": Path("/x/y")}
    expected = {"model.layer_dims": "[12288, 20, 7, 5, 1]", "model.hidden": "relu", "model.keep_prob": 1.0,
                "optimizer.name": "gd", "optimizer.lr": 0.0075, "optimizer.betas": "[0.9, 0.999]",
                "seed": 1, "batch_size": "null", "exact": False, "path": "/x/y"}
    assert tracking.flatten(nested) == expected
    from omegaconf import OmegaConf

    as_omegaconf = OmegaConf.create({k: v for k, v in nested.items() if k not in ("optimizer", "path")})
    assert tracking.flatten(as_omegaconf) == {k: v for k, v in expected.items()
                                               if not k.startswith(("optimizer", "path"))}
    assert tracking.flatten({"train": {"accuracy": 0.5}}, sep="/") == {"train/accuracy": 0.5}


def test_resolve_uri(tmp_path, monkeypatch):
    assert tracking.resolve_uri({"kind": "local", "db": str(tmp_path / "a.db")}) == f"sqlite:///{tmp_path}/a.db"
    # relative paths are taken from the repo root, not from the current directory
    monkeypatch.chdir(tmp_path)
    assert tracking.resolve_uri({"kind": "local", "db": "mlflow.db"}) == f"sqlite:///{REPO}/mlflow.db"
    assert tracking.resolve_uri({"kind": "local"}) == f"sqlite:///{REPO}/mlflow.db"
    assert tracking.resolve_uri({"kind": "local", "db": "sub/../t.db"}) == f"sqlite:///{REPO}/t.db"
    monkeypatch.setenv("SCRATCHNET_ROOT", str(tmp_path / "root"))
    assert tracking.resolve_uri({"kind": "local", "db": "m.db"}) == f"sqlite:///{tmp_path}/root/m.db"
    assert tracking.resolve_uri({"kind": "server", "uri": "http://h:5000/"}) == "http://h:5000"
    assert tracking.resolve_uri({"kind": "none", "db": "x.db"}) is None

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    assert tracking.resolve_uri({"kind": "local", "db": "m.db"}) == "http://elsewhere:5000"
    assert tracking.resolve_uri({"kind": "server", "uri": "http://h:5000"}) == "http://elsewhere:5000"
    assert tracking.resolve_uri({"kind": "none"}) is None

    @dataclass
    class TrackingConfig:  # typed configs are objects, not mappings
        kind: str = "local"
        db: str = "/abs/mlflow.db"

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.resolve_uri(TrackingConfig()) == "sqlite:////abs/mlflow.db"
    from omegaconf import OmegaConf

    as_omegaconf = OmegaConf.create({"kind": "local", "db": "/abs/x.db", "artifacts": None, "uri": None})
    assert tracking.resolve_uri(as_omegaconf) == "sqlite:////abs/x.db"


@pytest.mark.parametrize(("cfg", "message"), [
    ({"kind": "remote"}, "tracking.kind: expected one of local, server, none, found 'remote'"),
    ({"kind": "server"}, "tracking.uri: expected the server's URI for tracking=server"),
])
def test_bad_tracking_config(cfg, message):
    with pytest.raises(tracking.TrackingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tracking.resolve_uri(cfg)


def test_provenance_of_a_checkout(checkout):
    sha = git(checkout, "rev-parse", "HEAD").strip()
    assert provenance.provenance_tags(checkout) == {"git_commit": sha, "git_dirty": "false",
                                                    "data_dvc_md5": "5d41402abc4b2a76b9719d911017c592.dir"}
    (checkout / "scratch.py").write_text("untracked files do not count\n")
    assert provenance.git_dirty(checkout) is False
    (checkout / "pyproject.toml").write_text("[project]\nname = 'changed'\n")
    assert provenance.git_dirty(checkout) is True
    assert provenance.git_commit(checkout) == sha


def test_provenance_finds_this_repo_by_default(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # found from the package, not the cwd
    assert repo_root() == REPO
    assert len(provenance.git_commit()) == 40
    assert provenance.data_dvc_md5() == yaml.safe_load((REPO / "data.dvc").read_text())["outs"][0]["md5"]
    monkeypatch.setenv("SCRATCHNET_ROOT", str(tmp_path))
    assert repo_root() == tmp_path and provenance.data_dvc_md5() is None


def test_provenance_outside_a_checkout(tmp_path):
    assert provenance.git_commit(tmp_path) is None
    assert provenance.git_dirty(tmp_path) is None
    assert provenance.data_dvc_md5(tmp_path) is None
    (tmp_path / "data.dvc").write_text("outs:\n- md5: 0123abc.dir\n  path: data/raw\n")
    assert provenance.data_dvc_md5(tmp_path) == "0123abc.dir"
    assert provenance.provenance_tags(tmp_path) == {"data_dvc_md5": "0123abc.dir"}


def test_config_paths_are_taken_from_the_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert under_root("data/raw/cat", "/repo") == Path("/repo/data/raw/cat")
    assert under_root("/abs/file.h5", "/repo") == Path("/abs/file.h5")
    assert under_root("~/x", "/repo") == Path.home() / "x"
