"""Where a run's code and data came from: git commit, dirty flag and the DVC hash of data/raw."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scratchnet.paths import repo_root

GIT_TIMEOUT = 10  # seconds; a hung git (locked index, network fs) must not hang a training run


def _folder(root: str | os.PathLike | None) -> Path:
    """`root` if given, else the repo root (scratchnet.paths.repo_root: $SCRATCHNET_ROOT or the checkout)."""
    return repo_root() if root is None else Path(root).resolve()


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):  # no git binary, or git hung
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: str | os.PathLike | None = None) -> str | None:
    """The full sha of HEAD, or None outside a git checkout."""
    out = _git(_folder(root), "rev-parse", "HEAD")
    return out.strip() if out else None


def git_dirty(root: str | os.PathLike | None = None) -> bool | None:
    """True when tracked files differ from HEAD (untracked files do not count: run outputs and
    scratch files would make every run dirty); None outside a git checkout."""
    out = _git(_folder(root), "status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())


def data_dvc_md5(root: str | os.PathLike | None = None) -> str | None:
    """The md5 of `outs[0]` in <root>/data.dvc (the DVC hash of data/raw), or None if absent."""
    folder = _folder(root)
    if not (folder / "data.dvc").is_file():
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
    folder = _folder(root)
    values = {"git_commit": git_commit(folder), "git_dirty": git_dirty(folder),
              "data_dvc_md5": data_dvc_md5(folder)}
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in values.items() if v is not None}
