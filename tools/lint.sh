#!/usr/bin/env bash
# `make lint`: ruff on the Python, slither on the contracts. Fails on any ruff finding and on any slither
# finding of high or medium impact that tools/slither-triage.toml does not accept with its reason (the code carries
# no suppression comments; tools/slither_triage.py checks, and writes docs/security.md §4's table from the same
# counts). Offline: slither compiles through tools/solc.js.
set -euo pipefail
cd "$(dirname "$0")/.."

# slither in its own venv (its web3/eth-* pins clash with brownie's), exactly the pinned packages
SLITHER_VENV=.venv-slither
req_hash=$(sha256sum tools/requirements-slither.txt | cut -c1-16)
if ! { [ -f "$SLITHER_VENV/.stamp" ] && [ "$(cat "$SLITHER_VENV/.stamp")" = "$req_hash" ]; }; then
  echo "lint: creating $SLITHER_VENV from tools/requirements-slither.txt"
  [ -x "$SLITHER_VENV/bin/python" ] || python3 -m venv "$SLITHER_VENV"
  "$SLITHER_VENV/bin/pip" install --quiet --disable-pip-version-check -r tools/requirements-slither.txt
  echo "$req_hash" > "$SLITHER_VENV/.stamp"
fi

echo "lint: ruff check scripts tests perp_client perp_ops perp_dashboard tools"
.venv/bin/ruff check scripts tests perp_client perp_ops perp_dashboard tools

echo "lint: slither (contracts/ and interfaces/; node_modules and contracts/test excluded)"
.venv/bin/python tools/slither_input.py build/slither/input.json
rm -f build/slither/report.json
start=$(date +%s)
# slither's own exit status is not the gate (every accepted finding is still reported): the triage is
"$SLITHER_VENV/bin/slither" build/slither/input.json \
  --compile-force-framework solc-json --solc tools/solc.js \
  --filter-paths "node_modules|contracts/test" \
  --exclude-low --exclude-informational --exclude-optimization \
  --json build/slither/report.json > build/slither/output.txt 2>&1 || true
echo "lint: slither ran in $(( $(date +%s) - start )) s (full output: build/slither/output.txt)"
.venv/bin/python tools/slither_triage.py build/slither/report.json
