"""`make deploy` / `brownie run scripts/deploy.py [--network NAME]`; the code is perp_ops/deploy.py.

`from scripts.deploy import deploy_protocol` is SPEC §7's entry point, defined here with its signature; the other
names below are perp_ops.deploy's.
"""

from __future__ import annotations

from typing import Any

from perp_ops import deploy
from perp_ops.deploy import (
    AGGREGATOR_DECIMALS,
    DEFAULT_CONFIG,
    DEMO_CONFIG,
    GOVERNANCE_DEFAULTS,
    MARKET_KEYS,
    WAD,
    DeployConfigError,
    Deployment,
    SeedMissing,
    amm_struct,
    check_config,
    feed_key,
    market_config,
    owned_contracts,
    to_aggregator_answer,
)
from perp_ops.entry import brownie_entry

__all__ = [
    "AGGREGATOR_DECIMALS",
    "DEFAULT_CONFIG",
    "DEMO_CONFIG",
    "GOVERNANCE_DEFAULTS",
    "MARKET_KEYS",
    "WAD",
    "DeployConfigError",
    "Deployment",
    "SeedMissing",
    "amm_struct",
    "check_config",
    "deploy_protocol",
    "feed_key",
    "market_config",
    "owned_contracts",
    "to_aggregator_answer",
]


def deploy_protocol(config: dict[str, Any] | None = None, deployer: Any = None, **options: Any) -> Deployment:
    """SPEC §7: deploy the whole protocol on the connected chain (`config`: overrides of DEFAULT_CONFIG, unknown
    keys refused; `deployer`: default accounts[0]); `options` are perp_ops.deploy.deploy_protocol's keyword-only
    extras (`quote_token`, `timelock`)."""
    return deploy.deploy_protocol(config, deployer, **options)


def main() -> Deployment:
    return brownie_entry(deploy.main)
