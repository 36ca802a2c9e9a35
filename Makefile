# Every target creates or refreshes .venv first: a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run serve migrate load test browser balancer lint lint-spec openapi bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# PYTHONWARNINGS: setuptools prints an "Editable installation" banner on every install.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP) ## create or refresh .venv

migrate: $(STAMP) ## upgrade the database schema
	$(BIN)/crisis-facts migrate

load: $(STAMP) ## load fixtures/ into the database
	$(BIN)/crisis-facts load

run: $(STAMP) ## migrate, load the fixtures, send webhooks in the background and serve on http://127.0.0.1:8000
	$(BIN)/crisis-facts migrate
	$(BIN)/crisis-facts load
	$(BIN)/crisis-facts deliver & trap 'kill $$!' EXIT; $(BIN)/crisis-facts serve

serve: $(STAMP) ## serve without migrating or loading
	$(BIN)/crisis-facts serve

test: $(STAMP) browser balancer ## run the whole test suite
	$(BIN)/python -m pytest

browser: ## install headless Chromium (Debian's chromium) for tests/test_browser.py if missing
	@command -v chromium >/dev/null || { apt-get update -q && apt-get install -y -q chromium; }

balancer: ## install HAProxy (Debian's) for tests/test_replicas.py and test_compose.py if missing
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { apt-get update -q && apt-get install -y -q haproxy; }

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check service tests bench alembic
	$(BIN)/ruff format --check service tests bench alembic/env.py
	$(BIN)/mypy

lint-spec: ## lint openapi/v1.json with Spectral (spectral:oas) and Redocly (recommended); needs node and npm
	npx --yes @stoplight/spectral-cli@6.16.3 lint --fail-severity=hint --ruleset openapi/spectral.yaml openapi/v1.json
	npx --yes @redocly/cli@2.77.0 lint --config openapi/redocly.yaml openapi/v1.json

openapi: $(STAMP) ## regenerate the committed contract openapi/v1.json
	$(BIN)/crisis-facts openapi --output openapi/v1.json

bench: $(STAMP) ## benchmarks at 74, 100k and 1M facts (needs wrk; BENCH_ARGS="--sizes curated" for a quick one), rewrite bench/RESULTS.md
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m bench $(BENCH_ARGS)

clean: ## remove .venv and the embedded database
	rm -rf $(VENV) .data
