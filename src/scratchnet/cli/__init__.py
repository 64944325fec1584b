"""The command-line entry points: train (Hydra), predict, gradcheck, sweep."""
