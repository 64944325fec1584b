"""One training run: build (config -> core objects), train (train(cfg)), outputs, errors, threads, multirun."""
