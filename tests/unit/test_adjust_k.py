"""ClearingHouse.adjustK and repeg: the exact cost, its booking against the InsuranceFund, refusals.

The cost is checked three ways: against the Python pool model (tests/curve_model.py, v1's rounding), against
the pool's own `getOutputPrice` for the net position before and after, and against the ledgers (the fund moves
by −cost, the market's booked collateral by +cost). Pool 1000 quote / 100 base, 18 decimals, no fees.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from brownie import ZERO_ADDRESS

from tests.curve_model import (
    curve_change_cost,
    notional_and_pnl,
    repegged,
    scaled,
    spot_price,
)
from tests.helpers import (
    ADD_TO_AMM,
    BUY,
    REMOVE_FROM_AMM,
    SELL,
    SPOT,
    WAD,
    reverts_with,
    wad,
)
from tests.ledger import close_and_withdraw_all, vault_assets_wad, vault_liabilities_wad
from tests.security.blocks import call as in_block
from tests.security.blocks import send_in_one_block

FUND_DEPOSIT = wad(500)
ODD_FACTOR = 1_013_579_246_813_579_246  # exercises the ±1 wei rounding

# (side, margin, leverage) per trader
BOOKS: dict[str, list[tuple[int, int, int]]] = {
    "net_long": [(BUY, wad(20), wad(3)), (SELL, wad(10), wad(2)), (BUY, wad("7.5"), wad(2))],
    "net_short": [(SELL, wad(20), wad(3)), (BUY, wad(10), wad(2)), (SELL, wad("3.3"), wad(2))],
}


@pytest.fixture
def traders(alice, bob, carol) -> list[Any]:
    return [alice, bob, carol]


def open_book(ch: Any, amm: Any, traders: list[Any], fund_trader: Callable[[Any, int], None], book: str) -> None:
    for trader, (side, margin, leverage) in zip(traders, BOOKS[book], strict=True):
        fund_trader(trader, wad(1_000))
        ch.openPosition(amm, side, margin, leverage, 0, {"from": trader})


def change_curve(ch: Any, amm: Any, op: str, arg: int, sender: Any) -> Any:
    return ch.adjustK(amm, arg, {"from": sender}) if op == "adjustK" else ch.repeg(amm, arg, {"from": sender})


def expected_reserves(op: str, arg: int, q0: int, b0: int) -> tuple[int, int]:
    return scaled(q0, b0, arg) if op == "adjustK" else repegged(b0, arg)


def pool_close_value(amm: Any, net: int) -> int:
    """The pool's own quote for closing the net position (its getOutputPrice)."""
    return amm.getOutputPrice(ADD_TO_AMM if net > 0 else REMOVE_FROM_AMM, abs(net))


# within the move bound (half the 5 % maintenance ratio): a shrink or a price move of at most 2.5 % per block
CASES = [
    ("adjustK", wad("1.25"), "deepen"),
    ("adjustK", wad("0.98"), "shallow"),
    ("adjustK", ODD_FACTOR, "deepen"),
    ("adjustK", 2 * WAD - ODD_FACTOR, "shallow"),
    ("repeg", 1_020_000_000_000_000_001, "up"),  # × spot / 1e18
    ("repeg", 979_999_999_999_999_999, "down"),
]


@pytest.mark.parametrize("book", ["net_long", "net_short"])
@pytest.mark.parametrize(("op", "arg", "direction"), CASES)
def test_cost_is_the_change_in_closing_the_net_position(
    protocol, ch, amm, vault, fund, owner, traders, fund_trader, fund_deposit, book, op, arg, direction
):
    fund_deposit(FUND_DEPOSIT)
    open_book(ch, amm, traders, fund_trader, book)
    q0, b0 = amm.getReserve()
    net = amm.totalPositionSize()
    assert (net > 0) == (book == "net_long") and net != 0
    if op == "repeg":
        arg = spot_price(q0, b0) * arg // WAD
    q1, b1 = expected_reserves(op, arg, q0, b0)
    cost = curve_change_cost(net, q0, b0, q1, b1)

    # the sign follows from who gains: a deeper pool pays a net position more; moving the price up pays longs
    long_gains = {"deepen": True, "shallow": False, "up": book == "net_long", "down": book == "net_short"}
    assert (cost > 0) == long_gains[direction]

    positions = {t: ch.getPosition(amm, t) for t in traders}
    close_before = pool_close_value(amm, net)
    fund_before = fund.fundBalance()
    collateral_before = ch.getMarket(amm)[1]
    assets_before = vault_assets_wad(protocol)

    tx = change_curve(ch, amm, op, arg, owner)

    assert tx.return_value == cost
    if op == "adjustK":
        assert list(tx.events["KAdjusted"][0].values()) == [amm.address, q0, b0, q1, b1, cost]
    else:
        assert list(tx.events["Repegged"][0].values()) == [amm.address, spot_price(q0, b0), spot_price(q1, b1), cost]
    assert tuple(amm.getReserve()) == (q1, b1)
    assert amm.totalPositionSize() == net
    # the pool's own close quote moved by exactly the cost
    close_after = pool_close_value(amm, net)
    assert cost == (close_after - close_before if net > 0 else close_before - close_after)
    # booked: the fund pays the cost into the market's collateral; no token moves
    assert fund.fundBalance() == vault.balanceOfWad(fund) == fund_before - cost
    assert ch.getMarket(amm)[1] == collateral_before + cost
    assert vault_assets_wad(protocol) == assets_before
    # positions keep size, margin, open notional; their PnL is the new curve's
    for trader in traders:
        assert tuple(ch.getPosition(amm, trader)) == tuple(positions[trader])
        size, _, open_notional, _ = positions[trader]
        assert tuple(ch.getPositionNotionalAndUnrealizedPnl(amm, trader, SPOT)) == notional_and_pnl(
            size, open_notional, q1, b1
        )

    # everyone can still close and withdraw; the market ends with its rounding dust, never a deficit
    assert vault_assets_wad(protocol) >= vault_liabilities_wad(protocol, traders)
    close_and_withdraw_all(protocol, traders)
    assert amm.totalPositionSize() == 0
    assert 0 <= ch.getMarket(amm)[1] <= 100
    assert all(vault.balanceOfWad(t) == 0 for t in traders)
    assert vault_assets_wad(protocol) == vault_liabilities_wad(protocol, traders)


@pytest.mark.parametrize(("op", "arg"), [("adjustK", wad("1.5")), ("adjustK", wad("0.98")), ("repeg", wad("10.2"))])
def test_no_open_position_costs_nothing(ch, amm, fund, owner, alice, fund_trader, op, arg):
    # a round trip leaves no net position
    fund_trader(alice, wad(100))
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})
    ch.closePosition(amm, 0, {"from": alice})
    assert amm.totalPositionSize() == 0
    q0, b0 = amm.getReserve()
    fund_before, collateral_before = fund.fundBalance(), ch.getMarket(amm)[1]

    tx = change_curve(ch, amm, op, arg, owner)

    assert tx.return_value == 0
    assert tuple(amm.getReserve()) == expected_reserves(op, arg, q0, b0)
    assert fund.fundBalance() == fund_before == 0
    assert ch.getMarket(amm)[1] == collateral_before


def test_depth_and_price_after_adjust_k(ch, amm, owner):
    ch.adjustK(amm, wad(2), {"from": owner})
    assert tuple(amm.getReserve()) == (wad(2_000), wad(200))
    assert amm.getSpotPrice() == wad(10)
    # deeper: the same 50-quote long gets more base than on the 1000/100 pool (SPEC §8 vector)
    assert amm.getInputPrice(ADD_TO_AMM, wad(50)) > 4761904761904761904


def test_refused_when_the_fund_cannot_pay(ch, amm, fund, owner, traders, fund_trader, fund_deposit):
    open_book(ch, amm, traders, fund_trader, "net_long")
    q0, b0 = amm.getReserve()
    net = amm.totalPositionSize()
    cost = curve_change_cost(net, q0, b0, *scaled(q0, b0, wad("1.1")))
    assert cost > 0
    fund_deposit(cost - 1)
    collateral = ch.getMarket(amm)[1]

    with reverts_with("InsuranceFundInsufficient", cost, cost - 1):
        ch.adjustK(amm, wad("1.1"), {"from": owner})
    up = spot_price(q0, b0) * 102 // 100
    repeg_cost = curve_change_cost(net, q0, b0, *repegged(b0, up))
    assert repeg_cost > cost
    with reverts_with("InsuranceFundInsufficient", repeg_cost, cost - 1):
        ch.repeg(amm, up, {"from": owner})

    assert tuple(amm.getReserve()) == (q0, b0)
    assert fund.fundBalance() == cost - 1
    assert ch.getMarket(amm)[1] == collateral

    # with one more wei it goes through and empties the fund
    fund_deposit(1)
    assert ch.adjustK(amm, wad("1.1"), {"from": owner}).return_value == cost
    assert fund.fundBalance() == 0


def test_a_gain_needs_no_fund(ch, amm, fund, owner, traders, fund_trader):
    open_book(ch, amm, traders, fund_trader, "net_long")
    assert fund.fundBalance() == 0
    q0, b0 = amm.getReserve()
    cost = curve_change_cost(amm.totalPositionSize(), q0, b0, *scaled(q0, b0, wad("0.98")))
    assert cost < 0
    ch.adjustK(amm, wad("0.98"), {"from": owner})
    assert fund.fundBalance() == -cost


def test_invalid_arguments(ch, amm, owner):
    with reverts_with("ZeroKFactor"):
        ch.adjustK(amm, 0, {"from": owner})
    with reverts_with("ZeroPrice"):
        ch.repeg(amm, 0, {"from": owner})


def test_only_owner_or_controller(ch, amm, owner, rando, keeper):
    for call in (
        lambda s: ch.adjustK(amm, wad("1.1"), {"from": s}),
        lambda s: ch.repeg(amm, wad("10.2"), {"from": s}),
        lambda s: ch.adjustK(amm, wad("1.1"), wad(1), {"from": s}),
        lambda s: ch.repeg(amm, wad("10.2"), wad(1), {"from": s}),
    ):
        with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
            call(rando)
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        ch.setLiquidityController(rando, {"from": rando})

    tx = ch.setLiquidityController(keeper, {"from": owner})
    assert tx.events["LiquidityControllerChanged"][0]["controller"] == keeper
    assert ch.liquidityController() == keeper
    ch.adjustK(amm, wad("1.1"), {"from": keeper})
    ch.repeg(amm, wad("10.2"), {"from": keeper})
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        ch.adjustK(amm, wad("1.1"), {"from": rando})

    ch.setLiquidityController(ZERO_ADDRESS, {"from": owner})
    with reverts_with("OwnableUnauthorizedAccount", keeper.address.lower()):
        ch.adjustK(amm, wad("1.1"), {"from": keeper})


# ========================================================== bounds: the cost, the move, the block (issue: curve changes)


def test_max_cost_bounds_what_the_fund_pays(ch, amm, fund, owner, traders, fund_trader, fund_deposit):
    fund_deposit(FUND_DEPOSIT)
    open_book(ch, amm, traders, fund_trader, "net_long")
    q0, b0 = amm.getReserve()
    net = amm.totalPositionSize()
    deepen = curve_change_cost(net, q0, b0, *scaled(q0, b0, wad("1.1")))
    gain = -curve_change_cost(net, q0, b0, *scaled(q0, b0, wad("0.98")))
    down = spot_price(q0, b0) * 98 // 100
    repeg_gain = -curve_change_cost(net, q0, b0, *repegged(b0, down))
    assert deepen > 0 and gain > 0 and repeg_gain > 0
    collateral, fund_before = ch.getMarket(amm)[1], fund.fundBalance()

    with reverts_with("CurveChangeCostExceeded", deepen, deepen - 1):
        ch.adjustK(amm, wad("1.1"), deepen - 1, {"from": owner})
    # a negative bound demands a gain for the fund: one wei more than the change earns is refused
    with reverts_with("CurveChangeCostExceeded", -gain, -gain - 1):
        ch.adjustK(amm, wad("0.98"), -gain - 1, {"from": owner})
    with reverts_with("CurveChangeCostExceeded", -repeg_gain, -repeg_gain - 1):
        ch.repeg(amm, down, -repeg_gain - 1, {"from": owner})
    assert tuple(amm.getReserve()) == (q0, b0)
    assert (fund.fundBalance(), ch.getMarket(amm)[1]) == (fund_before, collateral)

    # at the bound it goes through, booked as the two-argument form books it
    tx = ch.adjustK(amm, wad("1.1"), deepen, {"from": owner})
    assert tx.return_value == deepen
    assert list(tx.events["KAdjusted"][0].values()) == [amm.address, q0, b0, *scaled(q0, b0, wad("1.1")), deepen]
    assert fund.fundBalance() == fund_before - deepen


def curve_move(q0: int, b0: int, q1: int, b1: int) -> int:
    """The ClearingHouse's measure of a block's curve change: relative price move plus relative base shrink."""
    p0, p1 = spot_price(q0, b0), spot_price(q1, b1)
    return abs(p1 - p0) * WAD // p0 + (max(b0 - b1, 0) * WAD // b0)


def test_a_change_moves_positions_by_at_most_half_the_maintenance_ratio(ch, amm, owner, traders, fund_trader, fund_deposit):
    fund_deposit(FUND_DEPOSIT)
    open_book(ch, amm, traders, fund_trader, "net_short")
    limit = ch.maxCurveMove()
    assert limit == ch.maintenanceMarginRatio() // 2 == wad("0.025")
    q0, b0 = amm.getReserve()
    spot = spot_price(q0, b0)
    up, down = spot * 1026 // 1000, spot * 974 // 1000
    collateral = ch.getMarket(amm)[1]
    for call, reserves in (
        (lambda: ch.repeg(amm, up, {"from": owner}), repegged(b0, up)),
        (lambda: ch.repeg(amm, down, {"from": owner}), repegged(b0, down)),
        (lambda: ch.adjustK(amm, wad("0.974"), {"from": owner}), scaled(q0, b0, wad("0.974"))),
    ):
        move = curve_move(q0, b0, *reserves)
        assert move > limit
        with reverts_with("CurveMoveTooLarge", move, limit):
            call()
    assert tuple(amm.getReserve()) == (q0, b0) and ch.getMarket(amm)[1] == collateral

    # deepening helps every position: no bound; within it a shrink or a move goes through
    ch.adjustK(amm, wad(3), {"from": owner})
    q1, b1 = amm.getReserve()
    ch.adjustK(amm, wad("0.976"), {"from": owner})
    assert curve_move(q1, b1, *amm.getReserve()) <= limit
    ch.repeg(amm, amm.getSpotPrice() * 1024 // 1000, {"from": owner})
    # the bound follows the maintenance ratio
    ch.setParams(wad("0.1"), wad("0.1"), wad("0.05"), 0, {"from": owner})
    assert ch.maxCurveMove() == wad("0.05")
    ch.repeg(amm, amm.getSpotPrice() * 1045 // 1000, {"from": owner})


def test_no_curve_change_after_a_trade_in_the_same_block(ch, amm, owner, alice, bob, fund_trader, fund_deposit):
    fund_deposit(FUND_DEPOSIT)
    fund_trader(alice, wad(1_000))
    fund_trader(bob, wad(1_000))
    ch.openPosition(amm, BUY, wad(20), wad(2), 0, {"from": alice})
    spot = amm.getSpotPrice()
    # a trade, then a change: refused
    txs = send_in_one_block([
        in_block(ch.openPosition, amm, SELL, wad(5), wad(2), 0, sender=bob),
        in_block(ch.adjustK, amm, wad("1.01"), sender=owner),
        in_block(ch.repeg, amm, spot * 99 // 100, sender=owner),
    ])
    assert [tx.status for tx in txs] == [1, 0, 0]
    assert [tx.revert_msg.split(":")[0] for tx in txs[1:]] == ["CurveChangeAfterTrade", "CurveChangeAfterTrade"]
    # a change, then trades: fine (they trade on the new curve); a second change in another transaction of the
    # block is refused too (only one transaction's changes per block, before any trade)
    reserves = amm.getReserve()
    txs = send_in_one_block([
        in_block(ch.adjustK, amm, wad("1.01"), sender=owner),
        in_block(ch.repeg, amm, spot * 99 // 100, sender=owner),
        in_block(ch.closePosition, amm, 0, sender=bob),
    ])
    assert [tx.status for tx in txs] == [1, 0, 1]
    assert txs[1].revert_msg.split(":")[0] == "CurveChangeAfterTrade"
    assert tuple(amm.getReserve()) != tuple(reserves)
    # the next block starts afresh
    ch.repeg(amm, amm.getSpotPrice() * 99 // 100, {"from": owner})
