"""Operations toolkit for the vAMM perpetual protocol: deploy, networks, keepers, simulation, console helpers, and
the `perp` command line (perp_ops.cli).

Modules that deploy or drive contracts through brownie (deploy, live_deploy, console, simulate, sim, gas_report,
alice_bob, k_controller_demo, dev_dashboard, liquidity_controller) need a loaded brownie project: run them through
`scripts/` (`make ...`, `brownie run scripts/X.py`) or from tests. The rest (keepers, networks,
deploy_config, deployments, abis, cli) import without brownie's project.
"""
