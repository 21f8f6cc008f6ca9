"""`make deploy` / `brownie run scripts/deploy.py [--network NAME]`; the code is perp_ops/deploy.py.

`from scripts.deploy import deploy_protocol` (SPEC §7) keeps working: the names below are perp_ops.deploy's.
"""

from __future__ import annotations

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
    deploy_protocol,
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


def main() -> Deployment:
    return brownie_entry(deploy.main)
