# The two commands: `make up` and `make test`. Both work on a fresh clone with python3 ≥ 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
SERVICES := transaction_service wallet_service ledger_service history_service gateway_web

.PHONY: up test lint format install lock browser test-kit test-services test-e2e clean

up: install
	$(BIN)/python -m walletkit.devstack up

test: install lint test-kit test-services test-e2e

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

lock:
	$(BIN)/pip install -q pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links --output-file requirements.lock requirements.in

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-kit:
	cd walletkit && ../$(BIN)/pytest -q

test-services:
	set -e; for service in $(SERVICES); do (cd $$service && ../$(BIN)/pytest -q); done

test-e2e:
	$(BIN)/pytest -q tests

clean:
	rm -rf .data
