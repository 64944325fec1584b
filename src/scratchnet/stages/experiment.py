"""DVC stage `exp`: train the config in params.yaml, the one `dvc exp run -S ...` composes.

`python -m scratchnet.stages.experiment [--params params.yaml] [--out experiments/exp]`

With `hydra.enabled` in .dvc/config, `dvc exp run -S 'experiment=shallow_cat' -S 'optimizer.lr=0.01'`
composes conf/config.yaml with those overrides (Hydra, in DVC's process) into params.yaml, then runs
the pipeline: this stage trains exactly that config, through the same `train(cfg)` as
`python -m scratchnet.train`. Its outputs go to experiments/exp/ (never experiments/<name>/, which
belongs to the train@<name> stages). params.yaml holds paths relative to the repo root (paths.root
is "." there, see hydra_plugins/scratchnet_schema); they are rooted at this checkout before
training, so the outputs do not depend on the working directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from scratchnet.config import Config, ConfigError
from scratchnet.paths import repo_root, under_root
from scratchnet.runs.errors import EXIT_BAD_INPUT, EXPECTED_ERRORS
from scratchnet.runs.outputs import reroot
from scratchnet.runs.train import train


def load_params(path: Path, output_dir: Path) -> DictConfig:
    """params.yaml as a typed Config, its paths rooted at this checkout, output_dir set: every value
    equal to paths.root or under it is moved onto repo_root() (runs.outputs.reroot, the inverse of
    how config.yaml is made portable)."""
    if not path.is_file():
        raise ConfigError(str(path), "missing", "a params file composed by `dvc exp run` (or committed)")
    try:
        params = OmegaConf.load(path)
        old_root = str(params.paths.root)
    except Exception as e:  # yaml or OmegaConf errors
        raise ConfigError(f"{path}: paths.root", "unreadable", f"a composed config with paths.root ({e})") from None
    root = str(repo_root())
    plain = reroot(OmegaConf.to_container(params, resolve=False), old_root, root)
    plain["output_dir"] = str(under_root(output_dir, root))
    try:
        return OmegaConf.merge(OmegaConf.structured(Config), plain)  # types checked as Hydra would
    except Exception as e:  # omegaconf ValidationError / ConfigKeyError
        raise ConfigError(str(path), "(see message)", f"keys and types of the config schema: {e}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.experiment",
                                     description="Train the config in params.yaml into experiments/exp/.")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--out", type=Path, default=Path("experiments/exp"))
    args = parser.parse_args(argv)
    try:
        metrics = train(load_params(args.params, args.out), overrides=[])
    except EXPECTED_ERRORS as error:
        print(f"exp: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    test = metrics["test"]["accuracy"]
    print(f"exp: train accuracy {metrics['train']['accuracy']:.4f}, "
          f"test accuracy {'n/a' if test is None else f'{test:.4f}'} -> {metrics['output_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
