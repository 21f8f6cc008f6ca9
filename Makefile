# Entry points. Every target runs the idempotent set-up first (seconds when already done).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(CURDIR)/.venv/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
BROWNIE := $(CURDIR)/.venv/bin/brownie
ARGS ?=
SCENARIO ?= crash

.PHONY: setup demo test test-long gas lint sim deploy console clean

setup:
	@bash tools/setup.sh

demo: setup
	$(BROWNIE) run scripts/alice_bob.py

test: setup
	$(BROWNIE) test $(ARGS)

test-long: setup
	HYPOTHESIS_PROFILE=long $(BROWNIE) test tests/property $(ARGS)

gas: setup
	$(BROWNIE) run scripts/gas_report.py

lint: setup
	bash tools/lint.sh

sim: setup
	$(BROWNIE) run scripts/simulate.py main $(SCENARIO)

deploy: setup
	$(BROWNIE) run scripts/deploy.py $(ARGS)

console: setup
	$(BROWNIE) console $(ARGS)

clean:
	rm -rf build .solcx
