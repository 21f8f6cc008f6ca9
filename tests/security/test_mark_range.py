"""A mark above what the pool can record is refused, instead of freezing the market for good.

The Amm records one observation per block: the price in force before the block, in 80 bits (wad), so at most
2^80 - 1 wei = 1,208,925.8 quote per base. A swap that left a higher price went through, and the next block's
first swap, liquidation, adjustK or repeg reverted `ReserveOverflow` writing that observation: every later
trade, liquidation and curve change of the market reverted, for good (on the old code the push below succeeds,
then every call of `test_the_market_keeps_working` reverts `ReserveOverflow`).
Now the trade (or curve change) that would leave such a price reverts `MarkOutOfRange(price, maxPrice)` and
changes nothing; the market goes on.

A BTC-like market: 1,000,000 quote / 10 base, price 100,000 (12 times below the bound). A long of 2.5 million
notional (250,000 margin at 10x) would take the mark to 1.22 million.
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import set_index
from tests.trading import (
    assert_unchanged,
    capture_state,
    deposit,
    input_price,
    spot_price,
)

MAX_MARK = 2**80 - 1
PUSH_MARGIN, PUSH_LEVERAGE = wad(250_000), wad(10)


@pytest.fixture(scope="module")
def d(owner) -> Any:
    return deploy_protocol(
        {"quote_asset_reserve": wad(1_000_000), "base_asset_reserve": wad(10), "index_price": wad(100_000)}, owner
    )


@pytest.fixture
def book(d, alice, bob, carol) -> None:
    """carol is short at 10x; alice holds enough to push the mark out of range; the fund can pay bad debt."""
    d.quote_token.mint(d.owner, wad(1_000_000), {"from": d.owner})
    d.quote_token.approve(d.insurance_fund, wad(1_000_000), {"from": d.owner})
    d.insurance_fund.deposit(wad(1_000_000), {"from": d.owner})
    deposit(d, alice, wad(1_000_000))
    deposit(d, bob, wad(10_000))
    deposit(d, carol, wad(10_000))
    d.clearing_house.openPosition(d.amm, SELL, wad(1_000), wad(10), 0, {"from": carol})


def price_after_long(amm: Any, notional: int) -> int:
    q, b = amm.getReserve()
    return spot_price(q + notional, b - input_price(True, notional, q, b))


def test_a_trade_that_would_leave_the_mark_out_of_range_is_refused(d, book, owner, alice, bob, carol):
    notional = PUSH_MARGIN * PUSH_LEVERAGE // 10**18
    price = price_after_long(d.amm, notional)
    assert price > MAX_MARK
    before = capture_state(d, [owner, alice, bob, carol])

    with reverts_with("MarkOutOfRange", price, MAX_MARK):
        d.clearing_house.openPosition(d.amm, BUY, PUSH_MARGIN, PUSH_LEVERAGE, 0, {"from": alice})

    assert_unchanged(before, capture_state(d, [owner, alice, bob, carol]))


def test_the_market_keeps_working(d, book, owner, alice, bob, carol, keeper):
    ch, amm = d.clearing_house, d.amm
    with reverts_with("MarkOutOfRange"):
        ch.openPosition(amm, BUY, PUSH_MARGIN, PUSH_LEVERAGE, 0, {"from": alice})
    chain.mine()
    # a push that stays in range (mark about 396,000) goes through; later blocks trade, liquidate, change the curve
    ch.openPosition(amm, BUY, wad(100_000), wad(10), 0, {"from": alice})
    assert amm.getSpotPrice() < MAX_MARK
    chain.mine()
    ch.openPosition(amm, BUY, wad(100), wad(2), 0, {"from": bob})
    ch.closePosition(amm, 0, {"from": bob})
    # carol's short is far under water; the index and the 15-minute TWAP catch up with the pushed mark
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    chain.sleep(3_600)
    chain.mine()
    tx = ch.liquidate(amm, carol, {"from": keeper})
    assert tx.events["PositionLiquidated"][0]["trader"] == carol
    assert not amm.isShutdown()
    ch.adjustK(amm, wad("0.99"), {"from": owner})
    ch.closePosition(amm, 0, {"from": alice})
    assert amm.totalPositionSize() == 0


def test_a_repeg_cannot_leave_the_mark_out_of_range(owner):
    # a market priced 1.2 million, 0.7 % below the bound: a repeg 1 % up would cross it
    d = deploy_protocol(
        {"quote_asset_reserve": wad(12_000_000), "base_asset_reserve": wad(10), "index_price": wad(1_200_000)}, owner
    )
    ch, amm = d.clearing_house, d.amm
    q, b = amm.getReserve()
    new_price = spot_price(q, b) * 101 // 100
    assert spot_price(b * new_price // 10**18, b) > MAX_MARK
    before = capture_state(d, [owner])

    with reverts_with("MarkOutOfRange", spot_price(b * new_price // 10**18, b), MAX_MARK):
        ch.repeg(amm, new_price, {"from": owner})

    assert_unchanged(before, capture_state(d, [owner]))
    ch.repeg(amm, spot_price(q, b) * 1005 // 1000, {"from": owner})  # within range: fine
    assert amm.getSpotPrice() <= MAX_MARK
