"""Liquidation: healthy positions are refused, full and partial liquidations pay v1's fees to the wei, bad debt is
paid by the InsuranceFund, and the oracle rule protects a position that only looks bad at a distorted spot.

Expected numbers follow Perpetual Protocol v1's final release `ClearingHouse.liquidate`: the full close
(`internalClosePosition`, liquidator fee = exchanged notional × liquidationFeeRatio / 2, the rest of the margin to
the InsuranceFund, the fund paying bad debt), the partial close (`openReversePosition` of partialLiquidationRatio
of the size at leverage 1, penalty = exchanged notional × liquidationFeeRatio split half/half) and the oracle rule
(when spot is ≥ 10 % from the oracle, the oracle-based margin ratio is taken if higher).
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import (
    WAD,
    MarkHistory,
    assert_reconciles,
    at,
    event,
    latest_ts,
    margin_ratio,
    set_index,
    unrealized_pnl,
)
from tests.trading import div, input_price, mul, output_price, spot_price

PARTIAL_CONFIG = {
    "init_margin_ratio": wad("0.1"),
    "maintenance_margin_ratio": wad("0.0625"),
    "liquidation_fee_ratio": wad("0.025"),
    "partial_liquidation_ratio": wad("0.25"),
}


# ------------------------------------------------------------------------------------------------ helpers
def fund_accounts(d: Any, accounts: list[Any], amount: int) -> None:
    for a in accounts:
        d.quote_token.mint(a, amount, {"from": a})
        d.quote_token.approve(d.vault, amount, {"from": a})
        d.vault.deposit(amount, {"from": a})


def fund_insurance(d: Any, payer: Any, amount: int) -> None:
    d.quote_token.mint(payer, amount, {"from": payer})
    d.quote_token.approve(d.insurance_fund, amount, {"from": payer})
    d.insurance_fund.deposit(amount, {"from": payer})


def move_market(d: Any, mover: Any, side: int, notional: int) -> None:
    """`mover` trades `notional` at 10x; 15 minutes pass so that the mark TWAP equals the spot; the oracle
    follows the spot (so the oracle rule stays out of the way)."""
    d.clearing_house.openPosition(d.amm, side, notional // 10, wad(10), 0, {"from": mover})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], d.amm.getSpotPrice(), d.owner)


def snapshot(d: Any, people: list[Any]) -> dict[str, Any]:
    ch, amm = d.clearing_house, d.amm
    return {
        "positions": [tuple(ch.getPosition(amm, p)) for p in people],
        "free": [d.vault.balanceOfWad(p) for p in people],
        "fund": d.insurance_fund.fundBalance(),
        "market": tuple(ch.getMarket(amm)),
        "reserves": tuple(amm.getReserve()),
    }


def expected_full_liquidation(d: Any, trader: Any, fee_ratio: int) -> dict[str, int]:
    """v1's full liquidation of `trader` at the current reserves, settling the funding owed."""
    size, margin, open_notional, last_cumulative = d.clearing_house.getPosition(d.amm, trader)
    funding = mul(d.clearing_house.getLatestCumulativePremiumFraction(d.amm) - last_cumulative, size)
    q, b = d.amm.getReserve()
    exchanged = output_price(size > 0, abs(size), q, b)
    pnl = unrealized_pnl(size, open_notional, exchanged)
    remain = margin + pnl - funding
    bad_debt = -remain if remain < 0 else 0
    remain = max(remain, 0)
    fee = exchanged * fee_ratio // WAD // 2
    liquidation_bad_debt = fee - remain if fee > remain else 0
    to_fund = remain - fee if fee <= remain else 0
    q_after, b_after = (q - exchanged, b + size) if size > 0 else (q + exchanged, b - abs(size))
    return {
        "size": size,
        "margin": margin,
        "exchanged": exchanged,
        "pnl": pnl,
        "fee": fee,
        "funding": funding,
        "bad_debt": bad_debt,
        "liquidation_bad_debt": liquidation_bad_debt,
        "to_fund": to_fund,
        "fund_delta": to_fund - bad_debt - liquidation_bad_debt,
        "spot_after": spot_price(q_after, b_after),
    }


def check_full_liquidation(d: Any, tx: Any, trader: Any, liquidator: Any, e: dict[str, int]) -> None:
    assert event(tx, "PositionLiquidated") == {
        "trader": trader.address,
        "amm": d.amm.address,
        "positionNotional": e["exchanged"],
        "positionSize": abs(e["size"]),
        "liquidationFee": e["fee"],
        "liquidator": liquidator.address,
        "badDebt": e["liquidation_bad_debt"],
    }
    assert event(tx, "PositionChanged") == {
        "trader": trader.address,
        "amm": d.amm.address,
        "margin": 0,
        "positionNotional": e["exchanged"],
        "exchangedPositionSize": -e["size"],
        "fee": 0,
        "positionSizeAfter": 0,
        "realizedPnl": e["pnl"],
        "unrealizedPnlAfter": 0,
        "badDebt": e["bad_debt"],
        "liquidationPenalty": e["margin"],
        "spotPrice": e["spot_after"],
        "fundingPayment": e["funding"],
    }
    assert tuple(d.clearing_house.getPosition(d.amm, trader)) == (0, 0, 0, 0)


# ================================================================================================ healthy
def test_healthy_position_cannot_be_liquidated(protocol, alice, carol, owner):
    d = protocol
    fund_accounts(d, [alice], wad(100))
    d.clearing_house.openPosition(d.amm, BUY, wad(25), wad(10), 0, {"from": alice})
    assert d.clearing_house.getMarginRatio(d.amm, alice) == wad("0.1")
    before = snapshot(d, [alice, carol])
    with reverts_with("MarginRatioHealthy", wad("0.1"), wad("0.05")):
        d.clearing_house.liquidate(d.amm, alice, {"from": carol})
    assert snapshot(d, [alice, carol]) == before
    with reverts_with("NoPosition"):
        d.clearing_house.liquidate(d.amm, carol, {"from": alice})


def test_under_maintenance_at_spot_but_not_at_twap_waits_for_the_twap(protocol, alice, bob, carol):
    """The margin ratio takes the more favourable of spot and the 15-minute TWAP."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    chain.sleep(900)
    ch.openPosition(amm, SELL, wad("4.5"), wad(10), 0, {"from": bob})
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), d.owner)
    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    assert margin_ratio(margin, unrealized_pnl(size, open_notional, output_price(True, size, q, b)), 0, output_price(True, size, q, b)) < wad("0.05")
    with reverts_with("MarginRatioHealthy"):
        ch.liquidate(amm, alice, {"from": carol})
    chain.sleep(900)
    ch.liquidate(amm, alice, {"from": carol})
    assert ch.getPosition(amm, alice)[0] == 0


@pytest.mark.xfail(
    reason="BUG: v1 deviation (README 'TWAP notional'): while the TWAP lags, v1's margin ratio values the position "
    "at getOutputTwap (the walk over each snapshot's output amount), this protocol at spot notional x TWAP / spot; "
    "alice long 25 at 10x, a 45-notional short 600 s later, read 100 s after that: getMarginRatio "
    "92846634834275569 vs v1 87495099930727787",
    strict=True,
)
def test_margin_ratio_while_the_twap_lags_matches_v1(protocol, alice, bob):
    d = protocol
    ch, amm = d.clearing_house, d.amm
    fund_accounts(d, [alice, bob], wad(1_000))
    hist = MarkHistory.of(amm, wad(1_000), wad(100))
    t0 = latest_ts() + 10
    at(t0)
    tx = ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    hist.record(amm, tx.block_number)
    at(t0 + 600)
    tx = ch.openPosition(amm, SELL, wad("4.5"), wad(10), 0, {"from": bob})
    hist.record(amm, tx.block_number)
    at(t0 + 700)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), d.owner)
    now = latest_ts()
    assert now == t0 + 700

    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    spot_notional = output_price(True, size, q, b)
    spot_pnl = unrealized_pnl(size, open_notional, spot_notional)
    twap_notional = hist.output_twap(size, now)
    twap_pnl = unrealized_pnl(size, open_notional, twap_notional)
    assert twap_pnl > spot_pnl  # MAX_PNL takes the TWAP
    v1_ratio = margin_ratio(margin, twap_pnl, 0, twap_notional)
    ours = ch.getMarginRatio(amm, alice)
    assert ours == v1_ratio, f"getMarginRatio {ours} vs v1 {v1_ratio}"


# ================================================================================================ full
@pytest.mark.parametrize(
    "side, crash_side, crash_notional",
    [(BUY, SELL, wad(45)), (SELL, BUY, wad(19))],
    ids=["long", "short"],
)
def test_full_liquidation(protocol, alice, bob, carol, owner, side, crash_side, crash_notional):
    d = protocol
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, side, wad(25), wad(10), 0, {"from": alice})
    move_market(d, bob, crash_side, crash_notional)

    ratio = ch.getMarginRatio(amm, alice)
    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    notional = output_price(size > 0, abs(size), q, b)
    assert ratio == margin_ratio(margin, unrealized_pnl(size, open_notional, notional), 0, notional)
    assert 0 < ratio < wad("0.05")

    e = expected_full_liquidation(d, alice, wad("0.05"))
    assert e["to_fund"] > 0 and e["bad_debt"] == e["liquidation_bad_debt"] == 0
    free_alice, free_carol, fund_before = vault.balanceOfWad(alice), vault.balanceOfWad(carol), fund.fundBalance()
    collateral_before = ch.getMarket(amm)[1]
    tx = ch.liquidate(amm, alice, {"from": carol})

    check_full_liquidation(d, tx, alice, carol, e)
    assert vault.balanceOfWad(carol) - free_carol == e["fee"]
    assert fund.fundBalance() - fund_before == e["to_fund"]
    assert vault.balanceOfWad(alice) == free_alice
    assert collateral_before - ch.getMarket(amm)[1] == e["margin"] + e["pnl"]
    assert event(tx, "RestrictionModeEntered") == {"amm": amm.address, "blockNumber": tx.block_number}

    ch.closePosition(amm, 0, {"from": bob})
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


def test_full_liquidation_settles_the_funding_owed(protocol, alice, bob, carol, owner):
    d = protocol
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    fund_accounts(d, [alice, bob], wad(1_000))
    fund_insurance(d, owner, wad(100))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    set_index(d.aggregators["ETH"], wad(10), owner)  # the mark (15.6) far above the index: longs pay
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    ch.payFunding(amm, {"from": carol})
    assert ch.getLatestCumulativePremiumFraction(amm) > 0
    move_market(d, bob, SELL, wad(40))
    assert ch.getMarginRatio(amm, alice) < wad("0.05")

    e = expected_full_liquidation(d, alice, wad("0.05"))
    assert e["funding"] > 0 and e["to_fund"] > 0
    free_carol, fund_before = vault.balanceOfWad(carol), fund.fundBalance()
    tx = ch.liquidate(amm, alice, {"from": carol})
    check_full_liquidation(d, tx, alice, carol, e)  # liquidationPenalty: the stored margin, before funding
    assert vault.balanceOfWad(carol) - free_carol == e["fee"]
    assert fund.fundBalance() - fund_before == e["to_fund"]
    ch.closePosition(amm, 0, {"from": bob})
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


# ================================================================================================ partial
def test_partial_liquidation(owner, alice, bob, carol):
    d = deploy_protocol(PARTIAL_CONFIG, owner)
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    fee_ratio, part = wad("0.025"), wad("0.25")
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    move_market(d, bob, SELL, wad(40))

    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    old_notional = output_price(True, size, q, b)
    pnl = unrealized_pnl(size, open_notional, old_notional)
    spot_ratio = margin_ratio(margin, pnl, 0, old_notional)
    assert fee_ratio < spot_ratio < wad("0.0625")
    assert ch.getMarginRatio(amm, alice) == spot_ratio

    # v1: close partialLiquidationRatio of the size as a reverse trade at leverage 1
    notional = output_price(True, abs(mul(size, part)), q, b)
    base = input_price(False, notional, q, b)
    realized = div(mul(pnl, base), abs(size))
    remain_margin = margin + realized
    unrealized_after = pnl - realized
    remain_open_notional = old_notional - notional - unrealized_after
    penalty = notional * fee_ratio // WAD
    to_liquidator = penalty // 2

    free_carol, fund_before, collateral_before = vault.balanceOfWad(carol), fund.fundBalance(), ch.getMarket(amm)[1]
    tx = ch.liquidate(amm, alice, {"from": carol})
    assert event(tx, "PositionLiquidated") == {
        "trader": alice.address,
        "amm": amm.address,
        "positionNotional": notional,
        "positionSize": base,
        "liquidationFee": to_liquidator,
        "liquidator": carol.address,
        "badDebt": 0,
    }
    assert event(tx, "PositionChanged") == {
        "trader": alice.address,
        "amm": amm.address,
        "margin": remain_margin - penalty,
        "positionNotional": notional,
        "exchangedPositionSize": -base,
        "fee": 0,
        "positionSizeAfter": size - base,
        "realizedPnl": realized,
        "unrealizedPnlAfter": unrealized_after,
        "badDebt": 0,
        "liquidationPenalty": penalty,
        "spotPrice": spot_price(q - notional, b + base),
        "fundingPayment": 0,
    }
    assert tuple(ch.getPosition(amm, alice)) == (size - base, remain_margin - penalty, remain_open_notional, 0)
    assert abs(size - base - (size - mul(size, part))) <= 1  # a quarter of the size, up to the pool's rounding
    assert vault.balanceOfWad(carol) - free_carol == to_liquidator
    assert fund.fundBalance() - fund_before == penalty - to_liquidator
    assert collateral_before - ch.getMarket(amm)[1] == penalty

    ch.closePosition(amm, 0, {"from": alice})
    ch.closePosition(amm, 0, {"from": bob})
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


# ================================================================================================ bad debt
@pytest.mark.parametrize(
    "crash_notional, case",
    [(wad(100), "underwater"), (wad(62), "margin below the fee")],
    ids=["underwater", "margin-below-fee"],
)
def test_liquidation_with_bad_debt_paid_by_the_insurance_fund(protocol, alice, bob, carol, owner, crash_notional, case):
    d = protocol
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    fund_accounts(d, [alice, bob], wad(1_000))
    fund_insurance(d, owner, wad(100))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    move_market(d, bob, SELL, crash_notional)
    assert ch.getMarginRatio(amm, alice) < wad("0.05")

    e = expected_full_liquidation(d, alice, wad("0.05"))
    if case == "underwater":
        # v1: the whole margin and more is lost; the fund pays the bad debt and the liquidator's whole fee
        assert e["bad_debt"] > 0 and e["liquidation_bad_debt"] == e["fee"]
    else:
        # the margin left is positive but below the fee: the fund pays the rest of the fee (v1 also sent that
        # margin to the fund, counting it twice; README: here the fund pays only the shortfall)
        assert e["bad_debt"] == 0 and 0 < e["liquidation_bad_debt"] < e["fee"]
    fund_before, free_carol, collateral_before = fund.fundBalance(), vault.balanceOfWad(carol), ch.getMarket(amm)[1]
    tx = ch.liquidate(amm, alice, {"from": carol})

    check_full_liquidation(d, tx, alice, carol, e)
    assert "MarketHalted" not in tx.events
    assert vault.balanceOfWad(carol) - free_carol == e["fee"]
    assert fund.fundBalance() - fund_before == e["fund_delta"] == -(e["bad_debt"] + e["liquidation_bad_debt"])
    # the remaining margin leaves the market, the bad debt the fund paid enters it
    assert ch.getMarket(amm)[1] - collateral_before == e["bad_debt"] - max(e["margin"] + e["pnl"], 0)
    assert_reconciles(d, [alice, bob, carol, owner], exact=False)

    # the winner is paid in full and everyone can withdraw
    size, margin, open_notional, _ = ch.getPosition(amm, bob)
    q, b = amm.getReserve()
    pnl = unrealized_pnl(size, open_notional, output_price(False, abs(size), q, b))
    free_bob = vault.balanceOfWad(bob)
    ch.closePosition(amm, 0, {"from": bob})
    assert vault.balanceOfWad(bob) - free_bob == margin + pnl
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)
    for who in (alice, bob, carol):
        vault.withdraw(vault.balanceOf(who), {"from": who})
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


# ================================================================================================ oracle
def test_oracle_rule_protects_a_position_healthy_at_the_oracle(protocol, alice, bob, carol):
    d = protocol
    ch, amm, agg = d.clearing_house, d.amm, d.aggregators["ETH"]
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    oracle = amm.getSpotPrice()  # 15.625: the oracle agrees with the price alice bought at
    set_index(agg, oracle, d.owner)
    ch.openPosition(amm, SELL, wad("4.5"), wad(10), 0, {"from": bob})  # a distorted spot, 7.5 % below
    chain.sleep(900)
    spot_now = amm.getSpotPrice()

    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    spot_notional = output_price(True, size, q, b)
    spot_ratio = margin_ratio(margin, unrealized_pnl(size, open_notional, spot_notional), 0, spot_notional)
    assert spot_ratio < wad("0.05")

    # spot >= 10 % below the oracle, and the oracle-based ratio is higher: the oracle's ratio counts
    set_index(agg, spot_now * 112 // 100, d.owner)
    assert amm.isOverSpreadLimit()
    oracle_price = amm.getUnderlyingPrice()
    oracle_notional = mul(abs(size), oracle_price)
    oracle_ratio = margin_ratio(margin, unrealized_pnl(size, open_notional, oracle_notional), 0, oracle_notional)
    assert oracle_ratio >= wad("0.05")
    assert ch.getMarginRatio(amm, alice) == oracle_ratio
    with reverts_with("MarginRatioHealthy", oracle_ratio, wad("0.05")):
        ch.liquidate(amm, alice, {"from": carol})

    # just under 10 % apart: the oracle is not consulted, the spot/TWAP ratio rules
    set_index(agg, spot_now * 109 // 100, d.owner)
    assert not amm.isOverSpreadLimit()
    assert ch.getMarginRatio(amm, alice) == spot_ratio
    e = expected_full_liquidation(d, alice, wad("0.05"))
    tx = ch.liquidate(amm, alice, {"from": carol})
    check_full_liquidation(d, tx, alice, carol, e)


def test_partial_setting_falls_back_to_full_below_the_fee_ratio(owner, alice, bob, carol):
    """v1: a partial liquidation needs the spot margin ratio above liquidationFeeRatio; below, the position is
    closed whole, with the full liquidation's fee."""
    d = deploy_protocol(PARTIAL_CONFIG, owner)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    move_market(d, bob, SELL, wad(55))
    ratio = ch.getMarginRatio(amm, alice)
    assert 0 < ratio < wad("0.025")
    e = expected_full_liquidation(d, alice, wad("0.025"))
    assert e["to_fund"] > 0
    free_carol = vault.balanceOfWad(carol)
    tx = ch.liquidate(amm, alice, {"from": carol})
    check_full_liquidation(d, tx, alice, carol, e)
    assert vault.balanceOfWad(carol) - free_carol == e["fee"]
