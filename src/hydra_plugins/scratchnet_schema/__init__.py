"""Registers scratchnet's config schema and ${scratchnet_root:} resolver in any Hydra process.

Hydra imports every module under the `hydra_plugins` namespace when it scans for plugins. That is
how `dvc exp run -S ...` (DVC's Hydra composition, which composes conf/config.yaml in DVC's own
process, outside scratchnet.cli.train) finds `scratchnet_schema`; .dvc/config points
hydra.plugins_path at src/ for checkouts where the package is not installed editable.

Inside DVC the repo root resolves to "." so params.yaml holds paths relative to the repo, the same
on every machine (`dvc params diff` then shows real changes only); the `exp` stage re-roots them.
Everywhere else (scratchnet.cli.train, the tests) the root stays absolute, as scratchnet.paths says.
"""

import sys

if "dvc" in sys.modules:  # composing params.yaml for DVC
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("scratchnet_root"):
        OmegaConf.register_new_resolver("scratchnet_root", lambda: ".")

import scratchnet.config  # noqa: E402, F401  (config/schema.py registers the schema on import)
