"""Curve changes (adjustK, repeg, the liquidity controller's update) cannot be sandwiched, and are bounded.

The pool is the counterparty of the traders' net position: moving its curve pays or charges that position,
against the InsuranceFund. On the old code
- anyone could call `LiquidityController.update` in the same block as trades, or in the same transaction:
  open toward the index, update (the repeg moves the price further that way), close, and keep the move; the
  fund paid for it, or lost the gain it would have made (tests 1 and 2, as one transaction or as three around
  the keeper's update in one block: +2.0 quote for 40 of margin, out of the 5.0 the repeg would have earned the
  fund);
- whoever front-ran the owner's repeg was paid by the fund: the owner had no way to bound the cost (test 3: a
  2 % repeg planned to earn the fund 10.0 cost it 8.0 after bob's short, bob made 18.0);
- a repeg that cost the fund nothing could still push positions under water: a 10 % move (a 1.0 gain for the fund)
  bankrupted a short at 14x, whose 6.0 of bad debt the fund then paid, ending at 89.2 below its 100 floor (test 4).

Now
- a curve change after a trade in the same block reverts `CurveChangeAfterTrade` (every trade of a block comes
  after all of its curve changes, which must all be in one transaction), and `update` is the keeper's (or the
  owner's) to call (`NotKeeper`);
- `adjustK(amm, factor, maxCost)` / `repeg(amm, price, maxCost)` refuse a cost above the owner's bound
  (`CurveChangeCostExceeded`); the controller passes its exact predicted cost;
- a block's curve changes may move positions' value (relative price move plus relative shrink of the base
  reserve) by at most half the maintenance margin ratio (`CurveMoveTooLarge`): a position that met the
  maintenance ratio keeps at least about half of it, so the change alone leaves no bad debt;
- the cost is paid out of the fund's surplus only (above its reserve floor and the bad debt it still owes).
docs/security.md, "Curve changes", says what is left (a front-runner who holds across blocks).
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import BatchCaller, chain

from perp_ops.deploy import deploy_protocol
from perp_ops.liquidity_controller import ControllerParams, deploy_controller
from tests.curve_model import curve_change_cost, repegged
from tests.helpers import BUY, SELL, WAD, reverts_with, wad
from tests.integration.risk_helpers import set_index
from tests.security.blocks import call, send_in_one_block
from tests.trading import addr, assert_unchanged, capture_state, deposit, spot_price

# a 10,000 / 1,000 pool at 10, no fees: a round trip without a curve change gives back what it cost, to a wei
CONFIG = {"quote_asset_reserve": wad(10_000), "base_asset_reserve": wad(1_000)}
# the controller only repegs: 1 % a period toward the index when the TWAP gap exceeds 2 %
REPEG_ONLY = ControllerParams(imbalance_band=0, funding_band=10 * WAD, max_repeg_step=10**16, repeg_band=2 * 10**16)
ATTACK_MARGIN, ATTACK_LEVERAGE = wad(40), wad(5)


@pytest.fixture(scope="module")
def d(owner) -> Any:
    return deploy_protocol(CONFIG, deployer=owner)


@pytest.fixture(scope="module")
def controller(d, owner, keeper) -> Any:
    return deploy_controller(d, {"ETH": REPEG_ONLY}, owner, keeper=keeper)


def fund_insurance(d: Any, amount: int) -> None:
    d.quote_token.mint(d.owner, amount, {"from": d.owner})
    d.quote_token.approve(d.insurance_fund, amount, {"from": d.owner})
    d.insurance_fund.deposit(amount, {"from": d.owner})


def next_period(d: Any, keeper: Any) -> None:
    chain.sleep(max(d.amm.nextFundingTime() - chain.time(), 0))
    chain.mine()
    d.clearing_house.payFunding(d.amm, {"from": keeper})


@pytest.fixture
def gap(d, controller, alice, keeper) -> None:
    """The mark stood 10 % above the index for a funding period: the controller's next update repegs 1 % down.
    The fund has a budget for it (a 100 top-up is income, half of it this market's)."""
    fund_insurance(d, wad(100))
    deposit(d, alice, wad(1_000))
    d.clearing_house.openPosition(d.amm, BUY, wad(250), wad(2), 0, {"from": alice})  # mark 11.025
    next_period(d, keeper)
    decision = controller.preview(d.amm)
    assert decision[12] == d.amm.getSpotPrice() * 99 // 100  # repegPrice: 1 % toward the index


def batch(attacker: Any, calls: list[tuple[Any, tuple[Any, ...]]], sender: Any) -> Any:
    """One transaction from the attacker contract: every `fn(*args)` in order."""
    targets = [fn._address for fn, _ in calls]
    data = [fn.encode_input(*args) for fn, args in calls]
    return attacker.run(targets, data, {"from": sender})


def funded_attacker(d: Any, sender: Any, amount: int) -> Any:
    attacker = BatchCaller.deploy({"from": sender})
    d.quote_token.mint(attacker, amount, {"from": sender})
    batch(attacker, [(d.quote_token.approve, (d.vault, amount)), (d.vault.deposit, (amount,))], sender)
    return attacker


# ================================================================================== 1. the controller


def test_open_update_close_in_one_transaction_is_refused(d, controller, gap, owner, rando):
    ch, amm = d.clearing_house, d.amm
    attacker = funded_attacker(d, rando, wad(1_000))
    sandwich = [
        (ch.openPosition, (amm, SELL, ATTACK_MARGIN, ATTACK_LEVERAGE, 0)),  # toward the index, not past it
        (controller.update, (amm,)),
        (ch.closePosition, (amm, 0)),
    ]
    before = capture_state(d, [attacker, owner])

    # nobody but the keeper times an update ...
    with reverts_with("NotKeeper", addr(attacker)):
        batch(attacker, sandwich, rando)
    # ... and not even the keeper after a trade of the same block
    controller.setKeeper(attacker, {"from": owner})
    with reverts_with("CurveChangeAfterTrade"):
        batch(attacker, sandwich, rando)

    assert_unchanged(before, capture_state(d, [attacker, owner]))
    # alone in its block the update repegs as planned
    tx = batch(attacker, [(controller.update, (amm,))], rando)
    assert "RepegStep" in tx.events


def test_trades_around_the_keepers_update_in_one_block_take_nothing(d, controller, gap, bob, keeper):
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    deposit(d, bob, wad(1_000))
    bob_before, fund_before = vault.balanceOfWad(bob), d.insurance_fund.fundBalance()

    txs = send_in_one_block([
        call(ch.openPosition, amm, SELL, ATTACK_MARGIN, ATTACK_LEVERAGE, 0, sender=bob),
        call(controller.update, amm, sender=keeper),
        call(ch.closePosition, amm, 0, sender=bob),
    ])

    assert [tx.status for tx in txs] == [1, 0, 1]
    assert txs[1].revert_msg.split(":")[0] == "CurveChangeAfterTrade"
    assert vault.balanceOfWad(bob) <= bob_before  # a plain round trip: at most the pool's rounding lost
    assert d.insurance_fund.fundBalance() == fund_before
    # the keeper's next try, first in its block, repegs
    tx = controller.update(amm, {"from": keeper})
    assert "RepegStep" in tx.events


# ============================================================================= 2. the owner's changes


@pytest.fixture
def net_long(d, alice) -> None:
    deposit(d, alice, wad(1_000))
    d.clearing_house.openPosition(d.amm, BUY, wad(250), wad(2), 0, {"from": alice})


def test_a_front_run_of_the_owners_repeg_makes_it_refuse(d, net_long, owner, bob):
    """The owner plans a 2 % repeg down, a gain for the fund on the net long it sees, and bounds its cost at 0
    (the fund must not pay). bob front-runs it with a short that flips the net position: the repeg would now pay
    the shorts out of the fund; it is refused, and bob's round trip takes nothing."""
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    fund_insurance(d, wad(1_000))
    q0, b0 = amm.getReserve()
    down = spot_price(q0, b0) * 98 // 100
    planned = curve_change_cost(amm.totalPositionSize(), q0, b0, *repegged(b0, down))
    assert planned < 0
    deposit(d, bob, wad(2_000))
    bob_before = vault.balanceOfWad(bob)

    # in the same block: refused whatever the bound
    txs = send_in_one_block([
        call(ch.openPosition, amm, SELL, wad(300), wad(3), 0, sender=bob),
        call(ch.repeg, amm, down, 0, sender=owner),
    ])
    assert [tx.status for tx in txs] == [1, 0]
    assert txs[1].revert_msg.split(":")[0] == "CurveChangeAfterTrade"
    # in the next block: the cost bound refuses it
    q1, b1 = amm.getReserve()
    assert amm.totalPositionSize() < 0
    down = spot_price(q1, b1) * 98 // 100
    cost = curve_change_cost(amm.totalPositionSize(), q1, b1, *repegged(b1, down))
    assert cost > 0
    fund_before = d.insurance_fund.fundBalance()
    with reverts_with("CurveChangeCostExceeded", cost, 0):
        ch.repeg(amm, down, 0, {"from": owner})
    ch.closePosition(amm, 0, {"from": bob})
    assert vault.balanceOfWad(bob) <= bob_before
    assert d.insurance_fund.fundBalance() == fund_before


def test_the_cost_is_paid_out_of_the_surplus_only(d, net_long, owner):
    """Above the fund's reserve floor (and the bad debt it still owes, `InsuranceFund.surplus()`)."""
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    q0, b0 = amm.getReserve()
    up = spot_price(q0, b0) * 102 // 100
    cost = curve_change_cost(amm.totalPositionSize(), q0, b0, *repegged(b0, up))
    assert cost > 0
    fund_insurance(d, wad(100))
    fund.raiseReserveFloor(wad(100) - cost + 1, {"from": owner})
    assert fund.surplus() == cost - 1 < fund.fundBalance()
    with reverts_with("InsuranceFundInsufficient", cost, cost - 1):
        ch.repeg(amm, up, {"from": owner})
    fund_insurance(d, 1)  # one more wei above the floor
    assert ch.repeg(amm, up, cost, {"from": owner}).return_value == cost
    assert fund.fundBalance() == fund.reserveFloor()


# =========================================================================== 3. the bad debt it creates


@pytest.fixture
def balanced(owner, alice, bob) -> Any:
    """Default pool (1000 / 100, margins 5 %): alice long 200, bob short 210 at 14x (ratio 7.1 %), net short;
    the fund holds exactly its reserve floor."""
    p = deploy_protocol(deployer=owner)
    for t in (alice, bob):
        deposit(p, t, wad(1_000))
    p.clearing_house.openPosition(p.amm, BUY, wad(20), wad(10), 0, {"from": alice})
    p.clearing_house.openPosition(p.amm, SELL, wad(15), wad(14), 0, {"from": bob})
    fund_insurance(p, wad(100))
    p.insurance_fund.raiseReserveFloor(wad(100), {"from": owner})
    assert p.amm.totalPositionSize() < 0
    return p


def test_a_repeg_cannot_bankrupt_a_position_that_met_maintenance(balanced, owner, bob, keeper):
    d = balanced
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    q0, b0 = amm.getReserve()
    spot = spot_price(q0, b0)
    limit = ch.maxCurveMove()
    assert limit == wad("0.025")
    # 10 % up: a gain for the fund on the net short, but it would take bob's 7.1 % equity to -3 % of his
    # notional, a bad debt the fund would pay below its floor
    up = spot * 110 // 100
    assert curve_change_cost(amm.totalPositionSize(), q0, b0, *repegged(b0, up)) < 0
    move = abs(spot_price(*repegged(b0, up)) - spot) * WAD // spot
    before = capture_state(d, [bob])
    with reverts_with("CurveMoveTooLarge", move, limit):
        ch.repeg(amm, up, {"from": owner})
    assert_unchanged(before, capture_state(d, [bob]))

    # the most a block may move: bob can be liquidated afterwards, with no bad debt
    ch.repeg(amm, spot * 1024 // 1000, {"from": owner})
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    chain.sleep(1_800)  # the 15-minute TWAP sees the new price
    chain.mine()
    assert ch.getMarginRatio(amm, bob) < ch.maintenanceMarginRatio()
    tx = ch.liquidate(amm, bob, {"from": keeper})
    assert tx.events["PositionChanged"][0]["badDebt"] == 0
    assert tx.events["PositionLiquidated"][0]["badDebt"] == 0
    assert fund.fundBalance() >= fund.reserveFloor() and ch.unpaidBadDebt() == 0


def test_one_blocks_changes_are_bounded_together(owner):
    """Changes may be chained in one transaction (the controller's k step and repeg; a timelock batch), never
    beyond the block's bound: two 2 % repegs in one batch are refused as one 4 % move."""
    governor = owner
    d = deploy_protocol({"timelock_delay": 60}, deployer=governor)
    ch, amm, tl = d.clearing_house, d.amm, d.timelock
    spot = amm.getSpotPrice()
    steps = [spot * 102 // 100, spot * 102 * 102 // 10_000]
    salt, none = "0x" + "00" * 31 + "07", "0x" + "00" * 32
    payloads = [ch.repeg.encode_input(amm, p) for p in steps]
    tl.scheduleBatch([ch, ch], [0, 0], payloads, none, salt, 60, {"from": governor})
    chain.sleep(61)
    chain.mine()
    q, b = amm.getReserve()
    move = (spot_price(*repegged(b, steps[1])) - spot) * WAD // spot
    with reverts_with("CurveMoveTooLarge", move, ch.maxCurveMove()):
        tl.executeBatch([ch, ch], [0, 0], payloads, none, salt, {"from": governor})
    assert tuple(amm.getReserve()) == (q, b)
    # a k step and a repeg within the bound, in one transaction: fine
    payloads = [ch.adjustK.encode_input(amm, wad("0.99")), ch.repeg.encode_input(amm, spot * 101 // 100)]
    salt = "0x" + "00" * 31 + "08"
    tl.scheduleBatch([ch, ch], [0, 0], payloads, none, salt, 60, {"from": governor})
    chain.sleep(61)
    chain.mine()
    tl.executeBatch([ch, ch], [0, 0], payloads, none, salt, {"from": governor})
    assert amm.getReserve()[1] == b * 99 // 100
