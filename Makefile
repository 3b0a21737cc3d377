# The two commands: `make demo` and `make test`. Only Python ≥ 3.11 and make are needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo console screenshots test services lint typecheck pytest bench clean install

# The example plugin is installed from its own distribution, as a third party's would be.
$(STAMP): pyproject.toml examples/hub-example-feed/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps -e examples/hub-example-feed
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/hub demo

# The demo, then the hub, its sandboxes and the admin console stay up on port 8000 to click
# through (the URL and a login key are printed); Ctrl-C stops them.
console: $(STAMP)
	$(BIN)/hub demo --keep-running --port $${PORT:-8000}

# PNGs of the console's main pages at 1280 and 390 px (Chromium via Playwright) into
# docs/screenshots/, from the demo's data.
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

# Installs what the tests start (redis-server, PostgreSQL 15, chromium) when it can; says what it
# could not, in one line each. Silent when all is there; never fails the run by itself.
services: $(STAMP)
	@VENV=$(VENV) bash scripts/ensure-services

lint: $(STAMP)
	$(BIN)/ruff check hub plugins tests bench examples
	$(BIN)/ruff format --check hub plugins tests bench examples

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) services
	$(BIN)/pytest -q -p no:cacheprovider

test: services lint typecheck pytest

bench: $(STAMP)
	for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
