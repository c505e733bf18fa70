# VetrAI Portal: `make run` serves the portal, `make test` runs every test. Both set up .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test worker lint lock bench bench-core bench-notify bench-keys bench-billing bench-workflows bench-support browser-deps clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs come from the lock files (exact versions, checked against their hashes).
$(VENV)/.runtime: requirements.lock | $(BIN)/activate
	$(BIN)/pip install -q --require-hashes -r requirements.lock
	touch $@

$(VENV)/.dev: requirements.lock requirements-dev.lock | $(BIN)/activate
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	touch $(VENV)/.runtime $@

lock: $(VENV)/.dev  ## re-resolve requirements*.txt into the lock files (after changing a requirement)
	$(BIN)/uv pip compile requirements.txt -o requirements.lock --python-version 3.11 --generate-hashes --quiet
	$(BIN)/uv pip compile requirements-dev.txt -o requirements-dev.lock --python-version 3.11 --generate-hashes --quiet

run: $(VENV)/.runtime  ## migrate, seed the demo data, serve with gunicorn on 127.0.0.1:$(PORT) (FLASK_DEBUG=1: hot reload)
	PORT=$(PORT) scripts/run.sh

worker: $(VENV)/.runtime  ## RQ worker with scheduler (needs REDIS_URL)
	$(BIN)/flask worker

browser-deps:  ## Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  elif command -v sudo >/dev/null; then (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "Chromium is missing: install Debian's 'chromium' package to run the browser tests."; fi; \
	fi

test: $(VENV)/.dev browser-deps  ## the whole suite: SQLite + in-process jobs, and PostgreSQL + RQ on Redis
	$(BIN)/ruff check portal tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check portal tests bench

bench: $(VENV)/.dev  ## benchmarks: figures with a baseline measured in the same run
	$(BIN)/python bench/run.py
	$(BIN)/python bench/notify_bench.py
	$(BIN)/python bench/keys_bench.py
	$(BIN)/python bench/workflows_bench.py
	$(BIN)/python bench/support_bench.py
	$(BIN)/python bench/themes_bench.py
	$(BIN)/python bench/billing_bench.py

bench-keys: $(VENV)/.dev
	$(BIN)/python bench/keys_bench.py

bench-billing: $(VENV)/.dev
	$(BIN)/python bench/billing_bench.py

bench-workflows: $(VENV)/.dev
	$(BIN)/python bench/workflows_bench.py

bench-support: $(VENV)/.dev
	$(BIN)/python bench/support_bench.py

bench-core: $(VENV)/.dev
	$(BIN)/python bench/run.py

bench-notify: $(VENV)/.dev
	$(BIN)/python bench/notify_bench.py

clean:
	rm -rf $(VENV) instance .pytest_cache
