"""The commands: train (Hydra main), predict, sweep (summaries from MLflow); gradcheck is nn.gradcheck."""
