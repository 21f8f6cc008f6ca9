"""Regressions found by the differential state machine (pool 1000 quote / 100 base, 18 decimals)."""

from __future__ import annotations

from brownie import chain

from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import set_index


def test_short_beyond_the_quote_reserve_fails_with_trade_limit(ch, amm, alice, fund_trader):
    """A short removing more quote than the pool holds reverted with an arithmetic panic (the price was computed
    before the trade limit was checked); SPEC §4: every revert carries a custom error naming the cause."""
    fund_trader(alice, wad(10_000))
    with reverts_with("TradeLimitExceeded", wad(2_000), wad(900)):
        ch.openPosition(amm, SELL, wad(200), wad(10), 0, {"from": alice})


def test_closing_a_short_larger_than_the_base_reserve_fails_with_trade_limit(ch, amm, alice, bob, fund_trader):
    """Bob's short adds 400 base; Alice then buys 450: closing Bob's 400 would remove more base than the 50 left."""
    fund_trader(alice, wad(10_000))
    fund_trader(bob, wad(10_000))
    ch.openPosition(amm, SELL, wad(400), wad(2), 0, {"from": bob})
    assert ch.getPosition(amm, bob)[0] == -wad(400)
    ch.openPosition(amm, BUY, wad(900), wad(2), 0, {"from": alice})
    assert amm.getReserve()[1] == wad(50)
    with reverts_with("TradeLimitExceeded"):
        ch.closePosition(amm, 0, {"from": bob})


def test_a_short_larger_than_the_pool_after_a_k_cut_fails_with_trade_limit(ch, amm, owner, alice, bob, fund_trader):
    """After adjustK shrinks the pool, one short can be larger than the whole base reserve (the net position is
    not): pricing it panicked (arithmetic underflow) in every path that values it; now TradeLimitExceeded."""
    fund_trader(alice, wad(10_000))
    fund_trader(bob, wad(10_000))
    ch.openPosition(amm, SELL, wad(100), wad(2), 0, {"from": bob})  # size -25
    ch.openPosition(amm, BUY, wad(150), wad(2), 0, {"from": alice})  # net long
    while amm.getReserve()[1] >= -ch.getPosition(amm, bob)[0]:  # to 0.2 or so, 2.4 % a block (the move bound)
        ch.adjustK(amm, wad("0.976"), {"from": owner})  # shallower: the fund gains
    size = ch.getPosition(amm, bob)[0]
    assert -size > amm.getReserve()[1] > amm.totalPositionSize() > 0
    with reverts_with("TradeLimitExceeded"):
        ch.closePosition(amm, 0, {"from": bob})
    with reverts_with("TradeLimitExceeded"):
        ch.openPosition(amm, BUY, wad(1), wad(1), 0, {"from": bob})


def test_increasing_a_position_whose_funding_exceeds_its_margin_is_bad_debt(protocol, ch, amm, owner, alice, bob,
                                                                           fund_trader, fund_deposit):
    """Alice's short is under water and owes more funding than its margin: adding 0.1 to it is refused as BadDebt
    (before the maintenance check), as the reference model now says too (the v1 configuration's run disagreed:
    the model said MarginRatioTooLow)."""
    fund_trader(alice, wad(10_000))
    fund_trader(bob, wad(10_000))
    fund_deposit(wad(100_000))  # the fund pays the funding imbalance: the market stays open
    set_index(protocol.aggregators["ETH"], wad(100), owner)  # far above the mark: the shorts pay
    ch.openPosition(amm, SELL, wad(10), wad(5), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(40), wad(5), 0, {"from": bob})
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    set_index(protocol.aggregators["ETH"], wad(100), owner)
    ch.payFunding(amm, {"from": owner})
    assert ch.getMarginRatio(amm, alice) < 0
    with reverts_with("BadDebt"):
        ch.openPosition(amm, SELL, wad("0.1"), wad(1), 0, {"from": alice})
