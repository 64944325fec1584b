"""DVC stage `error_shift`: the cat test errors of the deep net against the conv and residual nets.

`python -m scratchnet.stages.error_shift deep_cat conv_cat resnet_cat [--experiments experiments]
[--data data/raw/cat] [--out experiments/error_shift]`

The first name is the base (the course's 4-layer model). Writes shift.md / shift.html and
metrics.json (misclassified, fixed and broken test indices per model, the error counts per quartile
of each measure): see scratchnet.reports.error_shift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scratchnet.data import DataError, load_cat
from scratchnet.files import write_json
from scratchnet.models import ModelFileError, load_model
from scratchnet.paths import repo_root, under_root
from scratchnet.reports.document import Document
from scratchnet.reports.error_shift import model_errors, section, shift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratchnet.stages.error_shift",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("base", help="the experiment the others are compared with (deep_cat)")
    parser.add_argument("others", nargs="+", help="the image nets' experiments (conv_cat resnet_cat)")
    parser.add_argument("--experiments", type=Path, default=Path("experiments"))
    parser.add_argument("--data", type=Path, default=Path("data/raw/cat"))
    parser.add_argument("--out", type=Path, default=Path("experiments/error_shift"))
    args = parser.parse_args(argv)
    root = repo_root()
    experiments, out = under_root(args.experiments, root), under_root(args.out, root)
    try:
        ds = load_cat(under_root(args.data, root))
        errors = [model_errors(n, load_model(experiments / n / "model.npz", n_features=ds.n_features, n_classes=2), ds)
                  for n in [args.base, *args.others]]
    except (ModelFileError, DataError) as e:
        print(f"error_shift: error: {e}", file=sys.stderr)
        return 1
    result = shift(errors[0], errors[1:], ds)
    doc = Document(f"Where the cat errors go: {args.base} against {', '.join(args.others)}")
    section(doc, result)
    doc.write(out, "shift")
    write_json(out / "metrics.json", result)
    for name in args.others:
        print(f"error_shift: {name}: {len(result['misclassified'][name])} misclassified, fixes "
              f"{len(result['fixed'][name])} of {args.base}'s {len(result['misclassified'][args.base])}, "
              f"{len(result['broken'][name])} new")
    return 0


if __name__ == "__main__":
    sys.exit(main())
