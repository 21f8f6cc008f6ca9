# Entry points. Every target runs the idempotent set-up first (seconds when already done).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(CURDIR)/.venv/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
BROWNIE := $(CURDIR)/.venv/bin/brownie
RUN := $(BROWNIE) run
ARGS ?=
SCENARIO ?= crash

.PHONY: setup demo test test-slow test-long gas lint sim k-demo deploy console keepers dashboard dashboard-screenshots abis bench clean

setup:
	@bash tools/setup.sh

demo: setup
	$(RUN) scripts/alice_bob.py

# the suite without the slow files (tests/conftest.py SLOW_FILES); with ARGS, exactly what ARGS names
test: setup
	$(BROWNIE) test $(if $(ARGS),$(ARGS),-m "not slow")

# the slow files: whole-protocol runs (CI runs both targets)
test-slow: setup
	$(BROWNIE) test -m slow $(ARGS)

test-long: setup
	HYPOTHESIS_PROFILE=long $(BROWNIE) test tests/property $(ARGS)

gas: setup
	$(RUN) scripts/gas_report.py

bench: setup
	$(RUN) scripts/keeper_bench.py

lint: setup
	bash tools/lint.sh

k-demo: setup
	$(RUN) scripts/k_controller_demo.py

sim: setup
	$(RUN) scripts/simulate.py main $(SCENARIO)

deploy: setup
	$(RUN) scripts/deploy.py $(ARGS)

keepers: setup
	@echo "run each in its own terminal (RPC_URL and PRIVATE_KEY from the environment, see docs/toolkit.md):"
	@echo "  .venv/bin/perp keeper funding"
	@echo "  .venv/bin/perp keeper liquidator"
	@echo "  .venv/bin/perp keeper arbitrageur"

dashboard: setup
	$(RUN) scripts/dashboard.py

dashboard-screenshots: setup
	DASHBOARD_SCREENSHOTS=$(CURDIR)/reports $(BROWNIE) test tests/integration/test_dashboard.py

# the ABIs shipped inside perp_client (perp_client/abis/), after a contract change
abis: setup
	$(BROWNIE) compile
	$(CURDIR)/.venv/bin/python -m perp_ops.abis

console: setup
	$(BROWNIE) console $(ARGS)

clean:
	rm -rf build .solcx
