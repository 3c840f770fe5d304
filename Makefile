# The two commands: `make up` and `make test`. Both work on a fresh clone with python3 ≥ 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
SERVICES := transaction_service wallet_service ledger_service history_service gateway_web

.PHONY: up test lint format install lock browser test-kit test-services test-e2e clean bench backup restore

up: install
	$(BIN)/python -m walletkit.devstack up

test: install browser lint test-kit test-services test-e2e

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.lock
	$(BIN)/pip install --disable-pip-version-check -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it via executable_path; no browser download),
# and promtool (Debian's prometheus package) for the deploy tests' check of deploy/prometheus.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || { \
		echo "installing Debian's chromium and prometheus (promtool) for the tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium prometheus >/dev/null; }

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

# End-to-end benchmark on its own stack (or BENCH_GATEWAY_URL); options: make bench BENCH_ARGS="--duration 30"
bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# One pg_dump per service database of the running `make up` stack, into backups/<UTC time>/.
backup: install
	$(BIN)/python -m walletkit.devstack backup

# Into a fresh .data (move the old one away first): make restore BACKUP=backups/20260101T000000Z
restore: install
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=backups/<time>"; exit 2; }
	$(BIN)/python -m walletkit.devstack restore --from $(BACKUP)

clean:
	rm -rf .data
