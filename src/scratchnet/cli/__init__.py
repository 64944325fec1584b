"""The commands: train (Hydra main), predict, gradcheck, sweep (summaries from MLflow)."""
