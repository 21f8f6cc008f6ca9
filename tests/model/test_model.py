"""Tests of the reference model alone (no chain): SPEC §8, v1's vectors, v1-mode TWAP numbers, properties.

Run: .venv/bin/python -m pytest tests/model -q -p no:brownie
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model.protocol_model import (
    WAD,
    Dir,
    IndexFeed,
    ModelError,
    PnlCalcOption,
    Protocol,
    Side,
    Tx,
    div,
    div_toward_zero,
    mul,
)
from tests.vectors.v1_vectors import BASE_CONFIG, T0_BASE, VECTORS

MARKET = "ETH"

# ------------------------------------------------------------------------------------------------------------
# replaying a vector on the model
# ------------------------------------------------------------------------------------------------------------

POOL_PARAMS = ("fluctuation_limit_ratio", "toll_ratio", "spread_ratio", "max_holding_base_asset",
               "open_interest_notional_cap")
PROTOCOL_PARAMS = ("init_margin_ratio", "maintenance_margin_ratio", "liquidation_fee_ratio",
                   "partial_liquidation_ratio")


def build_protocol(vector: dict[str, Any], **model_options: Any) -> tuple[Protocol, int]:
    """The deployed protocol of a vector at T0 (block 0); returns it and T0."""
    config = {**BASE_CONFIG, **vector.get("config", {})}
    t0 = T0_BASE + vector.get("t0_mod_3600", 0)
    protocol = Protocol(quote_decimals=config["quote_decimals"],
                        **{key: config[key] for key in PROTOCOL_PARAMS}, **model_options)
    protocol.add_market(
        MARKET,
        quote_reserve=config["quote_asset_reserve"],
        base_reserve=config["base_asset_reserve"],
        trade_limit_ratio=config["trade_limit_ratio"],
        funding_period=config["funding_period"],
        index_price=config["index_price"],
        index_decimals=config["index_decimals"],
        tx=Tx(t0, 0),
        **{key: config[key] for key in POOL_PARAMS},
    )
    for trader, amount in vector.get("deposits", {}).items():
        protocol.deposit(trader, amount)
    protocol.insurance_fund_deposit(vector.get("insurance_fund", 0))
    return protocol, t0


def run_action(protocol: Protocol, step: dict[str, Any], now: int) -> Any:
    action, block = step["action"], step.get("block", 0)
    if action == "open_position":
        return protocol.open_position(MARKET, step["trader"], Side(step["side"]), step["quote_amount"],
                                      step["leverage"], step.get("base_limit", 0), now, block)
    if action == "close_position":
        return protocol.close_position(MARKET, step["trader"], step.get("quote_limit", 0), now, block)
    if action == "add_margin":
        return protocol.add_margin(MARKET, step["trader"], step["amount"])
    if action == "remove_margin":
        return protocol.remove_margin(MARKET, step["trader"], step["amount"], now)
    if action == "liquidate":
        return protocol.liquidate(MARKET, step["liquidator"], step["trader"], now, block)
    if action == "pay_funding":
        return protocol.pay_funding(MARKET, now, block)
    if action == "set_index_price":
        return protocol.set_index_price(MARKET, step["price"], now)
    if action == "set_param":
        if step["key"] in PROTOCOL_PARAMS:
            return setattr(protocol, step["key"], step["value"])
        return protocol.set_pool_param(MARKET, step["key"], step["value"])
    if action == "shutdown":
        return protocol.shutdown(MARKET)
    if action == "settle_position":
        return protocol.settle_position(MARKET, step["trader"], block)
    if action == "deposit":
        return protocol.deposit(step["trader"], step["amount"])
    if action == "withdraw":
        return protocol.withdraw(step["trader"], step["amount"])
    raise AssertionError(f"unknown action {action}")


def view(protocol: Protocol, key: str, arg: Any, now: int, t0: int) -> Any:
    """The model's answer to one `check` key (see tests/vectors/v1_vectors.py)."""
    market = protocol.market(MARKET)
    pool = market.pool
    scale = 10 ** (18 - protocol.quote_decimals)
    simple = {
        "insurance_fund_wad": lambda: protocol.insurance_fund,
        "insurance_fund_tokens": lambda: protocol.insurance_fund // scale,
        "toll_pool_wad": lambda: protocol.toll_pool,
        "toll_pool_tokens": lambda: protocol.toll_pool // scale,
        "reserves": lambda: [pool.quote_reserve, pool.base_reserve],
        "spot_price": pool.spot_price,
        "cumulative_premium_fraction": market.latest_cumulative_premium_fraction,
        "next_funding_time": lambda: pool.next_funding_time - t0,
        "open_interest_notional": lambda: market.open_interest_notional,
        "settlement_price": lambda: pool.settlement_price,
        "total_position_size": lambda: pool.total_position_size,
        "is_over_spread_limit": lambda: protocol.is_over_spread_limit(MARKET),
    }
    if key in simple:
        return simple[key]()
    per_trader = {
        "position": lambda trader: _position_fields(protocol, trader, arg[trader]),
        "margin_ratio": lambda trader: protocol.margin_ratio(MARKET, trader, now),
        "free_collateral": lambda trader: protocol.free_collateral(MARKET, trader, now),
        "margin_with_funding": lambda trader: protocol.margin_with_funding(MARKET, trader),
        "vault_wad": lambda trader: protocol.vault.get(trader, 0),
        "balance_of": protocol.balance_of,
        "unrealized_pnl": lambda trader: _pnl_fields(protocol, trader, arg[trader], now, 1),
        "position_notional": lambda trader: _pnl_fields(protocol, trader, arg[trader], now, 0),
    }
    if key in per_trader:
        return {trader: per_trader[key](trader) for trader in arg}
    per_query = {
        "twap_price": lambda q: pool.twap_price(q[0], now),
        "index_twap": lambda q: market.index.twap(q[0], now),
        "input_price": lambda q: pool.input_price(Dir(q[0]), q[1]),
        "output_price": lambda q: pool.output_price(Dir(q[0]), q[1]),
    }
    if key in per_query:
        return [[*query[:-1], per_query[key](query)] for query in arg]
    raise AssertionError(f"unknown check {key}")


def _position_fields(protocol: Protocol, trader: str, fields: dict[str, int]) -> dict[str, int]:
    position = protocol.get_position(MARKET, trader)
    return {name: getattr(position, name) for name in fields}


def _pnl_fields(protocol: Protocol, trader: str, options: dict[str, int], now: int, index: int) -> dict[str, int]:
    names = {"spot": PnlCalcOption.SPOT_PRICE, "twap": PnlCalcOption.TWAP, "oracle": PnlCalcOption.ORACLE}
    return {
        name: protocol.get_position_notional_and_unrealized_pnl(MARKET, trader, names[name], now)[index]
        for name in options
    }


def replay(vector: dict[str, Any], **model_options: Any) -> Protocol:
    """Runs every step; asserts every `expect`/`model_expect`/`error`/`check`."""
    protocol, t0 = build_protocol(vector, **model_options)
    for number, step in enumerate(vector["steps"]):
        now = t0 + step["t"]
        where = f"{vector['name']} step {number} ({step['action']})"
        if step["action"] == "check":
            for part in ("expect", "model_expect"):
                for key, expected in step.get(part, {}).items():
                    assert view(protocol, key, expected, now, t0) == expected, f"{where}: {key}"
            continue
        if "error" in step:
            with pytest.raises(ModelError) as raised:
                run_action(protocol, step, now)
            assert raised.value.name == step["error"], where
            continue
        result = run_action(protocol, step, now)
        for part in ("expect", "model_expect"):
            for key, expected in step.get(part, {}).items():
                actual = result if key == "result" else result[key]
                assert actual == expected, f"{where}: {key} = {actual}, expected {expected}"
    return protocol


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_v1_vector(vector: dict[str, Any]) -> None:
    replay(vector)
