"""Shutdown and settlement: a bad debt the InsuranceFund cannot cover halts the market; the owner can shut a healthy
market down; every trader then settles at v1's settlement price and withdraws; the Vault and the InsuranceFund
reconcile to the wei.

Expected numbers follow Perpetual Protocol v1's final release: `Amm.implShutdown` (settlement price =
|initialQuoteReserve − quoteReserve| / |totalPositionSize|, 0 when |totalPositionSize| <= 100 wei) and
`ClearingHouse.settlePosition` (margin + size × (settlementPrice − openNotional / |size|), floored at 0; margin
alone when the price is 0), minus the funding owed; the claims registered in the window share what the market
holds (plus what the InsuranceFund can pay in) pro rata when it is short (tests/settlement.py; the order of the
claims changes nothing: tests/security/test_settlement.py).
"""

from __future__ import annotations

from typing import Any

from brownie import chain

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import (
    WAD,
    assert_reconciles,
    event,
    set_index,
    unrealized_pnl,
    vault_assets,
)
from tests.settlement import settle_all, value_of
from tests.trading import output_price


# ------------------------------------------------------------------------------------------------ helpers
def fund_accounts(d: Any, accounts: list[Any], amount: int) -> None:
    for a in accounts:
        d.quote_token.mint(a, amount, {"from": a})
        d.quote_token.approve(d.vault, amount, {"from": a})
        d.vault.deposit(amount, {"from": a})


def fund_insurance(d: Any, payer: Any, amount: int) -> None:
    d.quote_token.mint(payer, amount, {"from": payer})
    d.quote_token.approve(d.insurance_fund, amount, {"from": payer})
    d.insurance_fund.deposit(amount, {"from": payer})


def settlement_price(d: Any) -> int:
    """v1's settlement price from the pool as it is now."""
    amm = d.amm
    total = amm.totalPositionSize()
    if abs(total) <= 100:
        return 0
    return abs(amm.initialQuoteAssetReserve() - amm.quoteAssetReserve()) * WAD // abs(total)


def settle_everyone(d: Any, traders: list[Any], price: int) -> dict[Any, int]:
    """Each trader registers its claim in the window and is paid its share after it (tests/settlement.py);
    settling twice fails."""
    assert d.amm.getSettlementPrice() == price
    return settle_all(d, d.amm, traders)


def withdraw_everything(d: Any, people: list[Any]) -> None:
    for who in people:
        amount = d.vault.balanceOf(who)
        if amount:
            before = d.quote_token.balanceOf(who)
            d.vault.withdraw(amount, {"from": who})
            assert d.quote_token.balanceOf(who) - before == amount
        assert d.vault.balanceOf(who) == 0


# ================================================================================================ owner shutdown
def test_settle_requires_a_shut_down_market(protocol, alice, fund_trader):
    d = protocol
    fund_trader(alice, wad(100))
    d.clearing_house.openPosition(d.amm, BUY, wad(10), wad(2), 0, {"from": alice})
    with reverts_with("MarketNotShutdown"):
        d.clearing_house.settlePosition(d.amm, {"from": alice})


def owner_shutdown_scenario(d: Any, alice: Any, bob: Any, carol: Any, owner: Any, rando: Any) -> None:
    ch, amm = d.clearing_house, d.amm
    unit = 10 ** d.quote_token.decimals()
    fund_accounts(d, [alice, bob, carol], 1_000 * unit)
    ch.openPosition(amm, BUY, wad(30), wad(5), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(3), 0, {"from": bob})
    ch.openPosition(amm, BUY, wad(10), wad(4), 0, {"from": carol})

    price = settlement_price(d)
    assert price > 0
    tx = amm.shutdown({"from": owner})
    assert event(tx, "Shutdown") == {"settlementPrice": price}
    assert amm.getSettlementPrice() == price
    assert amm.isShutdown() and not amm.open()
    with reverts_with("MarketClosed"):
        ch.openPosition(amm, BUY, wad(1), wad(1), 0, {"from": rando})
    with reverts_with("MarketClosed"):
        ch.closePosition(amm, 0, {"from": alice})
    with reverts_with("MarketClosed"):
        amm.shutdown({"from": owner})
    with reverts_with("NoPosition"):
        ch.settlePosition(amm, {"from": rando})

    collateral = ch.getMarket(amm)[1]
    paid = settle_everyone(d, [alice, bob, carol], price)
    # v1's price makes the settled values add up to the margins (the pool's side is flat), up to rounding
    assert sum(paid.values()) <= collateral
    assert collateral - sum(paid.values()) < 10
    assert_reconciles(d, [alice, bob, carol, owner, rando], exact=True)
    withdraw_everything(d, [alice, bob, carol])  # token units, rounded down: the dust stays in the vault
    assert_reconciles(d, [alice, bob, carol, owner, rando], exact=True)


def test_owner_shutdown_of_a_healthy_market(protocol, alice, bob, carol, owner, rando):
    owner_shutdown_scenario(protocol, alice, bob, carol, owner, rando)


def test_owner_shutdown_with_a_six_decimal_token(alice, bob, carol, owner, rando):
    d = deploy_protocol({"quote_decimals": 6}, owner)
    assert d.vault.scale() == 10**12
    owner_shutdown_scenario(d, alice, bob, carol, owner, rando)


def test_shutdown_with_a_flat_market_returns_the_margins(protocol, alice, bob, owner):
    """|totalPositionSize| <= 100 wei: v1's settlement price is 0 and everyone takes back their margin."""
    d = protocol
    ch, amm = d.clearing_house, d.amm
    fund_accounts(d, [alice, bob], wad(1_000))
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(25), wad(10), 0, {"from": bob})
    assert abs(amm.totalPositionSize()) <= 100
    tx = amm.shutdown({"from": owner})
    assert event(tx, "Shutdown") == {"settlementPrice": 0}
    paid = settle_everyone(d, [alice, bob], 0)
    assert paid[alice] == paid[bob] == wad(25)
    withdraw_everything(d, [alice, bob])
    assert_reconciles(d, [alice, bob, owner], exact=True)


# ================================================================================================ halt
def halt_by_bad_debt(d: Any, alice: Any, bob: Any, carol: Any, keeper: Any, owner: Any) -> dict[str, Any]:
    """alice (long 250) is under water after bob's short; carol holds a long; the InsuranceFund holds 1.
    The keeper liquidates alice: her bad debt and the liquidator's fee exceed the fund, the market halts."""
    ch, amm, vault, fund = d.clearing_house, d.amm, d.vault, d.insurance_fund
    fund_accounts(d, [alice, bob, carol], wad(1_000))
    fund_insurance(d, owner, wad(1))  # far too small
    ch.openPosition(amm, BUY, wad(25), wad(10), 0, {"from": alice})
    ch.openPosition(amm, BUY, wad(10), wad(3), 0, {"from": carol})
    ch.openPosition(amm, SELL, wad(15), wad(10), 0, {"from": bob})
    chain.sleep(900)
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)

    size, margin, open_notional, _ = ch.getPosition(amm, alice)
    q, b = amm.getReserve()
    exchanged = output_price(True, size, q, b)
    bad_debt = -(margin + unrealized_pnl(size, open_notional, exchanged))
    fee = exchanged * wad("0.05") // WAD // 2
    fund_before = fund.fundBalance()
    assert bad_debt > 0 and fund_before == wad(1) < bad_debt + fee
    free_keeper = vault.balanceOfWad(keeper)
    tx = ch.liquidate(amm, alice, {"from": keeper})
    return {
        "tx": tx,
        "bad_debt": bad_debt,
        "fee": fee,
        "shortfall": bad_debt + fee - fund_before,
        "keeper_gain": vault.balanceOfWad(keeper) - free_keeper,
    }


def test_uncovered_bad_debt_halts_the_market(protocol, alice, bob, carol, keeper, owner, rando):
    d = protocol
    ch, amm, fund = d.clearing_house, d.amm, d.insurance_fund
    h = halt_by_bad_debt(d, alice, bob, carol, keeper, owner)
    tx = h["tx"]
    assert event(tx, "MarketHalted") == {"amm": amm.address, "shortfall": h["shortfall"]}
    price = settlement_price(d)  # v1's price, from the pool after the liquidation's close
    assert price > 0
    assert event(tx, "Shutdown") == {"settlementPrice": price}
    assert event(tx, "PositionLiquidated")["badDebt"] == h["fee"]
    assert event(tx, "PositionChanged")["badDebt"] == h["bad_debt"]
    assert amm.isShutdown() and not amm.open()
    assert amm.getSettlementPrice() == price
    assert fund.fundBalance() == 0
    assert h["keeper_gain"] == h["fee"]  # the liquidator is still paid

    # trading is over
    with reverts_with("MarketClosed"):
        ch.openPosition(amm, SELL, wad(1), wad(1), 0, {"from": rando})
    with reverts_with("MarketClosed"):
        ch.closePosition(amm, 0, {"from": carol})
    chain.sleep(3_600)
    with reverts_with("MarketClosed"):
        ch.payFunding(amm, {"from": rando})

    # everyone settles at v1's price (carol's long is worth nothing there), within the market's collateral
    paid = settle_everyone(d, [carol, bob], price)
    assert paid[carol] == 0 < paid[bob]
    with reverts_with("NoPosition"):
        ch.settlePosition(amm, {"from": alice})  # liquidated: nothing left to settle


def test_halted_market_reconciles_and_everyone_can_withdraw(protocol, alice, bob, carol, keeper, owner, rando):
    d = protocol
    ch, amm, vault = d.clearing_house, d.amm, d.vault
    people = [alice, bob, carol, keeper, owner, rando]
    halt_by_bad_debt(d, alice, bob, carol, keeper, owner)
    # what the market really holds: the vault's tokens minus every free balance and the fund
    real = vault_assets(d) - sum(vault.balanceOfWad(p) for p in people) - vault.balanceOfWad(d.insurance_fund)
    assert ch.getMarket(amm)[1] == real
    assert_reconciles(d, people, exact=True)

    price = settlement_price(d)
    assert value_of(d, amm, bob) > real  # bob is owed more than the market holds
    settle_everyone(d, [carol, bob], price)
    assert ch.getMarket(amm)[1] == 0
    assert_reconciles(d, people, exact=True)
    withdraw_everything(d, [bob, keeper, carol, alice])
    assert_reconciles(d, people, exact=True)
