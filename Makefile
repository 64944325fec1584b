# set-up, data and the main job; every target is safe to re-run.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# the stamp lives inside the venv so deleting .venv also forgets the install
STAMP := $(VENV)/.stamp-install
# dev: the test tools; slurm, postgres: what the cluster tests drive (submitit, psycopg2)
EXTRAS := dev,slurm,postgres

# no phoning home from DVC or MLflow, locally or in CI
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
# dvc stages call plain `python`: make it the venv's
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: venv data all long test system-deps bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e '.[$(EXTRAS)]'
	touch $@

data: venv
	$(BIN)/dvc pull data.dvc  # only the raw data: pipeline outputs are rebuilt, never pulled

all: venv data
	$(BIN)/dvc repro

# the opt-in long runs (ResNet50, SIGNS over many seeds): hours on 2 cores, never part of `all`
long: venv data
	$(BIN)/dvc repro long/dvc.yaml

# the Debian packages the tests drive (chromium, slurm-wlm + munge, postgresql): installed when
# missing and we may (root or sudo -n), else a message and those tests skip saying why
system-deps:
	bash scripts/system-deps

test: venv data system-deps
	$(BIN)/python -m pytest -q

# the speed benchmark (optional torch rows: pip install -e '.[bench]'); prints the table, writes JSON
bench: venv data
	$(BIN)/python -m benchmarks.bench --json experiments/bench.json
