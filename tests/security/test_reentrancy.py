"""Reentrancy through a quote token with transfer hooks (ERC-777 / ERC-1363 style).

The protocol runs on `HookERC20`, which calls a hook on every transfer, before or after the balances move.
The trader is `ReentrantAttacker`, a contract that re-enters the protocol from that hook with one armed call;
a refused re-entrant call reverts the whole outer call (its revert bubbles up), so each case checks the error
and that nothing changed (tests/trading.py: capture_state).

Why it could fail: the Vault credits deposits by the balance difference around `transferFrom`. Without its
reentrancy guard, a deposit re-entered from the hook would be counted twice (the inner deposit's tokens arrive
inside the outer measurement window); a withdrawal re-entered before the ledger write would pay twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from brownie import HookERC20, ReentrantAttacker

from perp_ops.deploy import Deployment, deploy_protocol
from tests.helpers import BUY, reverts_with, wad
from tests.integration.risk_helpers import assert_reconciles
from tests.trading import addr, assert_unchanged, capture_state, deposit

MAX = 2**256 - 1


@dataclass
class Ctx:
    d: Deployment
    token: Any
    attacker: Any
    alice: Any
    owner: Any

    def execute(self, target: Any, fn: Any, *args: Any) -> Any:
        """`attacker` calls `target.fn(*args)`."""
        return self.attacker.execute(target, fn.encode_input(*args), {"from": self.alice})

    def arm(self, target: Any, fn: Any, *args: Any) -> None:
        self.attacker.arm(target, fn.encode_input(*args), {"from": self.alice})

    @property
    def holders(self) -> list[Any]:
        return [self.attacker, self.alice, self.owner]


@pytest.fixture(scope="module", params=["hook after the transfer", "hook before the transfer"])
def ctx(request, owner, alice) -> Ctx:
    token = HookERC20.deploy(18, {"from": owner})
    d = deploy_protocol(deployer=owner, quote_token=token)
    attacker = ReentrantAttacker.deploy({"from": alice})
    c = Ctx(d, token, attacker, alice, owner)
    token.mint(attacker, wad(1_000), {"from": alice})
    c.execute(token, token.approve, d.vault, MAX)
    c.execute(token, token.approve, d.insurance_fund, MAX)
    c.execute(d.vault, d.vault.deposit, wad(100))
    deposit(d, alice, wad(1_000))
    d.clearing_house.openPosition(d.amm, BUY, wad(10), wad(5), 0, {"from": alice})
    token.setHook(attacker, request.param.endswith("before the transfer"), {"from": alice})
    return c


# (outer call by the attacker, the call it makes from the transfer hook): every pair re-enters the Vault
VAULT_REENTRY = [
    ("deposit", (wad(50),), "deposit", (wad(50),)),
    ("deposit", (wad(50),), "withdraw", (wad(100),)),
    ("deposit", (wad(50),), "depositFor", ("attacker", wad(50))),
    ("withdraw", (wad(60),), "withdraw", (wad(60),)),
    ("withdraw", (wad(60),), "deposit", (wad(50),)),
    ("withdraw", (wad(60),), "depositFor", ("attacker", wad(50))),
]


def _args(c: Ctx, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(c.attacker if a == "attacker" else a for a in args)


@pytest.mark.parametrize(("outer", "outer_args", "inner", "inner_args"), VAULT_REENTRY, ids=[f"{o} -> {i}" for o, _, i, _ in VAULT_REENTRY])
def test_reentering_the_vault_is_refused(ctx, outer, outer_args, inner, inner_args):
    c, vault = ctx, ctx.d.vault
    c.arm(vault, getattr(vault, inner), *_args(c, inner_args))
    before = capture_state(c.d, c.holders)
    with reverts_with("ReentrancyGuardReentrantCall"):
        c.execute(vault, getattr(vault, outer), *_args(c, outer_args))
    assert_unchanged(before, capture_state(c.d, c.holders))
    assert c.attacker.reentered() == 0


def test_the_hook_runs_and_plain_calls_pass(ctx):
    """The control: the hook does fire on the Vault's transfers (a harmless re-entrant view-like call goes
    through), and un-armed deposits and withdrawals credit and pay exactly."""
    c, vault, token = ctx, ctx.d.vault, ctx.token
    c.arm(token, token.approve, vault, MAX)  # harmless: the attacker re-approves from the hook
    c.execute(vault, vault.deposit, wad(50))
    assert c.attacker.reentered() == 1
    assert vault.balanceOfWad(c.attacker) == wad(150)
    c.execute(vault, vault.withdraw, wad(150))
    assert vault.balanceOfWad(c.attacker) == 0
    assert token.balanceOf(c.attacker) == wad(1_000)
    assert_reconciles(c.d, c.holders, exact=False)


def test_reentering_the_clearing_house_from_a_withdrawal_sees_the_debited_balance(ctx):
    """The Vault writes its ledger before it transfers: a trade opened from the withdrawal's hook cannot spend
    the tokens being withdrawn."""
    c, vault, ch = ctx, ctx.d.vault, ctx.d.clearing_house
    c.arm(ch, ch.openPosition, c.d.amm, BUY, wad(100), wad(1), 0)
    before = capture_state(c.d, c.holders)
    with reverts_with("InsufficientBalance", addr(c.attacker), 0, wad(100)):
        c.execute(vault, vault.withdraw, wad(100))
    assert_unchanged(before, capture_state(c.d, c.holders))


def test_reentering_the_clearing_house_from_a_deposit_cannot_spend_it_early(ctx):
    """The deposit is credited after the transfer returns: the hook's trade sees only the old balance."""
    c, vault, ch = ctx, ctx.d.vault, ctx.d.clearing_house
    c.arm(ch, ch.openPosition, c.d.amm, BUY, wad(150), wad(1), 0)
    before = capture_state(c.d, c.holders)
    with reverts_with("InsufficientBalance", addr(c.attacker), wad(100), wad(150)):
        c.execute(vault, vault.deposit, wad(100))
    assert_unchanged(before, capture_state(c.d, c.holders))


def test_a_trade_from_the_hook_is_booked_once(ctx):
    """A re-entrant trade that the balance does cover is an ordinary trade: the books still balance."""
    c, vault, ch = ctx, ctx.d.vault, ctx.d.clearing_house
    c.arm(ch, ch.openPosition, c.d.amm, BUY, wad(10), wad(2), 0)
    c.execute(vault, vault.withdraw, wad(50))
    assert c.attacker.reentered() == 1
    assert vault.balanceOfWad(c.attacker) == wad(40)
    assert c.token.balanceOf(c.attacker) == wad(950)
    assert ch.getPosition(c.d.amm, c.attacker)[1] == wad(10)
    assert_reconciles(c.d, c.holders, exact=False)


def test_reentering_the_insurance_fund_deposit_counts_each_deposit_once(ctx):
    """InsuranceFund.deposit has no guard of its own (it holds no ledger: the Vault credits the fund by the
    tokens that arrive); re-entered, it credits exactly the two amounts, never more."""
    c, fund, vault = ctx, ctx.d.insurance_fund, ctx.d.vault
    start = vault.balanceOfWad(fund)
    c.arm(fund, fund.deposit, wad(30))
    c.execute(fund, fund.deposit, wad(70))
    assert c.attacker.reentered() == 1
    assert vault.balanceOfWad(fund) == start + wad(100)
    assert c.token.balanceOf(c.attacker) == wad(900) - wad(100)
    assert c.token.balanceOf(fund) == 0
    assert_reconciles(c.d, c.holders, exact=False)
