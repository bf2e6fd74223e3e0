# Two commands on a fresh machine: `make demo` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp

export DBT_PROFILES_DIR := $(CURDIR)/profiles
export P360_DATA_DIR ?= $(CURDIR)/.local
export PATH := $(BIN):$(PATH)

.PHONY: setup demo test lint redshift-check bench-fhir clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/patient360 run --patients 50 --seed 42 --show 5

lint: setup
	$(BIN)/ruff check .

redshift-check: setup
	$(BIN)/python scripts/check_redshift_sql.py

test: setup lint
	$(BIN)/python -m pytest
	$(BIN)/python scripts/check_redshift_sql.py

bench-fhir: setup
	$(BIN)/python bench/fhir_throughput.py --patients $${PATIENTS:-2000} --legacy

clean:
	rm -rf $(VENV) .local target logs
