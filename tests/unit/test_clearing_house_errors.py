"""Every bad input to the ClearingHouse reverts with the custom error that names it, and changes nothing:
token and vault balances, positions, reserves, booked collateral, open interest and settings are captured
before and compared after (tests/trading.py: capture_state).

Table-driven: each case may prepare the market (before the capture), then names the call, the error and its
arguments (computed after the preparation, from the chain's state and tests/trading.py's own math)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from brownie import Amm

from perp_ops.deploy import (
    DEFAULT_CONFIG,
    Deployment,
    amm_struct,
    feed_key,
    market_config,
)
from tests.helpers import BUY, SELL, WAD, reverts_with, wad
from tests.settlement import close_window
from tests.trading import (
    addr,
    assert_unchanged,
    capture_state,
    deposit,
    frozen_clock,
    input_price,
    mul,
    output_price,
    position_of,
)


@dataclass
class Ctx:
    d: Deployment
    ch: Any
    amm: Any
    unlisted: Any  # an Amm wired to this ClearingHouse but never listed
    owner: Any
    alice: Any  # long 10 at 10x
    bob: Any  # short 10 at 5x
    carol: Any  # 1000 in the vault, no position
    rando: Any  # nothing

    @property
    def holders(self) -> list[Any]:
        return [self.alice, self.bob, self.carol, self.owner, self.rando]

    def reserves(self) -> tuple[int, int]:
        q, b = self.amm.getReserve()
        return q, b


@pytest.fixture(scope="module")
def ctx(protocol, owner, alice, bob, carol, rando) -> Ctx:
    d = protocol
    ch, amm = d.clearing_house, d.amm
    unlisted = Amm.deploy(
        amm_struct(market_config(DEFAULT_CONFIG)), d.price_feed, feed_key("ETH"), ch, owner, {"from": owner}
    )
    unlisted.setOpen(True, {"from": owner})
    for trader in (alice, bob, carol):
        deposit(d, trader, wad(1000))
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(10), wad(5), 0, {"from": bob})
    return Ctx(d, ch, amm, unlisted, owner, alice, bob, carol, rando)


Args = tuple[Any, ...] | Callable[[Ctx], tuple[Any, ...]] | None


@dataclass
class Case:
    id: str
    action: Callable[[Ctx], Any]
    error: str
    args: Args = None  # None: match the name only
    prepare: Callable[[Ctx], Any] | None = None


def _open(who: str, side: int, margin: int, leverage: int, limit: int = 0) -> Callable[[Ctx], Any]:
    return lambda c: c.ch.openPosition(c.amm, side, margin, leverage, limit, {"from": getattr(c, who)})


def _long_base(c: Ctx, notional: int) -> int:
    return input_price(True, notional, *c.reserves())


def _short_base(c: Ctx, notional: int) -> int:
    return input_price(False, notional, *c.reserves())


def _close_quote(c: Ctx, who: str) -> int:
    size = c.ch.getPosition(c.amm, getattr(c, who))[0]
    return output_price(size > 0, abs(size), *c.reserves())


def _crash(c: Ctx) -> None:
    """Bob sells 500 of quote: Alice's long is under water (its PnL beyond its margin)."""
    c.ch.openPosition(c.amm, SELL, wad(50), wad(10), 0, {"from": c.bob})


def _alice_bad_debt(c: Ctx) -> tuple[int]:
    pos = position_of(c.ch, c.amm, c.alice)
    pnl = output_price(True, pos.size, *c.reserves()) - pos.open_notional
    assert pos.margin + pnl < 0
    return (-(pos.margin + pnl),)


def _pause(c: Ctx) -> None:
    c.ch.pause({"from": c.owner})


def _close_market(c: Ctx) -> None:
    c.amm.setOpen(False, {"from": c.owner})


def _shutdown(c: Ctx) -> None:
    c.amm.shutdown({"from": c.owner})


def _alice_claims(c: Ctx) -> None:
    """Shut down; alice registers her claim in the window."""
    _shutdown(c)
    c.ch.settlePosition(c.amm, {"from": c.alice})


def _window_closed(c: Ctx) -> None:
    """Shut down; alice registers her claim; the window closes (bob never registered)."""
    _alice_claims(c)
    close_window(c.amm)


def _window_end(c: Ctx) -> tuple[int]:
    return (c.amm.settlementWindowEnd(),)


MAX_LEVERAGE = WAD * WAD // DEFAULT_CONFIG["init_margin_ratio"]  # 20x

CASES: list[Case] = [
    # ---- amounts and leverage
    Case("open zero margin", _open("carol", BUY, 0, wad(10)), "ZeroAmount", ()),
    Case("open zero leverage", _open("carol", SELL, wad(10), 0), "ZeroAmount", ()),
    Case("open zero both", _open("carol", SELL, 0, 0), "ZeroAmount", ()),
    # a notional so small that the pool gives no base: the margin would be locked with no position
    Case("long that buys no base", _open("carol", BUY, 1, wad(1)), "ZeroAmount", ()),
    Case(
        "leverage one wei above 1/imr",
        _open("carol", BUY, wad(10), MAX_LEVERAGE + 1),
        "LeverageTooHigh",
        (MAX_LEVERAGE + 1, MAX_LEVERAGE),
    ),
    Case("leverage 100x", _open("carol", SELL, wad(1), wad(100)), "LeverageTooHigh", (wad(100), MAX_LEVERAGE)),
    Case("increase above 1/imr", _open("alice", BUY, wad(1), wad(21)), "LeverageTooHigh", (wad(21), MAX_LEVERAGE)),
    Case(
        "margin beyond the vault balance",
        _open("carol", BUY, wad(2000), wad(1)),
        "InsufficientBalance",
        lambda c: (addr(c.carol), wad(1000), wad(2000)),
    ),
    Case("add zero margin", lambda c: c.ch.addMargin(c.amm, 0, {"from": c.alice}), "ZeroAmount", ()),
    Case("remove zero margin", lambda c: c.ch.removeMargin(c.amm, 0, {"from": c.alice}), "ZeroAmount", ()),
    Case(
        "add margin beyond the vault balance",
        lambda c: c.ch.addMargin(c.amm, wad(991), {"from": c.alice}),
        "InsufficientBalance",
        lambda c: (addr(c.alice), wad(990), wad(991)),
    ),
    # ---- slippage
    Case(
        "long gets less base than its minimum",
        lambda c: _open("carol", BUY, wad(10), wad(10), _long_base(c, wad(100)) + 1)(c),
        "SlippageExceeded",
        lambda c: (_long_base(c, wad(100)), _long_base(c, wad(100)) + 1),
    ),
    Case(
        "short gives more base than its maximum",
        lambda c: _open("carol", SELL, wad(10), wad(10), _short_base(c, wad(100)) - 1)(c),
        "SlippageExceeded",
        lambda c: (_short_base(c, wad(100)), _short_base(c, wad(100)) - 1),
    ),
    Case(
        "reducing a long gives more base than its maximum",
        lambda c: _open("alice", SELL, wad(1), wad(10), _short_base(c, wad(10)) - 1)(c),
        "SlippageExceeded",
        lambda c: (_short_base(c, wad(10)), _short_base(c, wad(10)) - 1),
    ),
    Case(
        "closing a long gets less quote than its minimum",
        lambda c: c.ch.closePosition(c.amm, _close_quote(c, "alice") + 1, {"from": c.alice}),
        "SlippageExceeded",
        lambda c: (_close_quote(c, "alice"), _close_quote(c, "alice") + 1),
    ),
    Case(
        "closing a short pays more quote than its maximum",
        lambda c: c.ch.closePosition(c.amm, _close_quote(c, "bob") - 1, {"from": c.bob}),
        "SlippageExceeded",
        lambda c: (_close_quote(c, "bob"), _close_quote(c, "bob") - 1),
    ),
    # ---- trade limit (0.9 of a reserve)
    Case(
        "long over the trade limit",
        _open("carol", BUY, wad(1000), wad(10)),
        "TradeLimitExceeded",
        lambda c: (_long_base(c, wad(10_000)), mul(c.reserves()[1], wad("0.9"))),
    ),
    Case(
        "short over the trade limit",
        _open("carol", SELL, wad(100), wad(10)),
        "TradeLimitExceeded",
        lambda c: (wad(1000), mul(c.reserves()[0], wad("0.9"))),
    ),
    # ---- margin removal
    Case(
        "remove one wei beyond free collateral",
        lambda c: c.ch.removeMargin(c.amm, c.ch.getFreeCollateral(c.amm, c.bob) + 1, {"from": c.bob}),
        "NotEnoughFreeCollateral",
        (-1,),
    ),
    Case(
        "remove margin with negative free collateral",  # Bob's short took 8.5 off Alice's long
        lambda c: c.ch.removeMargin(c.amm, 1, {"from": c.alice}),
        "NotEnoughFreeCollateral",
        lambda c: (c.ch.getFreeCollateral(c.amm, c.alice) - 1,),
    ),
    Case(
        "remove more than the margin",
        lambda c: c.ch.removeMargin(c.amm, wad(10) + 1, {"from": c.alice}),
        "BadDebt",
        (1,),
    ),
    Case(
        "remove margin under water",
        lambda c: c.ch.removeMargin(c.amm, wad(1), {"from": c.alice}),
        "NotEnoughFreeCollateral",
        lambda c: (c.ch.getFreeCollateral(c.amm, c.alice) - wad(1),),
        _crash,
    ),
    # ---- under water
    Case("close under water", lambda c: c.ch.closePosition(c.amm, 0, {"from": c.alice}), "BadDebt", _alice_bad_debt, _crash),
    Case("increase under water", _open("alice", BUY, wad(1), wad(1)), "MarginRatioTooLow", None, _crash),
    # ---- no position
    Case("close with no position", lambda c: c.ch.closePosition(c.amm, 0, {"from": c.carol}), "NoPosition", ()),
    Case("add margin with no position", lambda c: c.ch.addMargin(c.amm, wad(1), {"from": c.carol}), "NoPosition", ()),
    Case(
        "remove margin with no position",
        lambda c: c.ch.removeMargin(c.amm, wad(1), {"from": c.carol}),
        "NoPosition",
        (),
    ),
    Case("liquidate no position", lambda c: c.ch.liquidate(c.amm, c.carol, {"from": c.rando}), "NoPosition", ()),
    # ---- unknown market
    *[
        Case(
            f"unknown market: {name}",
            action,
            "UnknownMarket",
            lambda c: (addr(c.unlisted),),
        )
        for name, action in [
            ("open", lambda c: c.ch.openPosition(c.unlisted, BUY, wad(1), wad(1), 0, {"from": c.carol})),
            ("close", lambda c: c.ch.closePosition(c.unlisted, 0, {"from": c.alice})),
            ("add margin", lambda c: c.ch.addMargin(c.unlisted, wad(1), {"from": c.alice})),
            ("remove margin", lambda c: c.ch.removeMargin(c.unlisted, wad(1), {"from": c.alice})),
            ("liquidate", lambda c: c.ch.liquidate(c.unlisted, c.alice, {"from": c.rando})),
            ("pay funding", lambda c: c.ch.payFunding(c.unlisted, {"from": c.rando})),
            ("settle", lambda c: c.ch.settlePosition(c.unlisted, {"from": c.alice})),
            ("claim settlement", lambda c: c.ch.claimSettlement(c.unlisted, c.alice, {"from": c.rando})),
        ]
    ],
    # ---- paused (OpenZeppelin's Pausable)
    *[
        Case(f"paused: {name}", action, "EnforcedPause", (), _pause)
        for name, action in [
            ("open", _open("carol", BUY, wad(1), wad(1))),
            ("increase", _open("alice", BUY, wad(1), wad(1))),
            ("reduce", _open("alice", SELL, wad(1), wad(1))),
            ("close", lambda c: c.ch.closePosition(c.amm, 0, {"from": c.alice})),
            ("remove margin", lambda c: c.ch.removeMargin(c.amm, wad(1), {"from": c.alice})),
        ]
    ],
    # ---- market closed by its owner
    Case("closed market: open", _open("carol", BUY, wad(1), wad(1)), "MarketClosed", (), _close_market),
    Case(
        "closed market: close",
        lambda c: c.ch.closePosition(c.amm, 0, {"from": c.alice}),
        "MarketClosed",
        (),
        _close_market,
    ),
    # ---- governance
    *[
        Case(f"non-owner: {name}", action, "OwnableUnauthorizedAccount", lambda c: (addr(c.rando),))
        for name, action in [
            ("setParams", lambda c: c.ch.setParams(wad("0.1"), wad("0.05"), 0, 0, {"from": c.rando})),
            ("pause", lambda c: c.ch.pause({"from": c.rando})),
            ("addAmm", lambda c: c.ch.addAmm(c.unlisted, {"from": c.rando})),
            ("setFeePool", lambda c: c.ch.setFeePool(c.rando, {"from": c.rando})),
            ("transferOwnership", lambda c: c.ch.transferOwnership(c.rando, {"from": c.rando})),
        ]
    ],
    Case(
        "non-owner: unpause",
        lambda c: c.ch.unpause({"from": c.rando}),
        "OwnableUnauthorizedAccount",
        lambda c: (addr(c.rando),),
        _pause,
    ),
    # a refused configuration names its rule and its values
    *[
        Case(f"setParams {name}", action, error, args)
        for name, action, error, args in [
            ("imr 0", lambda c: c.ch.setParams(0, 0, 0, 0, {"from": c.owner}), "InitMarginRatioOutOfRange", (0,)),
            ("imr > 1", lambda c: c.ch.setParams(WAD + 1, wad("0.05"), 0, 0, {"from": c.owner}),
             "InitMarginRatioOutOfRange", (WAD + 1,)),
            ("mmr > imr", lambda c: c.ch.setParams(wad("0.05"), wad("0.05") + 1, 0, 0, {"from": c.owner}),
             "MaintenanceAboveInitial", (wad("0.05") + 1, wad("0.05"))),
            ("liquidation fee > 1", lambda c: c.ch.setParams(wad("0.1"), wad("0.05"), WAD + 1, 0, {"from": c.owner}),
             "RatioAboveOne", (WAD + 1,)),
            ("partial ratio > 1", lambda c: c.ch.setParams(wad("0.1"), wad("0.05"), 0, WAD + 1, {"from": c.owner}),
             "RatioAboveOne", (WAD + 1,)),
            ("ratio not a multiple of 100 wei",
             lambda c: c.ch.setParams(wad("0.1") + 1, wad("0.05"), 0, 0, {"from": c.owner}),
             "RatioNotInUnits", (wad("0.1") + 1, 100)),
        ]
    ],
    # ---- settlement
    Case("settle before shutdown", lambda c: c.ch.settlePosition(c.amm, {"from": c.alice}), "MarketNotShutdown", ()),
    Case(
        "claim before shutdown",
        lambda c: c.ch.claimSettlement(c.amm, c.alice, {"from": c.rando}),
        "MarketNotShutdown",
        (),
    ),
    Case("settle no position", lambda c: c.ch.settlePosition(c.amm, {"from": c.carol}), "NoPosition", (), _shutdown),
    Case(
        "claim for no position",
        lambda c: c.ch.claimSettlement(c.amm, c.carol, {"from": c.rando}),
        "NoPosition",
        (),
        _shutdown,
    ),
    Case(
        "settle twice in the window",
        lambda c: c.ch.settlePosition(c.amm, {"from": c.alice}),
        "SettlementWindowOpen",
        _window_end,
        _alice_claims,
    ),
    Case(
        "payout in the window",
        lambda c: c.ch.claimSettlement(c.amm, c.alice, {"from": c.rando}),
        "SettlementWindowOpen",
        _window_end,
        _alice_claims,
    ),
    Case(
        "payout of a late position by another",
        lambda c: c.ch.claimSettlement(c.amm, c.bob, {"from": c.rando}),
        "NothingToSettle",
        (),
        _window_closed,
    ),
    Case(
        "payout with nothing registered",
        lambda c: c.ch.claimSettlement(c.amm, c.carol, {"from": c.rando}),
        "NothingToSettle",
        (),
        _window_closed,
    ),
    Case(
        "settle after the window with nothing",
        lambda c: c.ch.settlePosition(c.amm, {"from": c.carol}),
        "NoPosition",
        (),
        _window_closed,
    ),
    Case(
        "addAmm twice",
        lambda c: c.ch.addAmm(c.amm, {"from": c.owner}),
        "MarketAlreadyListed",
        lambda c: (addr(c.amm),),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_reverts_with_its_error_and_changes_nothing(ctx, case):
    # one timestamp throughout: the expected arguments are read from views that depend on the TWAP
    with frozen_clock():
        if case.prepare is not None:
            case.prepare(ctx)
        expected = case.args(ctx) if callable(case.args) else case.args
        before = capture_state(ctx.d, ctx.holders)
        with reverts_with(case.error, *(expected or ())):
            case.action(ctx)
        assert_unchanged(before, capture_state(ctx.d, ctx.holders))


def test_the_fixture_positions(ctx):
    """The cases above assume these positions."""
    alice = position_of(ctx.ch, ctx.amm, ctx.alice)
    bob = position_of(ctx.ch, ctx.amm, ctx.bob)
    assert (alice.size > 0, alice.margin, alice.open_notional) == (True, wad(10), wad(100))
    assert (bob.size < 0, bob.margin, bob.open_notional) == (True, wad(10), wad(50))
    assert ctx.ch.getPosition(ctx.amm, ctx.carol)[0] == 0
    assert ctx.d.vault.balanceOfWad(ctx.carol) == wad(1000)


def test_limits_at_the_boundary_pass(ctx):
    """The exact limits are accepted: all the free collateral, 1/imr leverage, a long's exact base, a close's
    exact quote."""
    c = ctx
    with frozen_clock():  # the free collateral depends on the TWAP, so on the time
        free = c.ch.getFreeCollateral(c.amm, c.bob)
        assert free > 0
        c.ch.removeMargin(c.amm, free, {"from": c.bob})
        assert c.ch.getFreeCollateral(c.amm, c.bob) == 0
    base = _long_base(c, wad(100))
    c.ch.openPosition(c.amm, BUY, wad(5), MAX_LEVERAGE, base, {"from": c.carol})
    assert c.ch.getPosition(c.amm, c.carol)[0] == base
    c.ch.closePosition(c.amm, _close_quote(c, "carol"), {"from": c.carol})
    c.ch.closePosition(c.amm, _close_quote(c, "bob"), {"from": c.bob})
    assert c.ch.getPosition(c.amm, c.carol)[0] == c.ch.getPosition(c.amm, c.bob)[0] == 0


def test_adding_margin_stays_open_while_paused(ctx):
    """A trader must be able to defend a position that can still be liquidated (README: Pause)."""
    c = ctx
    c.ch.pause({"from": c.owner})
    free = c.d.vault.balanceOfWad(c.alice)
    c.ch.addMargin(c.amm, wad(5), {"from": c.alice})
    assert c.ch.getPosition(c.amm, c.alice)[1] == wad(15)
    assert c.d.vault.balanceOfWad(c.alice) == free - wad(5)
