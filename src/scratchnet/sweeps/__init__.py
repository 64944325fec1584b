"""Hydra multirun sweeps: the callback (one MLflow parent run, a child run per job), the records read
back from MLflow, the summary table and its figures."""
