# The two commands: `make demo` runs the main job, `make test` passes every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ARGS ?=
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install js demo test test-python test-js lint bench clean system-deps snapshot

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Installing the package builds js/ into realm_jupyter/widgets/static (hatch-jupyter-builder).
$(VENV)/.installed: pyproject.toml js/package.json js/package-lock.json | $(BIN)/python
	cd js && npm ci --no-audit --no-fund --loglevel=error
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

js: install
	cd js && npm run build

demo: js
	$(BIN)/realm-jupyter demo $(ARGS)

# The demo's snapshot for notebook 05 where no server can run (Binder): small, regenerated here.
snapshot: install
	$(BIN)/python -m realm_jupyter.demo.snapshot notebooks/snapshots/demo-alice

lint: install
	$(BIN)/ruff check realm_jupyter tests benchmarks
	$(BIN)/mypy
	cd js && npm run typecheck

test-js: js
	cd js && npm test

test-python: js
	$(BIN)/python -m pytest --durations=30 $(ARGS)

# Chromium, the PostgreSQL server binaries, Node.js/npm, python3-venv: installed with apt-get
# when this runs as root, else one line says what to install. It names what it installed.
system-deps:
	PYTHON=$(PYTHON) scripts/ensure-system-deps

test: system-deps
	$(MAKE) lint test-js test-python

bench: js
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf $(VENV) js/node_modules realm_jupyter/widgets/static/*.js .pytest_cache .mypy_cache
