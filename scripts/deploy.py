"""Deploy the protocol: `deploy_protocol(config, deployer)` for scripts and tests, `main()` for `brownie run`.

On a live network `main()` hands over to scripts/live_deploy.py (signs with $PRIVATE_KEY, records and
resumes deployments/<chainId>.json).

On a development network every market gets a mock Chainlink aggregator and the quote token is a mintable
mock. Values in `config` are 18-decimal fixed-point integers (wad) unless the key says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brownie import (
    Amm,
    ChainlinkPriceFeed,
    ClearingHouse,
    ClearingHouseRiskModule,
    InsuranceFund,
    MarginMath,
    MockAggregator,
    MockERC20,
    Vault,
    accounts,
    network,
)
from brownie._config import CONFIG

WAD = 10**18
AGGREGATOR_DECIMALS = 8
# the mark-TWAP ring holds 1,024 observations; pre-writing them keeps every trade off fresh slots
OBSERVATION_CHUNK = 256
OBSERVATION_CHUNKS = 4

# Perp v1's test set-up: the reference vectors of SPEC §8 hold with these defaults.
DEFAULT_CONFIG: dict[str, int] = {
    "quote_decimals": 18,
    "init_margin_ratio": 5 * 10**16,
    "maintenance_margin_ratio": 5 * 10**16,
    "liquidation_fee_ratio": 5 * 10**16,
    "partial_liquidation_ratio": 0,
    "quote_asset_reserve": 1_000 * WAD,
    "base_asset_reserve": 100 * WAD,
    "trade_limit_ratio": 9 * 10**17,
    "funding_period": 3600,
    "fluctuation_limit_ratio": 0,
    "toll_ratio": 0,
    "spread_ratio": 0,
    "max_holding_base_asset": 0,
    "open_interest_notional_cap": 0,
    "max_funding_rate": 0,
    "index_price": 10 * WAD,
    "max_oracle_staleness": 0,
}

MARKET_KEYS = (
    "quote_asset_reserve",
    "base_asset_reserve",
    "trade_limit_ratio",
    "funding_period",
    "fluctuation_limit_ratio",
    "toll_ratio",
    "spread_ratio",
    "max_holding_base_asset",
    "open_interest_notional_cap",
    "max_funding_rate",
    "index_price",
    "max_oracle_staleness",
)


@dataclass
class Deployment:
    """Handles to every deployed contract (brownie ContractContainer instances)."""

    quote_token: Any
    vault: Any
    insurance_fund: Any
    clearing_house: Any
    price_feed: Any
    amms: dict[str, Any] = field(default_factory=dict)
    aggregators: dict[str, Any] = field(default_factory=dict)
    owner: Any = None

    @property
    def amm(self) -> Any:
        """The default market (ETH)."""
        return self.amms["ETH"]

    @property
    def viewer(self) -> Any:
        """The contract answering `getFreeCollateral`: the ClearingHouse itself."""
        return self.clearing_house


def feed_key(symbol: str) -> bytes:
    """Solidity's `bytes32("ETH")`: left-aligned, zero-padded."""
    return symbol.encode().ljust(32, b"\0")


def to_aggregator_answer(price_wad: int, decimals: int = AGGREGATOR_DECIMALS) -> int:
    return price_wad * 10**decimals // WAD


def market_config(config: dict[str, int], symbol: str = "ETH") -> dict[str, int]:
    """The settings of one market: `config`'s flat keys, overridden by `config["markets"][symbol]`."""
    merged = {k: config[k] for k in MARKET_KEYS}
    merged.update(config.get("markets", {}).get(symbol, {}))  # type: ignore[union-attr]
    return merged


def amm_struct(m: dict[str, int]) -> tuple[int, ...]:
    return (
        m["quote_asset_reserve"],
        m["base_asset_reserve"],
        m["trade_limit_ratio"],
        m["funding_period"],
        m["fluctuation_limit_ratio"],
        m["toll_ratio"],
        m["spread_ratio"],
        m["max_holding_base_asset"],
        m["open_interest_notional_cap"],
        m["max_funding_rate"],
    )


def deploy_protocol(config: dict[str, Any] | None = None, deployer: Any = None, *, quote_token: Any = None) -> Deployment:
    """Deploy token (mock), vault, insurance fund, clearing house, price feed and every market.

    `config` is a flat dict of overrides of DEFAULT_CONFIG; `config["markets"]` may add markets by symbol
    (each a dict of market keys overriding the flat ones), the default market being "ETH".
    `quote_token` (keyword only, beyond SPEC §7): an already deployed ERC-20 to use as collateral instead of a
    fresh MockERC20 (tests/security uses hostile tokens); `quote_decimals` is then ignored.
    """
    cfg: dict[str, Any] = {**DEFAULT_CONFIG, **(config or {})}
    owner = deployer or accounts[0]
    tx = {"from": owner}

    token = quote_token or MockERC20.deploy("Mock USD", "mUSD", cfg["quote_decimals"], tx)
    vault = Vault.deploy(token, owner, tx)
    insurance_fund = InsuranceFund.deploy(vault, owner, tx)
    if len(MarginMath) == 0:
        MarginMath.deploy(tx)  # linked into the ClearingHouse and its risk module
    risk_module = ClearingHouseRiskModule.deploy(vault, insurance_fund, owner, tx)
    clearing_house = ClearingHouse.deploy(
        vault,
        insurance_fund,
        cfg["init_margin_ratio"],
        cfg["maintenance_margin_ratio"],
        cfg["liquidation_fee_ratio"],
        cfg["partial_liquidation_ratio"],
        owner,
        risk_module,
        tx,
    )
    vault.initialize(clearing_house, insurance_fund, tx)
    price_feed = ChainlinkPriceFeed.deploy(tx)
    deployment = Deployment(token, vault, insurance_fund, clearing_house, price_feed, owner=owner)

    symbols = ["ETH", *[s for s in cfg.get("markets", {}) if s != "ETH"]]
    for symbol in symbols:
        m = market_config(cfg, symbol)
        aggregator = MockAggregator.deploy(AGGREGATOR_DECIMALS, to_aggregator_answer(m["index_price"]), tx)
        price_feed.addAggregator(feed_key(symbol), aggregator, m["max_oracle_staleness"], tx)
        amm = Amm.deploy(amm_struct(m), price_feed, feed_key(symbol), clearing_house, owner, tx)
        for _ in range(OBSERVATION_CHUNKS):
            amm.growObservations(OBSERVATION_CHUNK, tx)
        clearing_house.addAmm(amm, tx)
        amm.setOpen(True, tx)
        deployment.amms[symbol] = amm
        deployment.aggregators[symbol] = aggregator
    return deployment


# Realistic markets for `brownie run scripts/deploy.py` on a development chain.
DEMO_CONFIG: dict[str, Any] = {
    "quote_decimals": 6,
    "init_margin_ratio": 10 * 10**16,
    "maintenance_margin_ratio": 625 * 10**14,
    "liquidation_fee_ratio": 125 * 10**14,
    "partial_liquidation_ratio": 25 * 10**16,
    "quote_asset_reserve": 30_000_000 * WAD,
    "base_asset_reserve": 10_000 * WAD,
    "index_price": 3_000 * WAD,
    "fluctuation_limit_ratio": 12 * 10**15,
    "spread_ratio": 1 * 10**15,
    "markets": {
        "BTC": {
            "quote_asset_reserve": 60_000_000 * WAD,
            "base_asset_reserve": 1_000 * WAD,
            "index_price": 60_000 * WAD,
        },
    },
}


def main() -> Deployment:
    if CONFIG.network_type == "live":
        # live networks: sign with $PRIVATE_KEY, record deployments/<chainId>.json, resume / reuse (live_deploy.py)
        from scripts.live_deploy import deploy_live

        return deploy_live()
    d = deploy_protocol(DEMO_CONFIG)
    print(f"network {network.show_active()}")
    print(f"{'contract':<16} address")
    for name in ("quote_token", "vault", "insurance_fund", "clearing_house", "price_feed"):
        print(f"{name:<16} {getattr(d, name).address}")
    for symbol, amm in d.amms.items():
        print(f"{'amm ' + symbol:<16} {amm.address}  spot {amm.getSpotPrice() / WAD:,.2f}")
    return d
