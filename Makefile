# FaceLoop: `make run` starts everything, `make test` runs every check. Both set themselves up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
NPM ?= npm
# Every package's exact version, resolved from pyproject.toml by pip-tools (`make lock`).
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_TOOLS := pip-tools==7.6.2
PIP_COMPILE := $(PY) -m piptools compile --quiet --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links

WORKERS ?= 2
DIST_STAMP := $(VENV)/.installed-distributed

.PHONY: run run-distributed test lint install install-dev lock bench-quick clean

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py run_stack --seed-demo

# PostgreSQL (a throwaway cluster from the server binaries on PATH or Debian's), a Redis server,
# moto's S3 server (objects in memory), the web server and $(WORKERS) workers, each with its own
# folder; DATABASE_URL, REDIS_URL or FACELOOP_S3_BUCKET in the environment replace the servers.
run-distributed: $(DIST_STAMP)
	$(PY) manage.py run_distributed --workers $(WORKERS) --seed-demo

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

# The locked versions, then FaceLoop itself; `pip check` fails when the lock no longer
# satisfies pyproject.toml (run `make lock`).
$(STAMP): pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $@

# The distributed stack's extra clients and servers (psycopg, moto), at the dev lock's versions.
$(DIST_STAMP): $(DEV_LOCK) $(STAMP)
	$(PY) -m pip install --quiet --constraint $(DEV_LOCK) "psycopg[binary]" "moto[server]"
	touch $@

# The JS linter and formatter (Biome) come from npm, pinned in package-lock.json.
$(DEV_STAMP): pyproject.toml $(DEV_LOCK) package-lock.json $(STAMP)
	$(PY) -m pip install --quiet -r $(DEV_LOCK)
	$(PY) -m pip check
	$(NPM) ci --no-audit --no-fund --silent
	touch $@

# Resolve the locks again after pyproject.toml changes; existing pins are kept where they
# still fit (`make lock LOCK_ARGS=--upgrade` takes the newest of everything unpinned).
lock: | $(VENV)/bin/python
	$(PY) -m pip install --quiet $(PIP_TOOLS)
	$(PIP_COMPILE) $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml
	$(PIP_COMPILE) $(LOCK_ARGS) --extra dev --constraint $(LOCK) --output-file $(DEV_LOCK) pyproject.toml

clean:
	rm -rf $(VENV) var build *.egg-info node_modules
