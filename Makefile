# make help lists the targets. Everything runs from the project's own .venv.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install dev test lint format typecheck bench clean reliability reliability-full test-cluster

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the project with its test tools

dev: $(STAMP) ## the whole service in one process (SQLite, in-process broker), seeded for the demo
	$(VENV)/bin/otp dev --demo

lint: $(STAMP) ## ruff check and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy --strict on core, api, workers, cli, bench
	$(VENV)/bin/mypy

test: lint typecheck ## lint, type-check, then the whole test suite on real PostgreSQL and RabbitMQ
	$(VENV)/bin/pytest

reliability: $(STAMP) ## only the reliability suite (faults, races, fuzzing, leaks) at CI size
	$(VENV)/bin/pytest -m reliability tests/reliability

reliability-full: $(STAMP) ## the reliability suite at its full counts; figures to tests/reliability/last-run.json
	OTP_RELIABILITY_FULL=1 OTP_RELIABILITY_FIGURES=tests/reliability/last-run.json \
		$(VENV)/bin/pytest -m reliability tests/reliability -o timeout=1800

test-cluster: $(STAMP) ## only the past-one-machine tests: 3-node RabbitMQ cluster losing nodes, PgBouncer (also in `make test`)
	$(VENV)/bin/pytest tests/integration/test_broker_nodes.py tests/reliability/test_cluster.py tests/reliability/test_pgbouncer.py

format: $(STAMP) ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## run the benchmarks in bench/ and write bench/results/ (needs PostgreSQL, RabbitMQ, wrk)
	@test -x $(VENV)/bin/py-spy || $(PY) -m pip install --quiet -e '.[bench]'
	$(PY) -m bench

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .otp-dev
