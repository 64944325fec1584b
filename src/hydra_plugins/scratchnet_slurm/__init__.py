"""Registers scratchnet's Slurm launcher (scratchnet.sweeps.slurm) where Hydra looks for plugins.

Hydra instantiates a launcher only from a class defined under `hydra_plugins`, so the one
conf/hydra/launcher/slurm.yaml names is this thin subclass. Without the `slurm` extra
(hydra-submitit-launcher) there is nothing to register, and Hydra's plugin scan stays quiet.
"""

try:
    from scratchnet.sweeps import slurm as _slurm
except ImportError:  # pip install -e '.[slurm]' brings hydra-submitit-launcher
    _slurm = None

if _slurm is not None:

    class SlurmLauncher(_slurm.SlurmLauncher):
        """hydra/launcher=slurm: see scratchnet.sweeps.slurm."""
