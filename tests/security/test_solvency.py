"""Solvency and containment (issue #11): nobody is ever paid out of someone else's money.

- A payout larger than the market's booked collateral (a profitable close, margin removed, a liquidation's
  payouts) is prepaid by the InsuranceFund at that moment (Perp v1's prepaid bad debt), then netted against
  the bad debt the fund pays later in that market; when the fund cannot pay, the payout is refused and nothing
  is paid. A market's booked collateral never goes below zero, and every depositor can withdraw.
- The fund's withdrawable surplus excludes the reserve floor and the bad debt it still owes.
- After a shutdown, margin does not move (`MarketClosed`).
- A partial liquidation whose funding owed exceeds the margin share it realises goes the full way.
"""

from __future__ import annotations

from typing import Any

from brownie import chain
from brownie.exceptions import VirtualMachineError

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import set_index

DEPOSIT = wad(1_000)


def _fund(d: Any, traders: list[Any], amount: int = DEPOSIT) -> None:
    for t in traders:
        d.quote_token.mint(t, amount, {"from": t})
        d.quote_token.approve(d.vault, amount, {"from": t})
        d.vault.deposit(amount, {"from": t})


def _fund_insurance(d: Any, owner: Any, amount: int) -> None:
    d.quote_token.mint(owner, amount, {"from": owner})
    d.quote_token.approve(d.insurance_fund, amount, {"from": owner})
    d.insurance_fund.deposit(amount, {"from": owner})


def _collateral(d: Any) -> int:
    return d.clearing_house.getMarket(d.amm)[1]


def _covered(d: Any, accounts: list[Any]) -> None:
    """The Vault's tokens cover every free balance, the fund and every market's booked collateral."""
    owed = sum(d.vault.balanceOfWad(a) for a in accounts) + d.vault.balanceOfWad(d.insurance_fund)
    owed += max(_collateral(d), 0)
    assert d.quote_token.balanceOf(d.vault) * d.vault.scale() >= owed
    assert _collateral(d) >= 0
    for a in accounts:  # each whole free balance is withdrawable (a call, not a transfer)
        if d.vault.balanceOf(a) > 0:
            d.vault.withdraw.call(d.vault.balanceOf(a), {"from": a})


def test_a_profit_beyond_the_market_is_refused_when_the_fund_cannot_pay(owner, alice, bob, carol):
    """Alice and bob short; alice's profit (114.12 back) exceeds the 40 the market holds and the fund is
    empty: the close is refused, nothing is paid, and carol (an idle depositor) can still withdraw all.
    Old main paid alice out of carol's deposit."""
    d = deploy_protocol(deployer=owner)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    _fund(d, [alice, bob], wad(20))
    _fund(d, [carol], wad(200))
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": bob})
    try:
        ch.closePosition(amm, 0, {"from": alice})
    except VirtualMachineError as exc:
        refusal = exc.revert_msg
    else:
        refusal = None
        vault.withdraw(vault.balanceOf(alice), {"from": alice})  # old main: alice takes 114.12
    # carol's whole deposit is withdrawable (a call, not a transfer): old main reverted InsufficientBalance here
    vault.withdraw.call(wad(200), {"from": carol})
    assert refusal == "InsuranceFundInsufficient: 74117647058823529412, 0"
    assert _collateral(d) == wad(40)
    _covered(d, [alice, bob, carol])


def test_the_fund_prepays_what_the_market_lacks(owner, alice, bob):
    """v1 "clearingHouse doesn't have enough balance after close position and ask for InsuranceFund": bob and
    alice short 20 at 5x; bob's close returns 41.951 of a market holding 40; the fund pays 1.951 now."""
    d = deploy_protocol(deployer=owner)
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    _fund(d, [alice, bob], wad(200))
    _fund_insurance(d, owner, wad(5_000))
    ch.openPosition(amm, SELL, wad(20), wad(5), wad("11.12"), {"from": bob})
    ch.openPosition(amm, SELL, wad(20), wad(5), wad("13.89"), {"from": alice})
    assert _collateral(d) == wad(40)
    tx = ch.closePosition(amm, 0, {"from": bob})
    shortfall = 41951219512195121945 - wad(40)
    assert tx.events["BadDebtPrepaid"]["amount"] == shortfall
    assert vault.balanceOfWad(bob) == wad(180) + 41951219512195121945
    # v1: the fund holds 4998.048781 (it moved token units); the ledger keeps the wad exactly
    assert fund.fundBalance() == wad(5_000) - shortfall
    assert ch.prepaidBadDebt(amm) == shortfall
    assert _collateral(d) == 0
    _covered(d, [alice, bob])


def test_prepaid_bad_debt_is_netted_when_the_loser_is_liquidated(owner, alice, bob, carol):
    """v1 "alice take profit from bob's unrealized under-collateral position, then bob got liquidate": the fund
    prepays 74.1176 when alice closes; bob's liquidation then costs it only the liquidator's fee."""
    d = deploy_protocol({"fluctuation_limit_ratio": wad("0.8")}, deployer=owner)
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    _fund(d, [alice, bob], wad(20))
    _fund_insurance(d, owner, wad(5_000))
    # a window's worth of the opening price first: the liquidation ratio takes the better of spot and the 15-minute
    # TWAP, and on a fresh pool a few seconds between bob's open and alice's close (a loaded machine) would make
    # the low price between them the whole TWAP (ratio +0.035 instead of -0.252, a CI failure)
    chain.sleep(900)
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": bob})
    ch.closePosition(amm, 0, {"from": alice})
    prepaid = 74117647058823529412  # v1's getPrepaidBadDebt
    assert ch.prepaidBadDebt(amm) == prepaid
    assert fund.fundBalance() == wad(5_000) - prepaid
    assert _collateral(d) == 0
    assert ch.getMarginRatio(amm, bob) < 0
    tx = ch.liquidate(amm, bob, {"from": carol})
    fee = tx.events["PositionLiquidated"]["liquidationFee"]
    assert fee == 7352941176470588235  # v1: 7352941 token units
    bad_debt = tx.events["PositionChanged"]["badDebt"] + tx.events["PositionLiquidated"]["badDebt"]
    assert vault.balanceOfWad(carol) == fee
    # the fund paid each loss once: in all, the larger of what it prepaid and the bad debt realised
    assert wad(5_000) - fund.fundBalance() == max(prepaid, bad_debt)
    assert ch.prepaidBadDebt(amm) == max(prepaid - bad_debt, 0)
    # no position left: the market keeps what it holds beyond the fund's open prepayment (pool rounding dust)
    assert 0 <= _collateral(d) - ch.prepaidBadDebt(amm) < 10
    _covered(d, [alice, bob, carol])


def test_removing_margin_beyond_the_market_is_prepaid(owner, alice, bob):
    """Margin a trader may remove (its profit backs it) but the market no longer holds is prepaid too."""
    d = deploy_protocol({"fluctuation_limit_ratio": wad("0.8")}, deployer=owner)
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    _fund(d, [alice, bob], wad(100))
    _fund_insurance(d, owner, wad(1_000))
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(10), 0, {"from": bob})
    ch.openPosition(amm, BUY, wad(90), wad(1), 0, {"from": alice})  # reduce: alice realises profit into margin
    margin = ch.getPosition(amm, alice)[1]
    held = _collateral(d)
    assert margin > held
    free = ch.getFreeCollateral(amm, alice)
    amount = min(free, margin) - 1
    assert amount > held
    ch.removeMargin(amm, amount, {"from": alice})
    assert _collateral(d) == 0
    assert ch.prepaidBadDebt(amm) == amount - held
    assert fund.fundBalance() == wad(1_000) - (amount - held)
    _covered(d, [alice, bob])


def _halted_with_unpaid_bad_debt(owner: Any, alice: Any, bob: Any, keeper: Any) -> Any:
    d = deploy_protocol(deployer=owner)
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    _fund_insurance(d, owner, wad(1))
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(100), wad(3), 0, {"from": bob})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert "MarketHalted" in tx.events
    return d


def test_surplus_excludes_bad_debt_still_owed(owner, alice, bob, keeper):
    """A halted market's unpaid bad debt is owed by the fund: a later top-up is not the owner's to withdraw."""
    d = _halted_with_unpaid_bad_debt(owner, alice, bob, keeper)
    ch, fund = d.clearing_house, d.insurance_fund
    owed = ch.unpaidBadDebt()
    assert owed > 0 and fund.badDebtOwed() == owed
    _fund_insurance(d, owner, wad(1_000))
    assert fund.surplus() == wad(1_000) - owed
    with reverts_with("ExceedsSurplus"):
        fund.withdraw(owner, wad(1_000), {"from": owner})
    fund.raiseReserveFloor(wad(100), {"from": owner})
    assert fund.surplus() == wad(900) - owed


def test_margin_does_not_move_after_shutdown(owner, alice, bob):
    d = deploy_protocol(deployer=owner)
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    ch.openPosition(amm, BUY, wad(10), wad(2), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(10), wad(2), 0, {"from": bob})
    amm.shutdown({"from": owner})
    with reverts_with("MarketClosed"):
        ch.removeMargin(amm, wad(1), {"from": alice})
    with reverts_with("MarketClosed"):
        ch.addMargin(amm, wad(1), {"from": alice})
    ch.settlePosition(amm, {"from": alice})
    ch.settlePosition(amm, {"from": bob})


def test_partial_liquidation_whose_funding_exceeds_its_margin_share_goes_full(owner, alice, bob, keeper):
    """Alice's long is in profit but owes a day of funding larger than her margin: her ratio (4.5 %) is between
    the fee ratio and maintenance, so old main took the partial way, charged all the funding against a quarter of
    the PnL, and panicked on the penalty (she could then not be liquidated at all). She is liquidated whole."""
    d = deploy_protocol({"init_margin_ratio": wad("0.1"), "maintenance_margin_ratio": wad("0.0625"),
                         "liquidation_fee_ratio": wad("0.025"), "partial_liquidation_ratio": wad("0.25"),
                         "funding_period": 86_400}, deployer=owner)
    ch, amm = d.clearing_house, d.amm
    _fund(d, [alice, bob])
    _fund_insurance(d, owner, wad(1_000))
    # an empty first period (mark = index): the next funding window starts here, before the trades (README
    # "Funding window": the mark TWAP spans the last settlement to now)
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    ch.payFunding(amm, {"from": keeper})
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(100), wad(1), 0, {"from": bob})
    set_index(d.aggregators["ETH"], wad("9.65"), owner)
    chain.sleep(86_400 + 3_600)
    ch.payFunding(amm, {"from": keeper})
    ratio = ch.getMarginRatio(amm, alice)
    assert ch.liquidationFeeRatio() < ratio < ch.maintenanceMarginRatio()
    size = ch.getPosition(amm, alice)[0]
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert tx.events["PositionLiquidated"]["positionSize"] == size
    assert ch.getPosition(amm, alice)[0] == 0
    _covered(d, [alice, bob, keeper])
