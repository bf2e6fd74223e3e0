# Two commands on a fresh machine: `make demo` and `make test`. Both set themselves up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
AIRFLOW_STAMP := $(VENV)/.airflow-stamp

export DBT_PROFILES_DIR := $(CURDIR)/profiles
export P360_DATA_DIR ?= $(CURDIR)/.local
export PATH := $(BIN):$(PATH)

.PHONY: setup setup-airflow services demo test test-faults test-redshift lint redshift-check sof-conformance sof-views bench bench-zero-etl bench-wearables bench-fhir bench-dbt bench-freshness bench-sync bench-sof-staging clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing the project into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/pip install --upgrade pip > $(VENV)/install.log 2>&1 && \
		$(BIN)/pip install -e '.[dev]' >> $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@touch $@

setup: $(STAMP)

# The optional Airflow extra (the DAG test needs it; ~20 s on top of setup).
$(AIRFLOW_STAMP): $(STAMP)
	@$(BIN)/pip install -e '.[dev,airflow]' >> $(VENV)/install.log 2>&1 || (tail -30 $(VENV)/install.log; exit 1)
	@touch $@

setup-airflow: $(AIRFLOW_STAMP)

# Local services the tests use for real: MariaDB (the Aurora MySQL stand-in). Debian package, installed once.
# kinesalite (the Kinesis Data Streams stand-in): npm, pinned by the lock file, into .local/node (needs node).
KINESIS_PKG := patient360/local_aws/streaming/kinesis
KINESALITE := .local/node/node_modules/kinesalite/cli.js
services: $(KINESALITE)
	@if ! command -v mariadbd >/dev/null && [ ! -x /usr/sbin/mariadbd ]; then \
		echo "installing mariadb-server (Debian package)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null; \
	fi

$(KINESALITE): $(KINESIS_PKG)/package.json $(KINESIS_PKG)/package-lock.json
	@if command -v npm >/dev/null; then \
		mkdir -p .local/node && cp $(KINESIS_PKG)/package.json $(KINESIS_PKG)/package-lock.json .local/node/ && \
		(cd .local/node && npm ci --no-audit --no-fund > npm.log 2>&1) && touch $@ || \
		(tail -20 .local/node/npm.log; exit 1); \
	else echo "npm not found: kinesalite (the local Kinesis) is not installed; the Kinesis tests skip"; fi

demo: setup
	@$(MAKE) --no-print-directory services >/dev/null || echo "MariaDB unavailable: the demo skips the front-desk step"
	@$(BIN)/patient360 run --patients 50 --seed 42 --show 5

# ruff (style, imports, complexity C901) on everything; mypy on the application and the generators.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

# Offline Redshift check (~1 min): the real dbt build --target redshift (full + incremental), source freshness and
# run-operations recorded through a stand-in connection (target/redshift_statements.jsonl), every statement parsed
# with sqlfluff's redshift dialect and checked against the Redshift rules (patient360/redshift_check).
redshift-check: setup
	$(BIN)/python -m patient360.redshift_check

# Each test file on one of two workers (--dist loadfile: a module's warehouse is built once); `pytest` alone runs
# the same tests one at a time.
test: setup setup-airflow lint services
	$(BIN)/python -m pytest -n 2 --dist loadfile
	$(BIN)/python -m patient360.redshift_check

# Live Redshift (needs REDSHIFT_HOST, REDSHIFT_USER, REDSHIFT_PASSWORD; skips otherwise): Synthea sample loaded
# as HealthLake-shaped SUPER tables, dbt build --target redshift, patient_360 and fct_patient_allergies compared
# with a DuckDB build of the same data.
test-redshift: setup
	$(BIN)/python -m patient360.redshift_check.live

# SQL-on-FHIR v2: the official suite on DuckDB (P360_SOF_SUITE_DIR, default ../shared/sql-on-fhir-v2),
# prints "N passed, M failed" and writes <data dir>/test_report.json; sof-views regenerates the dbt macros.
sof-conformance: setup
	@mkdir -p .local
	$(BIN)/python -m patient360.sql_on_fhir.conformance 

sof-views: setup
	$(BIN)/python -m patient360.sql_on_fhir.dbt_models

# The fault and bad-input suite alone (also part of `make test`), with every test's figures printed.
test-faults: setup services
	$(BIN)/python -m pytest -m faults -s tests/python/faults

# All six benchmark figures in one table + bench/results/bench_<timestamp>.json. SCALE: small (1k patients,
# a few minutes), medium (1k,10k), large (1k,10k,100k) or a list, e.g. make bench SCALE=1k,10k,100k.
# FHIR_PATIENTS: the export of figure 1 (import resources/s and peak RSS); 100k with SCALE=large.
SCALE ?= small
FHIR_PATIENTS ?= $(if $(filter large,$(SCALE)),100000,2000)
bench: setup services
	$(BIN)/python -m bench --scale $(SCALE) --fhir-patients $(FHIR_PATIENTS)

bench-zero-etl: setup services
	$(BIN)/python -m bench.zero_etl_lag

# Wearable stream: produce / ingest throughput and produce -> visible latency (local tansu broker).
bench-wearables: setup
	$(BIN)/python -m bench.wearables_stream

bench-fhir: setup
	$(BIN)/python -m bench.fhir_throughput --patients $${PATIENTS:-2000} --legacy

# dbt build on DuckDB at one scale: full, fixed overhead, incremental after 1% new stream events + front-desk
# changes, patient_360 lookup vs query-time join.
bench-dbt: setup services
	$(BIN)/python -m bench.dbt_build --patients $${PATIENTS:-1000}

# Continuous mode: wearable event produced -> visible in patient_360 (p50 / p95), marts rebuilt every interval.
bench-freshness: setup services
	$(BIN)/python bench/continuous_freshness.py --duration $${DURATION:-180} --interval $${INTERVAL:-10}

# Activation sync (figure 7) alone, on a data dir with a built warehouse (default: figure 4's 1k-patient one).
# At 100k: make bench SCALE=100k (builds the 100k warehouse, then measures the sync on it).
bench-sync: setup
	$(BIN)/python -m bench.sync_export --data-dir $${DATA_DIR:-$(P360_DATA_DIR)/bench/work/dbt-n1000}

# HealthLake staging on ViewDefinitions vs the hand-written models it replaced, on a built bench data dir.
bench-sof-staging: setup
	$(BIN)/python -m bench.sof_staging --data-dir $${DATA_DIR:-$(P360_DATA_DIR)/bench/work/dbt-n1000}

clean:
	rm -rf $(VENV) .local target logs
