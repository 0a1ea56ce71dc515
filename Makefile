# FaceLoop: `make run` starts everything, `make test` runs every check. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NPM ?= npm

.PHONY: run test lint install install-dev bench-quick clean

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py run_stack --seed-demo

test: $(DEV_STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	node_modules/.bin/biome ci --error-on-warnings

install: $(STAMP)
install-dev: $(DEV_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $@

# The JS linter and formatter (Biome) come from npm, pinned in package-lock.json.
$(DEV_STAMP): pyproject.toml package-lock.json $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	$(NPM) ci --no-audit --no-fund --silent
	touch $@

clean:
	rm -rf $(VENV) var build *.egg-info node_modules
