# Entry points. Every target runs the idempotent set-up first (seconds when already done).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(CURDIR)/.venv/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
BROWNIE := $(CURDIR)/.venv/bin/brownie
ARGS ?=
SCENARIO ?= crash

.PHONY: setup demo test test-long gas lint sim k-demo deploy console keepers dashboard dashboard-screenshots bench clean

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

bench: setup
	$(BROWNIE) run scripts/keeper_bench.py

lint: setup
	bash tools/lint.sh

k-demo: setup
	$(BROWNIE) run scripts/k_controller_demo.py

sim: setup
	$(BROWNIE) run scripts/simulate.py main $(SCENARIO)

deploy: setup
	$(BROWNIE) run scripts/deploy.py $(ARGS)

keepers: setup
	@echo "run each in its own terminal (RPC_URL and PRIVATE_KEY from the environment, see docs/toolkit.md):"
	@echo "  .venv/bin/python -m scripts.keepers.funding"
	@echo "  .venv/bin/python -m scripts.keepers.liquidator"
	@echo "  .venv/bin/python -m scripts.keepers.arbitrageur"

dashboard: setup
	$(BROWNIE) run scripts/dashboard.py

dashboard-screenshots: setup
	DASHBOARD_SCREENSHOTS=$(CURDIR)/reports $(BROWNIE) test tests/integration/test_dashboard.py

console: setup
	$(BROWNIE) console $(ARGS)

clean:
	rm -rf build .solcx
