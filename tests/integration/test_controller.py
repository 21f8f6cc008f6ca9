"""The automatic liquidity controller: its rule, its budget, its bounds, and a long random run.

Markets ETH and ETH2 (pool 1000 quote / 100 base, index 10, 18 decimals) with a 1 % spread fee so that the
InsuranceFund has income to budget from.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from brownie import ZERO_ADDRESS, Amm, chain
from brownie.exceptions import VirtualMachineError

from perp_ops.deploy import (
    DEFAULT_CONFIG,
    Deployment,
    amm_struct,
    deploy_protocol,
    feed_key,
    market_config,
    to_aggregator_answer,
)
from perp_ops.liquidity_controller import ControllerParams, deploy_controller
from tests.curve_model import curve_change_cost, repegged, scaled, spot_price
from tests.helpers import BUY, SELL, WAD, reverts_with, wad
from tests.ledger import close_and_withdraw_all, vault_assets_wad, vault_liabilities_wad

DEEPEN, SHRINK, REPEG = 0, 1, 2
NO_REPEG = ControllerParams(repeg_band=10 * WAD)
CONFIG: dict[str, Any] = {"spread_ratio": 10**16, "markets": {"ETH2": {}}}


@pytest.fixture(scope="module")
def protocol(owner) -> Deployment:
    return deploy_protocol(CONFIG, deployer=owner)


@pytest.fixture(scope="module")
def controller(protocol, owner, keeper) -> Any:
    return deploy_controller(protocol, {}, owner, keeper=keeper)


@pytest.fixture
def configure(controller, owner, protocol) -> Callable[..., Any]:
    def _configure(params: ControllerParams, symbol: str = "ETH") -> Any:
        return controller.configure(protocol.amms[symbol], params.as_tuple(), {"from": owner})

    return _configure


@pytest.fixture
def set_index(protocol) -> Callable[..., None]:
    def _set(price: int, symbol: str = "ETH") -> None:
        protocol.aggregators[symbol].updateAnswer(to_aggregator_answer(price), {"from": protocol.owner})

    return _set


@pytest.fixture
def trade(ch, fund_trader) -> Callable[..., Any]:
    funded: set[str] = set()

    def _trade(amm: Any, trader: Any, side: int, margin: int, leverage: int) -> Any:
        if trader.address not in funded:
            fund_trader(trader, wad(10_000))
            funded.add(trader.address)
        return ch.openPosition(amm, side, margin, leverage, 0, {"from": trader})

    return _trade


def next_period(ch: Any, amm: Any, keeper: Any) -> Any:
    """Wait for the next funding time and pay funding."""
    wait = amm.nextFundingTime() - chain.time()
    if wait > 0:
        chain.sleep(wait)
    chain.mine()
    return ch.payFunding(amm, {"from": keeper})


def decision(controller: Any, amm: Any) -> dict[str, int]:
    names = [
        "gap", "imbalance", "flow", "fundingRate", "allowance", "kAction", "kWanted", "kWantedCost",
        "kFactor", "kCost", "repegWanted", "repegWantedCost", "repegPrice", "repegCost",
    ]  # fmt: skip
    return dict(zip(names, (int(x) for x in controller.preview(amm)), strict=True))


def k_cost(amm: Any, factor: int) -> int:
    q, b = amm.getReserve()
    return curve_change_cost(amm.totalPositionSize(), q, b, *scaled(q, b, factor))


def bisect_factor(amm: Any, wanted: int, allowance: int) -> int:
    """The controller's search: the largest factor in (1, wanted] whose exact cost fits (40 halvings)."""
    lo, hi = WAD, wanted
    for _ in range(40):
        mid = (lo + hi) // 2
        if mid in (lo, hi):
            break
        if k_cost(amm, mid) <= allowance:
            lo = mid
        else:
            hi = mid
    return lo


# ============================================================================================ the rule


def test_deepens_when_the_gap_is_wide_and_the_book_balanced(
    controller, configure, ch, amm, fund, alice, bob, keeper, trade, set_index
):
    configure(NO_REPEG)
    trade(amm, alice, BUY, wad(50), wad(2))
    trade(amm, bob, SELL, wad(45), wad(2))
    set_index(wad("9.5"))  # mark ≈ 10.05 > index: longs pay, the fund earns
    funding = next_period(ch, amm, keeper)
    assert funding.events["FundingPaid"][0]["insuranceFundPnl"] > 0  # the book is net long
    q0, b0 = amm.getReserve()
    net = amm.totalPositionSize()
    assert 0 < net * WAD // b0 < 10**17

    d = decision(controller, amm)
    cost = curve_change_cost(net, q0, b0, *scaled(q0, b0, wad("1.02")))
    assert d["gap"] > 10**16
    assert (d["kAction"], d["kWanted"], d["kFactor"], d["kCost"]) == (DEEPEN, wad("1.02"), wad("1.02"), cost)
    assert d["repegPrice"] == 0 and 0 < cost <= d["allowance"]
    pending, fund_before = controller.pendingBudgetOf(amm), fund.fundBalance()
    assert d["allowance"] == min(pending, fund.surplus())

    tx = controller.update(amm, {"from": keeper})

    assert tx.return_value == cost
    assert list(tx.events["KStep"][0].values()) == [amm.address, DEEPEN, wad("1.02"), cost]
    assert tx.events["KAdjusted"][0]["cost"] == cost
    assert "StepLimited" not in tx.events and "RepegStep" not in tx.events
    assert tuple(amm.getReserve()) == scaled(q0, b0, wad("1.02"))
    assert fund.fundBalance() == fund_before - cost
    assert controller.budgetOf(amm) == pending - cost
    assert controller.lastFundBalance() == fund.fundBalance()
    updated = tx.events["Updated"][0]
    assert (updated["imbalance"], updated["budget"]) == (d["imbalance"], pending - cost)
    assert updated["gap"] > 10**16  # the TWAP window moved on by a block since the preview


def test_budget_scales_the_step_down(controller, configure, ch, amm, fund, alice, keeper, trade, set_index):
    configure(replace(NO_REPEG, imbalance_band=5 * 10**17, budget_share_of_fees=10**15))
    trade(amm, alice, BUY, wad(100), wad(3))
    set_index(wad("9.5"))
    next_period(ch, amm, keeper)
    d = decision(controller, amm)
    allowance = d["allowance"]
    assert d["kWantedCost"] == k_cost(amm, wad("1.02")) > allowance > 0
    granted = d["kFactor"]
    assert WAD < granted < wad("1.02")
    # the largest factor that fits, to the bisection's resolution, and the very factor the model finds
    assert 0 < k_cost(amm, granted) == d["kCost"] <= allowance
    assert k_cost(amm, granted + 2 * (2 * 10**16 >> 40) + 2) > allowance
    assert granted == bisect_factor(amm, wad("1.02"), allowance)

    tx = controller.update(amm, {"from": keeper})

    assert tx.events["KStep"][0]["factor"] == granted
    assert list(tx.events["StepLimited"][0].values()) == [
        amm.address,
        DEEPEN,
        wad("1.02"),
        granted,
        d["kWantedCost"],
        allowance,
    ]
    assert tx.return_value == d["kCost"] <= allowance
    assert controller.budgetOf(amm) == allowance - d["kCost"]


def test_no_budget_no_step(controller, configure, ch, amm, fund, alice, keeper, trade, set_index):
    configure(replace(NO_REPEG, imbalance_band=5 * 10**17, budget_share_of_fees=0))
    trade(amm, alice, BUY, wad(100), wad(3))
    set_index(wad("9.5"))
    next_period(ch, amm, keeper)
    reserves, fund_before = tuple(amm.getReserve()), fund.fundBalance()

    tx = controller.update(amm, {"from": keeper})

    assert "KStep" not in tx.events and "KAdjusted" not in tx.events
    assert list(tx.events["StepLimited"][0].values()) == [
        amm.address,
        DEEPEN,
        wad("1.02"),
        WAD,
        k_cost(amm, wad("1.02")),
        0,
    ]
    assert tuple(amm.getReserve()) == reserves
    assert fund.fundBalance() == fund_before
    assert controller.budgetOf(amm) == 0


def test_shrinks_when_the_fund_pays_funding(controller, configure, ch, amm, fund, alice, bob, keeper, trade, set_index):
    configure(NO_REPEG)
    trade(amm, alice, BUY, wad(50), wad(2))
    trade(amm, bob, SELL, wad(10), wad(2))
    set_index(wad(13))  # mark ≈ 11.7 < index: shorts pay longs, the pool is short, the fund pays
    funding = next_period(ch, amm, keeper)
    assert funding.events["FundingPaid"][0]["insuranceFundPnl"] < 0
    assert amm.fundingRate() < 0 < amm.totalPositionSize()
    cost = k_cost(amm, wad("0.98"))
    q0, b0 = amm.getReserve()
    pending, fund_before = controller.pendingBudgetOf(amm), fund.fundBalance()

    tx = controller.update(amm, {"from": keeper})

    assert cost < 0
    assert list(tx.events["KStep"][0].values()) == [amm.address, SHRINK, wad("0.98"), cost]
    assert tuple(amm.getReserve()) == scaled(q0, b0, wad("0.98"))
    assert fund.fundBalance() == fund_before - cost
    assert controller.budgetOf(amm) == pending - cost  # a gain returns to the budget


def test_funding_band_holds_the_shrink(controller, configure, ch, amm, alice, bob, keeper, trade, set_index):
    configure(replace(NO_REPEG, funding_band=10**17, gap_band=10 * WAD))
    trade(amm, alice, BUY, wad(50), wad(2))
    set_index(wad(13))
    next_period(ch, amm, keeper)
    reserves = tuple(amm.getReserve())
    tx = controller.update(amm, {"from": keeper})
    assert "KStep" not in tx.events and "StepLimited" not in tx.events
    assert tuple(amm.getReserve()) == reserves


def test_base_reserve_bounds(controller, configure, ch, amm, alice, bob, keeper, trade, set_index):
    trade(amm, alice, BUY, wad(50), wad(2))
    trade(amm, bob, SELL, wad(45), wad(2))
    set_index(wad("9.5"))
    next_period(ch, amm, keeper)
    q0, b0 = amm.getReserve()
    ceiling = b0 * 1005 // 1000
    configure(replace(NO_REPEG, max_base_reserve=ceiling))
    next_period(ch, amm, keeper)

    tx = controller.update(amm, {"from": keeper})

    factor = ceiling * WAD // b0
    assert tx.events["KStep"][0]["factor"] == factor
    assert tx.events["StepLimited"][0]["granted"] == factor
    assert tuple(amm.getReserve()) == scaled(q0, b0, factor)
    assert amm.getReserve()[1] <= ceiling

    # at the ceiling: no room left, no step
    next_period(ch, amm, keeper)
    reserves = tuple(amm.getReserve())
    tx = controller.update(amm, {"from": keeper})
    assert "KStep" not in tx.events
    assert tuple(amm.getReserve()) == reserves


def test_shrink_stops_at_the_floor(controller, configure, ch, amm, alice, keeper, trade, set_index, fund_deposit):
    fund_deposit(wad(100))  # the fund pays two funding periods
    trade(amm, alice, BUY, wad(50), wad(2))
    set_index(wad(14))
    next_period(ch, amm, keeper)
    b0 = amm.getReserve()[1]
    floor = b0 * 993 // 1000
    configure(replace(NO_REPEG, min_base_reserve=floor))
    next_period(ch, amm, keeper)

    tx = controller.update(amm, {"from": keeper})

    factor = tx.events["KStep"][0]["factor"]
    assert tx.events["KStep"][0]["action"] == SHRINK
    assert factor == -(-floor * WAD // b0)  # ceil: the smallest factor that keeps b >= floor
    assert floor <= amm.getReserve()[1] < floor + 2


@pytest.mark.parametrize("book", ["net_short", "net_long"])
def test_repegs_toward_the_index(controller, configure, ch, amm, fund, alice, keeper, trade, set_index, book):
    # k steps off: no deepening (imbalance band 0), no shrinking (funding band 10)
    configure(ControllerParams(imbalance_band=0, funding_band=10 * WAD, max_repeg_step=10**16, repeg_band=2 * 10**16))
    trade(amm, alice, SELL if book == "net_short" else BUY, wad(20), wad(2))
    set_index(wad(12))
    next_period(ch, amm, keeper)
    q0, b0 = amm.getReserve()
    net = amm.totalPositionSize()
    spot = spot_price(q0, b0)
    wanted = spot * (WAD + 10**16) // WAD
    cost = curve_change_cost(net, q0, b0, *repegged(b0, wanted))
    d = decision(controller, amm)
    assert d["kFactor"] == WAD and d["repegWanted"] == wanted and d["repegWantedCost"] == cost

    tx = controller.update(amm, {"from": keeper})

    if book == "net_short":  # moving up costs the shorts: a gain
        assert cost < 0
        assert list(tx.events["RepegStep"][0].values()) == [amm.address, spot, spot_price(*repegged(b0, wanted)), cost]
    else:  # moving up pays the longs: within the budget
        assert cost > 0
        granted = tx.events["RepegStep"][0]["priceAfter"] if "RepegStep" in tx.events else spot
        assert spot < granted <= wanted
        paid = tx.return_value
        assert 0 < paid <= d["allowance"]
        if cost > d["allowance"]:
            assert tx.events["StepLimited"][0]["action"] == REPEG
    assert spot < amm.getSpotPrice() <= wanted


def test_worked_example_of_the_docs(
    controller, configure, ch, amm, fund, alice, keeper, trade, set_index, fund_deposit
):
    """docs/liquidity-controller.md: deepen 2 % then repeg 1 % toward the index, costs to the wei."""
    trade(amm, alice, BUY, wad(50), wad(2))  # 100 quote notional
    assert tuple(amm.getReserve()) == (wad(1_100), 90909090909090909091)
    assert amm.totalPositionSize() == 9090909090909090909
    configure(
        ControllerParams(
            gap_band=5 * 10**15,
            repeg_band=10**16,
            imbalance_band=2 * 10**17,
            funding_band=5 * 10**14,
            budget_share_of_fees=5 * 10**17,
        )
    )
    fund_deposit(wad(20))  # a top-up counts as income: budget 10 + half the funding surplus
    set_index(wad("11.5"))
    next_period(ch, amm, keeper)
    pending = controller.pendingBudgetOf(amm)
    assert wad(10) < pending < wad(11)

    tx = controller.update(amm, {"from": keeper})

    assert list(tx.events["KStep"][0].values()) == [amm.address, DEEPEN, wad("1.02"), 178571428571428572]
    repeg = tx.events["RepegStep"][0]
    assert (repeg["priceBefore"], repeg["priceAfter"], repeg["cost"]) == (
        wad("12.1"),
        11978999999999999999,
        -1001785714285714287,
    )
    assert tuple(amm.getReserve()) == (1110779999999999999991, 92727272727272727272)
    assert controller.budgetOf(amm) == pending - 178571428571428572 + 1001785714285714287


# ======================================================================================= the budget


def test_income_is_shared_by_share(controller, configure, protocol, ch, fund, alice, bob, keeper, trade):
    eth, eth2 = protocol.amms["ETH"], protocol.amms["ETH2"]
    configure(replace(NO_REPEG, budget_share_of_fees=3 * 10**17), "ETH")
    configure(replace(NO_REPEG, budget_share_of_fees=5 * 10**17), "ETH2")
    with reverts_with("BudgetSharesExceedOne", 13 * 10**17):
        configure(replace(NO_REPEG, budget_share_of_fees=8 * 10**17), "ETH")
    start = controller.lastFundBalance()
    trade(eth, alice, BUY, wad(30), wad(2))
    trade(eth2, bob, SELL, wad(40), wad(2))
    income = fund.fundBalance() - start
    assert income == wad("1.4")  # 1 % of 60 + 80
    assert controller.pendingBudgetOf(eth) == income * 3 // 10
    assert controller.pendingBudgetOf(eth2) == income * 5 // 10
    assert controller.budgetOf(eth) == controller.budgetOf(eth2) == 0

    next_period(ch, eth, keeper)
    before = fund.fundBalance()
    tx = controller.update(eth, {"from": keeper})
    income = before - start
    assert list(tx.events["IncomeAccrued"][0].values()) == [before, income]
    # the other market keeps its accrued share for its own update
    assert controller.budgetOf(eth2) == income * 5 // 10
    assert controller.pendingBudgetOf(eth2) == income * 5 // 10
    # a disabled market accrues nothing
    controller.setEnabled(eth2, False, {"from": protocol.owner})
    trade(eth, alice, BUY, wad(30), wad(2))
    assert controller.pendingBudgetOf(eth2) == income * 5 // 10


def test_fund_surplus_caps_the_allowance(controller, configure, ch, amm, fund, owner, alice, keeper, trade, set_index):
    configure(replace(NO_REPEG, imbalance_band=5 * 10**17, budget_share_of_fees=WAD))
    trade(amm, alice, BUY, wad(100), wad(3))
    set_index(wad("9.5"))
    next_period(ch, amm, keeper)
    fund.raiseReserveFloor(fund.fundBalance(), {"from": owner})
    assert fund.surplus() == 0 < controller.pendingBudgetOf(amm)
    d = decision(controller, amm)
    assert d["allowance"] == 0 and d["kFactor"] == WAD


# ============================================================================== rules of engagement


def test_update_once_per_funding_period(controller, configure, protocol, ch, amm, owner, rando, keeper):
    with reverts_with("ControllerDisabled", amm.address.lower()):
        controller.update(amm, {"from": keeper})
    configure(NO_REPEG)
    with reverts_with("UpdateTooEarly", amm.address.lower(), amm.nextFundingTime()):
        controller.update(amm, {"from": keeper})
    next_period(ch, amm, keeper)
    with reverts_with("NotKeeper", rando.address.lower()):
        controller.update(amm, {"from": rando})  # not anyone: nobody else times a curve change
    controller.update(amm, {"from": keeper})
    assert controller.lastUpdate(amm)[0] == amm.nextFundingTime()
    with reverts_with("UpdateTooEarly", amm.address.lower(), amm.nextFundingTime()):
        controller.update(amm, {"from": keeper})
    # a funding period that passed but was not paid does not count
    chain.sleep(7_200)
    chain.mine()
    with reverts_with("UpdateTooEarly"):
        controller.update(amm, {"from": keeper})
    next_period(ch, amm, keeper)
    controller.update(amm, {"from": keeper})

    tx = controller.setEnabled(amm, False, {"from": owner})
    assert tx.events["EnabledChanged"][0]["enabled"] is False
    next_period(ch, amm, keeper)
    with reverts_with("ControllerDisabled"):
        controller.update(amm, {"from": keeper})
    controller.setEnabled(amm, True, {"from": owner})  # re-enabled: waits for the next period
    with reverts_with("UpdateTooEarly"):
        controller.update(amm, {"from": keeper})
    next_period(ch, amm, keeper)
    amm.setOpen(False, {"from": owner})
    with reverts_with("MarketNotOpen", amm.address.lower()):
        controller.update(amm, {"from": keeper})


def test_the_keeper_is_the_owners_choice(controller, configure, ch, amm, owner, rando, keeper):
    configure(NO_REPEG)
    next_period(ch, amm, keeper)
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        controller.setKeeper(rando, {"from": rando})
    tx = controller.setKeeper(ZERO_ADDRESS, {"from": owner})
    assert tx.events["KeeperChanged"][0]["keeper"] == ZERO_ADDRESS and controller.keeper() == ZERO_ADDRESS
    with reverts_with("NotKeeper", keeper.address.lower()):
        controller.update(amm, {"from": keeper})
    controller.update(amm, {"from": owner})  # no keeper: the owner only
    controller.setKeeper(rando, {"from": owner})
    next_period(ch, amm, keeper)
    controller.update(amm, {"from": rando})


def test_configure_checks(controller, configure, protocol, owner, rando, amm):
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        controller.configure(amm, NO_REPEG.as_tuple(), {"from": rando})
    with reverts_with("OwnableUnauthorizedAccount", rando.address.lower()):
        controller.setEnabled(amm, False, {"from": rando})
    with reverts_with("ControllerDisabled"):
        controller.setEnabled(amm, True, {"from": owner})  # never configured
    for bad, error in ((replace(NO_REPEG, max_step=WAD), ("StepNotBelowOne", WAD)),
                       (replace(NO_REPEG, max_repeg_step=WAD), ("StepNotBelowOne", WAD)),
                       (replace(NO_REPEG, budget_share_of_fees=WAD + 1), ("BudgetShareAboveOne", WAD + 1))):  # fmt: skip
        with reverts_with(*error):
            configure(bad)
    with reverts_with("InvalidBounds", 0, wad(200)):
        configure(replace(NO_REPEG, min_base_reserve=0, max_base_reserve=wad(200)))
    with reverts_with("InvalidBounds", wad(201), wad(200)):
        configure(replace(NO_REPEG, min_base_reserve=wad(201), max_base_reserve=wad(200)))
    cfg = market_config({**DEFAULT_CONFIG, **CONFIG})
    foreign = Amm.deploy(amm_struct(cfg), protocol.price_feed, feed_key("ETH"), rando, owner, {"from": owner})
    with reverts_with("WrongClearingHouse", foreign.address.lower()):
        controller.configure(foreign, NO_REPEG.as_tuple(), {"from": owner})

    tx = configure(NO_REPEG)
    assert tx.events["Configured"][0]["amm"] == amm
    assert tuple(controller.getParams(amm)) == NO_REPEG.as_tuple()
    assert list(controller.markets()) == [amm]
    configure(replace(NO_REPEG, max_step=10**16))  # reconfiguring does not list it twice
    assert list(controller.markets()) == [amm]


def test_needs_the_clearing_house_role(controller, configure, ch, amm, owner, alice, bob, keeper, trade, set_index):
    configure(NO_REPEG)
    trade(amm, alice, BUY, wad(50), wad(2))
    trade(amm, bob, SELL, wad(45), wad(2))
    set_index(wad("9.5"))
    next_period(ch, amm, keeper)
    ch.setLiquidityController(owner, {"from": owner})
    with reverts_with("OwnableUnauthorizedAccount", controller.address.lower()):
        controller.update(amm, {"from": keeper})


# ======================================================================================== random run

RUN_CONFIG: dict[str, Any] = {
    "spread_ratio": 10**16,
    "quote_asset_reserve": wad(10_000),
    "base_asset_reserve": wad(1_000),
}
RUN_PARAMS = ControllerParams(
    max_step=2 * 10**16,
    max_repeg_step=10**16,
    gap_band=10**16,
    repeg_band=2 * 10**16,
    imbalance_band=2 * 10**17,
    flow_target=5 * 10**16,
    budget_share_of_fees=5 * 10**17,
    min_base_reserve=wad(800),
    max_base_reserve=wad(1_300),
)


def test_random_run_stays_within_budget_and_bounds(owner, alice, bob, carol, rando, keeper):
    d = deploy_protocol(RUN_CONFIG, deployer=owner)
    ch, amm, fund, vault = d.clearing_house, d.amm, d.insurance_fund, d.vault
    controller = deploy_controller(d, {"ETH": RUN_PARAMS}, owner, keeper=keeper)
    p = RUN_PARAMS
    traders = [alice, bob, carol, rando]
    for t in traders:
        d.quote_token.mint(t, wad(100_000), {"from": t})
        d.quote_token.approve(vault, wad(100_000), {"from": t})
        vault.deposit(wad(100_000), {"from": t})
    rng = random.Random(20_240_601)
    index = wad(10)
    income_total = spent_total = 0
    last_balance = controller.lastFundBalance()
    seen = {"deepen": 0, "shrink": 0, "repeg": 0, "limited": 0}

    for _ in range(60):
        for _ in range(2):
            trader = rng.choice(traders)
            try:
                if ch.getPosition(amm, trader)[0] != 0 and rng.random() < 0.25:
                    ch.closePosition(amm, 0, {"from": trader})
                else:
                    side = rng.choice([BUY, SELL])
                    margin, leverage = wad(rng.randint(10, 200)), wad(rng.randint(1, 5))
                    ch.openPosition(amm, side, margin, leverage, 0, {"from": trader})
            except VirtualMachineError:
                pass  # a trade the protocol refuses (margin, bad debt) is simply not made
        index = index * (WAD + int(rng.gauss(0, 0.02) * WAD)) // WAD
        d.aggregators["ETH"].updateAnswer(to_aggregator_answer(index), {"from": owner})
        next_period(ch, amm, keeper)

        balance = fund.fundBalance()
        income_total += max(0, balance - last_balance)
        pending, surplus = controller.pendingBudgetOf(amm), fund.surplus()
        allowance = min(pending, surplus)
        q0, b0 = amm.getReserve()
        net = amm.totalPositionSize()
        oracle = amm.getUnderlyingPrice()

        tx = controller.update(amm, {"from": keeper})

        k_paid = repeg_paid = 0
        if "KStep" in tx.events:
            step = tx.events["KStep"][0]
            factor, k_paid = step["factor"], step["cost"]
            assert k_paid == curve_change_cost(net, q0, b0, *scaled(q0, b0, factor))
            assert k_paid <= allowance
            q0, b0 = scaled(q0, b0, factor)
            assert [tx.events["KAdjusted"][0][k] for k in ("quoteReserveAfter", "baseReserveAfter")] == [q0, b0]
            if step["action"] == DEEPEN:
                assert WAD < factor <= WAD + p.max_step and b0 <= p.max_base_reserve
                seen["deepen"] += 1
            else:
                assert WAD - p.max_step <= factor < WAD and b0 >= p.min_base_reserve
                seen["shrink"] += 1
        if "RepegStep" in tx.events:
            step = tx.events["RepegStep"][0]
            before, after, repeg_paid = step["priceBefore"], step["priceAfter"], step["cost"]
            assert before == spot_price(q0, b0)
            assert abs(after - before) <= before * p.max_repeg_step // WAD + 2  # + the pool's rounding
            assert min(before, oracle) - 1 <= after <= max(before, oracle) + 1  # toward the index, never past it
            assert repeg_paid <= allowance - k_paid
            seen["repeg"] += 1
        seen["limited"] += len(tx.events["StepLimited"]) if "StepLimited" in tx.events else 0
        assert tx.return_value == k_paid + repeg_paid
        spent_total += k_paid + repeg_paid
        assert controller.budgetOf(amm) == pending - k_paid - repeg_paid >= 0
        assert spent_total <= income_total * p.budget_share_of_fees // WAD
        last_balance = controller.lastFundBalance()
        assert last_balance == fund.fundBalance()
        assert vault_assets_wad(d) >= vault_liabilities_wad(d, [*traders, keeper])

    assert all(seen.values()), seen  # the run exercised every action and the budget cut
    close_and_withdraw_all(d, [*traders, keeper], liquidator=keeper)
    assert amm.totalPositionSize() == 0
    assert ch.getMarket(amm)[1] >= 0
    assert vault_assets_wad(d) == vault_liabilities_wad(d, [*traders, keeper])
