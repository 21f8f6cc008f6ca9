"""Settlement is fair (issue #11, item 6; SPEC §4 "Containment"): no trader's payout depends on the order in which
traders claim, it counts the funding owed, and it is exact to the wei (what the claims share is what they are paid
plus the rounding dust the InsuranceFund receives).

Old main paid `settlePosition` first come, first served out of what the market still held, without the funding
owed: in the short market below the first settler took its whole value and the last got what was left (every test
here fails there: the first call paid at once). Now a shutdown opens a claim window (`Amm.settlementWindowEnd`):
each `settlePosition` in it registers the position's value as a claim; after it the claims share what the market
holds (plus what the fund can pay in) pro rata (tests/settlement.py computes every number independently).
"""

from __future__ import annotations

from typing import Any

import pytest
from brownie import chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import assert_reconciles, set_index
from tests.settlement import (
    Book,
    claim_of,
    close_window,
    pay,
    register,
    settle_all,
    v1_value,
    value_of,
)
from tests.trading import deposit


def _fund_insurance(d: Any, payer: Any, amount: int) -> None:
    d.quote_token.mint(payer, amount, {"from": payer})
    d.quote_token.approve(d.insurance_fund, amount, {"from": payer})
    d.insurance_fund.deposit(amount, {"from": payer})


def short_market(owner: Any, alice: Any, shorts: list[Any], fund: int = 0) -> Any:
    """alice's 10x long takes the price from 10 to 40; three shorts of different sizes bring it back to about 24;
    the owner shuts the market down. At v1's settlement price (about 15.5) alice is under water by about 125 (no
    one pays that), so the shorts' claims exceed the 190 of collateral: the market is short by that much."""
    d = deploy_protocol(deployer=owner)
    ch, amm = d.clearing_house, d.amm
    for trader in (alice, *shorts):
        deposit(d, trader, wad(1_000))
    if fund:
        _fund_insurance(d, owner, fund)
    ch.openPosition(amm, BUY, wad(100), wad(10), 0, {"from": alice})
    for trader, margin in zip(shorts, (wad(20), wad("30.3"), wad(40)), strict=True):
        ch.openPosition(amm, SELL, margin, wad(5), 0, {"from": trader})
    amm.shutdown({"from": owner})
    return d


@pytest.fixture
def traders(bob, carol, rando) -> list[Any]:
    return [bob, carol, rando]


def test_payouts_do_not_depend_on_the_order_of_the_claims(owner, alice, traders, keeper):
    """Three shorts claim from a market short of collateral, in three orders (each on the same market, deployed
    afresh) and are paid in three more: each gets the same payout every time, the same share of its value; old main
    paid the first claimant in full."""
    runs = []
    for register_order, payout_order in (
        (traders, traders),
        (traders[::-1], [traders[1], traders[2], traders[0]]),
        ([alice, traders[1], traders[0], traders[2]], [*traders[::-1], keeper]),
    ):
        d = short_market(owner, alice, traders)
        ch, amm = d.clearing_house, d.amm
        collateral = ch.getMarket(amm)[1]
        values = {t: value_of(d, amm, t) for t in traders}
        assert value_of(d, amm, alice) == 0 and v1_value(d, amm, alice) == 0  # under water
        assert sum(values.values()) > collateral > max(values.values())
        book = Book.expected(sum(values.values()), collateral, 0)
        assert book.available == collateral
        claims = register(d, amm, register_order)
        close_window(amm)
        paid, _, _ = pay(d, amm, claims, payout_order)
        runs.append((values, book, paid))

    values, book, first = runs[0]
    for other_values, _, paid in runs[1:]:
        assert other_values == values and paid == first
    for t in traders:
        assert first[t] == book.share(values[t])
        # the same share for everyone, to the rounding of one wei
        assert abs(first[t] * book.total - values[t] * book.available) < book.total
    # first come, first served (old main) would have paid the first claimant its whole value
    assert first[traders[0]] < values[traders[0]]


def test_a_late_claim_does_not_dilute_the_window(owner, alice, traders):
    """One short misses the window: the registered claims share the whole collateral (the window is the
    claim deadline), and the late position is paid at most their share, out of what they left: nothing here."""
    d = short_market(owner, alice, traders)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    late = traders[2]
    late_value = value_of(d, amm, late)
    claims = register(d, amm, [alice, *traders[:2]])
    close_window(amm)
    collateral = ch.getMarket(amm)[1]
    paid, book, dust = pay(d, amm, claims, traders[:2])
    assert book.available == collateral and sum(paid.values()) + dust == collateral
    assert ch.getMarket(amm)[1] == 0

    free = vault.balanceOfWad(late)
    with reverts_with("NothingToSettle"):
        ch.claimSettlement(amm, late, {"from": traders[0]})  # only its trader settles a late position
    # at most the registered share, out of what is left: nothing in the market, the dust in the fund
    fund_balance = vault.balanceOfWad(d.insurance_fund)
    assert fund_balance == dust < book.share(late_value)
    tx = ch.settlePosition(amm, {"from": late})
    assert dict(tx.events["PositionSettled"][0]) == {"amm": amm.address, "trader": late.address, "valueTransferred": dust}
    assert late_value > 0 and vault.balanceOfWad(late) == free + dust
    assert tuple(ch.getPosition(amm, late)) == (0, 0, 0, 0)
    assert_reconciles(d, [alice, *traders, d.insurance_fund], exact=True)


def test_a_late_claim_in_a_covered_market_is_paid_in_full(owner, alice, bob, carol):
    """A healthy market (no one under water at the settlement price): the registered claims are paid in full and
    the late one too, out of what they left in the market."""
    d = deploy_protocol(deployer=owner)
    ch, amm = d.clearing_house, d.amm
    for trader in (alice, bob, carol):
        deposit(d, trader, wad(1_000))
    ch.openPosition(amm, BUY, wad(30), wad(5), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(3), 0, {"from": bob})
    ch.openPosition(amm, BUY, wad(10), wad(4), 0, {"from": carol})
    amm.shutdown({"from": owner})
    late_value = value_of(d, amm, carol)
    claims = register(d, amm, [alice, bob])
    close_window(amm)
    paid, book, dust = pay(d, amm, claims, [bob, alice])
    assert book.available == book.total and dust == 0 and paid == claims
    held = ch.getMarket(amm)[1]
    assert held >= late_value
    tx = ch.settlePosition(amm, {"from": carol})
    assert tx.events["PositionSettled"][0]["valueTransferred"] == late_value
    assert ch.getMarket(amm)[1] == held - late_value < 10  # the rounding of v1's price
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


def test_settlement_counts_the_funding_owed(owner, alice, bob, carol):
    """Longs pay shorts a day of funding (the index 5 % below the mark), then the market is shut down: each claim
    is v1's value minus the funding the position owes (plus what it is owed), and the claims add up to the market's
    collateral to a few wei. v1's values, without the funding, add up to more than the market holds (the net long's
    funding went to the fund, the pool's side): on old main the last settler was short by that much."""
    d = deploy_protocol({"funding_period": 86_400}, deployer=owner)
    ch, amm = d.clearing_house, d.amm
    for trader in (alice, bob, carol):
        deposit(d, trader, wad(1_000))
    _fund_insurance(d, owner, wad(1_000))
    ch.openPosition(amm, BUY, wad(50), wad(4), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(2), 0, {"from": bob})
    ch.openPosition(amm, SELL, wad(10), wad(3), 0, {"from": carol})
    set_index(d.aggregators["ETH"], amm.getSpotPrice() * 95 // 100, owner)
    chain.sleep(amm.nextFundingTime() - chain.time() + 1)
    ch.payFunding(amm, {"from": owner})
    cumulative = ch.getLatestCumulativePremiumFraction(amm)
    assert cumulative > 0  # longs pay
    amm.shutdown({"from": owner})

    collateral = ch.getMarket(amm)[1]
    values = {t: value_of(d, amm, t) for t in (alice, bob, carol)}
    v1 = {t: v1_value(d, amm, t) for t in (alice, bob, carol)}
    assert 0 < values[alice] < v1[alice] and values[bob] > v1[bob] and values[carol] > v1[carol]
    assert abs(sum(values.values()) - collateral) < 10
    assert sum(v1.values()) - collateral > wad(7)  # what old main's last settler would have gone without

    paid = settle_all(d, amm, [carol, alice, bob])
    assert paid == values if sum(values.values()) <= collateral else sum(paid.values()) == collateral
    assert ch.getMarket(amm)[1] < 10
    assert_reconciles(d, [alice, bob, carol, owner], exact=True)


def test_payouts_plus_dust_are_exactly_what_was_available(owner, alice, traders):
    """Short market, claims that do not divide evenly: every payout is rounded down, the last payout sends the
    dust to the fund, and the market ends with exactly nothing; the Vault reconciles to the wei and everyone
    withdraws."""
    d = short_market(owner, alice, traders)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    claims = register(d, amm, [*traders, alice])
    close_window(amm)
    fund_before = vault.balanceOfWad(d.insurance_fund)
    collateral = ch.getMarket(amm)[1]
    paid, book, dust = pay(d, amm, claims, [traders[1], traders[0], traders[2]])
    assert dust > 0  # the shares did not divide evenly
    assert sum(paid.values()) + dust == book.available == collateral
    assert vault.balanceOfWad(d.insurance_fund) == fund_before + dust
    assert ch.getMarket(amm)[1] == 0
    people = [alice, *traders, owner]
    assert_reconciles(d, people, exact=True)
    for who in traders:
        vault.withdraw(vault.balanceOf(who), {"from": who})
    assert_reconciles(d, people, exact=True)


def test_the_fund_tops_a_short_market_up_when_the_window_closes(owner, alice, traders):
    """The InsuranceFund holds less than the shortfall: it pays all it has in when the window closes (the bad debt
    the settlement realises), and the claims share the collateral plus that."""
    d = short_market(owner, alice, traders, fund=wad(50))
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    claims = register(d, amm, traders)
    close_window(amm)
    collateral = ch.getMarket(amm)[1]
    paid, book, dust = pay(d, amm, claims, traders)
    assert book.from_fund == wad(50) and book.available == collateral + wad(50) < book.total
    assert vault.balanceOfWad(d.insurance_fund) == dust
    assert sum(paid.values()) + dust == collateral + wad(50)
    assert_reconciles(d, [alice, *traders, owner], exact=True)


def test_a_halted_markets_unpaid_bad_debt_is_released_when_its_settlement_is_final(owner, alice, bob, carol, keeper):
    """A liquidation's bad debt the empty fund cannot pay halts the market and stays owed (`unpaidBadDebt`, out of
    the fund's surplus). The owner then tops the fund up: when the window closes the fund pays the market's
    shortfall in, the debt is no longer owed, and what is left of the top-up is surplus again."""
    d = deploy_protocol(deployer=owner)
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    for trader in (alice, bob, carol):
        deposit(d, trader, wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(10), wad(3), 0, {"from": carol})
    ch.openPosition(amm, SELL, wad(15), wad(10), 0, {"from": bob})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert amm.isShutdown()
    owed = tx.events["MarketHalted"][0]["shortfall"]
    assert ch.unpaidBadDebt() == owed > 0
    _fund_insurance(d, owner, wad(1_000))
    assert fund.surplus() == wad(1_000) - owed

    claims = register(d, amm, [carol, bob])
    close_window(amm)
    paid, book, _ = pay(d, amm, claims, [bob, carol])
    assert book.available == book.total and book.from_fund > 0 and paid == {t: v for t, v in claims.items() if v}
    assert ch.unpaidBadDebt() == 0
    assert fund.surplus() == vault.balanceOfWad(fund) == wad(1_000) - book.from_fund
    fund.withdraw(owner, fund.surplus(), {"from": owner})
    assert_reconciles(d, [alice, bob, carol, keeper, owner], exact=True)


def test_anyone_may_register_and_pay_a_claim_for_its_trader(owner, alice, traders, keeper):
    """`claimSettlement(amm, trader)` registers the trader's position in the window and pays its claim after,
    always to the trader's own vault balance (a keeper can settle everyone: no one is late)."""
    d = short_market(owner, alice, traders)
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    values = {t: value_of(d, amm, t) for t in traders}
    for t in traders:
        tx = ch.claimSettlement(amm, t, {"from": keeper})
        assert tx.events["SettlementClaimed"][0]["trader"] == t.address
        assert claim_of(ch, amm, t)[0] == values[t]
    close_window(amm)
    keeper_free = vault.balanceOfWad(keeper)
    book = Book.expected(sum(values.values()), ch.getMarket(amm)[1], 0)
    for t in traders:
        free = vault.balanceOfWad(t)
        ch.claimSettlement(amm, t, {"from": keeper})
        assert vault.balanceOfWad(t) - free == book.share(values[t])
    assert vault.balanceOfWad(keeper) == keeper_free
    assert ch.getMarket(amm)[1] == 0
