"""conf/seeds.yaml: the seed studies, each a list of experiments trained over N seeds (scratchnet.runs.seeds).

Every top-level key is a study: `experiments` (conf/experiment/<name>.yaml, in the report's order),
`seeds` (N: the seeds 0 .. N-1, or a list of distinct seeds), optionally `title`, `overrides`
(Hydra overrides for all its runs) and `jobs` (worker processes). `load_studies()` checks each entry
and names the key that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from scratchnet.config.validate import ConfigError
from scratchnet.paths import CONF_DIR

STUDIES_FILE = CONF_DIR / "seeds.yaml"
KEYS = ("title", "experiments", "seeds", "overrides", "jobs")


@dataclass(frozen=True)
class SeedStudy:
    """One entry of conf/seeds.yaml."""

    key: str
    title: str
    experiments: tuple[str, ...]
    seeds: tuple[int, ...]  # 0 .. N-1, or the list the entry gives
    overrides: tuple[str, ...] = ()
    jobs: int | None = None  # worker processes; None: one per core

    def runs(self) -> list[tuple[tuple[str, ...], int]]:
        """Every run as (its overrides but the seed, its seed), experiment by experiment, seed by seed;
        the run is `python -m scratchnet.train <overrides> seed=<seed>`."""
        return [((f"experiment={name}", *self.overrides), seed) for name in self.experiments for seed in self.seeds]


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _seeds(where: str, seeds: object) -> tuple[int, ...]:
    """N -> (0, .., N-1); a list of distinct non-negative ints as given (e.g. the course's seeds 1, 2, 3)."""
    if _is_int(seeds) and seeds >= 1:
        return tuple(range(seeds))
    distinct = isinstance(seeds, list) and len(set(seeds)) == len(seeds)
    if distinct and seeds and all(_is_int(s) and s >= 0 for s in seeds):
        return tuple(seeds)
    raise ConfigError(where, seeds, "a number of seeds >= 1 (the seeds 0 .. N-1) or a list of distinct seeds >= 0")


def _study(key: str, entry: object, path: Path) -> SeedStudy:
    where = f"{path.name}: {key}"
    if not isinstance(entry, dict) or set(entry) - set(KEYS) or not {"experiments", "seeds"} <= set(entry):
        raise ConfigError(where, entry, f"a mapping with experiments and seeds (keys: {', '.join(KEYS)})")
    experiments, seeds = entry["experiments"], entry["seeds"]
    known = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
    if not isinstance(experiments, list) or len(experiments) < 1 or any(e not in known for e in experiments):
        raise ConfigError(f"{where}.experiments", experiments, f"a list of experiment names among {', '.join(known)}")
    seeds = _seeds(f"{where}.seeds", seeds)
    overrides = entry.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"{where}.overrides", overrides, "a list of Hydra overrides (strings)")
    jobs = entry.get("jobs")
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"{where}.jobs", jobs, "a number of worker processes >= 1, or null")
    return SeedStudy(key, str(entry.get("title") or key), tuple(experiments), seeds,
                     tuple(overrides), jobs)


def load_studies(path: Path = STUDIES_FILE) -> dict[str, SeedStudy]:
    """Every study of the file, checked: ConfigError names the key that is wrong."""
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # a missing file, YAML or interpolation errors
        raise ConfigError(str(path), "unreadable", f"a YAML file of seed studies ({e})") from None
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(str(path), raw, "a mapping of study names to studies")
    return {str(key): _study(str(key), entry, path) for key, entry in raw.items()}


