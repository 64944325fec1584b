"""DVC stage `generate`: generate every 2-D set that conf/data/ describes into its data.path (.h5).

`python -m scratchnet.stages.generate [name ...]`

Each conf/data/<name>.yaml with `kind: generated` is composed through Hydra exactly as a training
run composes it (`data=<name>`), so the file lands where training will look for it (data.path,
data/generated/<name>.h5 under the repo root) and is drawn by GENERATORS[name](**data.params).
The files are byte-identical from run to run: the generators are seeded and HDF5 here stores no
timestamps (h5py's track_times is off by default), which `dvc repro` relies on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from scratchnet.config import ConfigError
from scratchnet.data import GENERATORS, data_path, save_dataset
from scratchnet.paths import CONF_DIR


def generated_sets(conf_dir: Path = CONF_DIR) -> list[str]:
    """Names of the conf/data/*.yaml files with kind: generated, sorted."""
    names = []
    for path in sorted((conf_dir / "data").glob("*.yaml")):
        if OmegaConf.load(path).get("kind") == "generated":
            names.append(path.stem)
    return names


def compose_data(name: str, conf_dir: Path = CONF_DIR):
    """(the `data` node, paths.root) of the config composed with data=<name>."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(conf_dir), version_base="1.3"):
        cfg = compose("config", overrides=[f"data={name}"])
    return cfg.data, cfg.paths.root


def make(name: str, conf_dir: Path = CONF_DIR) -> Path:
    """Generate one set and write it to its data.path; returns the path."""
    data, root = compose_data(name, conf_dir)
    if data.name not in GENERATORS:
        raise ConfigError("data.name", data.name, "one of " + ", ".join(GENERATORS))
    path = data_path(data, root)  # where training will look for it
    ds = GENERATORS[data.name](**OmegaConf.to_container(data.params, resolve=True))
    save_dataset(ds, path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.generate",
                                     description="Generate the 2-D data sets described in conf/data/.")
    parser.add_argument("names", nargs="*", help="sets to generate (default: every kind: generated one)")
    args = parser.parse_args(argv)
    available = generated_sets()
    for name in args.names:
        if name not in available:
            print(f"generate: error: {name!r} is not a generated set in {CONF_DIR / 'data'}; "
                  f"expected one of {', '.join(available)}", file=sys.stderr)
            return 1
    try:
        for name in args.names or available:
            path = make(name)
            print(f"generate: {name} -> {path}")
    except (ConfigError, TypeError) as e:  # TypeError: a params key the generator does not take
        print(f"generate: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
