"""Deploy the protocol: `deploy_protocol(config, deployer)` for scripts and tests, `main()` for `brownie run`.

On a live network `main()` hands over to perp_ops/live_deploy.py (signs with $PRIVATE_KEY, records and
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
    Contract,
    InsuranceFund,
    MarginMath,
    MockAggregator,
    MockERC20,
    MockSequencerUptimeFeed,
    Multicall3,
    TimelockController,
    Vault,
    accounts,
    network,
    web3,
)
from brownie._config import CONFIG

from perp_client.batch import CANONICAL_MULTICALL3, MULTICALL3_ABI
from perp_ops.deploy_config import DeployConfigError, check_timelock_delay

WAD = 10**18
AGGREGATOR_DECIMALS = 8
# The mark-TWAP ring holds 4,096 observations (one per trading second); a pre-written slot costs the trade that
# first uses it 5k gas instead of 22k. Live deployments pre-write the whole ring; local ones the first 1,024
# (every local scenario's trades, and a deployment stays quick); `Amm.growObservations` adds the rest.
OBSERVATION_CHUNK = 256
OBSERVATION_CHUNKS_LIVE = 16
OBSERVATION_CHUNKS_LOCAL = 4

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
    # seconds; > 0: an L2 sequencer uptime feed guards opening and liquidation (a mock on a local network, reporting
    # "up" since before the grace period; a live deploy names Chainlink's feed from its configuration file)
    "sequencer_grace_period": 0,
}

# Governance keys (beyond SPEC §7's flat ints; docs/operations.md). `timelock_delay` > 0 (or `timelock=True`)
# deploys an OpenZeppelin TimelockController (no admin: it administers itself) that ends up owning every
# protocol contract; the deployer keeps no direct power (by default it is the timelock's proposer and executor,
# so its changes wait the delay). `guardian` may pause the ClearingHouse and nothing else. `insurance_fund_seed`
# (wad) is deposited into the InsuranceFund by the deployer before any market opens.
GOVERNANCE_DEFAULTS: dict[str, Any] = {
    "timelock_delay": 0,
    "timelock_proposers": None,  # addresses that may schedule and cancel; None: the deployer
    "timelock_executors": None,  # addresses that may execute a ready operation; None: the proposers
    "guardian": None,  # None: no guardian (only the owner, or the timelock, pauses)
    "insurance_fund_seed": 0,
}
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class SeedMissing(DeployConfigError):
    """The deployer cannot seed the InsuranceFund: markets stay closed."""


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
    sequencer_feed: Any = None  # the L2 sequencer uptime feed (a MockSequencerUptimeFeed locally); None: none
    timelock: Any = None
    guardian: str | None = None
    risk_module: Any = None
    multicall: Any = None  # the Multicall3 clients batch their reads through (perp_client.batch)

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


def check_config(cfg: dict[str, Any]) -> None:
    """Unknown keys are errors (a typo would otherwise deploy the default silently)."""
    known = {*DEFAULT_CONFIG, *GOVERNANCE_DEFAULTS, "markets"}
    unknown = sorted(set(cfg) - known)
    if unknown:
        raise DeployConfigError(f"unknown deploy_protocol config key(s): {', '.join(unknown)}")
    for symbol, market in (cfg.get("markets") or {}).items():
        bad = sorted(set(market) - set(MARKET_KEYS))
        if bad:
            raise DeployConfigError(f"unknown key(s) for market {symbol}: {', '.join(bad)}")


def _replaying(owner: Any) -> bool:
    """Whether the live deploy's journal will replay the next step instead of sending it."""
    return bool(getattr(owner, "replaying", False))


def seed_insurance_fund(d: Deployment, seed_wad: int, mint: bool) -> None:
    """The deployer deposits `seed_wad` (rounded up to a token unit) into the InsuranceFund; refuses (SeedMissing)
    when it does not hold that much. `mint`: a local mock token, minted to the deployer first."""
    owner, tx = d.owner, {"from": d.owner}
    scale = d.vault.scale()
    units = -(-seed_wad // scale)
    if mint:
        d.quote_token.mint(owner, units, tx)
    if not _replaying(owner):
        held = d.quote_token.balanceOf(owner)
        if held < units:
            raise SeedMissing(
                f"the InsuranceFund seed is {units} token units but the deployer {owner.address} holds {held}: "
                "send it the seed and run the deploy again; the markets stay closed until then"
            )
    d.quote_token.approve(d.insurance_fund, units, tx)
    d.insurance_fund.deposit(units, tx)
    if not _replaying(owner):
        balance = d.insurance_fund.fundBalance()
        if balance < seed_wad:
            raise SeedMissing(f"the InsuranceFund holds {balance} wad, less than its seed {seed_wad}: the markets stay closed")


def hand_over(d: Deployment, delay: int, proposers: list[str], executors: list[str], guardian: str | None) -> None:
    """Deploy the TimelockController (self-administered: no admin), name the guardian, and transfer every
    protocol contract's ownership to the timelock. The deployer keeps no role."""
    tx = {"from": d.owner}
    d.timelock = TimelockController.deploy(delay, proposers, executors, ZERO_ADDRESS, tx)
    if guardian:
        d.clearing_house.setGuardian(guardian, tx)
        d.guardian = guardian
    for contract in owned_contracts(d):
        contract.transferOwnership(d.timelock, tx)


def multicall_for(tx: dict[str, Any]) -> Any:
    """The canonical Multicall3 where the chain has one (Ethereum, the L2s and their testnets), else the
    read-only equivalent of contracts/periphery/Multicall3.sol, deployed now."""
    if web3.eth.get_code(CANONICAL_MULTICALL3):
        return Contract.from_abi("Multicall3", CANONICAL_MULTICALL3, MULTICALL3_ABI)
    return Multicall3.deploy(tx)


def deploy_libraries(tx: dict[str, Any]) -> None:
    """The linked libraries (MarginMath: the ClearingHouse's and its risk module's), once per chain: brownie
    links every later deployment to the copy it has."""
    if len(MarginMath) == 0:
        MarginMath.deploy(tx)


def owned_contracts(d: Deployment) -> list[Any]:
    """Every protocol contract with an owner, in hand-over order (the ClearingHouse last)."""
    return [d.vault, d.insurance_fund, d.price_feed, *d.amms.values(), d.risk_module, d.clearing_house]


def deploy_protocol(
    config: dict[str, Any] | None = None,
    deployer: Any = None,
    *,
    quote_token: Any = None,
    timelock: bool | None = None,
) -> Deployment:
    """Deploy token (mock), vault, insurance fund, clearing house, price feed and every market.

    `config` is a flat dict of overrides of DEFAULT_CONFIG and GOVERNANCE_DEFAULTS; `config["markets"]` may add
    markets by symbol (each a dict of market keys overriding the flat ones), the default market being "ETH".
    Unknown keys raise DeployConfigError.
    `quote_token` (keyword only, beyond SPEC §7): an already deployed ERC-20 to use as collateral instead of a
    fresh MockERC20 (tests/security uses hostile tokens); `quote_decimals` is then ignored.
    `timelock` (keyword only): deploy the TimelockController even with `timelock_delay` 0 (live deploys);
    None: only when `timelock_delay` > 0.

    Order: contracts and markets (closed), the InsuranceFund's seed, markets opened, then the hand-over.
    """
    cfg: dict[str, Any] = {**DEFAULT_CONFIG, **GOVERNANCE_DEFAULTS, **(config or {})}
    check_config(cfg)
    delay = int(cfg["timelock_delay"])
    use_timelock = delay > 0 if timelock is None else timelock
    if use_timelock or delay:
        check_timelock_delay(delay, web3.eth.chain_id)
    owner = deployer or accounts[0]
    tx = {"from": owner}

    token = quote_token or MockERC20.deploy("Mock USD", "mUSD", cfg["quote_decimals"], tx)
    vault = Vault.deploy(token, owner, tx)
    insurance_fund = InsuranceFund.deploy(vault, owner, tx)
    deploy_libraries(tx)
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
    deployment = Deployment(token, vault, insurance_fund, clearing_house, price_feed, owner=owner, risk_module=risk_module)
    grace = int(cfg["sequencer_grace_period"])
    if grace:
        # "up" (0) since one second before the grace period: a fresh deployment trades at once
        deployment.sequencer_feed = MockSequencerUptimeFeed.deploy(0, grace + 1, tx)
        price_feed.setSequencerUptimeFeed(deployment.sequencer_feed, grace, tx)

    symbols = ["ETH", *[s for s in cfg.get("markets", {}) if s != "ETH"]]
    for symbol in symbols:
        m = market_config(cfg, symbol)
        aggregator = MockAggregator.deploy(AGGREGATOR_DECIMALS, to_aggregator_answer(m["index_price"]), tx)
        price_feed.addAggregator(feed_key(symbol), aggregator, m["max_oracle_staleness"], tx)
        if m["max_oracle_staleness"]:
            # reads the feed's latest round once, so that opening does not until it may have gone stale
            price_feed.checkGuarded(feed_key(symbol), tx)
        amm = Amm.deploy(amm_struct(m), price_feed, feed_key(symbol), clearing_house, owner, tx)
        chunks = OBSERVATION_CHUNKS_LIVE if CONFIG.network_type == "live" else OBSERVATION_CHUNKS_LOCAL
        for _ in range(chunks):
            amm.growObservations(OBSERVATION_CHUNK, tx)
        clearing_house.addAmm(amm, tx)
        deployment.amms[symbol] = amm
        deployment.aggregators[symbol] = aggregator

    if cfg["insurance_fund_seed"]:
        local_mock = quote_token is None and CONFIG.network_type != "live"
        seed_insurance_fund(deployment, int(cfg["insurance_fund_seed"]), mint=local_mock)
    for amm in deployment.amms.values():
        amm.setOpen(True, tx)

    if use_timelock:
        proposers = [str(a) for a in (cfg["timelock_proposers"] or [owner.address])]
        executors = [str(a) for a in (cfg["timelock_executors"] or proposers)]
        hand_over(deployment, delay, proposers, executors, cfg["guardian"] and str(cfg["guardian"]))
    elif cfg["guardian"]:
        clearing_house.setGuardian(cfg["guardian"], tx)
        deployment.guardian = str(cfg["guardian"])
    deployment.multicall = multicall_for(tx)  # last: the protocol's addresses are those of a deploy without it
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
        from perp_ops.live_deploy import deploy_live

        return deploy_live()
    from brownie.network import rpc

    from perp_ops.console import record_dev_deployment

    d = deploy_protocol(DEMO_CONFIG)
    print(f"network {network.show_active()}")
    print(f"{'contract':<16} address")
    for name in ("quote_token", "vault", "insurance_fund", "clearing_house", "price_feed"):
        print(f"{name:<16} {getattr(d, name).address}")
    for symbol, amm in d.amms.items():
        print(f"{'amm ' + symbol:<16} {amm.address}  spot {amm.getSpotPrice() / WAD:,.2f}")
    print(f"recorded {record_dev_deployment(d)} (perp markets, the keepers and the dashboard read it)")
    if rpc.is_child():
        print("note: brownie started this anvil for the run and stops it now, with the deployment; to keep the chain, "
              f"start `anvil --port {web3.provider.endpoint_uri.rsplit(':', 1)[-1]}` first, then deploy")
    return d
