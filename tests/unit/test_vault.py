"""Vault: deposits and withdrawals in the token's own decimals (6 and 18), balances rounded down, rejected
calls that change nothing, ClearingHouse-only ledger moves, one-time wiring, withdrawals while trading is
paused."""

from __future__ import annotations

from typing import Any

import pytest

from perp_ops.deploy import Deployment, deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.trading import ZERO_ADDRESS, addr, assert_unchanged, capture_state, deposit


@pytest.fixture(scope="module", params=[6, 18], ids=["6dec", "18dec"])
def d(request, owner) -> Deployment:
    """The protocol with a 6- or an 18-decimal quote token."""
    return deploy_protocol({"quote_decimals": request.param}, owner)


def units(d: Deployment, amount: int | str) -> int:
    """Whole tokens → token units."""
    from decimal import Decimal

    return int(Decimal(str(amount)) * 10 ** d.quote_token.decimals())


def test_scale(d):
    assert d.vault.scale() == 10 ** (18 - d.quote_token.decimals())
    assert d.vault.token() == d.quote_token


def test_deposit_and_withdraw(d, alice):
    vault, token = d.vault, d.quote_token
    amount = units(d, "1234.567891")
    token.mint(alice, amount, {"from": alice})
    token.approve(vault, amount, {"from": alice})
    tx = vault.deposit(amount, {"from": alice})
    assert dict(tx.events["Deposited"][0]) == {"account": alice, "payer": alice, "amount": amount}
    assert token.balanceOf(alice) == 0
    assert token.balanceOf(vault) == amount
    assert vault.balanceOf(alice) == amount
    assert vault.balanceOfWad(alice) == amount * vault.scale()

    part = units(d, "234.000001")
    tx = vault.withdraw(part, {"from": alice})
    assert dict(tx.events["Withdrawn"][0]) == {"account": alice, "to": alice, "amount": part}
    assert token.balanceOf(alice) == part
    assert vault.balanceOf(alice) == amount - part
    assert vault.balanceOfWad(alice) == (amount - part) * vault.scale()
    vault.withdraw(amount - part, {"from": alice})
    assert token.balanceOf(alice) == amount
    assert vault.balanceOf(alice) == vault.balanceOfWad(alice) == token.balanceOf(vault) == 0


def test_deposit_for_credits_the_account(d, alice, bob):
    vault, token = d.vault, d.quote_token
    amount = units(d, 50)
    token.mint(bob, amount, {"from": bob})
    token.approve(vault, amount, {"from": bob})
    tx = vault.depositFor(alice, amount, {"from": bob})
    assert dict(tx.events["Deposited"][0]) == {"account": alice, "payer": bob, "amount": amount}
    assert vault.balanceOf(alice) == amount
    assert vault.balanceOf(bob) == 0
    assert token.balanceOf(bob) == 0


def test_zero_amounts_are_rejected(d, alice):
    deposit(d, alice, units(d, 10))
    before = capture_state(d, [alice])
    with reverts_with("ZeroAmount"):
        d.vault.deposit(0, {"from": alice})
    with reverts_with("ZeroAmount"):
        d.vault.depositFor(alice, 0, {"from": alice})
    with reverts_with("ZeroAmount"):
        d.vault.withdraw(0, {"from": alice})
    assert_unchanged(before, capture_state(d, [alice]))


def test_withdrawing_more_than_the_free_balance_changes_nothing(d, alice, bob):
    vault, scale = d.vault, d.vault.scale()
    deposit(d, alice, units(d, 100))
    deposit(d, bob, units(d, 100))
    # 30 of Alice's 100 are locked as margin
    d.clearing_house.openPosition(d.amm, BUY, wad(30), wad(2), 0, {"from": alice})
    free_wad = vault.balanceOfWad(alice)
    assert free_wad == wad(70)
    before = capture_state(d, [alice, bob])
    too_much = units(d, 70) + 1
    with reverts_with("InsufficientBalance", addr(alice), free_wad, too_much * scale):
        vault.withdraw(too_much, {"from": alice})
    with reverts_with("InsufficientBalance", addr(alice), free_wad, units(d, 100) * scale):
        vault.withdraw(units(d, 100), {"from": alice})
    assert_unchanged(before, capture_state(d, [alice, bob]))
    vault.withdraw(units(d, 70), {"from": alice})
    assert vault.balanceOfWad(alice) == 0


def test_free_balance_rounds_down_and_dust_stays(d, alice, bob):
    """After trading, a balance that is not a whole number of token units shows rounded down; withdrawing it
    leaves the remainder (< 1 unit) in the vault, still Alice's."""
    vault, token, ch, amm = d.vault, d.quote_token, d.clearing_house, d.amm
    scale = vault.scale()
    deposit(d, alice, units(d, 100))
    deposit(d, bob, units(d, 100))
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(7), wad(3), 0, {"from": bob})
    ch.closePosition(amm, 0, {"from": alice})
    balance_wad = vault.balanceOfWad(alice)
    assert balance_wad % 10**6 != 0  # PnL left a balance with wei in it
    shown = vault.balanceOf(alice)
    assert shown == balance_wad // scale
    with reverts_with("InsufficientBalance", addr(alice), balance_wad, (shown + 1) * scale):
        vault.withdraw(shown + 1, {"from": alice})
    vault.withdraw(shown, {"from": alice})
    assert token.balanceOf(alice) == shown
    assert vault.balanceOf(alice) == 0
    assert vault.balanceOfWad(alice) == balance_wad % scale
    if scale > 1:
        assert vault.balanceOfWad(alice) > 0  # the dust stayed in the vault
    with reverts_with("InsufficientBalance", addr(alice), balance_wad % scale, scale):
        vault.withdraw(1, {"from": alice})


@pytest.mark.parametrize("caller_role", ["rando", "owner", "alice"])
def test_only_clearing_house_moves_the_ledger(d, alice, request, caller_role):
    caller: Any = request.getfixturevalue(caller_role)
    vault = d.vault
    deposit(d, alice, units(d, 10))
    before = capture_state(d, [alice, caller])
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.settle(alice, wad(1), 0, caller, wad(1), {"from": caller})
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.settle(caller, 0, wad(1), caller, 0, {"from": caller})
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.credit(caller, wad(1), {"from": caller})
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.debitUpTo(alice, wad(1), {"from": caller})
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.withdrawFor(alice, caller, 1, {"from": caller})
    with reverts_with("OnlyClearingHouse", addr(caller)):
        vault.withdrawFor(d.insurance_fund, caller, 1, {"from": caller})
    assert_unchanged(before, capture_state(d, [alice, caller]))


def test_initialize_only_once(d, owner, rando):
    vault = d.vault
    with reverts_with("ClearingHouseAlreadySet"):
        vault.initialize(rando, rando, {"from": owner})
    with reverts_with("OwnableUnauthorizedAccount", addr(rando)):
        vault.initialize(rando, rando, {"from": rando})
    assert vault.clearingHouse() == d.clearing_house
    assert vault.insuranceFund() == d.insurance_fund


def test_withdraw_and_deposit_while_paused(d, owner, alice):
    vault, token, ch, amm = d.vault, d.quote_token, d.clearing_house, d.amm
    deposit(d, alice, units(d, 100))
    ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    ch.pause({"from": owner})
    assert ch.paused()
    with reverts_with("EnforcedPause"):
        ch.openPosition(amm, BUY, wad(10), wad(5), 0, {"from": alice})
    vault.withdraw(units(d, 90), {"from": alice})
    assert token.balanceOf(alice) == units(d, 90)
    assert vault.balanceOf(alice) == 0
    deposit(d, alice, units(d, 5))
    assert vault.balanceOf(alice) == units(d, 5)
    assert ch.getPosition(amm, alice)[1] == wad(10)  # the margin stays locked


def test_amounts_below_one_token_unit_are_rejected(d, alice):
    """v1's requireValidTokenAmount: a margin that is not at least one unit of the quote token is refused."""
    scale = d.vault.scale()
    if scale == 1:
        pytest.skip("with 18 decimals one token unit is one wei")
    ch, amm = d.clearing_house, d.amm
    deposit(d, alice, units(d, 100))
    before = capture_state(d, [alice])
    with reverts_with("ZeroAmount"):
        ch.openPosition(amm, BUY, scale - 1, wad(10), 0, {"from": alice})
    assert_unchanged(before, capture_state(d, [alice]))
    ch.openPosition(amm, BUY, scale, wad(10), 0, {"from": alice})  # one unit is enough
    before = capture_state(d, [alice])
    with reverts_with("ZeroAmount"):
        ch.addMargin(amm, scale - 1, {"from": alice})
    with reverts_with("ZeroAmount"):
        ch.removeMargin(amm, scale - 1, {"from": alice})
    assert_unchanged(before, capture_state(d, [alice]))


def test_settle_debits_the_fund_out_of_its_pending_income(owner, keeper, rando, alice):
    """The fund's balance is its ledger entry plus the income `settle` credits it (fee recipient zero); a debit
    of the fund through `settle` may use both (here `keeper` stands in for the ClearingHouse, `rando` for the
    fund)."""
    from brownie import MockERC20, Vault

    token = MockERC20.deploy("Quote", "Q", 18, {"from": owner})
    vault = Vault.deploy(token, owner, {"from": owner})
    vault.initialize(keeper, rando, {"from": owner})
    fund = rando
    vault.settle(alice, 0, wad(10), ZERO_ADDRESS, wad(3), {"from": keeper})  # 3 of income for the fund
    vault.settle(fund, 0, wad(1), ZERO_ADDRESS, 0, {"from": keeper})  # 1 in its ledger entry
    assert vault.balanceOfWad(fund) == wad(4)
    with reverts_with("InsufficientBalance", addr(fund), wad(4), wad(5)):
        vault.settle(fund, wad(5), 0, ZERO_ADDRESS, 0, {"from": keeper})
    vault.settle(fund, wad("3.5"), 0, ZERO_ADDRESS, 0, {"from": keeper})
    assert vault.balanceOfWad(fund) == wad("0.5")
    vault.settle(alice, 0, 0, ZERO_ADDRESS, wad(2), {"from": keeper})  # income accrues again after the fold
    assert vault.balanceOfWad(fund) == wad("2.5")
    assert vault.balanceOfWad(alice) == wad(10)
