# The two commands: `make up` (set up everything and run the pipeline once) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
CACHE_DIR ?= $(or $(RECSYS_CACHE_DIR),$(HOME)/.cache/musicrec)
# One installed environment per (requirements, interpreter), shared by every clone.
REQ_HASH := $(shell (cat requirements.txt; $(PYTHON) -V) | sha256sum | cut -c1-16)
VENV := $(CACHE_DIR)/venv-$(REQ_HASH)
PY := .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)

.PHONY: help native-blas browser venv up down status test test-unit test-open-mode test-reliability test-slow lint format evaluate bench simulate clean-state

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | column -t -s $$'\t'

native-blas:  ## Debian's OpenBLAS for Spark MLlib (ALS); without it Spark falls back to Java BLAS
	@if ! ldconfig -p | grep -q 'libblas.so.3 '; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libopenblas0 and liblapack3 (native BLAS for Spark ALS)"; \
	    apt-get install -y -qq libopenblas0 liblapack3 >/dev/null || \
	      (apt-get update -qq && apt-get install -y -qq libopenblas0 liblapack3 >/dev/null) || \
	      echo "warning: could not install libopenblas0; ALS will train on Java BLAS (slower)"; \
	  else \
	    echo "note: install libopenblas0 and liblapack3 for faster ALS training (optional)"; \
	  fi; \
	fi

browser:  ## Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (headless browser for tests/e2e/test_player_browser.py)"; \
	    apt-get install -y -qq chromium chromium-driver >/dev/null || \
	      (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	      echo "warning: could not install chromium; the browser tests will fail"; \
	  else \
	    echo "note: install Debian's chromium (/usr/bin/chromium) for the browser tests"; \
	  fi; \
	fi

venv: native-blas  ## create or reuse the cached virtual environment, linked as .venv
	@if [ ! -f "$(VENV)/.complete" ]; then \
	  echo "installing requirements.txt into $(VENV) (first time only; several minutes)"; \
	  rm -rf "$(VENV)" && $(PYTHON) -m venv "$(VENV)" && \
	  "$(VENV)/bin/pip" install --upgrade --quiet pip && \
	  "$(VENV)/bin/pip" install --progress-bar on -r requirements.txt && \
	  "$(VENV)/bin/python" -c "import pyspark, airflow; print('pyspark', pyspark.__version__, '| airflow', airflow.__version__)" && \
	  touch "$(VENV)/.complete"; \
	fi
	@ln -sfn "$(VENV)" .venv

up: venv  ## set up and start every service, load the demo data, run the pipeline once
	$(PY) -m recsysctl up

down:  ## stop every service (all data is kept)
	$(PY) -m recsysctl down

status:  ## each service and whether it is healthy
	$(PY) -m recsysctl status

simulate: venv  ## live listening traffic through the API (COUNT=, RATE=)
	$(PY) -m recsysctl simulate --count $(or $(COUNT),5000) $(if $(RATE),--rate $(RATE))

.PHONY: import
import: venv  ## import a catalog file: make import FILE=songs.csv [ARGS=--dry-run] (docs/importing.md)
	@test -n "$(FILE)" || { echo "usage: make import FILE=path/to/catalog.csv [ARGS='--dry-run --skip-invalid']"; exit 2; }
	$(PY) -m recsysctl import catalog "$(FILE)" $(ARGS)

test: venv browser  ## the test suite against real services the tests start themselves
	$(PY) -m pytest

test-unit: venv  ## only the tests that need no services
	$(PY) -m pytest -m "not integration"

test-open-mode: venv browser  ## the API, player and simulator suites again with RECSYS_AUTH_MODE=open
	RECSYS_AUTH_MODE=open $(PY) -m pytest tests/webapp tests/e2e/test_player_browser.py tests/recsysctl/test_responding_live.py

test-reliability: venv  ## clusters and faults: 3 Kafka brokers, Spark standalone, killed jobs (not in make test)
	$(PY) -m pytest -m reliability tests/reliability -v -s

test-slow: venv  ## the tests that take minutes: ALS trained at MovieLens-1M size (not in make test)
	$(PY) -m pytest -m slow tests -v -s

lint: venv  ## ruff lint and format check
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv  ## apply ruff's formatting and fixes
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

evaluate: venv  ## the project's ALS on MovieLens-100K (Recommenders' protocol), search printed
	$(PY) -m evaluation.als_movielens

bench: venv  ## benchmarks (bench/), printed as ratios against a baseline of the same run
	$(PY) -m bench

clean-state: down  ## DESTROYS all local data: databases, broker logs, lake
	rm -rf .state data/lake data/demo
