# Developer tasks for wagtail-company-mfa. `make help` lists them.
#
# Everything runs in .venv, created on first use with $(PYTHON). Dependencies are (re)installed only when
# pyproject.toml changes: each set of extras has a stamp file in .venv.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip --disable-pip-version-check

#: Where `make sandbox` serves the demo site.
SANDBOX_ADDR ?= 127.0.0.1:8000
#: Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x -k policy"`.
PYTEST_ARGS ?=
#: Tox environments, comma-separated (all of tox.ini's env_list when empty), and extra tox arguments.
TOX_ENVS ?=
TOX_ARGS ?=
#: Run that many tox environments at once (empty: one after the other).
TOX_PARALLEL ?=

MANAGE := $(PY) sandbox/manage.py

.PHONY: help sandbox sandbox-seed demo-code test screenshots lint typecheck format docs dist tox clean distclean

help: ## Show this help
	@echo "Usage: make <target> [VARIABLE=value]"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PYTHON=$(PYTHON) SANDBOX_ADDR=$(SANDBOX_ADDR) PYTEST_ARGS=... TOX_ENVS=... TOX_ARGS=..."
	@echo "DATABASE_URL=postgres://... makes the sandbox and the tests use PostgreSQL instead of SQLite."

# The virtual environment -----------------------------------------------------------------------------------

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# One stamp per set of extras; each reinstalls when pyproject.toml is newer than it.
$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -e ".[testing,postgres,browser]"
	@touch $@

$(VENV)/.installed-sandbox: pyproject.toml | $(PY)
	$(PIP) install -e ".[sandbox,postgres]"
	@touch $@

$(VENV)/.installed-docs: pyproject.toml | $(PY)
	$(PIP) install -e ".[docs]"
	@touch $@

$(VENV)/.installed-lint: pyproject.toml | $(PY)
	$(PIP) install -e ".[lint]"
	@touch $@

$(VENV)/.installed-typing: pyproject.toml | $(PY)
	$(PIP) install -e ".[testing,typing]"
	@touch $@

$(VENV)/.installed-dist: pyproject.toml | $(PY)
	$(PIP) install "setuptools>=77" "build>=1.2" "twine>=6.1"
	@touch $@

$(VENV)/.installed-tox: pyproject.toml | $(PY)
	$(PIP) install "tox>=4.19" tox-uv
	@touch $@

# Tasks -----------------------------------------------------------------------------------------------------

sandbox: sandbox-seed ## Serve the demo site at SANDBOX_ADDR (127.0.0.1:8000; creates, migrates and seeds it first)
	SANDBOX_ADDR=$(SANDBOX_ADDR) $(MANAGE) runserver $(SANDBOX_ADDR)

sandbox-seed: $(VENV)/.installed-sandbox ## Migrate the demo database and (re)seed the demo accounts
	$(MANAGE) migrate --no-input
	SANDBOX_ADDR=$(SANDBOX_ADDR) $(MANAGE) seed_demo

demo-code: $(VENV)/.installed-sandbox ## Print erin's current authenticator code (the sandbox's enrolled user)
	@$(PY) -c "import base64, time; from cryptography.hazmat.primitives.hashes import SHA1; from cryptography.hazmat.primitives.twofactor.totp import TOTP; print(TOTP(base64.b32decode('JBSWY3DPEHPK3PXP'), 6, SHA1(), 30, enforce_key_length=False).generate(time.time()).decode())"

test: $(VENV)/.installed-test ## Run the test suite (SQLite; PostgreSQL with DATABASE_URL=postgres://...)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-lint ## Check code style with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-typing ## Check the type hints with mypy and django-stubs
	PYTHONPATH=tests $(BIN)/mypy

format: $(VENV)/.installed-lint ## Fix what ruff can fix, and format the code
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

screenshots: $(VENV)/.installed-test ## Refresh the user guide's screenshots (docs/_static/screenshots/) with the browser test
	MFA_SCREENSHOT_DIR=docs/_static/screenshots $(BIN)/pytest -p no:randomly -m browser tests/test_browser.py

docs: $(VENV)/.installed-docs ## Build the documentation into docs/_build/html (warnings are errors)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

dist: $(VENV)/.installed-dist ## Build the sdist and wheel into dist/ and check them (no build warning, twine --strict)
	$(PY) .ci/check_dist.py dist

tox: $(VENV)/.installed-tox ## Run the tox matrix (TOX_ENVS=py313-django61-wagtail80,lint to choose; TOX_PARALLEL=2)
	$(BIN)/tox $(if $(TOX_PARALLEL),run-parallel -p $(TOX_PARALLEL),run) $(if $(TOX_ENVS),-e $(TOX_ENVS)) $(TOX_ARGS)

clean: ## Remove build output, caches and the docs build (keeps .venv, .tox and the sandbox database)
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache .coverage htmlcov docs/_build test-results
	find . -path ./$(VENV) -prune -o -path ./.tox -prune -o -name __pycache__ -type d -print0 | xargs -0 -r rm -rf

distclean: clean ## Also remove .venv, .tox and the sandbox's database and media
	rm -rf $(VENV) .tox sandbox/db.sqlite3 sandbox/media sandbox/static
