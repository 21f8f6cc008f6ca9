#!/usr/bin/env bash
# Idempotent set-up: Python venv (pinned), npm packages (locked), solc-js registered for py-solc-x.
# Fast when already done: each step is skipped when its inputs have not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SOLC_VERSION=$(node -p "require('./package.json').dependencies.solc")

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# 1. Python virtual environment with exactly the pinned packages.
req_hash=$(sha256sum requirements.txt | cut -c1-16)
if ! stamp_ok .venv/.stamp "$req_hash"; then
  echo "setup: creating .venv from requirements.txt"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > .venv/.stamp
fi

# 1b. This project's own packages (perp_client, perp_ops with the `perp` command, perp_dashboard), editable: the
# code stays here, `perp` and `import perp_client` work from any directory. Dependencies are requirements.txt's.
pkg_hash=$(cat requirements.txt pyproject.toml | sha256sum | cut -c1-16)
if ! stamp_ok .venv/.stamp-package "$pkg_hash" || [ ! -x .venv/bin/perp ]; then
  echo "setup: installing this project into .venv (pip install -e . --no-deps)"
  isolation=()
  .venv/bin/python -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 64)" 2>/dev/null \
    && isolation=(--no-build-isolation)
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps "${isolation[@]}" -e .
  echo "$pkg_hash" > .venv/.stamp-package
fi

# brownie's command line with scripts imported by their place in the project, so that a checkout under a directory
# with a dot in its name works (tools/brownie.py says why); rewritten on every run, pip may have replaced it.
printf '#!%s\nimport runpy\nrunpy.run_path("%s", run_name="__main__")\n' "$ROOT/.venv/bin/python" "$ROOT/tools/brownie.py" > .venv/bin/brownie
chmod +x .venv/bin/brownie

# 2. npm packages (solc-js, anvil, OpenZeppelin, Chainlink) from the lock file.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if ! stamp_ok node_modules/.stamp "$lock_hash"; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.stamp
fi

# 3. Register the solc-js wrapper for py-solc-x (a symlink: a copy would break its require()).
chmod +x tools/solc.js
for dir in "$ROOT/.solcx" "${HOME}/.solcx"; do
  mkdir -p "$dir"
  ln -sfn "$ROOT/tools/solc.js" "$dir/solc-v$SOLC_VERSION"
done

# 4. Brownie's data folder: the development network runs anvil (on PATH through the Makefile).
if [ ! -f "${HOME}/.brownie/network-config.yaml" ]; then
  .venv/bin/brownie networks list > /dev/null 2>&1 || true
fi

# 5. The dashboard page: bundled from dashboard/ and npm packages by esbuild (offline; nothing from a CDN).
page_hash=$(cat package-lock.json dashboard/build.mjs dashboard/index.html dashboard/src/* | sha256sum | cut -c1-16)
if ! stamp_ok perp_dashboard/static/.stamp "$page_hash"; then
  echo "setup: building the dashboard page"
  node dashboard/build.mjs
  echo "$page_hash" > perp_dashboard/static/.stamp
fi

# 6. A browser for the dashboard's browser test: Debian's chromium and its driver (needs root, as CI is).
if ! { command -v chromium > /dev/null && command -v chromedriver > /dev/null; }; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium and chromium-driver (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium chromium-driver > /dev/null
  else
    echo "setup: chromium / chromedriver missing and not root: run 'sudo apt-get install chromium chromium-driver' (the dashboard's browser test needs them)"
  fi
fi
