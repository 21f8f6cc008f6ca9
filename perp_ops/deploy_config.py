"""The deploy configuration file of a network: `config/deploy/<network>.yaml` (or `$DEPLOY_CONFIG`).

One YAML file per network says everything a live deploy needs (docs/operations.md): the chain, the collateral,
the markets (Chainlink feed, heartbeat and staleness, pool depth, margin rules, fees, caps, funding mode and
cap), the sequencer uptime feed and its grace period, the timelock (delay, proposers, executors), the guardian
and the InsuranceFund's seed. It is checked against SCHEMA before anything is sent: an unknown key, a missing
one, a value of the wrong type, or a timelock shorter than 24 h on a mainnet chain id is one clear error.

Units are human: ratios as decimals (`0.0625`), amounts in tokens (`250000`), times in seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from perp_client.paths import project_root

PROJECT_ROOT = project_root()
CONFIG_DIR = PROJECT_ROOT / "config" / "deploy"
WAD = 10**18
MIN_MAINNET_TIMELOCK_DELAY = 24 * 3600
# chains holding real money: a timelock there waits at least a day (Ethereum, OP, Arbitrum One and Nova,
# Base, Polygon, zkSync Era, Linea, Scroll, Blast, Mantle, Gnosis, BNB, Avalanche)
MAINNET_CHAIN_IDS = frozenset(
    {1, 10, 42161, 42170, 8453, 137, 324, 59144, 534352, 81457, 5000, 100, 56, 43114}
)
LOCAL_CHAIN_IDS = frozenset({1337, 31337, 31338})
# rollups whose sequencer can stop while L1 goes on: a deploy there needs Chainlink's L2 sequencer uptime feed
# (Arbitrum One and Sepolia, OP and OP Sepolia, Base and Base Sepolia, Metis Andromeda, Scroll)
SEQUENCER_CHAIN_IDS = frozenset({42161, 421614, 10, 11155420, 8453, 84532, 1088, 534352})
# Chainlink's L2 sequencer uptime feed proxies, from docs.chain.link/data-feeds/l2-sequencer-feeds: a configuration
# for one of these chains must name exactly this feed. (Chainlink's page lists no testnet uptime feeds.)
KNOWN_UPTIME_FEEDS = {
    42161: "0xFdB631F5EE196F0ed6FAa767959853A9F217697D",  # Arbitrum One
    10: "0x371EAD81c9102C9BF4874A9075FFFf170F2Ee389",  # OP Mainnet
    8453: "0xBCF85224fc0756B9Fa45aA7892530B47e10b6433",  # Base
    1088: "0x58218ea7422255EBE94e56b504035a784b7AA204",  # Metis Andromeda
    534352: "0x45c2b8C204568A03Dc7A2E32B71D67Fe97F908A9",  # Scroll
}
MAX_GRACE_PERIOD = 24 * 3600  # ChainlinkPriceFeed.MAX_GRACE_PERIOD


class DeployConfigError(ValueError):
    """A deploy configuration that cannot be deployed (unknown key, wrong type, unsafe timelock delay...)."""


# The schema: key -> kind. Kinds: "int" (seconds, counts), "ratio" (decimal -> wad), "amount" (tokens -> wad),
# "address" (0x + 40 hex), "address?" (or null), "addresses?" (list or null), "bool", or a nested dict.
MARKET_SCHEMA: dict[str, Any] = {
    "feed": "address?",  # Chainlink <SYMBOL> / USD proxy; null: a mock aggregator (local chains only)
    "heartbeat": "int",  # the feed's heartbeat, seconds
    "max_staleness": "int",  # older index: no opening, no liquidation (heartbeat plus a margin); 0 = unchecked (local only)
    "base_asset_reserve": "amount",  # pool depth in base; the quote side is base x the feed's price
    "trade_limit_ratio": "ratio",
    "fluctuation_limit_ratio": "ratio",
    "toll_ratio": "ratio",
    "spread_ratio": "ratio",
    "max_holding_base_asset": "amount",
    "open_interest_notional_cap": "amount",
    "funding_period": "int",
    "max_funding_rate": "ratio",
    "continuous_funding": "bool",
    "index_price": "amount",  # only for mock feeds: the starting price
}
OPTIONAL_MARKET_KEYS = frozenset(
    {"index_price", "continuous_funding", "max_funding_rate"}
)

SCHEMA: dict[str, Any] = {
    "network": {"chain_id": "int", "rpc": "str?"},
    "quote_token": "address?",  # the collateral (a real USDC); null: a mintable mock (local chains only)
    "margin": {
        "init_margin_ratio": "ratio",
        "maintenance_margin_ratio": "ratio",
        "liquidation_fee_ratio": "ratio",
        "partial_liquidation_ratio": "ratio",
    },
    "markets": "markets",
    # Chainlink's L2 sequencer uptime feed and the seconds after an outage before opening and liquidating resume;
    # required on a rollup (SEQUENCER_CHAIN_IDS); on a local chain, uptime_feed null with grace_period > 0 is a mock
    "sequencer": {"uptime_feed": "address?", "grace_period": "int"},
    "timelock": {"delay": "int", "proposers": "addresses?", "executors": "addresses?"},
    "guardian": "address?",
    "insurance_fund_seed": "amount",
}
OPTIONAL_KEYS = frozenset({"sequencer", "guardian"})


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_address(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 42
        and value.startswith("0x")
        and all(c in "0123456789abcdefABCDEF" for c in value[2:])
    )


def _check_value(kind: str, value: Any, where: str) -> None:
    ok = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "bool": lambda v: isinstance(v, bool),
        "str?": lambda v: v is None or isinstance(v, str),
        "address?": lambda v: v is None or _is_address(v),
        "addresses?": lambda v: (
            v is None
            or (isinstance(v, list) and bool(v) and all(_is_address(a) for a in v))
        ),
        "ratio": lambda v: (
            _decimal(v) is not None and Decimal(0) <= _decimal(v) <= Decimal(1)
        ),  # type: ignore[operator]
        "amount": lambda v: _decimal(v) is not None and _decimal(v) >= 0,  # type: ignore[operator]
    }[kind]
    if not ok(value):
        expected = {
            "int": "a whole number >= 0",
            "bool": "true or false",
            "str?": "a string or null",
            "address?": "an address (0x + 40 hex digits) or null",
            "addresses?": "a non-empty list of addresses or null",
            "ratio": "a decimal between 0 and 1",
            "amount": "a number >= 0",
        }[kind]
        raise DeployConfigError(f"{where} is {value!r}: expected {expected}")


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _check_section(
    schema: dict[str, Any], raw: Any, path: str, optional: frozenset[str] = frozenset()
) -> None:
    if not isinstance(raw, dict):
        raise DeployConfigError(
            f"{path or 'the file'} must be a mapping of keys, not {type(raw).__name__}"
        )
    unknown = sorted(set(raw) - set(schema))
    if unknown:
        raise DeployConfigError(
            f"unknown key(s) in {path or 'the file'}: {', '.join(map(str, unknown))}"
        )
    missing = sorted(set(schema) - set(raw) - optional)
    if missing:
        raise DeployConfigError(
            f"missing key(s) in {path or 'the file'}: {', '.join(missing)}"
        )
    for key, kind in schema.items():
        if key not in raw:
            continue
        where = _where(path, key)
        if kind == "markets":
            if not isinstance(raw[key], dict) or not raw[key]:
                raise DeployConfigError(
                    f"{where} must map each market's symbol to its settings"
                )
            for symbol, market in raw[key].items():
                _check_section(
                    MARKET_SCHEMA, market, f"{where}.{symbol}", OPTIONAL_MARKET_KEYS
                )
        elif isinstance(kind, dict):
            _check_section(
                kind, raw[key], where, frozenset({"rpc", "proposers", "executors"})
            )
        else:
            _check_value(kind, raw[key], where)


def check_timelock_delay(delay: int, chain_id: int) -> None:
    """At least a day on a chain holding real money; any delay (0 included) elsewhere."""
    if delay < 0:
        raise DeployConfigError(f"timelock_delay is {delay}: it must be >= 0 seconds")
    if chain_id in MAINNET_CHAIN_IDS and delay < MIN_MAINNET_TIMELOCK_DELAY:
        raise DeployConfigError(
            f"timelock_delay is {delay} s on chain {chain_id}, a mainnet: at least {MIN_MAINNET_TIMELOCK_DELAY} s (24 h)"
        )


def _check_sequencer(feed: str | None, grace: int, chain_id: int, local: bool) -> None:
    """A rollup needs the uptime feed (Chainlink's own where its documentation names it) and a grace period; a
    grace period is 1 s to a day; a feed without a grace period would never guard anything."""
    if grace > MAX_GRACE_PERIOD:
        raise DeployConfigError(f"sequencer.grace_period is {grace} s: at most {MAX_GRACE_PERIOD} s (a day)")
    if feed is not None and grace == 0:
        raise DeployConfigError("sequencer.grace_period is 0 with an uptime feed: give the seconds traders get after an outage")
    if chain_id in SEQUENCER_CHAIN_IDS:
        if feed is None or grace == 0:
            raise DeployConfigError(
                f"chain {chain_id} is a rollup: sequencer.uptime_feed (Chainlink's L2 sequencer uptime feed proxy, "
                "docs.chain.link/data-feeds/l2-sequencer-feeds) and sequencer.grace_period (> 0 s) are required, "
                "or positions could be opened and liquidated while its sequencer is down"
            )
        known = KNOWN_UPTIME_FEEDS.get(chain_id)
        if known is not None and feed is not None and feed.lower() != known.lower():
            raise DeployConfigError(
                f"sequencer.uptime_feed is {feed} but Chainlink's uptime feed on chain {chain_id} is {known}"
            )
    elif feed is None and grace and not local:
        raise DeployConfigError(f"sequencer.grace_period is {grace} s but no uptime_feed is named (a mock is for local chains only)")


def wad(value: Any) -> int:
    return int(Decimal(str(value)) * WAD)


@dataclass(frozen=True)
class MarketSettings:
    symbol: str
    feed: str | None
    heartbeat: int
    max_staleness: int
    overrides: dict[
        str, int
    ]  # deploy_protocol's market keys (wad), the pool's quote side aside


@dataclass(frozen=True)
class DeployConfig:
    """A checked deploy configuration file."""

    path: Path
    chain_id: int
    rpc: str | None
    quote_token: str | None
    markets: dict[str, MarketSettings]
    protocol: dict[str, Any]  # deploy_protocol's flat keys (margin rules, governance)
    timelock_delay: int
    guardian: str | None
    insurance_fund_seed: int  # wad
    sequencer_feed: str | None = None
    sequencer_grace_period: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def rpc_port(self) -> int | None:
        """The port of a local RPC URL (`http://127.0.0.1:PORT`), else None."""
        if not self.rpc or not self.rpc.startswith(
            ("http://127.0.0.1:", "http://localhost:")
        ):
            return None
        return int(self.rpc.rsplit(":", 1)[1].split("/")[0])

    @property
    def local(self) -> bool:
        return self.chain_id in LOCAL_CHAIN_IDS


def config_path(network: str) -> Path:
    """`$DEPLOY_CONFIG` when set, else config/deploy/<network>.yaml."""
    override = os.environ.get("DEPLOY_CONFIG", "").strip()
    return Path(override) if override else CONFIG_DIR / f"{network}.yaml"


def load(path: Path) -> DeployConfig:
    """Read and check one configuration file; DeployConfigError names the file and the cause."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise DeployConfigError(f"no deploy configuration {path}") from None
    except yaml.YAMLError as exc:
        raise DeployConfigError(
            f"{path} is not valid YAML: {str(exc).splitlines()[0]}"
        ) from None
    try:
        return parse(raw, path)
    except DeployConfigError as exc:
        raise DeployConfigError(f"{path}: {exc}") from None


def parse(raw: Any, path: Path = Path("<config>")) -> DeployConfig:
    _check_section(SCHEMA, raw, "", OPTIONAL_KEYS)
    chain_id = int(raw["network"]["chain_id"])
    local = chain_id in LOCAL_CHAIN_IDS
    delay = int(raw["timelock"]["delay"])
    check_timelock_delay(delay, chain_id)
    if raw["quote_token"] is None and not local:
        raise DeployConfigError(
            f"quote_token is null on chain {chain_id}: a mock collateral is for local chains only"
        )
    if "ETH" not in raw["markets"]:
        raise DeployConfigError("markets has no ETH: the default market is always deployed")
    markets = {}
    for symbol, m in raw["markets"].items():
        if m["feed"] is None and not local:
            raise DeployConfigError(
                f"markets.{symbol}.feed is null on chain {chain_id}: mock feeds are for local chains only"
            )
        if m["feed"] is None and "index_price" not in m:
            raise DeployConfigError(f"markets.{symbol}.index_price is needed with a mock feed (feed: null)")
        if m["feed"] is not None and "index_price" in m:
            raise DeployConfigError(f"markets.{symbol}.index_price is for mock feeds only: the pool starts at the feed's price")
        if not m["max_staleness"] and not local:
            raise DeployConfigError(
                f"markets.{symbol}.max_staleness is 0 (unchecked) on chain {chain_id}: a live market needs one "
                "(its feed's heartbeat plus a margin), or a frozen index would go on pricing trades"
            )
        if m["max_staleness"] and m["max_staleness"] < m["heartbeat"]:
            raise DeployConfigError(
                f"markets.{symbol}.max_staleness ({m['max_staleness']} s) is below its heartbeat ({m['heartbeat']} s): "
                "every round would be stale"
            )
        overrides = {
            "base_asset_reserve": wad(m["base_asset_reserve"]),
            "trade_limit_ratio": wad(m["trade_limit_ratio"]),
            "fluctuation_limit_ratio": wad(m["fluctuation_limit_ratio"]),
            "toll_ratio": wad(m["toll_ratio"]),
            "spread_ratio": wad(m["spread_ratio"]),
            "max_holding_base_asset": wad(m["max_holding_base_asset"]),
            "open_interest_notional_cap": wad(m["open_interest_notional_cap"]),
            "funding_period": int(m["funding_period"]),
            "max_funding_rate": wad(m.get("max_funding_rate", 0)),
            "max_oracle_staleness": int(m["max_staleness"]),
        }
        if m.get("continuous_funding"):
            overrides["continuous_funding"] = 1
        if "index_price" in m:
            overrides["index_price"] = wad(m["index_price"])
        markets[str(symbol)] = MarketSettings(
            str(symbol),
            m["feed"],
            int(m["heartbeat"]),
            int(m["max_staleness"]),
            overrides,
        )
    sequencer = raw.get("sequencer") or {"uptime_feed": None, "grace_period": 0}
    _check_sequencer(sequencer["uptime_feed"], int(sequencer["grace_period"]), chain_id, local)
    protocol: dict[str, Any] = {k: wad(v) for k, v in raw["margin"].items()}
    protocol.update(
        {
            "timelock_delay": delay,
            "timelock_proposers": raw["timelock"].get("proposers"),
            "timelock_executors": raw["timelock"].get("executors"),
            "guardian": raw.get("guardian"),
            "insurance_fund_seed": wad(raw["insurance_fund_seed"]),
        }
    )
    return DeployConfig(
        path=path,
        chain_id=chain_id,
        rpc=raw["network"].get("rpc"),
        quote_token=raw["quote_token"],
        markets=markets,
        protocol=protocol,
        timelock_delay=delay,
        guardian=raw.get("guardian"),
        insurance_fund_seed=wad(raw["insurance_fund_seed"]),
        sequencer_feed=sequencer["uptime_feed"],
        sequencer_grace_period=int(sequencer["grace_period"]),
        raw=raw,
    )
