# The two commands a fresh machine needs: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := run
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint bench check-deploy clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	@bin/setup.sh
	@touch $@

run: setup
	@bin/run.sh

test: setup
	@bin/test.sh $(ARGS)

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

bench: setup
	@bin/bench.sh

clean:
	rm -rf $(VENV) var staticfiles
