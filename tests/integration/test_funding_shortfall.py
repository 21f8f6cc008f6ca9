"""Funding never halts a market (SPEC §3): the InsuranceFund pays the pool's side of the imbalance out of its
surplus (never its reserve floor), and what it cannot pay is taken off the receiving side: the payers pay in
full, the receivers share the payers' payment and what the fund paid, rounded against them, and
`FundingShortfall` says so. Old main halted the market on the first funding payment an empty fund could not
make.
"""

from __future__ import annotations

from typing import Any

from brownie import chain

from perp_ops.console import client_for
from tests.helpers import BUY, SELL, wad
from tests.integration.risk_helpers import assert_reconciles, event, set_index
from tests.trading import mul


def _fund_traders(d: Any, traders: list[Any], amount: int) -> None:
    for t in traders:
        d.quote_token.mint(t, amount, {"from": t})
        d.quote_token.approve(d.vault, amount, {"from": t})
        d.vault.deposit(amount, {"from": t})


def _fund_insurance(d: Any, payer: Any, amount: int) -> None:
    d.quote_token.mint(payer, amount, {"from": payer})
    d.quote_token.approve(d.insurance_fund, amount, {"from": payer})
    d.insurance_fund.deposit(amount, {"from": payer})


def _longs_receive(d: Any, alice: Any, bob: Any, owner: Any) -> tuple[int, int]:
    """alice long 100 notional, bob short 20; the index far above the mark (shorts pay longs); funding due.
    Returns (long size, short size)."""
    ch, amm = d.clearing_house, d.amm
    _fund_traders(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(50), wad(2), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(10), wad(2), 0, {"from": bob})
    set_index(d.aggregators["ETH"], wad(30), owner)
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    return ch.getPosition(amm, alice)[0], -ch.getPosition(amm, bob)[0]


def test_an_empty_fund_cuts_the_receivers_and_the_market_stays_open(protocol, alice, bob, carol, owner, rando):
    d = protocol
    ch, amm = d.clearing_house, d.amm
    long_size, short_size = _longs_receive(d, alice, bob, owner)
    assert d.insurance_fund.fundBalance() == 0
    tx = ch.payFunding(amm, {"from": rando})
    pf = event(tx, "FundingPaid")["premiumFraction"]
    owed = -mul(pf, long_size - short_size)
    assert pf < 0 and owed > 0
    # the longs get what the shorts pay, per unit of their size, rounded down
    receivers = -((-pf * short_size) // long_size)
    assert event(tx, "FundingShortfall") == {"amm": amm.address, "owedToReceivers": owed, "paid": 0}
    assert event(tx, "FundingPaid") == {"amm": amm.address, "premiumFraction": pf,
                                        "cumulativePremiumFraction": receivers, "insuranceFundPnl": 0}
    assert "MarketHalted" not in tx.events and not amm.isShutdown() and amm.open()
    f = ch.getFunding(amm)
    assert (f["cumulativeLong"], f["cumulativeShort"]) == (receivers, pf)
    assert (f["longSize"], f["shortSize"]) == (long_size, short_size)
    assert ch.getLatestCumulativePremiumFraction(amm) == receivers
    assert d.insurance_fund.fundBalance() == 0
    # the payer pays in full (v1's truncation), the receiver gets no more than that
    paid = event(ch.closePosition(amm, 0, {"from": bob}), "PositionChanged")["fundingPayment"]
    assert paid == mul(pf, -short_size) > 0
    received = event(ch.closePosition(amm, 0, {"from": alice}), "PositionChanged")["fundingPayment"]
    assert received == mul(receivers, long_size) < 0 and -received <= paid
    assert ch.getMarket(amm)[1] >= 0
    assert_reconciles(d, [alice, bob, owner, rando], exact=True)
    # the market trades on
    _fund_traders(d, [carol], wad(100))
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": carol})


def test_the_client_shows_that_receivers_were_paid_less(protocol, alice, bob, owner, rando):
    d = protocol
    _longs_receive(d, alice, bob, owner)
    client = client_for(d)
    assert "receivers paid less" not in client.market("ETH").table()
    tx = d.clearing_house.payFunding(d.amm, {"from": rando})
    shortfall = event(tx, "FundingShortfall")
    market = client.market("ETH")
    assert market.last_shortfall is not None and market.last_shortfall.block_number == tx.block_number
    assert market.last_shortfall.not_paid == shortfall["owedToReceivers"] - shortfall["paid"] > 0
    f = market.funding
    assert f is not None and f.receivers_cut == abs(f.cumulative_long - f.cumulative_short) > 0
    table = market.table()
    assert "receivers paid less" in table and "last shortfall" in table
    # the client values each side with its own cumulative premium fraction
    size, _, _, last = d.clearing_house.getPosition(d.amm, alice)
    assert client.holding("ETH", alice.address).funding_payment == mul(f.cumulative_long - last, size)


def test_the_fund_pays_its_surplus_and_keeps_its_floor(protocol, alice, bob, owner, rando):
    d = protocol
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    long_size, short_size = _longs_receive(d, alice, bob, owner)
    floor = wad(7)
    _fund_insurance(d, owner, floor + wad("0.01"))
    fund.raiseReserveFloor(floor, {"from": owner})
    assert fund.surplus() == wad("0.01")
    tx = ch.payFunding(amm, {"from": rando})
    pf = event(tx, "FundingPaid")["premiumFraction"]
    owed = -mul(pf, long_size - short_size)
    assert owed > wad("0.01")
    assert event(tx, "FundingShortfall") == {"amm": amm.address, "owedToReceivers": owed, "paid": wad("0.01")}
    assert event(tx, "FundingPaid")["insuranceFundPnl"] == -wad("0.01")
    assert fund.fundBalance() == floor and fund.surplus() == 0
    receivers = -((-pf * short_size + wad("0.01") * 10**18) // long_size)
    assert ch.getFunding(amm)["cumulativeLong"] == receivers
    assert ch.getMarket(amm)[1] == wad(50) + wad(10) + wad("0.01")


def test_a_fund_that_can_pay_pays_v1s_amount(protocol, alice, bob, owner, rando):
    d = protocol
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    long_size, short_size = _longs_receive(d, alice, bob, owner)
    _fund_insurance(d, owner, wad(1_000))
    tx = ch.payFunding(amm, {"from": rando})
    pf = event(tx, "FundingPaid")["premiumFraction"]
    assert "FundingShortfall" not in tx.events
    assert fund.fundBalance() == wad(1_000) + mul(pf, long_size - short_size)
    f = ch.getFunding(amm)
    assert f["cumulativeLong"] == f["cumulativeShort"] == pf
