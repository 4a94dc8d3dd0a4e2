# The two commands a fresh machine needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := run
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint bench check-deploy clean screenshots

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@bin/setup.sh
	@touch $@

run: setup
	@bin/run.sh

# ruff first (lint, import order, format): a style slip fails fast, before the ten-minute suite.
test: setup lint
	@bin/test.sh $(ARGS)

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

# Every page (staff and customer, 1400 px and 390 px) of a throwaway demo site into var/screenshots/.
screenshots: setup
	@$(PY) bin/screenshots.py

bench: setup
	@bin/bench.sh

clean:
	rm -rf $(VENV) var staticfiles

# Django's deploy checks with the production settings of deploy/wattledger.env.example (a
# throwaway SECRET_KEY; nothing else is read from this machine's environment).
check-deploy: setup
	@bin/check-deploy.sh
