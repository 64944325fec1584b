"""Where a run's code and data came from: git commit, dirty flag and the DVC hash of data/raw."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

MARKERS = ("data.dvc", "pyproject.toml")  # files that sit at the repo root
GIT_TIMEOUT = 10  # seconds; a hung git (locked index, network fs) must not hang a training run


def repo_root(root: str | os.PathLike | None = None) -> Path | None:
    """The repo root: `root` if given, else $SCRATCHNET_ROOT, else the first folder above this
    package holding data.dvc or pyproject.toml; None when none is found (an installed wheel)."""
    if root is not None:
        return Path(root).resolve()
    if os.environ.get("SCRATCHNET_ROOT"):
        return Path(os.environ["SCRATCHNET_ROOT"]).resolve()
    for folder in Path(__file__).resolve().parents:
        if any((folder / marker).is_file() for marker in MARKERS):
            return folder
    return None


def under_root(path: str | os.PathLike, root: str | os.PathLike) -> Path:
    """A config path: `~` expanded, and a relative path taken from the repo root `root`, never from
    the current directory (Hydra does not chdir, and DVC, tests and sweeps run from elsewhere)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(root) / path


def _git(root: Path | None, *args: str) -> str | None:
    if root is None:
        return None
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):  # no git binary, or git hung
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: str | os.PathLike | None = None) -> str | None:
    """The full sha of HEAD, or None outside a git checkout."""
    out = _git(repo_root(root), "rev-parse", "HEAD")
    return out.strip() if out else None


def git_dirty(root: str | os.PathLike | None = None) -> bool | None:
    """True when tracked files differ from HEAD (untracked files do not count: run outputs and
    scratch files would make every run dirty); None outside a git checkout."""
    out = _git(repo_root(root), "status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def data_dvc_md5(root: str | os.PathLike | None = None) -> str | None:
    """The md5 of `outs[0]` in <root>/data.dvc (the DVC hash of data/raw), or None if absent."""
    folder = repo_root(root)
    if folder is None or not (folder / "data.dvc").is_file():
        return None
    import yaml  # lazy: only needed when a run starts

    try:
        spec = yaml.safe_load((folder / "data.dvc").read_text())
        md5 = spec["outs"][0]["md5"]
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        return None
    return str(md5)


def provenance_tags(root: str | os.PathLike | None = None) -> dict[str, str]:
    """The run tags git_commit, git_dirty ("true"/"false") and data_dvc_md5; unknown ones left out."""
    folder = repo_root(root)
    values = {"git_commit": git_commit(folder), "git_dirty": git_dirty(folder),
              "data_dvc_md5": data_dvc_md5(folder)}
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in values.items() if v is not None}
