"""The issue's flows, with 6- and 18-decimal quote tokens, without and with fees, reconciled to the wei.

Alice and Bob deposit; Alice goes long, Bob short; Carol's long moves the mark; their unrealized PnL is checked
against v1's pool math; Alice reduces (realizedPnl = unrealizedPnl × |exchanged| / |oldSize|, mul then div, both
truncated; v1's remaining open notional), then reverses (close, then open the rest at the same leverage); all
close and withdraw everything. Every trade is checked field by field against tests/trading.py's independent
computation, and so is every vault balance (trader, InsuranceFund, fee pool) and the market's booked collateral.
At the end, per trader: tokens withdrawn − deposited = Σ(realizedPnl − fee − fundingPayment) of their
PositionChanged events (+ the toll they earned as fee pool), up to the dust (< 1 token unit) left in the vault;
and the vault's tokens × scale = Σ free balances + the InsuranceFund's + the markets' booked collateral.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from brownie import chain

from perp_ops.deploy import Deployment, deploy_protocol
from tests.helpers import BUY, SELL, SPOT, TWAP, WAD, reverts_with, wad
from tests.trading import (
    ZERO_ADDRESS,
    Outcome,
    Pool,
    Position,
    addr,
    close_position,
    div,
    expected_position_changed,
    mul,
    open_position,
    output_price,
    position_changed,
    position_of,
    spot_notional_and_pnl,
    v1_twap,
)

TOLL = wad("0.003")
SPREAD = wad("0.002")


@dataclass
class Scenario:
    d: Deployment
    decimals: int
    fees: bool

    @property
    def scale(self) -> int:
        return 10 ** (18 - self.decimals)


@pytest.fixture(
    scope="module",
    params=[(6, False), (18, False), (6, True), (18, True)],
    ids=["6dec", "18dec", "6dec-fees", "18dec-fees"],
)
def scenario(request, owner, carol) -> Scenario:
    decimals, fees = request.param
    config: dict[str, Any] = {"quote_decimals": decimals}
    if fees:
        config |= {"toll_ratio": TOLL, "spread_ratio": SPREAD}
    d = deploy_protocol(config, owner)
    if fees:
        d.clearing_house.setFeePool(carol, {"from": owner})
    return Scenario(d, decimals, fees)


@dataclass
class Book:
    """What the chain should hold, computed independently, and the running totals for the reconciliation."""

    s: Scenario
    accounts: list[Any]
    pool: Pool = field(default_factory=lambda: Pool(wad(1000), wad(100)))
    positions: dict[Any, Position] = field(default_factory=dict)
    free: dict[Any, int] = field(default_factory=dict)  # expected vault balances, wad
    collateral: int = 0
    deposited: dict[Any, int] = field(default_factory=dict)  # token units
    withdrawn: dict[Any, int] = field(default_factory=dict)
    events: dict[Any, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fund = self.s.d.insurance_fund
        self.fee_pool = self.s.d.clearing_house.feePool()
        for a in [*self.accounts, self.fund]:
            self.free.setdefault(a, 0)
            self.positions.setdefault(a, Position())
            self.deposited.setdefault(a, 0)
            self.withdrawn.setdefault(a, 0)
            self.events.setdefault(a, [])

    @property
    def toll_ratio(self) -> int:
        return TOLL if self.s.fees else 0

    @property
    def spread_ratio(self) -> int:
        return SPREAD if self.s.fees else 0

    def deposit(self, who: Any, units: int) -> None:
        d = self.s.d
        d.quote_token.mint(who, units, {"from": who})
        d.quote_token.approve(d.vault, units, {"from": who})
        d.vault.deposit(units, {"from": who})
        self.deposited[who] += units
        self.free[who] += units * self.s.scale
        self.check_balances()

    def withdraw_all(self, who: Any) -> None:
        vault = self.s.d.vault
        units = vault.balanceOf(who)
        assert units == self.free[who] // self.s.scale
        before = self.s.d.quote_token.balanceOf(who)
        vault.withdraw(units, {"from": who})
        assert self.s.d.quote_token.balanceOf(who) - before == units
        self.withdrawn[who] += units
        self.free[who] -= units * self.s.scale
        assert vault.balanceOf(who) == 0
        assert vault.balanceOfWad(who) == self.free[who] < self.s.scale  # only dust stays
        self.check_balances()

    def open(self, who: Any, side: int, margin: int, leverage: int) -> tuple[Outcome, dict[str, Any]]:
        out = open_position(self.pool, self.positions[who], side, margin, leverage, self.toll_ratio, self.spread_ratio)
        tx = self.s.d.clearing_house.openPosition(self.s.d.amm, side, margin, leverage, 0, {"from": who})
        return out, self._apply(who, out, tx)

    def close(self, who: Any) -> tuple[Outcome, dict[str, Any]]:
        out = close_position(self.pool, self.positions[who], self.toll_ratio, self.spread_ratio)
        tx = self.s.d.clearing_house.closePosition(self.s.d.amm, 0, {"from": who})
        return out, self._apply(who, out, tx)

    def _apply(self, who: Any, out: Outcome, tx: Any) -> dict[str, Any]:
        d = self.s.d
        event = position_changed(tx)
        assert event == expected_position_changed(who, d.amm, out)
        self.events[who].append(event)
        self.positions[who] = out.position
        # margin and fees leave the trader's free balance; the spread goes to the InsuranceFund, the toll to
        # the fee pool (the InsuranceFund when none is set)
        self.free[who] -= out.margin_to_vault + out.fee
        self.collateral += out.margin_to_vault
        if self.fee_pool != ZERO_ADDRESS and out.toll != 0:
            self.free[self.fee_pool] += out.toll
            self.free[self.fund] += out.spread
        else:
            self.free[self.fund] += out.fee
        self.check_balances()
        return event

    def check_balances(self) -> None:
        d = self.s.d
        for who, position in self.positions.items():
            assert position_of(d.clearing_house, d.amm, who) == position, who
        assert tuple(d.amm.getReserve()) == (self.pool.quote, self.pool.base)
        for who, balance in self.free.items():
            assert d.vault.balanceOfWad(who) == balance, who
        assert d.clearing_house.getMarket(d.amm)[1] == self.collateral
        assert d.quote_token.balanceOf(d.vault) * self.s.scale == sum(self.free.values()) + self.collateral


def test_alice_bob_flow(scenario, alice, bob, carol):
    s = scenario
    ch, amm = s.d.clearing_house, s.d.amm
    book = Book(s, [alice, bob, carol])
    for who in (alice, bob, carol):
        book.deposit(who, 1000 * 10**s.decimals)

    # Alice long 50 of notional, Bob short 40, then Carol's long 50 moves the mark up
    book.open(alice, BUY, wad(10), wad(5))
    book.open(bob, SELL, wad(8), wad(5))
    book.open(carol, BUY, wad(10), wad(5))

    # unrealized PnL at the spot: what closing now would return, with v1's pool rounding
    for who in (alice, bob, carol):
        notional, pnl = spot_notional_and_pnl(book.positions[who], book.pool)
        assert tuple(ch.getPositionNotionalAndUnrealizedPnl(amm, who, SPOT)) == (notional, pnl)
    alice_pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)[1]
    bob_pnl = ch.getPositionNotionalAndUnrealizedPnl(amm, bob, SPOT)[1]
    assert alice_pnl > 0 > bob_pnl  # the mark went up

    # Alice reduces: sells 10 of notional out of ~51
    old = book.positions[alice]
    old_notional, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    _, event = book.open(alice, SELL, wad(1), wad(10))
    exchanged = abs(event["exchangedPositionSize"])
    assert event["realizedPnl"] == div(mul(upnl, exchanged), abs(old.size))
    assert event["realizedPnl"] == upnl * exchanged // WAD * WAD // abs(old.size)  # both truncations, positive PnL
    assert event["unrealizedPnlAfter"] == upnl - event["realizedPnl"]
    # v1: the remaining open notional keeps the unrealized PnL of what is left
    expected_open_notional = old_notional - wad(10) - event["unrealizedPnlAfter"]
    assert ch.getPosition(amm, alice)[2] == expected_open_notional
    assert ch.getPosition(amm, alice)[1] == old.margin + event["realizedPnl"]  # the margin absorbs it
    assert event["positionSizeAfter"] == old.size - exchanged

    # Alice reverses: sells 60 of notional, more than her ~41: close, then short the rest at 5x
    old = book.positions[alice]
    old_notional, upnl = ch.getPositionNotionalAndUnrealizedPnl(amm, alice, SPOT)
    free_before = s.d.vault.balanceOfWad(alice)
    _, event = book.open(alice, SELL, wad(12), wad(5))
    rest = wad(60) - old_notional
    assert event["realizedPnl"] == upnl
    assert event["positionNotional"] == wad(60)
    assert event["margin"] == div(rest, wad(5))
    assert event["positionSizeAfter"] < 0
    assert event["exchangedPositionSize"] == -old.size + event["positionSizeAfter"]
    # the old margin and its PnL come back, the new margin and the fee go out
    assert s.d.vault.balanceOfWad(alice) == free_before + old.margin + upnl - div(rest, wad(5)) - event["fee"]

    # everyone closes and withdraws everything
    for who in (alice, bob, carol):
        book.close(who)
    for who in (alice, bob, carol):
        book.withdraw_all(who)
    assert amm.totalPositionSize() == 0

    # reconciliation, per trader, to the wei: tokens out − tokens in = Σ(realizedPnl − fee − funding) (+ toll)
    toll_income = sum(mul(e["positionNotional"], book.toll_ratio) for who in book.events for e in book.events[who])
    for who in (alice, bob, carol):
        flows = sum(e["realizedPnl"] - e["fee"] - e["fundingPayment"] for e in book.events[who])
        if who == book.fee_pool:
            flows += toll_income
        dust = s.d.vault.balanceOfWad(who)
        assert dust < s.scale
        assert (book.withdrawn[who] - book.deposited[who]) * s.scale + dust == flows, who
        if s.decimals == 18:
            assert dust == 0
    # the vault holds exactly what it owes: free balances (dust included), the fund, the markets' collateral
    fund = s.d.vault.balanceOfWad(s.d.insurance_fund)
    collateral = ch.getMarket(amm)[1]
    owed = sum(s.d.vault.balanceOfWad(who) for who in (alice, bob, carol)) + fund + collateral
    assert s.d.quote_token.balanceOf(s.d.vault) * s.scale == owed
    assert collateral >= 0  # the pool's rounding only ever keeps wei
    fees = [e["fee"] for who in book.events for e in book.events[who]]
    if s.fees:
        assert fund == sum(fees) - toll_income > 0
    else:
        assert fund == 0 and sum(fees) == 0


def test_fees_are_charged_on_top_of_the_margin(scenario, alice, carol, owner):
    """The trader needs margin + fee in the vault: with exactly the margin the open reverts and changes nothing."""
    s = scenario
    if not s.fees:
        pytest.skip("fee scenarios only")
    ch, amm, vault = s.d.clearing_house, s.d.amm, s.d.vault
    margin = wad(10)
    fee = mul(wad(50), TOLL) + mul(wad(50), SPREAD)
    book = Book(s, [alice, carol])
    book.deposit(alice, margin // s.scale)
    with reverts_with("InsufficientBalance", addr(alice), margin, margin + fee):
        ch.openPosition(amm, BUY, margin, wad(5), 0, {"from": alice})
    book.check_balances()
    book.deposit(alice, -(-fee // s.scale))  # the fee rounded up to a whole token unit
    book.open(alice, BUY, margin, wad(5))
    assert vault.balanceOfWad(alice) == -(-fee // s.scale) * s.scale - fee
    # without a fee pool, the whole fee goes to the InsuranceFund
    ch.setFeePool(ZERO_ADDRESS, {"from": owner})
    book.fee_pool = ZERO_ADDRESS
    book.deposit(alice, 10 ** s.decimals)
    out, event = book.close(alice)
    assert event["fee"] == mul(out.exchanged_quote, TOLL) + mul(out.exchanged_quote, SPREAD)


@pytest.mark.xfail(
    reason="v1 deviation: getPositionNotionalAndUnrealizedPnl(TWAP) scales the spot notional by markTwap / spot; "
    "v1's TWAP notional is getOutputTwap, the snapshot walk of the output amount itself (see the failing numbers)",
    strict=True,
)
def test_twap_pnl_is_v1_output_twap(owner, alice, bob):
    d = deploy_protocol(None, owner)
    ch, amm = d.clearing_house, d.amm
    snapshots = [(amm.tx.timestamp, wad(1000), wad(100))]
    for who in (alice, bob):
        d.quote_token.mint(who, wad(1000), {"from": who})
        d.quote_token.approve(d.vault, wad(1000), {"from": who})
        d.vault.deposit(wad(1000), {"from": who})
    for who, side, margin, sleep in [(alice, BUY, wad(10), 60), (bob, SELL, wad(5), 300), (bob, BUY, wad(20), 200)]:
        chain.sleep(sleep)
        tx = ch.openPosition(amm, side, margin, wad(5), 0, {"from": who})
        snapshots.append((tx.timestamp, *amm.getReserve()))
    chain.sleep(120)
    chain.mine()
    now = chain[-1].timestamp
    size, _, open_notional, _ = ch.getPosition(amm, alice)
    twap_notional = v1_twap(snapshots, now, 900, lambda q, b: output_price(True, size, q, b))
    assert tuple(ch.getPositionNotionalAndUnrealizedPnl(amm, alice, TWAP)) == (
        twap_notional,
        twap_notional - open_notional,
    )
