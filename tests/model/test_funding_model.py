"""The reference model's funding (SPEC §3 "Funding", "Continuous funding", "Funding never halts"), no chain.

Periodic (v1): the whole period's premium is applied to the sizes held at payFunding. Continuous: a position pays
or receives for the seconds it is held, at the rate fixed at the last settlement. In both, the InsuranceFund pays
the pool's side of the imbalance out of its surplus and the receivers share what it cannot pay.

Run: .venv/bin/python -m pytest tests/model -q -p no:pytest-brownie --noconftest
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.model.protocol_model import (
    FUNDING_BUDGET_PERIODS,
    WAD,
    ModelError,
    Protocol,
    Side,
    Tx,
    ceil_div,
    div_toward_zero,
    mul,
)

W = WAD
MARKET = "ETH"
T0 = 1_444_003_200  # on the hour
PERIOD = 3_600


def _protocol(continuous: bool, fund: int = 10_000 * W, **pool: Any) -> Protocol:
    protocol = Protocol(quote_decimals=18)
    protocol.add_market(MARKET, quote_reserve=1_000 * W, base_reserve=100 * W, tx=Tx(T0, 1),
                        funding_period=PERIOD, continuous_funding=continuous, **pool)
    for trader in ("alice", "bob", "carol"):
        protocol.deposit(trader, 10_000 * W)
    protocol.insurance_fund_deposit(fund)
    return protocol


def _book(protocol: Protocol, t: int) -> None:
    """alice long 100 notional, bob short 20 notional: the longs hold the larger side."""
    protocol.open_position(MARKET, "alice", Side.BUY, 50 * W, 2 * W, 0, t, 2)
    protocol.open_position(MARKET, "bob", Side.SELL, 10 * W, 2 * W, 0, t + 1, 3)


def _first_settlement(protocol: Protocol, index: int) -> tuple[int, dict[str, Any]]:
    """The index set at T0 + 10, the first settlement on time: returns its time and result."""
    protocol.set_index_price(MARKET, index, T0 + 10)
    t = protocol.market(MARKET).pool.next_funding_time
    return t, protocol.pay_funding(MARKET, t, 10)


# ================================================================================ never halts (both modes)
def test_periodic_funding_with_an_empty_fund_pays_the_receivers_what_the_payers_pay():
    protocol = _protocol(continuous=False, fund=0)
    _book(protocol, T0 + 5)
    market = protocol.market(MARKET)
    long_size, short_size = market.side_sizes()
    _, result = _first_settlement(protocol, 30 * W)  # index far above the mark: shorts pay, longs receive
    pf = result["premium_fraction"]
    assert pf < 0 and mul(pf, long_size - short_size) < 0  # the pool's side is a cost: the fund owes it
    assert result["shortfall"].paid == 0 and result["shortfall"].owed == -mul(pf, long_size - short_size)
    assert result["insurance_fund_delta"] == 0 and protocol.insurance_fund == 0
    # the longs receive the shorts' payment, spread over their size, rounded against them
    assert result["receivers_premium_fraction"] == -(-pf * short_size // long_size)
    assert result["cumulative_premium_fractions"] == (result["receivers_premium_fraction"], pf)
    received = -protocol.pending_funding_payment(MARKET, "alice")
    paid = protocol.pending_funding_payment(MARKET, "bob")
    assert 0 < received <= paid
    # nobody is left short: both close and the market keeps only dust
    protocol.close_position(MARKET, "bob", 0, T0 + 4_000, 11)
    protocol.close_position(MARKET, "alice", 0, T0 + 4_001, 12)
    assert 0 <= market.collateral < 10**6


def test_periodic_funding_takes_what_the_fund_can_pay_then_cuts_the_receivers():
    full = _protocol(continuous=False, fund=10_000 * W)
    _book(full, T0 + 5)
    _, paid_in_full = _first_settlement(full, 30 * W)
    owed = -paid_in_full["insurance_fund_delta"]
    assert paid_in_full["shortfall"] is None and owed > 0
    assert paid_in_full["cumulative_premium_fractions"] == (paid_in_full["premium_fraction"],) * 2  # v1

    part = owed // 3
    short = _protocol(continuous=False, fund=part)
    short.insurance_fund_floor = 0
    _book(short, T0 + 5)
    _, result = _first_settlement(short, 30 * W)
    assert (result["shortfall"].owed, result["shortfall"].paid) == (owed, part)
    assert short.insurance_fund == 0 and result["insurance_fund_delta"] == -part
    pf = result["premium_fraction"]
    long_size, short_size = short.market(MARKET).side_sizes()
    assert result["receivers_premium_fraction"] == -((-pf * short_size + part * W) // long_size)


def test_the_reserve_floor_is_not_spent_on_funding():
    protocol = _protocol(continuous=False, fund=1_000 * W)
    protocol.insurance_fund_floor = 1_000 * W
    _book(protocol, T0 + 5)
    _, result = _first_settlement(protocol, 30 * W)
    assert result["shortfall"].paid == 0 and protocol.insurance_fund == 1_000 * W


def test_a_fund_that_earns_is_never_short():
    protocol = _protocol(continuous=False, fund=0)
    _book(protocol, T0 + 5)
    _, result = _first_settlement(protocol, 5 * W)  # index below the mark: the longs (the larger side) pay
    assert result["premium_fraction"] > 0 and result["insurance_fund_delta"] > 0
    assert result["shortfall"] is None


# ================================================================================ continuous
def test_open_settle_close_in_one_block_earns_nothing_in_continuous_mode_only():
    """The sniping v1 allows: open on the receiving side just before payFunding, close right after."""
    outcomes = {}
    for continuous in (False, True):
        protocol = _protocol(continuous)
        _book(protocol, T0 + 5)
        _first_settlement(protocol, 30 * W)  # shorts pay longs from here on
        t = protocol.market(MARKET).pool.next_funding_time
        before = protocol.vault["carol"]
        opened = protocol.open_position(MARKET, "carol", Side.BUY, 100 * W, 2 * W, 0, t, 20)
        protocol.pay_funding(MARKET, t, 20)
        closed = protocol.close_position(MARKET, "carol", 0, t, 20)
        outcomes[continuous] = (closed["funding_payment"], protocol.vault["carol"] - before)
        assert opened["funding_payment"] == 0
    funding_v1, _ = outcomes[False]
    assert funding_v1 < -W  # v1: carol collects a whole period for zero seconds held
    assert outcomes[True][0] == 0  # continuous: nothing, and she loses only the round trip's rounding
    assert -10 <= outcomes[True][1] <= 0


def test_a_position_held_half_the_period_gets_half():
    protocol = _protocol(continuous=True)
    _book(protocol, T0 + 5)
    t1, first = _first_settlement(protocol, 30 * W)
    pf = first["premium_fraction"]
    assert pf < 0 and first["funding_rate"] is not None
    protocol.open_position(MARKET, "carol", Side.BUY, 10 * W, 2 * W, 0, t1, 20)
    size = protocol.get_position(MARKET, "carol").size
    closed = protocol.close_position(MARKET, "carol", 0, t1 + PERIOD // 2, 21)
    half = div_toward_zero(pf * (PERIOD // 2), PERIOD)
    assert closed["funding_payment"] == ceil_div(half * size, W) < 0
    # a full period for the one who held it: bob (short, a payer) from t1 to t1 + PERIOD
    bob = protocol.get_position(MARKET, "bob")
    paid = protocol.close_position(MARKET, "bob", 0, t1 + PERIOD, 22)["funding_payment"]
    assert paid == ceil_div(pf * bob.size, W) > 0


def test_continuous_funding_before_the_first_settlement_is_zero():
    protocol = _protocol(continuous=True)
    _book(protocol, T0 + 5)
    protocol.set_index_price(MARKET, 30 * W, T0 + 10)
    assert protocol.pending_funding_payment(MARKET, "alice", T0 + 3_000) == 0


def test_continuous_fund_side_is_the_integral_of_rate_times_net_size():
    """Bob leaves half-way: the fund pays the longs' excess for the whole period at the net size of each half."""
    protocol = _protocol(continuous=True)
    _book(protocol, T0 + 5)
    t1, first = _first_settlement(protocol, 30 * W)
    market = protocol.market(MARKET)
    budget = market.funding.budget
    pf = first["premium_fraction"]
    long_size, short_size = market.side_sizes()
    assert budget == ceil_div(FUNDING_BUDGET_PERIODS * -pf * (long_size - short_size), W)
    fund_after_advance = protocol.insurance_fund
    half = abs(div_toward_zero(pf * (PERIOD // 2), PERIOD))
    protocol.close_position(MARKET, "bob", 0, t1 + PERIOD // 2, 21)
    first_half = ceil_div(half * (long_size - short_size), W)
    assert market.funding.budget == budget - first_half
    protocol.close_position(MARKET, "alice", 0, t1 + PERIOD, 22)
    second = abs(div_toward_zero(pf * PERIOD, PERIOD)) - half
    assert market.funding.budget == budget - first_half - ceil_div(second * long_size, W)
    # nobody left: the next top-up returns the whole advance
    advance = market.funding.budget
    moved = protocol.pay_funding(MARKET, t1 + PERIOD + 1, 23)["insurance_fund_delta"]
    assert moved == advance and market.funding.budget == 0
    assert protocol.insurance_fund == fund_after_advance + moved
    assert 0 <= market.collateral < 10**6


def test_continuous_funding_with_an_empty_fund_pays_the_receivers_what_the_payers_pay():
    protocol = _protocol(continuous=True, fund=0)
    _book(protocol, T0 + 5)
    t1, first = _first_settlement(protocol, 30 * W)
    market = protocol.market(MARKET)
    pf = first["premium_fraction"]
    assert market.funding.budget == 0 and not market.shortfalls
    long_size, short_size = market.side_sizes()
    closed = protocol.close_position(MARKET, "bob", 0, t1 + PERIOD, 21)  # bob pays a full period
    assert closed["funding_payment"] == ceil_div(pf * -short_size, W) > 0
    [shortfall] = market.shortfalls
    assert shortfall.paid == 0 and shortfall.owed == ceil_div(-pf * (long_size - short_size), W)
    a_r = -pf * short_size // long_size
    assert market.funding.cum_long == -a_r and market.funding.cum_short == pf
    received = protocol.close_position(MARKET, "alice", 0, t1 + PERIOD + 1, 22)["funding_payment"]
    assert -received <= closed["funding_payment"]
    assert protocol.insurance_fund == 0 and 0 <= market.collateral < 10**6


def test_a_top_up_restores_full_funding():
    protocol = _protocol(continuous=True, fund=0)
    _book(protocol, T0 + 5)
    t1, _ = _first_settlement(protocol, 30 * W)
    protocol.insurance_fund_deposit(1_000 * W)
    result = protocol.pay_funding(MARKET, t1 + 60, 21)  # not due: a top-up only
    assert result["funding_rate"] is None and result["insurance_fund_delta"] < 0
    market = protocol.market(MARKET)
    assert len(market.shortfalls) == 1  # the first minute, before the top-up
    protocol.close_position(MARKET, "bob", 0, t1 + 120, 22)
    assert len(market.shortfalls) == 1


def test_the_cap_applies_in_both_modes():
    for continuous in (False, True):
        protocol = _protocol(continuous, max_funding_rate=W // 1000)
        _book(protocol, T0 + 5)
        _, result = _first_settlement(protocol, 30 * W)
        assert result["funding_rate"] == -W // 1000
        assert result["premium_fraction"] == -mul(W // 1000, result["index_twap"])


def test_continuous_funding_is_not_too_early_but_periodic_is():
    periodic, continuous = _protocol(False), _protocol(True)
    with pytest.raises(ModelError, match="FundingTooEarly"):
        periodic.pay_funding(MARKET, T0 + 60, 2)
    assert continuous.pay_funding(MARKET, T0 + 60, 2)["funding_rate"] is None


# ================================================================================ properties
TRADERS = ("alice", "bob", "carol")
OPERATION = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(TRADERS), st.sampled_from([Side.BUY, Side.SELL]),
              st.integers(1 * W, 100 * W), st.integers(1 * W, 10 * W)),
    st.tuples(st.just("close"), st.sampled_from(TRADERS)),
    st.tuples(st.just("remove_margin"), st.sampled_from(TRADERS), st.integers(1 * W, 20 * W)),
    st.tuples(st.just("pay_funding"), st.integers(0, 3)),
    st.tuples(st.just("index"), st.integers(2, 40)),
    st.tuples(st.just("wait"), st.integers(1, 3_000)),
)


def _rounding(protocol: Protocol) -> int:
    """What one settlement or accrual may leave in the market (wei): a wei per position and for the budget, and
    the receivers' per-unit share rounded down (at most one wei per unit of their size)."""
    market = protocol.market(MARKET)
    return 2 * len(market.positions) + 2 + sum(market.side_sizes()) // W


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(OPERATION, min_size=1, max_size=30), continuous=st.booleans(),
       fund=st.sampled_from([0, 5 * W, 10_000 * W]))
def test_receivers_never_get_more_than_there_is(operations: list[tuple[Any, ...]], continuous: bool,
                                                fund: int) -> None:
    """Whatever the fund holds: payFunding never fails for lack of money, the fund never goes below zero
    through funding, the value in the system is conserved (rounding dust in the market's favour), and once
    everyone has closed the market holds at least the fund's advance."""
    protocol = _protocol(continuous, fund=fund)
    expected = protocol.total_value()
    now, block = T0 + 5, 2
    dust = 0
    for op in operations:
        now, block = now + (op[1] if op[0] == "wait" else 7), block + 1
        kind = op[0]
        market = protocol.market(MARKET)  # a failed operation restores the protocol's state (new objects)
        try:
            if kind == "open":
                protocol.open_position(MARKET, op[1], op[2], op[3], op[4], 0, now, block)
            elif kind == "close":
                protocol.close_position(MARKET, op[1], 0, now, block)
            elif kind == "remove_margin":
                protocol.remove_margin(MARKET, op[1], op[2], now)
            elif kind == "pay_funding":
                now = max(now, market.pool.next_funding_time + op[1])
                protocol.pay_funding(MARKET, now, block)
                dust += _rounding(protocol)
            elif kind == "index":
                protocol.set_index_price(MARKET, op[1] * W // 2, now)
        except ModelError as error:
            assert kind != "pay_funding" or error.name == "FundingTooEarly", error.name  # never for lack of money
        market = protocol.market(MARKET)
        if continuous:
            dust += _rounding(protocol)
        assert protocol.insurance_fund >= 0
        assert abs(protocol.total_value() - expected) <= dust
    for trader in TRADERS:
        if protocol.get_position(MARKET, trader).size:
            try:
                protocol.close_position(MARKET, trader, 0, now + 1, block + 1)
            except ModelError as error:
                # a profit beyond what the market holds, with an empty fund: refused (containment, not funding)
                assert error.name in ("BadDebt", "InsuranceFundInsufficient"), error.name
    market = protocol.market(MARKET)
    if not any(p.size for p in market.positions.values()):
        assert market.collateral >= market.funding.budget - 2 * len(TRADERS)
