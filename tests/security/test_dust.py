"""Dust: many of the smallest trades cannot extract value.

Amounts below one unit of the quote token are refused (v1's requireValidTokenAmount; the full table of
rejected sub-unit amounts is tests/unit/test_vault.py::test_amounts_below_one_token_unit_are_rejected). At and
above one unit, the pool rounds every swap against the trader (1 wei when k / newReserve leaves a remainder),
the fees round down and the Vault pays out token units rounded down, so no sequence of tiny trades can end with
more than it started with: what the roundings take stays in the market's booked collateral.

On chain: a few hundred round trips of the smallest margins (1 wei up, at 1x to 20x, both sides), two dozen
transactions per block, with an 18- and a 6-decimal token; then the attacker withdraws everything. On the
Python model (tests/model/protocol_model.py): five thousand round trips of 1-wei-scale margins.
"""

from __future__ import annotations

import itertools

import pytest

from perp_ops.deploy import deploy_protocol
from tests.helpers import BUY, SELL, WAD, reverts_with, wad
from tests.integration.risk_helpers import assert_reconciles
from tests.model.protocol_model import ModelError, Protocol, Side, Tx
from tests.security.blocks import call, send_in_one_block

PER_BLOCK = 24  # 24 x 500k gas fits anvil's 12M block
GAS = 500_000
LEVERAGES = (WAD, 7 * WAD, 20 * WAD)


def _margins(scale: int) -> list[int]:
    """The smallest margins a trader may post: one token unit, and a few odd multiples of it."""
    return [scale, 3 * scale, 999 * scale, 10**6 * scale + scale]


@pytest.mark.parametrize("decimals", [18, 6])
def test_hundreds_of_smallest_round_trips_never_profit(owner, alice, bob, decimals):
    d = deploy_protocol({"quote_decimals": decimals}, owner)
    ch, amm, vault, token = d.clearing_house, d.amm, d.vault, d.quote_token
    scale = vault.scale()
    deposit_units = 1_000 * 10**decimals
    for t in (alice, bob):
        token.mint(t, deposit_units, {"from": t})
        token.approve(vault, deposit_units, {"from": t})
        vault.deposit(deposit_units, {"from": t})
    ch.openPosition(amm, SELL, wad(50), wad(4), 0, {"from": bob})  # a real position in the pool
    bob_position = tuple(ch.getPosition(amm, bob))
    if scale > 1:
        with reverts_with("ZeroAmount"):
            ch.openPosition(amm, BUY, scale - 1, wad(20), 0, {"from": alice})

    start = vault.balanceOfWad(alice)
    trips = list(itertools.product(_margins(scale), LEVERAGES, (BUY, SELL)))
    trips = (trips * (400 // len(trips) + 1))[: 300 if decimals == 18 else 120]
    closed = 0
    for i in range(0, len(trips), PER_BLOCK // 2):
        sends = []
        for margin, leverage, side in trips[i : i + PER_BLOCK // 2]:
            sends.append(call(ch.openPosition, amm, side, margin, leverage, 0, sender=alice))
            sends.append(call(ch.closePosition, amm, 0, sender=alice))
        txs = send_in_one_block(sends, GAS)
        closed += sum(1 for tx in txs[1::2] if tx.status == 1)
        # the attacker's claim: its free balance plus any margin still locked (an unclosable dust position)
        assert vault.balanceOfWad(alice) + ch.getPosition(amm, alice)[1] <= start
    # the 1- and 3-wei margins at 18 decimals buy 0 base (nothing to close) or a dust position the pool's
    # rounding has already put under water (its close reverts BadDebt): the others must all have run
    assert closed >= len(trips) // 3, "the round trips did not run"
    assert tuple(ch.getPosition(amm, bob)) == bob_position
    assert_reconciles(d, [alice, bob, owner], exact=False)

    # cashing out (a dust position under water, if one is left, is the liquidators' and the fund's business):
    # token units rounded down, never more than deposited
    vault.withdraw(vault.balanceOf(alice), {"from": alice})
    assert token.balanceOf(alice) <= deposit_units
    assert vault.balanceOfWad(alice) < scale  # only sub-unit dust is left, and it stays in the vault
    assert_reconciles(d, [alice, bob, owner], exact=False)


def test_thousands_of_dust_round_trips_on_the_model():
    """5,000 round trips of margins from 1 wei to 1e6 wei at 1x-20x on the Python model: the attacker's free
    balance plus any margin it still has locked never exceeds what it deposited."""
    model = Protocol(quote_decimals=18)
    t0 = 1_700_000_000
    model.add_market("ETH", quote_reserve=wad(1000), base_reserve=wad(100), tx=Tx(t0, 0))
    model.deposit("attacker", wad(1000))
    model.deposit("bob", wad(1000))
    model.open_position("ETH", "bob", Side.SELL, wad(50), wad(4), 0, t0, 1)
    start = model.vault["attacker"]
    margins = (1, 2, 3, 7, 10, 99, 1000, 10**6)
    leverages = (WAD, 3 * WAD, 7 * WAD, 20 * WAD)
    rejected = closed = 0
    for i, (margin, leverage, side) in enumerate(
        itertools.islice(itertools.cycle(itertools.product(margins, leverages, (Side.BUY, Side.SELL))), 5_000)
    ):
        now, block = t0 + 2 + i // 100, 2 + i // 100
        try:
            model.open_position("ETH", "attacker", side, margin, leverage, 0, now, block)
            model.close_position("ETH", "attacker", 0, now, block)
            closed += 1
        except ModelError:
            rejected += 1
        locked = model.market("ETH").position("attacker").margin
        assert model.vault["attacker"] + locked <= start, f"trip {i}: the attacker gained"
    assert closed > 2_000
    assert model.market("ETH").position("bob").size != 0


