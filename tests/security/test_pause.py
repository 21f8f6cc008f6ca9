"""Pause: trading stops, money does not.

While the ClearingHouse is paused, opening, increasing, reducing and closing positions and removing margin are
refused (each case, with its error and no state change, is also in tests/unit/test_clearing_house_errors.py,
"paused: …"); every trader can still withdraw every token of free balance, deposit, add margin; liquidations and
funding go on. Locked margin stays locked: a pause cannot be used to run away from a position, nor can it trap
a trader's free money. After the unpause the books reconcile to the wei.
"""

from __future__ import annotations

from brownie import chain

from tests.helpers import BUY, SELL, reverts_with, wad
from tests.integration.risk_helpers import assert_reconciles, set_index
from tests.trading import addr, assert_unchanged, capture_state


def test_pause_blocks_trading_and_lets_traders_withdraw(protocol, owner, alice, bob, carol, keeper):
    d = protocol
    ch, amm, vault, token = d.clearing_house, d.amm, d.vault, d.quote_token
    traders = [alice, bob, carol, keeper]
    for t in traders:
        token.mint(t, wad(1_000), {"from": t})
        token.approve(vault, wad(1_000), {"from": t})
        vault.deposit(wad(1_000), {"from": t})
    token.mint(owner, wad(100), {"from": owner})
    token.approve(d.insurance_fund, wad(100), {"from": owner})
    d.insurance_fund.deposit(wad(100), {"from": owner})
    ch.openPosition(amm, BUY, wad(10), wad(10), 0, {"from": alice})
    ch.openPosition(amm, SELL, wad(20), wad(5), 0, {"from": bob})  # alice is now under water
    chain.sleep(3_600)  # funding is due; the TWAP has seen the crash
    set_index(d.aggregators["ETH"], amm.getSpotPrice(), owner)
    assert ch.getMarginRatio(amm, alice) < ch.maintenanceMarginRatio()

    ch.pause({"from": owner})
    holders = [*traders, owner]
    before = capture_state(d, holders)
    for name, action in [
        ("open", lambda: ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": carol})),
        ("increase", lambda: ch.openPosition(amm, SELL, wad(1), wad(2), 0, {"from": bob})),
        ("reduce", lambda: ch.openPosition(amm, BUY, wad(1), wad(2), 0, {"from": bob})),
        ("close", lambda: ch.closePosition(amm, 0, {"from": bob})),
        ("remove margin", lambda: ch.removeMargin(amm, wad(1), {"from": bob})),
    ]:
        with reverts_with("EnforcedPause"):
            action()
    assert_unchanged(before, capture_state(d, holders))

    # free balances leave in full; locked margin does not
    for t in traders:
        free_units = vault.balanceOf(t)
        assert free_units > 0
        vault.withdraw(free_units, {"from": t})
        assert vault.balanceOfWad(t) == 0
        assert token.balanceOf(t) == free_units
        with reverts_with("InsufficientBalance", addr(t), 0, 1):
            vault.withdraw(1, {"from": t})
    assert_reconciles(d, holders, exact=False)

    # money in, margin in, liquidation and funding: all open
    token.approve(vault, wad(10), {"from": bob})
    vault.deposit(wad(10), {"from": bob})
    ch.addMargin(amm, wad(10), {"from": bob})
    assert ch.getPosition(amm, bob)[1] == wad(30)
    tx = ch.liquidate(amm, alice, {"from": keeper})
    assert "PositionLiquidated" in tx.events
    assert vault.balanceOfWad(keeper) > 0  # the liquidator's fee, withdrawable at once
    vault.withdraw(vault.balanceOf(keeper), {"from": keeper})
    assert "FundingPaid" in ch.payFunding(amm, {"from": keeper}).events

    # unpaused: trading resumes; everyone out, the books reconcile to the wei
    ch.unpause({"from": owner})
    ch.closePosition(amm, 0, {"from": bob})
    vault.withdraw(vault.balanceOf(bob), {"from": bob})
    assert amm.totalPositionSize() == 0
    assert_reconciles(d, holders, exact=True)
