"""The output folder guard through the real command: a run replaces only a folder it may (absent,
empty, a previous run's outputs) and refuses every other one before training, deleting nothing.

Every destructive case runs against a throwaway copy of a checkout in tmp_path (SCRATCHNET_ROOT
points there: data, outputs and Hydra's folder all hang from it), never against this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generated import generated_set
from refusals import one_error_line
from scratchnet.runs import guard
from scratchnet.runs.outputs import staged

REPO = Path(__file__).resolve().parents[1]
MARKER = ".scratchnet-run.json"
RUN_FILES = {"metrics.json", "timing.json", "cost.csv", "model.npz", "config.yaml", "run.json",
             "plots/cost.png", "plots/decision_boundary.png"}


def fake_checkout(root: Path) -> Path:
    """A folder that looks like a checkout: git, code, configs, tests, DVC, data, a previous run."""
    for folder, file in ((".git", "HEAD"), ("src", "code.py"), ("conf", "config.yaml"), ("tests", "test_x.py"),
                         (".dvc", "config"), ("benchmarks", "bench.py"), ("data/raw", "README")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / file).write_text(f"{folder}/{file}: keep me\n")
    (root / "data" / "generated").mkdir()
    shutil.copy(generated_set("planar"), root / "data" / "generated" / "planar.h5")
    return root


def snapshot(folder: Path, skip: tuple[str, ...] = ("outputs",)) -> dict[str, bytes]:
    """Every file under `folder` (hidden too) with its bytes, Hydra's own log folder left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.relative_to(folder).parts[0] not in skip}


def train(root: Path, *overrides: str, home: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
    env |= {"SCRATCHNET_ROOT": str(root), "MLFLOW_DISABLE_TELEMETRY": "true"} | ({"HOME": str(home)} if home else {})
    return subprocess.run([sys.executable, "-m", "scratchnet.train", "experiment=shallow_planar", "tracking=none",
                           "train.epochs=5", *overrides], capture_output=True, text=True, env=env, cwd=root,
                          timeout=300)


def assert_refused(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, one error line holding every fragment, no traceback, nothing trained."""
    one_error_line(proc, *fragments)
    assert "train accuracy" not in proc.stderr  # refused before training


@pytest.fixture
def root(tmp_path) -> Path:
    return fake_checkout(tmp_path / "checkout")


# output_dir values that name the repo root, its parents, / or the project's own folders: (override,
# what the one line says). Relative values hang from the root; "@" stands for the root's path.
PROTECTED = {
    "output_dir=.": "it is the repo root (paths.root)",
    "output_dir=''": "it is the repo root (paths.root)",
    "output_dir=data": "it is the project's data/ folder",
    "output_dir=data/": "it is the project's data/ folder",  # a trailing slash is the same folder
    "output_dir=data/raw": "it is the project's data/raw/ folder",
    "output_dir=data/generated": "it is the project's data/generated/ folder",
    "output_dir=conf": "it is the project's conf/ folder",
    "output_dir=src": "it is the project's src/ folder",
    "output_dir=tests": "it is the project's tests/ folder",
    "output_dir=benchmarks": "it is the project's benchmarks/ folder",
    "output_dir=.git": "it is the project's .git/ folder",
    "output_dir=.dvc": "it is the project's .dvc/ folder",
    "output_dir=experiments": "it is the project's experiments/ folder",
    "output_dir=@/../checkout": "it is the repo root (paths.root)",  # resolves into the repo
    "output_dir=@/..": "'.' and '..' are not folder names",
    "output_dir=@/data/..": "'.' and '..' are not folder names",
    "output_dir=/": "it is /",
    "output_dir=/tmp": "it holds the repo root (paths.root)",  # an ancestor of the root
}


@pytest.mark.parametrize("override", list(PROTECTED))
def test_protected_folders_are_refused_and_nothing_is_deleted(override, root):
    before = snapshot(root)
    proc = train(root, override.replace("@", str(root)))
    assert_refused(proc, "refusing output_dir", PROTECTED[override], "nothing was deleted")
    assert snapshot(root) == before


def test_the_home_folder_is_refused(root, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    proc = train(root, "output_dir='~'", home=home)
    assert_refused(proc, f"refusing output_dir {home}", "it is the home folder")
    assert (home / "thesis.tex").read_text() == "years of work\n"


def test_symbolic_links_are_followed_to_what_they_name(root, tmp_path):
    (tmp_path / "to_root").symlink_to(root)
    assert_refused(train(root, f"output_dir={tmp_path / 'to_root'}"), "it is the repo root (paths.root)")
    assert_refused(train(root, f"output_dir={tmp_path / 'to_root' / 'data'}"), "it is the project's data/ folder")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    (tmp_path / "to_mine").symlink_to(mine)
    assert_refused(train(root, f"output_dir={tmp_path / 'to_mine'}"), "it is a symbolic link (to")
    assert (mine / "notes.txt").read_text() == "mine\n" and (tmp_path / "to_mine").is_symlink()


def test_a_folder_of_someone_else_is_refused(root, tmp_path):
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("mine\n")
    before = snapshot(mine)
    assert_refused(train(root, f"output_dir={mine}"), f"refusing output_dir {mine}",
                   "it exists and is not a previous run's outputs",
                   "(it holds notes.txt, sub and no .scratchnet-run.json)")
    assert snapshot(mine) == before


def test_a_previous_runs_folder_is_replaced_and_an_empty_one_used(root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    assert train(root, f"output_dir={out}").returncode == 0
    first = snapshot(out)
    assert set(first) == RUN_FILES | {MARKER}
    assert json.loads(first[MARKER])["files"] == sorted(RUN_FILES)
    proc = train(root, f"output_dir={out}", "train.epochs=7")  # its own previous outputs: replaced
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", "out"]  # no staging or .old left


def test_a_users_file_beside_a_previous_runs_outputs_is_refused_and_kept(root, tmp_path):
    out = tmp_path / "out"
    assert train(root, f"output_dir={out}").returncode == 0
    (out / "notes.txt").write_text("my analysis\n")
    (out / "plots" / "mine.png").write_bytes(b"not a run's")
    before = snapshot(out)
    assert_refused(train(root, f"output_dir={out}"), "it holds what no run wrote there (notes.txt, plots/mine.png)")
    assert snapshot(out) == before


def test_an_old_style_output_folder_is_replaced_only_when_it_holds_a_runs_files(root, tmp_path):
    """Before the marker, a run wrote the same files without it: such a folder (a run's file names
    only, its config.yaml as a run writes it) is still replaced; with anything else it is refused."""
    out = tmp_path / "out"
    assert train(root, f"output_dir={out}").returncode == 0
    (out / MARKER).unlink()
    assert train(root, f"output_dir={out}", "train.epochs=6").returncode == 0
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 6
    (out / MARKER).unlink()
    (out / "extra.csv").write_text("1,2\n")
    assert_refused(train(root, f"output_dir={out}"), "it exists and is not a previous run's outputs")
    (out / "extra.csv").unlink()
    (out / "config.yaml").write_text("name: my own config, not a run's\n")
    assert_refused(train(root, f"output_dir={out}"), "it exists and is not a previous run's outputs")
    assert (out / "config.yaml").read_text() == "name: my own config, not a run's\n"


def test_a_file_added_while_training_stops_the_swap_and_survives(tmp_path):
    """The check runs again just before the swap: a file put there during training is not deleted."""
    out = tmp_path / "out"
    with staged(out) as staging:
        (staging / "metrics.json").write_text("old")
    with pytest.raises(guard.OutputDirRefused, match="notes.txt"), staged(out) as staging:
        (staging / "metrics.json").write_text("new")
        (out / "notes.txt").write_text("written meanwhile")
    assert (out / "notes.txt").read_text() == "written meanwhile" and (out / "metrics.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # the staging folder went


def test_removing_a_previous_set_deletes_only_its_listed_files(tmp_path):
    old = tmp_path / "old"
    (old / "plots").mkdir(parents=True)
    for name in ("metrics.json", "plots/cost.png", "plots/late.txt"):
        (old / name).write_text("x")
    guard.remove_run_files(old, {"metrics.json", "plots/cost.png"})
    assert sorted(p.relative_to(old).as_posix() for p in old.rglob("*")) == ["plots", "plots/late.txt"]
    guard.remove_run_files(old, set())  # nothing listed: nothing removed
    assert (old / "plots" / "late.txt").exists()
