# set-up, data and the main job; every target is safe to re-run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# the stamp lives inside the venv so deleting .venv also forgets the install
STAMP := $(VENV)/.stamp-install

# no phoning home from DVC or MLflow, locally or in CI
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
# dvc stages call plain `python`: make it the venv's
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv data all test bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

data: venv
	$(BIN)/dvc pull data.dvc  # only the raw data: pipeline outputs are rebuilt, never pulled

all: venv data
	$(BIN)/dvc repro

test: venv data
	$(BIN)/python -m pytest -q

# the speed benchmark (optional torch rows: pip install -e '.[bench]'); prints the table, writes JSON
bench: venv data
	$(BIN)/python -m benchmarks.bench --json experiments/bench.json
