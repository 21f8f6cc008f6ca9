"""Funding: the schedule, the rate to the wei against v1's TWAP walks, both directions, the traders' payments
settled on their next action, the InsuranceFund's side of the imbalance, the optional clamp, and the gas of
`payFunding` whatever the number of trades in the period.

Expected numbers follow Perpetual Protocol v1's final release: `Amm.settleFunding` (premium = mark TWAP − index
TWAP, premiumFraction = premium × period / 1 day truncated toward zero, rate =
premiumFraction / index TWAP), the mark TWAP by v1's walk over per-block reserve snapshots, the index TWAP by
v1's walk over the Chainlink rounds, and `ClearingHouse.payFunding` (the pool's side premiumFraction ×
totalPositionSize to or from the InsuranceFund). The windows: the index TWAP spans the funding period; the mark
TWAP the funding window, from the last settlement (or, after the opening, nextFundingTime − period) to now, which
is v1's last period whenever funding is settled on time (README "Funding window"). Hours of 2-second blocks, a
one-block spike and a wrapped observation ring: tests/security/test_mark_twap.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import web3

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import (
    ONE_HOUR,
    WAD,
    MarkHistory,
    aggregator_rounds,
    assert_reconciles,
    at,
    event,
    expected_funding,
    index_twap,
    join_confirmations,
    latest_ts,
    next_funding_after_settlement,
    next_funding_on_open,
    set_index,
    unrealized_pnl,
)
from tests.trading import mul, output_price

PERIOD = 3_600
GAS = 1_500_000  # explicit gas limit: lets a transaction revert on chain at an exact timestamp


@pytest.fixture(scope="module")
def traders(protocol, fund_trader, alice, bob, carol):
    for t in (alice, bob, carol):
        fund_trader(t, wad(10_000))
    return [alice, bob, carol]


def fund_insurance(d: Any, payer: Any, amount: int) -> None:
    d.quote_token.mint(payer, amount, {"from": payer})
    d.quote_token.approve(d.insurance_fund, amount, {"from": payer})
    d.insurance_fund.deposit(amount, {"from": payer})


def reopen_at(amm: Any, owner: Any, ts: int) -> Any:
    amm.setOpen(False, {"from": owner})
    at(ts)
    return amm.setOpen(True, {"from": owner})


def trade(hist: MarkHistory, ch: Any, amm: Any, ts: int, trader: Any, side: int, margin: int, leverage: int) -> Any:
    at(ts)
    tx = ch.openPosition(amm, side, margin, leverage, 0, {"from": trader})
    hist.record(amm, tx.block_number)
    return tx


def funding_state(d: Any) -> tuple[Any, ...]:
    amm, ch = d.amm, d.clearing_house
    return (
        amm.nextFundingTime(),
        amm.fundingRate(),
        ch.getLatestCumulativePremiumFraction(amm),
        d.insurance_fund.fundBalance(),
        ch.getMarket(amm),
    )


# ================================================================================================ schedule
def test_next_funding_time_when_the_market_opens(protocol, owner):
    amm = protocol.amm
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    for opened_at in (hour + 1, hour + 1_799, hour + 3_599, hour + 2 * ONE_HOUR):
        reopen_at(amm, owner, opened_at)
        assert amm.nextFundingTime() == next_funding_on_open(opened_at, PERIOD) == opened_at // ONE_HOUR * ONE_HOUR + PERIOD


def test_funding_schedule_with_a_ninety_minute_period(owner):
    d = deploy_protocol({"funding_period": 5_400}, owner)
    amm, ch = d.amm, d.clearing_house
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    reopen_at(amm, owner, hour + 1_000)  # (t + 5400) // 3600 * 3600 = hour + 3600
    assert amm.nextFundingTime() == next_funding_on_open(hour + 1_000, 5_400) == hour + 3_600
    reopen_at(amm, owner, hour + 4_000)
    nxt = amm.nextFundingTime()
    assert nxt == next_funding_on_open(hour + 4_000, 5_400) == hour + 7_200
    # settled on time: the hour start after next + period wins over now + period / 2
    at(nxt)
    ch.payFunding(amm, {"from": owner})
    assert amm.nextFundingTime() == next_funding_after_settlement(nxt, nxt, 5_400) == (nxt + 5_400) // 3_600 * 3_600
    # settled late: now + period / 2 wins
    nxt2 = amm.nextFundingTime()
    at(nxt2 + 3_000)
    ch.payFunding(amm, {"from": owner})
    assert amm.nextFundingTime() == next_funding_after_settlement(nxt2, nxt2 + 3_000, 5_400) == nxt2 + 3_000 + 2_700


# ================================================================================================ rate
def test_funding_both_directions_to_the_wei(protocol, traders, owner, rando, alice, bob, carol):
    d = protocol
    amm, ch, vault, fund, agg = d.amm, d.clearing_house, d.vault, d.insurance_fund, d.aggregators["ETH"]
    fund_insurance(d, owner, wad(1_000))
    hist = MarkHistory.of(amm, wad(1_000), wad(100))

    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    reopen_at(amm, owner, hour + 120)
    first = amm.nextFundingTime()
    assert first == next_funding_on_open(hour + 120, PERIOD) == hour + PERIOD
    assert amm.fundingWindowStart() == first - PERIOD  # v1's window for an on-time settlement

    # ---- period 1: the mark above the index, longs pay shorts
    trade(hist, ch, amm, hour + 300, alice, BUY, wad(60), wad(2))
    trade(hist, ch, amm, hour + 900, bob, SELL, wad(50), wad(2))
    at(hour + 1_500)
    set_index(agg, wad("9.8"), owner)
    trade(hist, ch, amm, hour + 2_000, carol, BUY, wad(20), wad(3))
    at(hour + 2_600)
    set_index(agg, wad("10.5"), owner)
    # two trades in one block: v1 keeps one snapshot per block, with the reserves after the block
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        tx_a = ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice, "gas_limit": GAS, "required_confs": 0})
        tx_b = ch.openPosition(amm, SELL, wad(5), wad(2), 0, {"from": bob, "gas_limit": GAS, "required_confs": 0})
        at(hour + 3_300)
        web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    tx_a.wait(1)
    tx_b.wait(1)
    join_confirmations()
    assert tx_a.status == tx_b.status == 1 and tx_a.block_number == tx_b.block_number
    hist.record(amm, tx_b.block_number)

    # one second early: FundingTooEarly, nothing changes
    before = funding_state(d)
    at(first - 1)
    with reverts_with("FundingTooEarly", first - 1, first):
        ch.payFunding(amm, {"from": rando, "gas_limit": GAS})
    assert funding_state(d) == before

    # on time, by anyone
    fund_before = fund.fundBalance()
    at(first)
    tx = ch.payFunding(amm, {"from": rando})
    f1 = expected_funding(hist.twap(first, PERIOD), index_twap(aggregator_rounds(agg), first, PERIOD), PERIOD)
    assert f1.mark_twap > f1.index_twap and f1.premium_fraction > 0
    assert amm.getTwapPrice(PERIOD) == f1.mark_twap  # same block, no trade since
    assert amm.getUnderlyingTwapPrice(PERIOD) == f1.index_twap
    assert event(tx, "FundingRateUpdated") == {"rate": f1.rate, "underlyingPrice": f1.index_twap}
    assert amm.fundingRate() == f1.rate
    assert ch.getLatestCumulativePremiumFraction(amm) == f1.premium_fraction
    total = amm.totalPositionSize()
    assert total > 0
    pool_pnl1 = mul(f1.premium_fraction, total)
    assert fund.fundBalance() - fund_before == pool_pnl1 > 0
    assert vault.balanceOfWad(fund) == fund.fundBalance()
    assert event(tx, "FundingPaid") == {
        "amm": amm.address,
        "premiumFraction": f1.premium_fraction,
        "cumulativePremiumFraction": f1.premium_fraction,
        "insuranceFundPnl": pool_pnl1,
    }
    second = amm.nextFundingTime()
    assert second == next_funding_after_settlement(first, first, PERIOD) == first + PERIOD

    # once per period
    at(first + 1)
    with reverts_with("FundingTooEarly", first + 1, second):
        ch.payFunding(amm, {"from": owner, "gas_limit": GAS})

    # ---- traders settle period 1 on their next action
    at(first + 100)
    set_index(agg, wad(20), owner)  # period 2: the index above the mark, shorts pay longs
    size_a, margin_a, _, last_a = ch.getPosition(amm, alice)
    assert last_a == 0
    fp_a = mul(f1.premium_fraction, size_a)
    assert fp_a > 0  # a long pays
    tx = trade(hist, ch, amm, first + 400, alice, BUY, wad(10), wad(2))
    ev = event(tx, "PositionChanged")
    assert ev["fundingPayment"] == fp_a
    assert ev["margin"] == margin_a + wad(10) - fp_a
    assert ch.getPosition(amm, alice)[1] == margin_a + wad(10) - fp_a
    assert ch.getPosition(amm, alice)[3] == f1.premium_fraction

    size_b, margin_b, _, _ = ch.getPosition(amm, bob)
    fp_b = mul(f1.premium_fraction, size_b)
    assert fp_b < 0  # a short receives
    at(first + 900)
    tx = ch.removeMargin(amm, wad(5), {"from": bob})
    assert event(tx, "MarginChanged") == {"trader": bob.address, "amm": amm.address, "amount": -wad(5), "fundingPayment": fp_b}
    assert ch.getPosition(amm, bob)[1] == margin_b - wad(5) - fp_b
    at(first + 1_400)
    set_index(agg, wad(19), owner)

    # ---- period 2, settled late: next = max(hour start after next + period, now + period / 2); the mark TWAP
    # spans the whole window since the last settlement, [first, late] (v1: the last hour), the index TWAP the period
    late = second + 2_500
    fund_before = fund.fundBalance()
    assert amm.fundingWindowStart() == first
    at(late)
    tx = ch.payFunding(amm, {"from": carol})
    f2 = expected_funding(hist.twap(late, late - first), index_twap(aggregator_rounds(agg), late, PERIOD), PERIOD)
    assert f2.mark_twap != hist.twap(late, PERIOD)  # the late seconds count, and so do the first ones
    assert f2.mark_twap < f2.index_twap and f2.premium_fraction < 0
    assert event(tx, "FundingRateUpdated") == {"rate": f2.rate, "underlyingPrice": f2.index_twap}
    cumulative = f1.premium_fraction + f2.premium_fraction
    assert ch.getLatestCumulativePremiumFraction(amm) == cumulative
    total = amm.totalPositionSize()
    pool_pnl2 = mul(f2.premium_fraction, total)
    assert pool_pnl2 < 0  # traders are net long and longs now receive: the InsuranceFund pays
    assert fund.fundBalance() - fund_before == pool_pnl2
    assert amm.nextFundingTime() == next_funding_after_settlement(second, late, PERIOD) == late + PERIOD // 2

    # ---- everyone closes: each settles the funding since their last action
    expected = {
        carol: cumulative,  # untouched since opening in period 1
        alice: f2.premium_fraction,  # settled period 1 when increasing
        bob: f2.premium_fraction,  # settled period 1 when removing margin
    }
    for i, trader in enumerate((bob, carol, alice)):
        size, margin, open_notional, _ = ch.getPosition(amm, trader)
        q, b = amm.getReserve()
        pnl = unrealized_pnl(size, open_notional, output_price(size > 0, abs(size), q, b))
        fp = mul(expected[trader], size)
        free_before = vault.balanceOfWad(trader)
        at(late + 60 * (i + 1))
        tx = ch.closePosition(amm, 0, {"from": trader})
        ev = event(tx, "PositionChanged")
        assert ev["fundingPayment"] == fp
        assert ev["realizedPnl"] == pnl
        assert ev["margin"] == 0 and ev["positionSizeAfter"] == 0
        assert vault.balanceOfWad(trader) - free_before == margin + pnl - fp
    assert_reconciles(d, [alice, bob, carol, owner, rando], exact=True)


def test_max_funding_rate_clamps_both_directions(owner, alice, bob):
    max_rate = 10**15  # 0.1 % per period
    d = deploy_protocol({"max_funding_rate": max_rate}, owner)
    amm, ch, agg = d.amm, d.clearing_house, d.aggregators["ETH"]
    assert amm.maxFundingRate() == max_rate
    fund_insurance(d, owner, wad(1_000))
    for t in (alice, bob):
        d.quote_token.mint(t, wad(10_000), {"from": t})
        d.quote_token.approve(d.vault, wad(10_000), {"from": t})
        d.vault.deposit(wad(10_000), {"from": t})
    hist = MarkHistory.of(amm, wad(1_000), wad(100))
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    reopen_at(amm, owner, hour + 10)

    # the mark far above the index: the premium fraction is capped at +indexTwap × maxFundingRate
    trade(hist, ch, amm, hour + 60, alice, BUY, wad(100), wad(5))
    nxt = amm.nextFundingTime()
    at(nxt)
    tx = ch.payFunding(amm, {"from": bob})
    free = expected_funding(hist.twap(nxt, PERIOD), index_twap(aggregator_rounds(agg), nxt, PERIOD), PERIOD)
    capped = expected_funding(free.mark_twap, free.index_twap, PERIOD, max_rate)
    cap = free.index_twap * max_rate // WAD
    assert free.premium_fraction > cap
    assert capped.premium_fraction == cap
    assert ch.getLatestCumulativePremiumFraction(amm) == cap
    assert event(tx, "FundingRateUpdated") == {"rate": capped.rate, "underlyingPrice": free.index_twap}
    assert 0 < amm.fundingRate() == capped.rate <= max_rate

    # the index far above the mark: capped at −indexTwap × maxFundingRate
    at(nxt + 10)
    set_index(agg, wad(40), owner)
    nxt2 = amm.nextFundingTime()
    at(nxt2)
    tx = ch.payFunding(amm, {"from": bob})
    free2 = expected_funding(hist.twap(nxt2, PERIOD), index_twap(aggregator_rounds(agg), nxt2, PERIOD), PERIOD)
    capped2 = expected_funding(free2.mark_twap, free2.index_twap, PERIOD, max_rate)
    cap2 = free2.index_twap * max_rate // WAD
    assert free2.premium_fraction < -cap2
    assert capped2.premium_fraction == -cap2
    assert ch.getLatestCumulativePremiumFraction(amm) == cap - cap2
    assert event(tx, "FundingRateUpdated") == {"rate": capped2.rate, "underlyingPrice": free2.index_twap}
    assert -max_rate <= amm.fundingRate() == capped2.rate < 0


# ================================================================================================ gas
def _trade_through_period(ch: Any, amm: Any, longs: Any, shorts: Any, count: int) -> Any:
    """`count` trades at exact times, each in its own block, spread over the period (the pool stays net long),
    then `payFunding` exactly at the next funding time."""
    nxt = amm.nextFundingTime()
    start = nxt - PERIOD + 30
    step = (PERIOD - 60) // count
    for i in range(count):
        at(start + i * step)
        if i % 2 == 0:
            ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": longs})
        else:
            ch.openPosition(amm, SELL, wad(1), wad(1), 0, {"from": shorts})
    at(nxt)
    return ch.payFunding(amm, {"from": longs})


def test_pay_funding_gas_does_not_grow_with_trades(protocol, traders, owner, alice, bob):
    d = protocol
    amm, ch = d.amm, d.clearing_house
    fund_insurance(d, owner, wad(100))
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    reopen_at(amm, owner, hour)
    # warm-up period: every storage slot payFunding writes becomes non-zero
    _trade_through_period(ch, amm, alice, bob, 3)
    one = _trade_through_period(ch, amm, alice, bob, 1)
    many = _trade_through_period(ch, amm, alice, bob, 200)

    # both periods take the same branch: mark above index, pool net long, the InsuranceFund earns
    assert one.events["FundingPaid"]["insuranceFundPnl"] > 0
    assert many.events["FundingPaid"]["insuranceFundPnl"] > 0
    print(f"payFunding gas: after 1 trade {one.gas_used}, after 200 trades {many.gas_used}")
    assert abs(many.gas_used - one.gas_used) <= one.gas_used * 2 // 100


def test_funding_rate_after_more_trading_blocks_than_the_ring_holds(protocol, traders, owner, alice, bob):
    """v1 walks every reserve snapshot of the period; 300 trading blocks in one hour is ordinary on a 5-second
    chain (720 blocks an hour): the rate is v1's to the wei (1,800 blocks: tests/security/test_mark_twap.py)."""
    d = protocol
    amm, ch, agg = d.amm, d.clearing_house, d.aggregators["ETH"]
    fund_insurance(d, owner, wad(100))
    hist = MarkHistory.of(amm, wad(1_000), wad(100))
    hour = (latest_ts() // ONE_HOUR + 1) * ONE_HOUR
    reopen_at(amm, owner, hour)
    nxt = amm.nextFundingTime()
    for i in range(300):
        side, trader, leverage = (BUY, alice, wad(2)) if i % 2 == 0 else (SELL, bob, wad(1))
        trade(hist, ch, amm, hour + 10 + 11 * i, trader, side, wad(1), leverage)
    at(nxt)
    tx = ch.payFunding(amm, {"from": owner})
    f = expected_funding(hist.twap(nxt, PERIOD), index_twap(aggregator_rounds(agg), nxt, PERIOD), PERIOD)
    assert amm.getTwapPrice(900) == hist.twap(nxt, 900)
    assert event(tx, "FundingRateUpdated") == {"rate": f.rate, "underlyingPrice": f.index_twap}
    assert amm.getTwapPrice(PERIOD) == f.mark_twap
    assert ch.getLatestCumulativePremiumFraction(amm) == f.premium_fraction
