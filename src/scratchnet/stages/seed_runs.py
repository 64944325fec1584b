"""DVC stage `seeds@<experiment>`: one experiment trained over several seeds in one process, and the spread.

`python -m scratchnet.stages.seed_runs conv_signs --seeds 1 2 3 [--out experiments/seeds/conv_signs]
[override ...]`

The course's SIGNS numbers come from TensorFlow's generator: ours cannot match them to the digit, so
each SIGNS experiment is trained once per seed (the same config, `seed=` changed; each run a normal
train(cfg) into <out>/runs/seed_<s>/, recorded in MLflow with the tag hydra_overrides `seed=<s>`).
<out>/summary.json (deterministic: a DVC metric) gives, for train and test accuracy and the train
cost, every value, the mean, the sample standard deviation, min, max and the 95% confidence interval
of the mean (Student's t, n - 1 degrees of freedom); <out>/timing.json each seed's fit seconds.
A self-contained stand-in until the pipeline's own seed runner exists; it reads nothing but the
runs it trains.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir

from scratchnet.files import write_json
from scratchnet.paths import CONF_DIR, repo_root, under_root
from scratchnet.runs.errors import EXIT_BAD_INPUT, EXPECTED_ERRORS
from scratchnet.runs.train import train

MEASURES = {"train_accuracy": ("train", "accuracy"), "test_accuracy": ("test", "accuracy"),
            "train_cost": ("train", "cost")}


def spread(values: list[float]) -> dict:
    """mean, sample std (ddof 1), min, max and the 95% t interval of the mean (std and CI null for n = 1)."""
    n, mean = len(values), statistics.fmean(values)
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "min": mean, "max": mean, "ci95": None, "values": values}
    from scipy.stats import t  # lazy: scipy only where a spread is computed

    std = statistics.stdev(values)
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "min": min(values), "max": max(values),
            "ci95": [mean - half, mean + half], "values": values}


def run_seeds(experiment: str, seeds: list[int], out: Path, overrides: list[str]) -> tuple[dict, dict]:
    """Train `experiment` once per seed into out/runs/seed_<s>/; return summary.json's content and the
    fit seconds by seed."""
    runs = {}
    for seed in seeds:
        args = [f"experiment={experiment}", *overrides, f"seed={seed}", f"output_dir={out / 'runs' / f'seed_{seed}'}"]
        with initialize_config_dir(version_base="1.3", config_dir=str(CONF_DIR)):
            cfg = compose("config", overrides=args)
        metrics = train(cfg, overrides=[*overrides, f"seed={seed}"])
        runs[seed] = metrics
        print(f"seeds: {experiment} seed {seed}: train accuracy {metrics['train']['accuracy']:.4f}, test accuracy "
              f"{metrics['test']['accuracy']:.4f}, {metrics['fit_seconds']:.1f} s", flush=True)
    summary = {"experiment": experiment, "seeds": seeds, "overrides": overrides,
               "epochs": runs[seeds[0]]["epochs"], "n_parameters": runs[seeds[0]]["n_parameters"]}
    for key, (split, measure) in MEASURES.items():
        summary[key] = spread([runs[s][split][measure] for s in seeds])
    return summary, {str(s): runs[s]["fit_seconds"] for s in seeds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.seed_runs",
                                     description="Train one experiment over several seeds; write the spread.")
    parser.add_argument("experiment", help="a conf/experiment/ name, e.g. conv_signs")
    parser.add_argument("overrides", nargs="*", help="config overrides for every seed (key=value)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=None, help="default: experiments/seeds/<experiment>")
    args = parser.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds must differ; got {args.seeds}")
    out = under_root(args.out or Path("experiments") / "seeds" / args.experiment, repo_root())
    try:
        summary, seconds = run_seeds(args.experiment, args.seeds, out, args.overrides)
    except EXPECTED_ERRORS as error:
        print(f"seeds: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    write_json(out / "summary.json", summary)
    write_json(out / "timing.json", {"fit_seconds": seconds})  # differs on every run: kept apart
    test = summary["test_accuracy"]
    print(f"seeds: {args.experiment}: test accuracy {test['mean']:.4f} mean over {test['n']} seeds "
          f"(std {test['std'] or 0:.4f}, {test['min']:.4f} to {test['max']:.4f}) -> {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
