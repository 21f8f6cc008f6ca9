"""Funding never halts a market (SPEC §3): the InsuranceFund pays the pool's side of the imbalance out of its
surplus (never its reserve floor), and what it cannot pay is taken off the receiving side: the payers pay in
full, the receivers share the payers' payment and what the fund paid, rounded against them, and
`FundingShortfall` says so. Old main halted the market on the first funding payment an empty fund could not
make.
"""

from __future__ import annotations

from typing import Any

import pytest
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


@pytest.mark.parametrize("fund_share", [0, 37, 100], ids=["empty fund", "fund pays 37 %", "fund pays all"])
@pytest.mark.parametrize("receivers", ["longs", "shorts"])
def test_each_side_reads_its_own_cumulative(protocol, alice, bob, carol, owner, rando, receivers, fund_share):
    """Two traders on the receiving side (the larger), one paying, the fund's surplus covering 0, 37 or 100 % of
    the pool's side: both sides' cumulatives are the formula's (SPEC §3), each position's funding at its close is
    its own side's, the payer pays in full, the receivers get at most the payers' payment plus what the fund paid,
    and every token is accounted for."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    _fund_traders(d, [alice, bob, carol], wad(1_000))
    big, small = (BUY, SELL) if receivers == "longs" else (SELL, BUY)
    ch.openPosition(amm, big, wad(30), wad(2), 0, {"from": alice})
    ch.openPosition(amm, big, wad(20), wad(2), 0, {"from": bob})
    ch.openPosition(amm, small, wad(10), wad(2), 0, {"from": carol})
    # the index far from the mark, toward the paying side: the larger side receives
    set_index(d.aggregators["ETH"], wad(30) if receivers == "longs" else wad(3), owner)
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    sizes = {t: ch.getPosition(amm, t)[0] for t in (alice, bob, carol)}
    long_size = sum(s for s in sizes.values() if s > 0)
    short_size = -sum(s for s in sizes.values() if s < 0)
    net = long_size - short_size
    # what the pool's side will owe: the Amm's settlement as the ClearingHouse would get it (a call, nothing sent)
    chain.mine()
    pf, total = amm.settleFunding.call({"from": ch.address})
    assert total == net
    owed = abs(mul(pf, net))
    if fund_share:
        _fund_insurance(d, owner, owed * fund_share // 100 + (1 if fund_share == 100 else 0))
    surplus = d.insurance_fund.surplus()
    tx = ch.payFunding(amm, {"from": rando})
    assert event(tx, "FundingPaid")["premiumFraction"] == pf and (pf < 0) == (receivers == "longs")
    paid = min(owed, surplus)
    f = ch.getFunding(amm)
    payers, takers = (short_size, long_size) if receivers == "longs" else (long_size, short_size)
    if paid < owed:
        per_unit = (abs(pf) * payers + paid * 10**18) // takers
        assert event(tx, "FundingShortfall") == {"amm": amm.address, "owedToReceivers": owed, "paid": paid}
        expected = (-per_unit, pf) if receivers == "longs" else (pf, per_unit)
    else:
        assert "FundingShortfall" not in tx.events
        expected = (pf, pf)
    assert (f["cumulativeLong"], f["cumulativeShort"]) == expected
    assert (f["longSize"], f["shortSize"]) == (long_size, short_size)
    assert not amm.isShutdown()
    received, payments = 0, 0
    for t in (alice, bob, carol):
        size, _, _, last = ch.getPosition(amm, t)
        own = f["cumulativeLong"] if size > 0 else f["cumulativeShort"]
        funding = event(ch.closePosition(amm, 0, {"from": t}), "PositionChanged")["fundingPayment"]
        assert funding == mul(own - last, size)
        if funding > 0:
            payments += funding
        else:
            received -= funding
    # each payment rounds toward zero (v1's numbers): the receivers' sum is at most floor(|pf| x their size), which
    # is at most the payers' floor plus the fund's floor plus one wei; that wei comes out of the market's booked
    # collateral (its pool dust) or the fund's prepayment, and the reconciliation below checks every token
    assert payments == mul(abs(pf), payers) and received <= payments + paid + 1
    assert ch.getMarket(amm)[1] >= 0
    assert_reconciles(d, [alice, bob, carol, owner, rando], exact=True)
