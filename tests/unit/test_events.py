"""PositionChanged (and MarginChanged): every field of the event for open, increase, reduce, reverse and close
agrees with the position the ClearingHouse stores, with its views after the tx, and with tests/trading.py's
independent computation of the trade. Fees are on (toll 0.3 %, spread 0.2 %) so that `fee` is not 0."""

from __future__ import annotations

from typing import Any

import pytest
from brownie import chain

from perp_ops.deploy import Deployment, deploy_protocol
from tests.helpers import BUY, SELL, SPOT, wad
from tests.trading import (
    Outcome,
    close_position,
    deposit,
    expected_position_changed,
    mul,
    open_position,
    output_price,
    pool_of,
    position_changed,
    position_of,
)

TOLL = wad("0.003")
SPREAD = wad("0.002")


@pytest.fixture(scope="module")
def d(owner, alice, bob) -> Deployment:
    d = deploy_protocol({"toll_ratio": TOLL, "spread_ratio": SPREAD}, owner)
    for trader in (alice, bob):
        deposit(d, trader, wad(1000))
    return d


def _check(d: Deployment, who: Any, tx: Any, out: Outcome, funding: int = 0) -> dict[str, Any]:
    """The event equals the computed trade, and agrees with the chain's views after the tx."""
    ch, amm = d.clearing_house, d.amm
    event = position_changed(tx)
    assert event == expected_position_changed(who, amm, out, funding)
    size, margin, open_notional, _ = ch.getPosition(amm, who)
    assert (event["positionSizeAfter"], event["margin"]) == (size, margin)
    assert event["spotPrice"] == amm.getSpotPrice()
    assert event["fee"] == mul(event["positionNotional"], TOLL) + mul(event["positionNotional"], SPREAD)
    if size == 0:
        assert open_notional == 0 and event["unrealizedPnlAfter"] == 0
    return event


def test_open_and_increase(d, alice):
    ch, amm = d.clearing_house, d.amm
    mirror = pool_of(amm)
    out = open_position(mirror, position_of(ch, amm, alice), BUY, wad(10), wad(5), TOLL, SPREAD)
    tx = ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert event["exchangedPositionSize"] == event["positionSizeAfter"] > 0
    assert event["realizedPnl"] == 0
    assert event["unrealizedPnlAfter"] == 0  # v1: the position before the trade (none) is valued

    out = open_position(mirror, out.position, BUY, wad(4), wad(3), TOLL, SPREAD)
    tx = ch.openPosition(amm, BUY, wad(4), wad(3), 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert event["margin"] == wad(14)
    assert event["positionSizeAfter"] == out.position.size > event["exchangedPositionSize"] > 0
    # v1: the position as it was (size before the trade) valued at the reserves after it
    old_size = event["positionSizeAfter"] - event["exchangedPositionSize"]
    q, b = amm.getReserve()
    assert event["unrealizedPnlAfter"] == output_price(True, old_size, q, b) - wad(50) > 0


def test_open_short(d, bob):
    ch, amm = d.clearing_house, d.amm
    mirror = pool_of(amm)
    out = open_position(mirror, position_of(ch, amm, bob), SELL, wad(7), wad(4), TOLL, SPREAD)
    tx = ch.openPosition(amm, SELL, wad(7), wad(4), 0, {"from": bob})
    event = _check(d, bob, tx, out)
    assert event["exchangedPositionSize"] == event["positionSizeAfter"] < 0
    assert event["positionNotional"] == wad(28)
    assert event["unrealizedPnlAfter"] == 0


def test_reduce(d, alice, bob):
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": bob})  # the mark moves up: Alice gains
    mirror = pool_of(amm)
    old = position_of(ch, amm, alice)
    _, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    out = open_position(mirror, old, SELL, wad(2), wad(10), TOLL, SPREAD)
    tx = ch.openPosition(amm, SELL, wad(2), wad(10), 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert 0 < event["realizedPnl"] < upnl
    assert event["realizedPnl"] + event["unrealizedPnlAfter"] == upnl
    # v1 reports the PnL left in the position as (PnL before − realized); valued again at the new reserves it
    # differs only by the pool's rounding of the two swaps
    assert abs(event["unrealizedPnlAfter"] - ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)[1]) < 10
    assert event["margin"] == old.margin + event["realizedPnl"]
    assert event["exchangedPositionSize"] < 0 < event["positionSizeAfter"]
    assert event["positionSizeAfter"] == old.size + event["exchangedPositionSize"]


def test_reverse(d, alice, bob):
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, SELL, wad(5), wad(5), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(3), wad(5), 0, {"from": bob})  # Alice's short loses
    mirror = pool_of(amm)
    old = position_of(ch, amm, alice)
    _, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    out = open_position(mirror, old, BUY, wad(10), wad(5), TOLL, SPREAD)
    tx = ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert event["realizedPnl"] == upnl < 0
    assert event["unrealizedPnlAfter"] == 0  # v1 reports 0 after a reversal
    assert event["positionSizeAfter"] > 0 > old.size
    assert event["exchangedPositionSize"] == event["positionSizeAfter"] - old.size
    assert event["positionNotional"] == wad(50)


def test_opposite_trade_of_exactly_the_position_notional_closes(d, alice, bob):
    """v1: an opposite trade whose notional equals the position's is a close (nothing left to open)."""
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(3), wad(5), 0, {"from": bob})
    mirror = pool_of(amm)
    old = position_of(ch, amm, alice)
    notional, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    out = open_position(mirror, old, SELL, notional, wad(1), TOLL, SPREAD)
    tx = ch.openPosition(amm, SELL, notional, wad(1), 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert (event["positionSizeAfter"], event["margin"], event["realizedPnl"]) == (0, 0, upnl)
    assert event["positionNotional"] == notional


@pytest.mark.parametrize("side", [BUY, SELL])
def test_close(d, alice, bob, side):
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, side, wad(6), wad(7), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(2), wad(5), 0, {"from": bob})
    mirror = pool_of(amm)
    old = position_of(ch, amm, alice)
    _, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    free_before = d.vault.balanceOfWad(alice)
    out = close_position(mirror, old, TOLL, SPREAD)
    tx = ch.closePosition(amm, 0, {"from": alice})
    event = _check(d, alice, tx, out)
    assert event["realizedPnl"] == upnl
    assert event["exchangedPositionSize"] == -old.size
    assert (event["margin"], event["positionSizeAfter"], event["unrealizedPnlAfter"]) == (0, 0, 0)
    assert d.vault.balanceOfWad(alice) == free_before + old.margin + upnl - event["fee"]
    assert tuple(ch.getPosition(amm, alice)) == (0, 0, 0, 0)


def test_funding_payment_in_the_event(d, owner, alice, bob):
    """After a funding period the next position change settles `(cumulative now − last) × size`."""
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})  # the mark goes above the index (10)
    ch.openPosition(amm, SELL, wad(2), wad(5), 0, {"from": bob})
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    ch.payFunding(amm, {"from": owner})
    cumulative = ch.getLatestCumulativePremiumFraction(amm)
    assert cumulative > 0  # longs pay
    for who, side in ((alice, SELL), (bob, SELL)):
        old = position_of(ch, amm, who)
        last = ch.getPosition(amm, who)[3]
        funding = mul(cumulative - last, old.size)
        mirror = pool_of(amm)
        out = open_position(mirror, old, side, wad(1), wad(2), TOLL, SPREAD)
        out.position.margin -= funding
        tx = ch.openPosition(amm, side, wad(1), wad(2), 0, {"from": who})
        _check(d, who, tx, out, funding)
        assert (funding > 0) == (old.size > 0)
        assert ch.getPosition(amm, who)[3] == cumulative


def test_margin_changed(d, alice):
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})
    tx = ch.addMargin(amm, wad(3), {"from": alice})
    assert dict(tx.events["MarginChanged"][0]) == {
        "trader": alice,
        "amm": amm,
        "amount": wad(3),
        "fundingPayment": 0,
    }
    assert "PositionChanged" not in tx.events
    tx = ch.removeMargin(amm, wad(2), {"from": alice})
    assert dict(tx.events["MarginChanged"][0]) == {
        "trader": alice,
        "amm": amm,
        "amount": -wad(2),
        "fundingPayment": 0,
    }
    assert ch.getPosition(amm, alice)[1] == wad(11)


def test_unrealized_pnl_after_an_increase_is_v1s(d, alice, bob):
    """v1 reports, for an open or an increase, the PnL of the position as stored before the trade valued at the
    reserves after it: 0 for a new position."""
    ch, amm = d.clearing_house, d.amm
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": bob})
    tx = ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    new_position = position_changed(tx)["unrealizedPnlAfter"]
    old = position_of(ch, amm, alice)
    tx = ch.openPosition(amm, BUY, wad(6), wad(5), 0, {"from": alice})
    after = pool_of(amm)
    v1_value = output_price(True, old.size, after.quote, after.base) - old.open_notional
    assert (new_position, position_changed(tx)["unrealizedPnlAfter"]) == (0, v1_value)
